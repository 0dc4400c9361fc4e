"""The lessons, as data: each a question, a base config, variants, charts, and an explanation.

Settings come from measurements (../shared/notes/lessons.md and this module's own
calibration runs, reported with the checkers' figures): steps are budgeted so a full
lesson runs in about a minute on two CPU cores, a small one in well under that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from engine import lessons_verdicts as v
from engine.config import RunConfig
from engine.lessons_checks import (
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
    check: Callable[..., Verdict] = field(repr=False, default=None)  # (store, {label: run id}) -> Verdict
    criterion: Callable[..., Finding] = field(repr=False, default=None)  # (store, run id) -> Finding
    expect: dict[str, bool] = field(default_factory=dict)  # labels whose criterion must (not) hold
    small: dict = field(default_factory=dict)  # overrides of base for the small size (tests)
    small_variants: dict[str, dict] = field(default_factory=dict)  # per-label overrides at the small size


# a character RNN on the embedded pydoc prose: needs no download anywhere
TEXT = RunConfig(task="text", corpus="pydoc", cell="rnn_tanh", embed_dim=32, eval_batches=4, sample_every=0)
ADDING = RunConfig(task="adding", seq_len=50, hidden_size=64, batch_size=64, eval_batches=8, optimizer="adam",
                   lr=3e-3, clip="norm", clip_value=1.0, probe_every=50)

LESSON_LIST = [
    Lesson(
        id="early-spike",
        title="Perplexity above the uniform baseline at the start",
        question="Why does perplexity rise above the vocabulary size in the first steps, and what stops it?",
        reference="000",
        base=TEXT.replace(hidden_size=256, batch_size=64, seq_len=32, optimizer="adam", lr=0.03, max_steps=300,
                          eval_every=50, probe_every=5),
        variants={"no warmup": {}, "warmup 50": {"warmup_steps": 50}, "lr 3e-3": {"lr": 0.003}},
        charts=("perplexity", "logits", "lr", "grad_norm"),
        what_to_see="Within a few steps the no-warmup run's perplexity shoots above |V| while the logit scale jumps; "
                    "the warmed-up run and the smaller learning rate stay below it.",
        explanation="TODO",
        reference_run="warmup 50",
        check=v.early_spike, criterion=spiked,
        expect={"no warmup": True, "warmup 50": False, "lr 3e-3": False},
        small={"hidden_size": 128, "max_steps": 110, "eval_every": 55},
    ),
    Lesson(
        id="exploding-gradients",
        title="Exploding gradients and norm clipping",
        question="Why does my vanilla RNN suddenly blow up, and what does gradient clipping buy?",
        reference="000, 002, 003",
        base=TEXT.replace(hidden_size=128, batch_size=32, seq_len=64, optimizer="sgd", lr=3.0, momentum=0.9,
                          max_steps=300, eval_every=50, probe_every=10),
        variants={"no clipping": {"clip": "none"}, "clip 0.25": {"clip": "norm", "clip_value": 0.25}},
        charts=("loss", "grad_norm", "grad_hist", "spectrum"),
        what_to_see="TODO",
        explanation="TODO",
        reference_run="clip 0.25",
        check=v.exploding, criterion=blew_up,
        expect={"no clipping": True, "clip 0.25": False},
        small={"max_steps": 100},
    ),
    Lesson(
        id="vanishing-gradients",
        title="Vanishing gradients through time",
        question="How far back in time does a tanh RNN's gradient reach, and does a longer context help?",
        reference="001",
        base=TEXT.replace(hidden_size=128, optimizer="adam", lr=3e-3, max_steps=600, eval_every=100, eval_batches=0,
                          probe_every=25, probe_budget=1.0),
        variants={"seq 16": {"seq_len": 16, "batch_size": 128}, "seq 32": {"seq_len": 32, "batch_size": 64},
                  "seq 64": {"seq_len": 64, "batch_size": 32}},
        charts=("reach", "perplexity", "grad_hist"),
        what_to_see="TODO",
        explanation="TODO",
        reference_run="seq 32",
        check=v.vanishing, criterion=vanished,
        expect={"seq 64": True},
        small={"max_steps": 150, "probe_every": 25},
    ),
    Lesson(
        id="init-spectrum",
        title="Initialisation and the spectrum of W_h",
        question="Where do the eigenvalues of the recurrent matrix start under each initialisation, and what does that do to the gradient?",
        reference="001, 002",
        base=ADDING.replace(cell="rnn_tanh", seq_len=64, hidden_size=128, max_steps=400, eval_every=100,
                            probe_every=20, probe_budget=1.0),
        variants={"default": {}, "xavier": {"init": "xavier"}, "orthogonal": {"init": "orthogonal"},
                  "identity (ReLU)": {"cell": "rnn_relu", "init": "identity", "input_init_std": 0.1, "lr": 3e-4}},
        charts=("eigen", "spectrum", "reach", "loss"),
        what_to_see="TODO",
        explanation="TODO",
        reference_run="default",
        check=v.init_spectrum, criterion=on_unit_circle,
        expect={"orthogonal": True, "identity (ReLU)": True, "default": False, "xavier": False},
        small={"hidden_size": 64, "max_steps": 60},
    ),
    Lesson(
        id="gated-cells",
        title="Gated cells on a long-range task",
        question="Why do GRU and LSTM learn a long-range dependency that a vanilla RNN cannot?",
        reference="000",
        base=ADDING.replace(max_steps=1500, eval_every=100),
        variants={"tanh RNN": {"cell": "rnn_tanh"}, "GRU": {"cell": "gru"}, "LSTM": {"cell": "lstm"}},
        charts=("loss", "reach", "grad_norm"),
        what_to_see="TODO",
        explanation="TODO",
        reference_run="tanh RNN",
        check=v.long_range({"tanh RNN": False, "GRU": True, "LSTM": True}), criterion=beat_baseline,
        expect={"tanh RNN": False, "GRU": True, "LSTM": True},
        small={"max_steps": 600, "eval_every": 100},
    ),
    Lesson(
        id="tanh-vs-relu",
        title="tanh against ReLU with identity initialisation",
        question="Can a plain ReLU RNN started at the identity (IRNN) learn what a tanh RNN cannot?",
        reference="002",
        base=ADDING.replace(max_steps=1500, eval_every=100, lr=3e-4),
        variants={"tanh": {"cell": "rnn_tanh"},
                  "ReLU, identity init": {"cell": "rnn_relu", "init": "identity", "input_init_std": 0.1}},
        charts=("loss", "saturation", "spectrum", "reach"),
        what_to_see="TODO",
        explanation="TODO",
        reference_run="tanh",
        check=v.long_range({"tanh": False, "ReLU, identity init": True}), criterion=beat_baseline,
        expect={"tanh": False, "ReLU, identity init": True},
        small={"max_steps": 600},
    ),
    Lesson(
        id="packing",
        title="Packing variable-length sequences",
        question="Does padding variable-length lines hurt, and what do packing and masking buy?",
        reference="002",
        base=RunConfig(task="lines", corpus="pydoc", cell="gru", hidden_size=64, embed_dim=32, seq_len=80,
                       batch_size=32, optimizer="adam", lr=3e-3, max_steps=300, eval_every=50, eval_batches=8,
                       probe_every=50),
        variants={"packed": {"variable_length": "packed"}, "padded + mask": {"variable_length": "padded_masked"},
                  "padded, naive": {"variable_length": "padded_naive"}},
        charts=("loss", "perplexity"),
        what_to_see="TODO",
        explanation="TODO",
        reference_run="packed",
        check=v.packing, criterion=flattering,
        expect={"packed": False, "padded + mask": False, "padded, naive": True},
        small={"max_steps": 100},
    ),
    Lesson(
        id="epoch-jumps",
        title="Periodic jumps at epoch boundaries",
        question="Why does my training loss jump at the start of every epoch when I evaluate four times per epoch?",
        reference="003",
        base=RunConfig(task="next_item", num_items=1000, train_sequences=10000, cell="gru", embed_dim=64,
                       hidden_size=128, batch_size=128, optimizer="adam", lr=3e-3, max_steps=790, eval_every=0.25,
                       eval_batches=0, probe_every=50),
        variants={"lr 1e-3": {"lr": 1e-3}, "lr 3e-3": {"lr": 3e-3}},
        charts=("loss", "lr"),
        what_to_see="TODO",
        explanation="TODO",
        reference_run="lr 1e-3",
        check=v.epoch_boundaries, criterion=epoch_jumps,
        expect={"lr 1e-3": True, "lr 3e-3": True},
        small={"train_sequences": 3000, "hidden_size": 64, "max_steps": 144},
    ),
    Lesson(
        id="plateau-stall",
        title="Learning-rate reductions that stall",
        question="Why did training stop improving after reduce-on-plateau cut the learning rate?",
        reference="004",
        base=TEXT.replace(cell="lstm", hidden_size=128, batch_size=32, seq_len=64, optimizer="adam", lr=3e-3,
                          schedule="plateau", min_lr=3e-5, max_steps=1200, eval_every=25, eval_batches=1,
                          probe_every=50),
        variants={"aggressive": {"plateau_patience": 1, "plateau_factor": 0.1},
                  "patient": {"plateau_patience": 5, "plateau_factor": 0.5}},
        charts=("loss", "lr"),
        what_to_see="TODO",
        explanation="TODO",
        reference_run="patient",
        check=v.plateau_stall, criterion=stalled,
        expect={"aggressive": True, "patient": False},
        small={"max_steps": 400, "hidden_size": 64},
    ),
]
LESSONS: dict[str, Lesson] = {lesson.id: lesson for lesson in LESSON_LIST}
