"""The lessons, as data: each a question, a base config, variants, charts, and an explanation.

Settings come from measurements (../shared/notes/lessons.md and this module's own
calibration runs, reported with the checkers' figures): steps are budgeted so a full
lesson runs in about a minute on two CPU cores, a small one in well under that.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.config import RunConfig
from engine.lessons import verdicts as v
from engine.lessons.criteria import (
    Finding,
    Verdict,
    beat_baseline,
    blew_up,
    epoch_jumps,
    flattering,
    on_unit_circle,
    spiked,
    stalled,
    vanished,
)
from engine.lessons.references import based_on

SIZES = ("small", "class", "full")  # science tests; a classroom (<= 60 s on 2 idle cores); as first measured


@dataclass(frozen=True)
class Lesson:
    """One controlled comparison: runs that differ from `base` only by their variant's settings."""

    id: str  # used in the CLI and the URL
    title: str
    question: str  # the learner's question, one sentence
    reference: str  # which reference document(s)
    base: RunConfig
    variants: dict[str, dict]  # legend label -> overrides of base
    charts: tuple[str, ...]  # Live-page chart ids to open
    what_to_see: str  # one or two sentences
    explanation: str  # markdown, our own words
    reference_run: str  # the variant label to diff against in the Compare view
    check: Callable[..., Verdict] = field(repr=False, default=None)  # (store, {label: run id}, expect) -> Verdict
    criterion: Callable[..., Finding] = field(repr=False, default=None)  # (store, run id) -> Finding
    expect: dict[str, bool] = field(default_factory=dict)  # labels whose criterion must (not) hold
    sizes: dict[str, dict] = field(default_factory=dict)  # "small" / "class" -> overrides of base ("full" is base)
    size_variants: dict[str, dict[str, dict]] = field(default_factory=dict)  # size -> label -> extra overrides
    # measured, never tuned on: bench/lesson_times.py and runs on seeds outside 0-2 (README, Lessons)
    class_seconds: float = math.nan  # seconds to the verdict at class size on two idle cores
    rate: str = ""  # how often the verdict showed, on which seeds, at class and full size
    class_note: str = ""  # why the class size takes longer than a minute, when it does (with the figures)

    @property
    def based_on(self) -> str:
        """'based on reference 000: <title>', for the lesson's card."""
        return based_on(self.reference)


# a character RNN on the embedded pydoc prose (|V| = 104): needs no download anywhere
TEXT = RunConfig(task="text", corpus="pydoc", cell="rnn_tanh", embed_dim=32, eval_batches=4, sample_every=0)
# the adding problem at T = 50: predict-the-mean scores 1/6
ADDING = RunConfig(task="adding", seq_len=50, hidden_size=64, batch_size=64, eval_batches=8, optimizer="adam",
                   lr=3e-3, clip="norm", clip_value=1.0, probe_every=50)

