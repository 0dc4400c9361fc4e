"""Diagnosis: rules that watch a run's live series and say what is going wrong and what to try.

    observers = observers_for(cfg)          # JobManager hands these to every run's Trainer

Each rule is an observer (on_step_end, on_probe, on_eval, on_fit_end) that records at most
one event of kind "diagnosis" per run, or one per episode after a cooldown, with data
{"rule", "title", "explanation", "fix": {field: value}, "fix_label"} as docs/contracts.md
says. `fix` holds only settings a fork can change from the run's current weights (lr,
clipping, warmup, schedule, dropout...); a remedy that needs fresh weights (another cell or
init) goes in "new_run" and the label says so. Per-step work is O(1): a comparison or two,
and a median over a small ring buffer every few steps. Thresholds are named constants,
each with the reason for its value.

StepTimer is not a rule: it records `time/step_ms`, the wall time of each step, so lessons
can compare the cost of settings from the store.
"""

from __future__ import annotations

import math
import time

import numpy as np

from engine.observer import Observer
from engine.optim import GRAD_NORM, LR
from engine.probes import GradientReachProbe, HiddenProbe
from engine.series import Series
from engine.trainer import LOSS, VAL_LOSS, WINDOW

STEP_MS = Series("time/step_ms", "scalar", "wall time of the step in its own thread (runs in lockstep are timed apart)")
SERIES = (STEP_MS,)

# perplexity above |V|: one noisy batch in the first updates is not a finding, so look from
# step 5 on, at the perplexity of the recent batches' mean loss, and only 5 % above |V| (a
# random head starts within a percent or two of |V|)
PPL_AFTER_STEPS = 5
PPL_MARGIN = 1.05
# gradient spikes: Pascanu et al. found clipping thresholds of 0.5-10x the average norm all
# work, so a norm 10x the running median is beyond anything clipping would be tuned to pass
SPIKE_FACTOR = 10.0
SPIKE_WINDOW = 64  # recent norms kept for the median
SPIKE_MIN_SEEN = 32  # a median of fewer norms is itself noise
MEDIAN_EVERY = 16  # steps between median updates: O(1) amortised
SPIKE_COOLDOWN = 500  # steps before the spike rule may fire again
MIN_CLIP = 1e-6  # the smallest clip_value RunConfig accepts
# plateau after a cut: a tenfold reduction is a strong cut; 8 evaluations and 100 steps without
# a new best (0.1 % better) after it is a stall, not a pause between improvements (with frequent
# evaluations, 8 of them alone can be a moment)
STALL_LR_SHARE = 0.1
STALL_EVALS = 8
STALL_STEPS = 100
STALL_GAIN = 1e-3
# saturation: "most" units, on 3 probes in a row so one odd batch does not fire it
SATURATED_SHARE = 0.5
SATURATED_PROBES = 3
# gradient reach: fewer than 3 steps back above 1 % of its value at T means the model cannot
# learn from anything older than a few characters; judged on the median of the last 5 probes
# once the first 100 steps are past (the reach of a fresh init says little about training)
REACH_MIN_STEPS = 3
REACH_PROBES = 5
REACH_AFTER_STEPS = 100
REACH_MIN_SEQ = 16  # shorter sequences have no long range to lose
# parting curves: validation 5 % above its best while the training loss is below where it was
# then, on 3 evaluations in a row: one or two high evaluations are the noise of a run that is
# still learning (seen on the adding problem, whose data is fresh and cannot be memorised)
PART_RISE = 0.05
PART_EVALS = 3


class Rule(Observer):
    """A rule records a diagnosis event at most once per run, or once per `cooldown` steps."""

    id = ""
    title = ""
    cooldown: int | None = None

    def __init__(self):
        self.fired_at: int | None = None

    def can_fire(self, step: int) -> bool:
        if self.fired_at is None:
            return True
        return self.cooldown is not None and step - self.fired_at >= self.cooldown

    def fire(self, trainer, step: int, message: str, explanation: str, fix: dict, fix_label: str,
             new_run: dict | None = None) -> None:
        if not self.can_fire(step):
            return
        self.fired_at = step
        data = {"rule": self.id, "title": self.title, "explanation": explanation, "fix": fix, "fix_label": fix_label}
        if new_run:
            data["new_run"] = new_run
        trainer.store.add_event(trainer.run_id, step, "diagnosis", message, data)


