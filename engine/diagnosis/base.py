"""What every diagnosis rule shares: recording a finding, and measuring what a suggested fix is derived from.

A rule records at most one event of kind "diagnosis" per run, or one per episode after a
cooldown, with data (docs/contracts.md):

    {"rule", "title", "explanation", "fix": {field: value}, "fix_label", "apply": "rerun" | "fork",
     "fork_step": step (apply == "fork")}

`apply` says how "try the fix" applies it: "rerun" starts the run again from step 0 with the
same seed and data order and the fix (a problem of the first steps, the init or the learning
rate: continuing from the damaged weights would not show the fix); "fork" continues from the
state kept at `fork_step`, the step where the rule fired (a problem that shows late: the
schedule, memorising). Every suggested value is derived from the run's own measurements or
settings, never a fixed number: the values it names are in the label.
"""

from __future__ import annotations

import math

import numpy as np

from engine.config import parse_value
from engine.forks import canonical
from engine.observer import Observer

APPLY = ("rerun", "fork")
# "far above the baseline": for cross-entropy, twice ln|V| is a perplexity of |V|^2 (104^2 on the
# default corpus), beyond any early spike (the early-spike lesson peaks near 2|V|); for MSE, ten
# times the target's variance. A run there is wrecked: the divergence rule speaks for it, and the
# rules about gradients and units, whose readings a wrecked model makes meaningless, keep quiet
CE_FACTOR = 2.0
MSE_FACTOR = 10.0
NORM_WINDOW = 64  # recent gradient norms kept for a median
NORM_MIN_SEEN = 32  # a median of fewer norms is itself noise
MEDIAN_EVERY = 16  # steps between median updates: O(1) amortised


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
             apply: str = "rerun") -> None:
        """Record the finding; a fork fix asks the trainer to keep this step's state for it."""
        if apply not in APPLY:
            raise ValueError(f"apply must be one of {APPLY}, not {apply!r}")
        if not self.can_fire(step):
            return
        self.fired_at = step
        fix = real_changes(trainer.cfg, fix)
        if not fix:
            fix_label = ""  # the run already has what the rule would suggest: the finding stands without a fix
        data = {"rule": self.id, "title": self.title, "explanation": explanation, "fix": fix, "fix_label": fix_label,
                "apply": apply}
        if fix and apply == "fork":
            data["fork_step"] = trainer.keep_snapshot_here()
        trainer.store.add_event(trainer.run_id, step, "diagnosis", message, data)


def real_changes(cfg, fix: dict) -> dict:
    """The entries of `fix` whose value differs from the run's setting (compared as RunConfig parses them)."""
    return {k: v for k, v in fix.items() if parse_value(k, v) != getattr(cfg, k)}


class NormMedian:
    """The running median of the recent finite gradient norms (None until NORM_MIN_SEEN were seen)."""

    def __init__(self):
        self.ring = np.zeros(NORM_WINDOW)
        self.seen = 0
        self.value: float | None = None

    def add(self, norm: float) -> None:
        if not math.isfinite(norm):
            return
        self.ring[self.seen % NORM_WINDOW] = norm
        self.seen += 1
        if self.seen % MEDIAN_EVERY == 0 and self.seen >= NORM_MIN_SEEN:
            self.value = float(np.median(self.ring[: min(self.seen, NORM_WINDOW)]))


def nice(x: float) -> float:
    """x rounded to one significant digit, for suggested settings."""
    if not math.isfinite(x) or x <= 0:
        return x
    return float(f"{x:.1g}")


def lr_fix(cfg, lr_in_force: float, factor: float) -> float:
    """A peak learning rate `factor` times below the lr the run had when the problem showed (at least min_lr)."""
    return max(nice(lr_in_force / factor), cfg.min_lr)


def clip_fix(trainer, median: float | None) -> dict:
    """Clipping at the run's median gradient norm, when that is tighter than what the run has; else {}.

    Clipping at the typical norm leaves the typical step as it was and cuts only the outliers to
    its size (Pascanu et al. found 0.5-10x the average norm all work; the median is the bottom of
    that range that an outlier cannot drag up).
    """
    if median is None or not median > 0:
        return {}
    threshold = max(nice(median), 1e-6)
    if trainer.clip_mode == "norm" and trainer.clip_value <= threshold:
        return {}
    return {"clip": "norm", "clip_value": threshold}


def baseline_loss(task) -> float:
    """The loss of a model that knows nothing: ln(classes) for cross-entropy, the target variance for MSE."""
    if task.loss_kind == "ce":
        return math.log(task.output_size)
    return task.baselines().get("mean_mse", math.nan)


def far_limit(task) -> float | None:
    """The loss above which a run is wrecked (None when the task has no baseline to judge by)."""
    base = baseline_loss(task)
    if not math.isfinite(base):
        return None
    return (CE_FACTOR if task.loss_kind == "ce" else MSE_FACTOR) * base


def wrecked(trainer, limit: float | None) -> bool:
    """The recent batches' mean loss is above `limit` (far_limit of the run's task)."""
    return limit is not None and trainer.recent_loss() > limit


def words(fix: dict) -> str:
    """'lr 0.001, warmup_steps 40': a fix's settings in their canonical form."""
    return ", ".join(f"{k} {canonical(v)}" for k, v in fix.items())