EARLY_SPIKE = Lesson(
    id="early-spike",
    title="Perplexity above the uniform baseline at the start",
    question="Why does perplexity rise above the vocabulary size in the first steps, and what stops it?",
    reference="000",
    base=TEXT.replace(hidden_size=256, batch_size=64, seq_len=32, optimizer="adam", lr=0.03, max_steps=300,
                      eval_every=50, probe_every=5),
    variants={"no warmup": {}, "warmup 50": {"warmup_steps": 50}, "lr 3e-3": {"lr": 0.003}},
    charts=("perplexity", "logits", "lr", "grad_norm"),
    what_to_see="Within five steps the no-warmup run's perplexity shoots above the |V| line while its logit scale "
                "jumps; the warmed-up run and the run at a tenth of the learning rate stay below |V| throughout, "
                "and the run at a tenth of the learning rate ends lowest.",
    explanation="""\
An untrained model spreads its bets almost evenly, so its perplexity starts near the
vocabulary size |V|, the score of a uniform guess. The first updates come from a handful of
batches. At a large learning rate they swing the output layer hard towards whatever those
batches favoured: the logits grow before the model knows which tokens deserve them, it
becomes confidently wrong, and cross-entropy punishes confident mistakes far more than
uncertainty. Perplexity climbs above |V| and only then comes down.

Gradient clipping is on here (norm 1) and does not help: Adam scales each parameter's step
to about the learning rate whatever the gradient's size, so the step, not the gradient, is
too large. A warmup ramps the learning rate up from lr/N over N steps, so the first, poorly
informed updates are small. A smaller learning rate avoids the spike as well, and here it
also ends best: at full size on seeds 11-15 the lr 3e-3 run ended at a validation perplexity
of 7.1-7.5, against 10.3-11.7 with the warmup and 13.1-15.1 without. The warmup removes the
spike, not its cause: 0.03 is too large a learning rate for this model long after the start.

*Try:* a 10-step warmup; `zero_head` to start at exactly ln|V|; watch the logits chart
during the spike.""",
    reference_run="warmup 50",
    check=v.early_spike, criterion=spiked,
    expect={"no warmup": True, "warmup 50": False, "lr 3e-3": False},
    sizes={"small": {"max_steps": 100, "eval_every": 50}, "class": {"max_steps": 200}},
    class_seconds=22,  # median wall seconds, seeds 11-13, 2 cores otherwise idle
    rate="class size: 7 of 7 seeds (11, 12, 13, 14, 15, 101, 102); full size: 5 of 5 seeds (11-15)",
)

EXPLODING = Lesson(
    id="exploding-gradients",
    title="Exploding gradients and norm clipping",
    question="Why does my vanilla RNN suddenly blow up, and what does gradient clipping buy?",
    reference="000, 002, 003",
    base=TEXT.replace(hidden_size=128, batch_size=32, seq_len=64, optimizer="sgd", lr=3.0, momentum=0.9,
                      max_steps=300, eval_every=50, probe_every=10),
    variants={"no clipping": {"clip": "none"}, "clip 1": {"clip": "norm", "clip_value": 1.0},
              "clip 0.25": {"clip": "norm", "clip_value": 0.25}},
    charts=("loss", "grad_norm", "grad_hist", "spectrum"),
    what_to_see="Without clipping the gradient norm leaps to tens or hundreds of times its usual size and the loss "
                "shoots far above where it started; clipping at 1 is not enough at this learning rate; clipping at "
                "0.25 keeps the loss falling.",
    explanation="""\
Backpropagation through time multiplies the gradient by the recurrent Jacobian once per time
step. Where those products grow, one batch can give a gradient hundreds of times the usual
size, and plain SGD steps in proportion to it: the weights land far away, often where the
tanh units saturate, and the loss stays high long after.

Norm clipping rescales any gradient whose norm exceeds a threshold θ down to θ. That bounds
the gradient, not the step: SGD with momentum μ = 0.9 moves along a running sum of past
gradients, so one step can be up to lr × θ / (1 − μ) long, ten times lr × θ, when successive
gradients point the same way. Measured at full size on seeds 11-15: with θ = 0.25 (lr × θ =
0.75) the median step was 1.03-1.11 long; with θ = 1 it was 3.7-4.3, and that run blew up
anyway. Here θ = 0.25 is about half the typical gradient norm, so clipping fired on every
step: it rescaled every gradient to the same length and training proceeded. Pascanu et al.
found thresholds from half to ten times the average gradient norm all work, at a learning
rate suited to them. With Adam, clipping cannot bound the step (see the early-spike lesson).

*Try:* set the threshold near the median of the grad_norm chart; keep clipping off and
lower the learning rate instead.""",
    reference_run="clip 0.25",
    check=v.exploding, criterion=blew_up,
    expect={"no clipping": True, "clip 1": True, "clip 0.25": False},
    sizes={"small": {"max_steps": 100}, "class": {}},  # full size takes about 30 s: class is full
    class_seconds=15,  # median wall seconds, seeds 11-13, 2 cores otherwise idle
    rate="class size: 5 of 5 seeds (11, 12, 13, 101, 102); full size: 5 of 5 seeds (11-15)",
)