def nice(x: float) -> float:
    """x rounded to one significant digit, for suggested settings."""
    if not math.isfinite(x) or x <= 0:
        return x
    return float(f"{x:.1g}")


def lower_lr(cfg, factor: float) -> float:
    """A suggested learning rate `factor` times smaller, never below the run's min_lr."""
    return max(nice(cfg.lr / factor), cfg.min_lr)


# ---- the rules -------------------------------------------------------------------------


class PerplexityAboveUniform(Rule):
    """The recent batches' training perplexity is above |V|: worse than guessing uniformly."""

    id, title = "ppl_above_uniform", "Perplexity above the uniform baseline |V|"

    def __init__(self):
        super().__init__()
        self.uniform: float | None = None  # |V|, read from the task once

    def on_step_end(self, trainer, step, scalars):
        if self.fired_at is not None or step < PPL_AFTER_STEPS or trainer.task.loss_kind != "ce":
            return
        if self.uniform is None:
            base = trainer.task.baselines()
            self.uniform = base.get("uniform_ppl") or math.exp(base.get("uniform_loss", math.inf))
        ppl, uniform = math.exp(min(trainer.recent_loss(), 700.0)), self.uniform
        if ppl > PPL_MARGIN * uniform:
            cfg = trainer.cfg
            fix = {"warmup_steps": 100} if cfg.warmup_steps == 0 else {"lr": lower_lr(cfg, 3)}
            self.fire(trainer, step, f"perplexity {ppl:.4g} is above |V| = {uniform:.4g}",
                      "A model that guessed every token uniformly would score |V|. Above it, the first updates have "
                      "made the output confidently wrong: the step is too large for the untrained model, and the "
                      "logits grew before they learned which tokens to favour.",
                      fix, "warm the learning rate up over 100 steps" if "warmup_steps" in fix else "lower the learning rate 3x")


class GradientSpike(Rule):
    """The gradient norm jumped far above its running median."""

    id, title = "grad_spike", "Gradient norm spike"
    cooldown = SPIKE_COOLDOWN

    def __init__(self):
        super().__init__()
        self.ring = np.zeros(SPIKE_WINDOW)
        self.seen = 0
        self.median = math.nan

    def on_step_end(self, trainer, step, scalars):
        norm = scalars.get(GRAD_NORM.name, math.nan)
        if self.seen >= SPIKE_MIN_SEEN and norm > SPIKE_FACTOR * self.median and self.can_fire(step):
            self._report(trainer, step, norm)
        self.ring[self.seen % SPIKE_WINDOW] = norm
        self.seen += 1
        if self.seen % MEDIAN_EVERY == 0:
            self.median = float(np.median(self.ring[: min(self.seen, SPIKE_WINDOW)]))

    def _report(self, trainer, step, norm):
        cfg, threshold = trainer.cfg, max(nice(2 * self.median), MIN_CLIP)
        clipped_below = trainer.clip_mode == "norm" and trainer.clip_value <= threshold
        fix = {"lr": lower_lr(cfg, 3)} if clipped_below else {"clip": "norm", "clip_value": threshold}
        label = "lower the learning rate 3x" if clipped_below else f"clip the gradient norm at {threshold:g}"
        self.fire(trainer, step, f"gradient norm {norm:.3g} is {norm / self.median:.0f}x its running median {self.median:.3g}",
                  "The recurrence multiplies the gradient by W_h once per time step; when that product grows, one "
                  "batch can yield a gradient many times the usual size and an update that throws the weights far "
                  "off. Clipping the norm bounds the step of plain SGD (Adam rescales steps anyway, so for Adam a "
                  "lower learning rate or a warmup is the surer cure).", fix, label)


