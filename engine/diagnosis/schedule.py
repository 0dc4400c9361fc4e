"""The schedule: a reduce-on-plateau or step schedule that cut the learning rate until progress stalled."""

from __future__ import annotations

import math

from engine.diagnosis.base import Rule, nice
from engine.optim import LR
from engine.trainer import VAL_LOSS

# a tenfold reduction is a strong cut; 8 evaluations and 100 steps without a new best (0.1 %
# better) after it is a stall, not a pause between improvements (with frequent evaluations, 8 of
# them alone can be a moment)
STALL_LR_SHARE = 0.1
STALL_EVALS = 8
STALL_STEPS = 100
STALL_GAIN = 1e-3


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
        self.longest_wait = 1  # most evaluations between two new bests while the lr was at its peak

    def on_step_end(self, trainer, step, scalars):
        self.lr = scalars[LR.name]
        if step >= trainer.cfg.warmup_steps:
            self.peak = max(self.peak, self.lr)

    def on_eval(self, trainer, step, values):
        val = values.get(VAL_LOSS.name, math.nan)
        at_peak = self.peak > 0 and self.lr >= self.peak * (1 - 1e-9)
        if val < self.best * (1 - STALL_GAIN):
            if at_peak and math.isfinite(self.best):
                self.longest_wait = max(self.longest_wait, self.since_best + 1)
            self.best, self.since_best, self.best_step = val, 0, step
            return
        self.since_best += 1
        cut = self.peak > 0 and self.lr <= STALL_LR_SHARE * self.peak
        long = self.since_best >= STALL_EVALS and step - self.best_step >= STALL_STEPS
        cfg = trainer.cfg
        if cut and long and cfg.schedule in ("plateau", "step"):
            fix = {"lr": max(nice(self.peak), cfg.min_lr)}
            label = f"fork from step {trainer.step_index:,} with the peak lr {fix['lr']:g} back"
            if cfg.schedule == "step":  # the cuts so far come from step_every: twice it undoes half of them
                fix["step_every"] = 2 * cfg.step_every
                label += f" and step_every {fix['step_every']:,} (twice the run's)"
            else:
                # patience: twice the longest wait between new bests the run itself needed at full lr, so noise
                # between improvements no longer reads as a plateau; factor: the square root of the run's own
                # (0.1 -> 0.32), so a cut halves the distance to the floor in log terms
                fix.update(plateau_patience=max(cfg.plateau_patience + 1, 2 * self.longest_wait),
                           plateau_factor=min(round(math.sqrt(cfg.plateau_factor), 2), 0.99))
                label += (f", patience {fix['plateau_patience']} (twice the longest wait for a new best at full lr) "
                          f"and factor {fix['plateau_factor']:g} (the square root of {cfg.plateau_factor:g})")
            self.fire(trainer, step, f"no better validation loss in {self.since_best} evaluations since the lr fell "
                      f"to {self.lr:.2g} ({self.lr / self.peak:.2g} of its peak)",
                      "The schedule cut the learning rate so far that the updates no longer move the loss. With a "
                      "short patience and a strong factor, a noisy or frequent validation signal triggers cuts "
                      "before the model has stopped improving, and the run crawls at the floor. A fix forks from "
                      "this step with the learning rate restored, beside this run.",
                      fix, label, apply="fork")