VANISHING = Lesson(
    id="vanishing-gradients",
    title="Vanishing gradients through time",
    question="How far back in time does a tanh RNN's gradient reach, and does a longer context help?",
    reference="001",
    base=TEXT.replace(hidden_size=128, optimizer="adam", lr=3e-3, max_steps=1500, eval_every=100, eval_batches=0,
                      probe_every=50, probe_budget=1.0),
    # batch x seq_len is constant: every run trains on the same number of characters
    variants={"seq 16": {"seq_len": 16, "batch_size": 128}, "seq 32": {"seq_len": 32, "batch_size": 64},
              "seq 64": {"seq_len": 64, "batch_size": 32}},
    charts=("reach", "perplexity", "grad_hist"),
    what_to_see="In the reach chart the gradient of the last position's loss falls along a straight line on the "
                "log axis: the same factor lost per step back, so the longer the window, the more orders of "
                "magnitude between its end and its start. In the spectrum chart W_h's radius climbs past 1 while "
                "the gradient keeps vanishing.",
    explanation="""\
The gradient of the loss at the last position T with respect to an earlier state h_t is a
product of T − t Jacobians, each diag(1 − h_t²) W_h for a tanh RNN. Two things can shrink
each factor: W_h, when its spectral radius is below 1, and tanh's slope 1 − h², below 1 for
every active unit and under 0.02 for a saturated one (|h| > 0.99). Either way the norm
decays by about the same factor per step back: a straight line on a log axis, at the same
slope whatever the window length, so a longer window adds steps the gradient cannot
usefully reach.

Which of the two does it changes during training. At initialisation it is W_h: PyTorch's
default gives a radius of about 0.6, few units saturate, and the gradient falls about 0.27
orders of magnitude per step (16-18 orders over 64 steps). Training then grows W_h: in every
run we measured its radius passed 1 by step 50 and reached 2.7-2.8 by the end, which alone
would make the gradient grow. It still vanishes (7-9 orders over 64 steps at the last probe)
because by then 45-47 % of unit activations are saturated: the decay comes through tanh's
derivative. (Full size, seeds 11-15; at class size, 400 steps, the radius ended at 1.9-2.1
with 26-30 % saturated and the gradient still falling 8-12 orders. The probe uses the last
position's loss alone: the gradient of the loss summed over all positions did not fall at
all here, since each position's own nearby terms dominate it; the checker requires that too.)

Whether a longer context pays is a separate question, for the data: the runs see the same
number of characters (the batch shrinks as seq_len grows), and the closing note reports each
one's validation perplexity (at full size on seeds 11-15, 64-character windows ended 7-10 %
lower than 16-character ones, unlike reference 001's report). A longer window also gives the forward pass more characters of
state at every position, which needs no long-range gradient: each window starts from a zero
state, so in 16-character windows the average position has little context behind it.

*Try:* a GRU at seq_len 64 and compare the reach chart (the one we ran, seed 11 at full
size, lost about 0.04 orders of magnitude per step against the tanh RNN's 0.15).""",
    reference_run="seq 32",
    check=v.vanishing, criterion=vanished,
    # judged at 32 and 64 steps; at 16 the decay is reported (it has less room to pass 2 orders).
    # Must-not-show: the summed loss's gradient, in every run (verdicts.vanishing)
    expect={"seq 32": True, "seq 64": True},
    sizes={"small": {"max_steps": 150, "probe_every": 25}, "class": {"max_steps": 400, "probe_every": 25}},
    class_seconds=19,  # median wall seconds, seeds 11-13, 2 cores otherwise idle
    rate="class size: 7 of 7 seeds (11, 12, 13, 14, 15, 101, 102); full size: 5 of 5 seeds (11-15)",
)