class NonFinite(Rule):
    """The loss or gradient became NaN or Inf: the run diverged."""

    id, title = "non_finite", "Loss or gradient is NaN/Inf"

    def on_eval(self, trainer, step, values):
        if not math.isfinite(values.get(VAL_LOSS.name, 0.0)):
            self._report(trainer, step, f"validation loss is {values[VAL_LOSS.name]}")

    def on_fit_end(self, trainer, status):
        if status == "diverged":
            self._report(trainer, trainer.step_index, self._last_values(trainer))

    @staticmethod
    def _last_values(trainer) -> str:
        trainer.store.flush()  # the diverging step's record is still buffered
        parts = []
        for name in (LOSS.name, GRAD_NORM.name):
            _, v = trainer.store.scalars(trainer.run_id, name, since=trainer.step_index - 1)
            if len(v):
                parts.append(f"{name} {v[-1]:.4g}")
        return ", ".join(parts) or "a value stopped being finite"

    def _report(self, trainer, step, what):
        cfg = trainer.cfg
        fix = {"lr": lower_lr(cfg, 10)}
        if trainer.clip_mode == "none":
            fix.update(clip="norm", clip_value=1.0)
        label = "lower the learning rate 10x" + (" and clip the gradient norm at 1" if "clip" in fix else "")
        self.fire(trainer, step, f"the run diverged at step {step}: {what}",
                  "An update was so large that the weights or activations overflowed. In a vanilla RNN this is the "
                  "exploding gradient: the product of Jacobians through time grew without bound. Everything recorded "
                  "before the step is kept.", fix, label)


class PlateauAfterCut(Rule):
    """After a tenfold or larger lr reduction, the validation loss stopped improving."""

    id, title = "plateau_after_cut", "Stalled after a learning-rate reduction"

    def __init__(self):
        super().__init__()
        self.peak = 0.0
        self.lr = math.nan
        self.best = math.inf
        self.since_best = 0  # evaluations
        self.best_step = 0

    def on_step_end(self, trainer, step, scalars):
        self.lr = scalars[LR.name]
        if step >= trainer.cfg.warmup_steps:
            self.peak = max(self.peak, self.lr)

    def on_eval(self, trainer, step, values):
        val = values.get(VAL_LOSS.name, math.nan)
        if val < self.best * (1 - STALL_GAIN):
            self.best, self.since_best, self.best_step = val, 0, step
            return
        self.since_best += 1
        cut = self.peak > 0 and self.lr <= STALL_LR_SHARE * self.peak
        long = self.since_best >= STALL_EVALS and step - self.best_step >= STALL_STEPS
        if cut and long and trainer.cfg.schedule in ("plateau", "step"):
            fix = {"lr": max(nice(self.peak), trainer.cfg.min_lr), "plateau_patience": 5, "plateau_factor": 0.5}
            self.fire(trainer, step, f"no better validation loss in {self.since_best} evaluations since the lr fell "
                      f"to {self.lr:.2g} ({self.lr / self.peak:.2g} of its peak)",
                      "The schedule cut the learning rate so far that the updates no longer move the loss. With a "
                      "short patience and a strong factor, a noisy or frequent validation signal triggers cuts "
                      "before the model has stopped improving, and the run crawls at the floor.",
                      fix, "restore the peak lr with a patient schedule (patience 5, factor 0.5)")


class Saturation(Rule):
    """Most tanh/gate units are saturated (|h| > 0.99), or most ReLU units are dead."""

    id, title = "saturation", "Hidden units saturated"

    def __init__(self):
        super().__init__()
        self.streak = 0

    def on_probe(self, trainer, step, measured):
        share = max((v for k, v in measured.items() if HiddenProbe.SATURATION.matches(k) or HiddenProbe.DEAD.matches(k)),
                    default=None)
        if share is None:
            return
        self.streak = self.streak + 1 if share > SATURATED_SHARE else 0
        if self.streak >= SATURATED_PROBES:
            dead = trainer.cfg.cell == "rnn_relu"
            what = "dead (zero for every sequence)" if dead else "saturated (|h| > 0.99)"
            new_run = {"init": "identity", "spectral_radius": 1.0} if dead else {"init": "orthogonal"}
            self.fire(trainer, step, f"{share:.0%} of hidden units are {what}",
                      "A saturated tanh unit sits on its flat tail, where its derivative is near zero: no gradient "
                      "passes through it, so it stops learning and blocks the gradient through time. Recurrent "
                      "weights that start too large (a spectral radius well above 1) push units there."
                      if not dead else
                      "A ReLU unit whose input is negative for every sequence outputs zero and gets no gradient, so "
                      "it never comes back.",
                      {}, f"start a new run with init={new_run['init']} (a fork keeps the current weights)", new_run)


