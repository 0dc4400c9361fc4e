"""Divergence without NaN: the loss sits far above what a model that knows nothing scores, for many steps.

A tanh RNN's state is bounded, so plain SGD at a huge learning rate can wreck it without ever
overflowing: one seen run ended `done` at a loss of 5,885 against a uniform baseline of 4.64.
This rule says so, and when the run's `stop_on_divergence` is set it ends the run as `diverged`
(its records kept) through `Trainer.declare_diverged`.
"""

from __future__ import annotations

import math

from engine.diagnosis.base import NormMedian, Rule, baseline_loss, clip_fix, far_limit, lr_fix, words
from engine.optim import GRAD_NORM, LR

# "far above" is base.far_limit (twice ln|V| for cross-entropy, ten times the variance for MSE). The
# recent batches' mean must stay there for DIVERGE_STEPS steps in a row: a run that comes back down
# within that is a spike, which the other rules describe
DIVERGE_STEPS = 50
# the lr in force when the loss first went far up was far too large: a tenth of it
LR_SHARE = 10


class LossFarAboveBaseline(Rule):
    """The recent training loss has stayed far above the knows-nothing baseline for many steps."""

    id, title = "loss_far_above_baseline", "Diverged: loss far above the baseline"

    def __init__(self):
        super().__init__()
        self.limit: float | None = None
        self.baseline = math.nan
        self.since: int | None = None  # first step of the current episode above the limit
        self.lr_then = math.nan  # the lr in force when the episode began
        self.norms = NormMedian()  # the gradient norms before the episode (a clip threshold)

    def on_fit_start(self, trainer):
        self.baseline = baseline_loss(trainer.task)
        self.limit = far_limit(trainer.task)

    def on_step_end(self, trainer, step, scalars):
        if self.limit is None or self.fired_at is not None:
            return
        loss = trainer.recent_loss()
        if not loss > self.limit:
            self.since = None
            self.norms.add(scalars.get(GRAD_NORM.name, math.nan))
            return
        if self.since is None:
            self.since, self.lr_then = step, scalars[LR.name]
        if step - self.since + 1 >= DIVERGE_STEPS:
            self._report(trainer, step, loss)

    def _report(self, trainer, step, loss):
        cfg = trainer.cfg
        fix = {"lr": lr_fix(cfg, self.lr_then, LR_SHARE)}
        if cfg.optimizer == "sgd":
            fix.update(clip_fix(trainer, self.norms.value))
        stop = cfg.stop_on_divergence
        message = (f"the loss of the last batches, {loss:.4g}, has stayed above {self.limit:.3g} "
                   f"({self.limit / self.baseline:g}x the baseline {self.baseline:.3g}) for {step - self.since + 1} "
                   f"steps since step {self.since}")
        self.fire(trainer, step, message,
                  "The updates threw the weights somewhere far worse than where they started: the model now does "
                  "worse than one that knows nothing. No number overflowed (a tanh state is bounded), so nothing "
                  "else stops the run. " + ("The run ends here as diverged (stop_on_divergence is on)." if stop else
                                            "Set stop_on_divergence to end such runs as diverged.")
                  + " A fix reruns from step 0 with the same seed and data.",
                  fix, f"rerun with {words(fix)} (a tenth of the lr in force when the loss went up"
                  + (", clipping at the median gradient norm before that)" if "clip" in fix else ")"), apply="rerun")
        if stop:
            trainer.declare_diverged(message)