INIT_SPECTRUM = Lesson(
    id="init-spectrum",
    title="Initialisation and the spectrum of W_h",
    question="Where do the eigenvalues of the recurrent matrix start under each initialisation, "
             "and what does that do to the gradient?",
    reference="001, 002",
    base=ADDING.replace(cell="rnn_tanh", seq_len=64, hidden_size=128, max_steps=800, eval_every=100,
                        warmup_steps=100, probe_every=40, probe_budget=1.0),
    variants={"default": {}, "xavier": {"init": "xavier"}, "orthogonal": {"init": "orthogonal"}},
    charts=("eigen", "spectrum", "reach", "loss"),
    what_to_see="At step 0 the orthogonal eigenvalues sit on the unit circle, PyTorch's default fills a disc of "
                "radius about 0.58 and Xavier a disc of radius about 1. In the reach chart, at step 0 the orthogonal "
                "run's gradient stays above 1 % of its end value across the whole window, the default's for about "
                "8 steps; within the first 40 updates W_h moves and the orthogonal reach drops to 11-24 steps.",
    explanation="""\
When the entries of W_h are independent with variance σ², its eigenvalues fill a disc of
radius about σ√H (the circular law). PyTorch's default draws from U(−1/√H, 1/√H), variance
1/(3H), so the radius is 1/√3 ≈ 0.58: a linear recurrence would shrink any signal by about
that factor per step. Xavier uniform (fan-in = fan-out = H) has variance 1/H: radius about
1, with some eigenvalues outside the circle that amplify. An orthogonal matrix has every
singular value equal to 1, so it preserves norms exactly: all its eigenvalues lie on the
unit circle and ‖W_h^k‖ = 1 for every k. (The identity is the simplest such matrix; with
ReLU it starts the IRNN of the tanh-vs-relu lesson.)

Initialisation sets the start, and the start is what the checker judges: at step 0 the
orthogonal run's gradient lost 1.2-1.7 orders of magnitude over the 63 steps back, the
default's 14-16, so its reach was the whole window (63 steps) against 7-8. Training moves
the eigenvalues at once (the orthogonal radius is 1.1-1.4 after 40 updates), and tanh's
slope, below 1 wherever a unit is active, shrinks the gradient further. Over the 100-step
warmup the orthogonal run's median reach was 12-24 steps against the default's 8-9: longer
at every probe on every seed, at least twice as long on 3 of 5. After the warmup it was
20-47 against 9-12, but on 2 of 5 seeds W_h went on growing (largest radius 5.1 and 7.0)
until 83-87 % of unit activations were saturated, and the orthogonal reach collapsed to 1-3
steps (from steps 640 and 720). Xavier's collapsed the same way on 4 of 5 seeds (from steps
400-600). None of these runs learned the adding problem (final validation MSE 0.16-0.20
against the baseline's 0.167): reach is needed for it, not enough. (Full size, seeds 11-15.)

The warmup is there so that small early updates keep W_h near its initial structure long
enough to compare. Without it we measured the orthogonal run's advantage gone within the
first hundred steps (seed 0: reach at init 63 steps against 8 for the default, but a median
over training of 11.5 against 14.5).

*Try:* `init=spectral` with `spectral_radius` 1.5 and watch the gradient grow instead.""",
    reference_run="default",
    check=v.init_spectrum, criterion=on_unit_circle,
    expect={"orthogonal": True, "default": False, "xavier": False},
    sizes={"small": {"max_steps": 100, "probe_every": 10}, "class": {"max_steps": 300, "probe_every": 20}},
    class_seconds=17,  # median wall seconds, seeds 11-13, 2 cores otherwise idle
    rate="class size: 5 of 5 seeds (11, 12, 13, 101, 102); full size: 5 of 5 seeds (11-15)",
)