class ShortReach(Rule):
    """The gradient of the last position's loss reaches only a few steps back in time."""

    id, title = "short_reach", "Gradient reaches only a few steps back"

    def __init__(self):
        super().__init__()
        self.recent: list[float] = []

    def on_probe(self, trainer, step, measured):
        value = measured.get(GradientReachProbe.STEPS.at(layer=0))
        if value is None or step < REACH_AFTER_STEPS or trainer.cfg.seq_len < REACH_MIN_SEQ:
            return
        self.recent = (self.recent + [float(value)])[-REACH_PROBES:]
        reach = float(np.median(self.recent))
        if len(self.recent) == REACH_PROBES and reach < REACH_MIN_STEPS:
            new_run, label = REACH_REMEDY[trainer.cfg.cell]
            self.fire(trainer, step, f"the gradient falls below 1 % of its value within {reach:g} steps back "
                      f"(seq_len {trainer.cfg.seq_len})",
                      "Each step back in time multiplies the gradient by the recurrent Jacobian; when its norm is "
                      "below 1 the signal from older inputs fades geometrically, so the model cannot learn "
                      "dependencies longer than a few steps however long the sequences are.",
                      {}, label, new_run)


# what to start instead when the gradient's reach is short (a fork keeps the weights, so none is a fork)
REACH_REMEDY = {
    "rnn_tanh": ({"cell": "gru", "init": "orthogonal"}, "start a new run with a gated cell (GRU) and orthogonal init"),
    "rnn_relu": ({"cell": "gru", "init": "orthogonal"}, "start a new run with a gated cell (GRU) and orthogonal init"),
    "gru": ({"init": "orthogonal"}, "start a new run with orthogonal init"),
    "lstm": ({"forget_bias": 1.0}, "start a new run with forget_bias 1, so the forget gate starts open"),
}


class PartingCurves(Rule):
    """Validation loss rises while the training loss keeps falling: memorising."""

    id, title = "parting_curves", "Training and validation curves parting"

    def __init__(self):
        super().__init__()
        self.best = math.inf
        self.train_at_best = math.inf
        self.parted = 0  # evaluations in a row with the curves apart

    def on_eval(self, trainer, step, values):
        val, train = values.get(VAL_LOSS.name, math.nan), values.get(WINDOW.at(metric="loss"), math.nan)
        if val < self.best:
            self.best, self.train_at_best, self.parted = val, train, 0
            return
        apart = val > (1 + PART_RISE) * self.best and train < self.train_at_best
        self.parted = self.parted + 1 if apart else 0
        if self.parted >= PART_EVALS:
            fix = {"dropout": 0.3}
            self.fire(trainer, step, f"validation loss {val:.4g} is {val / self.best - 1:.0%} above its best "
                      f"{self.best:.4g} while the training loss fell to {train:.4g}",
                      "The model is fitting its training examples, not the pattern behind them: every further "
                      "update helps on data it has seen and hurts on data it has not. The best model was the one at "
                      "the lowest validation loss.",
                      fix, "add dropout 0.3 before the head (or stop here, or train on more data)")


class StepTimer(Observer):
    """Records `time/step_ms`: the wall time of each step of this run, but the first (lazy set-up).

    Timed from the start of the trainer's step (Trainer.step_started) to its records, so runs of a
    group stepped side by side in parallel threads, or in turn, are timed apart, and evaluation and
    samples (after the records) are left out.
    """

    def __init__(self):
        self.first = True

    def on_step_end(self, trainer, step, scalars):
        if self.first:
            self.first = False
            return
        ms = (time.perf_counter() - trainer.step_started) * 1000
        trainer.store.add_scalars(trainer.run_id, step, {STEP_MS.name: ms})


RULES = (PerplexityAboveUniform, GradientSpike, NonFinite, PlateauAfterCut, Saturation, ShortReach, PartingCurves)


def observers_for(cfg) -> list:
    """Fresh rule instances for one run, and its step timer."""
    return [rule() for rule in RULES] + [StepTimer()]