GATED_CELLS = Lesson(
    id="gated-cells",
    title="Gated cells on a long-range task",
    question="Why do GRU and LSTM learn a long-range dependency that a vanilla RNN cannot?",
    reference="000",
    base=ADDING.replace(max_steps=1200, eval_every=100, lr=0.01),
    variants={"tanh RNN": {"cell": "rnn_tanh"}, "GRU": {"cell": "gru"}, "LSTM": {"cell": "lstm"}},
    charts=("loss", "reach", "grad_norm"),
    what_to_see="Against the predict-the-mean line (1/6), the GRU and LSTM hover on it for a few hundred steps, then "
                "fall far below it; the tanh RNN stays on the line.",
    explanation="""\
In the adding problem the answer is the sum of two numbers marked far apart in a 50-step
sequence, so the error's gradient must travel back through dozens of steps to reach the
first one. A vanilla tanh RNN's gradient shrinks by a roughly constant factor per step (see
the vanishing-gradients lesson), the first marker's signal is lost, and the best the model
finds is to answer the mean sum, 1, which scores the target's variance, 1/6.

LSTM and GRU carry a state that is updated additively, through gates: when the forget (or
update) gate is near 1, the state and its gradient pass from one step to the next almost
unchanged. The gates are learned too, so at first these cells also sit on the baseline;
once they learn to hold the marked values, the error falls suddenly, and the reach chart
shows their gradient carrying much further back.

In a class-size run (700 steps) the LSTM does not always leave the line in time: on seed
102 it ended at 0.956 of it while the GRU was at 0.0015. The full size (1,200 steps) showed
both gated cells far below the line on all five seeds tried (11-15).

*Try:* LSTM with `forget_bias` 1, which starts with the gate open; `seq_len` 100.""",
    reference_run="tanh RNN",
    check=v.long_range, criterion=beat_baseline,
    expect={"tanh RNN": False, "GRU": True, "LSTM": True},
    sizes={"small": {"max_steps": 600}, "class": {"max_steps": 700}},
    class_seconds=33,  # median wall seconds, seeds 11-13, 2 cores otherwise idle
    rate="class size: 4 of 5 seeds (11, 12, 13, 101, 102), not on 102; full size: 5 of 5 seeds (11-15)",
)

TANH_RELU = Lesson(
    id="tanh-vs-relu",
    title="tanh against ReLU with identity initialisation",
    question="Can a plain ReLU RNN started at the identity (IRNN) learn what a tanh RNN cannot?",
    reference="002",
    base=ADDING.replace(max_steps=1500, eval_every=100, lr=3e-4),
    variants={"tanh": {"cell": "rnn_tanh"}, "tanh, orthogonal init": {"cell": "rnn_tanh", "init": "orthogonal"},
              "ReLU": {"cell": "rnn_relu"},
              "ReLU, identity init": {"cell": "rnn_relu", "init": "identity", "input_init_std": 0.1}},
    charts=("loss", "saturation", "spectrum", "reach"),
    what_to_see="The ReLU RNN started at the identity falls well below the predict-the-mean line; both tanh runs stay "
                "on it. The ReLU run with PyTorch's default init is the open case: it learned late in some of our "
                "seeds and not in others.",
    explanation="""\
With W_h = I and ReLU, h_t = relu(h_{t−1} + W_x x_t): at the start an active unit simply adds
its input to what it holds, and its slope is exactly 1, so the gradient passes back through
time undiminished. That is the IRNN recipe of Le, Jaitly and Hinton: a vanilla RNN that
starts as an accumulator, which is what the adding problem asks for. Its input weights start
small (std 0.1) so the running sums stay moderate.

tanh has slope 1 only at 0 and less everywhere else, so even an orthogonal W_h, which
preserves norms, cannot stop the gradient shrinking through active tanh units: both tanh
runs stay at the baseline here. The price of ReLU is that nothing bounds its state, so large
learning rates or weights let activations and gradients grow without limit; that is why
this lesson uses lr 3e-4, and why the grad_norm chart is worth a look.

*Try:* raise the learning rate to 3e-3 and watch the gradient norm; `seq_len` 100.""",
    reference_run="tanh",
    check=v.tanh_relu, criterion=beat_baseline,
    # ReLU with PyTorch's default init is reported, not judged: it learned in two of three seeds
    expect={"tanh": False, "tanh, orthogonal init": False, "ReLU, identity init": True},
    sizes={"small": {"max_steps": 800}, "class": {"max_steps": 800}},
    class_seconds=29,  # median wall seconds, seeds 11-13, 2 cores otherwise idle
    rate="class size: 5 of 5 seeds (11, 12, 13, 101, 102); full size: 5 of 5 seeds (11-15)",
)

PACKING = Lesson(
    id="packing",
    title="Packing variable-length sequences",
    question="Does padding variable-length lines hurt, and what do packing and masking buy?",
    reference="002",
    base=RunConfig(task="lines", corpus="pydoc", cell="gru", hidden_size=64, embed_dim=32, seq_len=80, batch_size=32,
                   optimizer="adam", lr=3e-3, max_steps=500, eval_every=100, eval_batches=0, probe_every=50),
    variants={"packed": {"variable_length": "packed"}, "padded + mask": {"variable_length": "padded_masked"},
              "padded, naive": {"variable_length": "padded_naive"}},
    charts=("loss", "perplexity"),
    what_to_see="The naive-padding run's reported loss sits far below the other two while its loss on real tokens "
                "(real_loss) lies on top of theirs; the packed and masked curves coincide.",
    explanation="""\
Lines differ in length, so a batch is padded to its longest line, and what happens at the
pads is a choice. Packing runs the recurrence over real positions only. Padding with a
masked loss runs it over the pads as well but leaves them out of the loss; the network reads
left to right, so no real position ever sees the pads that follow it, and the two train the
same weights up to float rounding. Naive padding counts the pads as targets. Predicting
"pad after pad" is trivial, so the pads, about 31 % of the targets here, come almost free and
the average loss drops by about that share: (1 − 0.31) × 1.73 ≈ 1.19, which is what the naive
run reports. The number flatters the model without it getting better at text. On real
validation tokens, at full size on seeds 11-15, naive padding ended 0.004-0.020 nats better
than masking on three seeds and 0.004-0.018 worse on two (at class size: 0.002-0.021 better
on two, 0.005-0.043 worse on three), against the 0.52-0.72 nats its reported loss claims;
the checker requires any real gain to be under a tenth of the claimed one. Compare models by
their loss on real tokens.

Packing is not free: it sorts and regroups every batch, and the closing note reports the
median wall milliseconds per step of each way on this machine (noisy when it is busy).

*Try:* `hidden_size` 256, and see how the cost per step of each way changes.""",
    reference_run="packed",
    check=v.packing, criterion=flattering,
    # packed and masked report the real-token loss itself, so flattery cannot show there: they are
    # judged against each other instead (the same losses to float rounding)
    expect={"padded, naive": True},
    sizes={"small": {"max_steps": 100}, "class": {"max_steps": 200}},
    class_seconds=17,  # median wall seconds, seeds 11-13, 2 cores otherwise idle
    rate="class size: 5 of 5 seeds (11, 12, 13, 101, 102); full size: 5 of 5 seeds (11-15)",
)

EPOCH_JUMPS = Lesson(
    id="epoch-jumps",
    title="Periodic jumps at epoch boundaries",
    question="Why does my training loss jump at the start of every epoch when I evaluate four times per epoch?",
    reference="003",
    base=RunConfig(task="next_item", num_items=1000, train_sequences=10000, cell="gru", embed_dim=64,
                   hidden_size=128, batch_size=128, optimizer="adam", lr=3e-3, max_steps=632, eval_every=0.25,
                   eval_batches=0, probe_every=50),
    variants={"lr 1e-4": {"lr": 1e-4}, "lr 1e-3": {"lr": 1e-3}, "lr 3e-3": {"lr": 3e-3}},
    charts=("loss", "lr"),
    what_to_see="The training loss accumulated since the previous evaluation drops at the first evaluation of each "
                "epoch and creeps back up over the other three, with HR@10 mirroring it; the drop grows with the "
                "learning rate.",
    explanation="""\
Each evaluation reports the training loss averaged over the batches since the previous one,
each measured just before the model updates on it. The training set is a fixed 10,000
sequences, so from the second epoch on every batch holds sequences the model has fitted
before, and it memorises individual sequences, not only the pattern behind them. Two things
then line up with the epoch. Every example has had one more update than an epoch ago, so the
loss steps down. And within an epoch, the later an example comes, the longer ago it was last
seen and the more other updates have overwritten it, so the loss creeps back up. The result
is a sawtooth whose drop falls on the first quarter of each epoch, and a larger learning
rate memorises more per visit, so the teeth grow with it.

It is not a bug in the loop or in the metric. Memorising is not learning: compare the
validation curve, on sequences never trained on.

*Try:* more `train_sequences`; `dropout`; one evaluation per epoch, which hides the
sawtooth from the plot but not from the model.""",
    reference_run="lr 1e-3",
    check=v.epoch_boundaries, criterion=epoch_jumps,
    # lr 1e-4 is the negative control: its drops at epoch starts are real but tiny (about 0.01 nats,
    # below JUMP_FLOOR), so the checker must not count them
    expect={"lr 1e-4": False, "lr 1e-3": True, "lr 3e-3": True},
    sizes={"small": {"train_sequences": 3000, "hidden_size": 64, "max_steps": 144},
           "class": {"train_sequences": 4000, "max_steps": 192, "eval_batches": 4}},
    class_seconds=19,  # median wall seconds, seeds 11-13, 2 cores otherwise idle
    rate="class size: 5 of 5 seeds (11, 12, 13, 101, 102); full size: 5 of 5 seeds (11-15)",
)

PLATEAU_STALL = Lesson(
    id="plateau-stall",
    title="Learning-rate reductions that stall",
    question="Why did training stop improving after reduce-on-plateau cut the learning rate?",
    reference="004",
    base=TEXT.replace(cell="lstm", hidden_size=128, batch_size=32, seq_len=64, optimizer="adam", lr=3e-3,
                      schedule="plateau", min_lr=3e-5, max_steps=1200, eval_every=5, eval_batches=1,
                      sample_every=400, probe_every=50),
    variants={"aggressive": {"plateau_patience": 1, "plateau_factor": 0.1},
              "patient": {"plateau_patience": 5, "plateau_factor": 0.5}},
    charts=("lr", "loss"),
    what_to_see="The aggressive schedule cuts the learning rate tenfold twice within a few hundred steps and then sits "
                "at min_lr, where its loss flattens; the patient schedule cuts later and more gently and ends lower. "
                "The plateau state (best, bad evaluations, cuts) runs along the timeline.",
    explanation="""\
Reduce-on-plateau cuts the learning rate when the validation loss has not improved for
`patience` evaluations. Here validation runs every 5 steps on a single batch, so between two
evaluations the model improves by less than the evaluation's own noise: with patience 1,
two unlucky evaluations in a row make a cut, and with factor 0.1 two cuts reach `min_lr`. At
a hundredth of its learning rate the model still learns, but so slowly that it ends far
behind. The patient schedule (patience 5, factor 0.5) reacts to the same noisy signal, but
later and more gently.

Fix the signal or the schedule: validate on more data and less often, so that a cut
answers a real plateau; raise the patience; use a gentler factor; or, when the validation
signal is noisy, a fixed schedule such as cosine.

*Try:* the aggressive settings with `eval_batches` 8 and `eval_every` 50.""",
    reference_run="patient",
    check=v.plateau_stall, criterion=stalled,
    expect={"aggressive": True, "patient": False},
    sizes={"small": {"max_steps": 700, "seq_len": 32}},  # class size is the full size: see class_note
    class_note="Class size is the full size (1,200 steps): at 700 steps, which fit a minute, the aggressive "
               "schedule reached min_lr at step 430, 400 and 330 on seeds 11-13, so on two of three seeds it had not "
               "sat at min_lr for half the run, which is what the lesson shows; the run was too short for the claim.",
    class_seconds=82,  # wall seconds at full size, seed 11, 2 cores otherwise idle
    rate="class size (its full size): 6 of 6 seeds (11-15, 101); the 700-step size tried for class: 1 of 3 seeds (11-13), not on 11-12",
)

LESSON_LIST = [EARLY_SPIKE, EXPLODING, VANISHING, INIT_SPECTRUM, GATED_CELLS, TANH_RELU, PACKING, EPOCH_JUMPS,
               PLATEAU_STALL]
LESSONS: dict[str, Lesson] = {lesson.id: lesson for lesson in LESSON_LIST}
