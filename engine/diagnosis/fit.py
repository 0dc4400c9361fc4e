"""Fitting the training data rather than the pattern: curves parting, and training pulling away from validation.

Both rules judge only a run that is learning: its training loss below the knows-nothing baseline
and below its validation loss. A run whose loss shot up (diverged, loss 4.64 -> 45.6) has a
rising validation loss too, but nothing of it is memorising: the divergence rule speaks there.
"""

from __future__ import annotations

import math

from engine.diagnosis.base import Rule, baseline_loss
from engine.trainer import VAL_LOSS, WINDOW

TRAIN = WINDOW.at(metric="loss")  # mean training loss of the batches since the previous evaluation
# parting curves: validation 5 % above its best while the training loss is below where it was
# then, on 3 evaluations in a row: one or two high evaluations are the noise of a run that is
# still learning (seen on the adding problem, whose data is fresh and cannot be memorised)
PART_RISE = 0.05
PART_EVALS = 3
# training pulling away: over the last epoch (and at least OVERFIT_SPAN_EVALS evaluations) the
# training loss fell by 3 % or more while validation fell by less than a quarter as much, and
# validation sits 5 % or more above training; on 2 evaluations in a row, from the third epoch
# on (in the first epoch every batch is new, so its loss is itself a held-out measurement)
OVERFIT_TRAIN_DROP = 0.03
OVERFIT_VAL_SHARE = 0.25
OVERFIT_GAP = 0.05
OVERFIT_SPAN_EVALS = 3
OVERFIT_MIN_EPOCHS = 2
OVERFIT_EVALS = 2
# the fix: more dropout than the run has, in steps of this much (to at most DROPOUT_MAX). Which rate
# suits a run cannot be read off its curves; the fork beside it shows what this one does
DROPOUT_STEP = 0.2
DROPOUT_MAX = 0.5

WHY = ("The model is fitting its training examples, not the pattern behind them: updates keep helping on data it "
       "has seen and no longer on data it has not. A fix forks from this step with more dropout, beside this run; "
       "more training data, or stopping at the best validation step, are the other cures.")


def dropout_fix(cfg) -> tuple[dict, str]:
    """More dropout than the run has, and the words for it ({} when it is at DROPOUT_MAX already)."""
    new = round(min(DROPOUT_MAX, cfg.dropout + DROPOUT_STEP), 2)
    if new <= cfg.dropout:
        return {}, ""
    return {"dropout": new}, f"fork from here with dropout {new:g} (the run has {cfg.dropout:g})"


def learning(values: dict, baseline: float) -> bool:
    """The run is fitting: training loss below the baseline and below the validation loss."""
    train, val = values.get(TRAIN, math.nan), values.get(VAL_LOSS.name, math.nan)
    return train < baseline and train < val


class PartingCurves(Rule):
    """Validation loss rises while the training loss keeps falling: memorising."""

    id, title = "parting_curves", "Training and validation curves parting"

    def __init__(self):
        super().__init__()
        self.best = math.inf
        self.train_at_best = math.inf
        self.parted = 0  # evaluations in a row with the curves apart

    def on_eval(self, trainer, step, values):
        val, train = values.get(VAL_LOSS.name, math.nan), values.get(TRAIN, math.nan)
        if val < self.best:
            self.best, self.train_at_best, self.parted = val, train, 0
            return
        apart = val > (1 + PART_RISE) * self.best and train < self.train_at_best
        apart = apart and learning(values, baseline_loss(trainer.task))
        self.parted = self.parted + 1 if apart else 0
        if self.parted >= PART_EVALS:
            fix, label = dropout_fix(trainer.cfg)
            self.fire(trainer, step, f"validation loss {val:.4g} is {val / self.best - 1:.0%} above its best "
                      f"{self.best:.4g} while the training loss fell to {train:.4g}", WHY, fix, label, apply="fork")


class Overfitting(Rule):
    """The training loss keeps falling while the validation loss has stopped following it."""

    id, title = "overfitting", "Training pulls away from validation"

    def __init__(self):
        super().__init__()
        self.history: list[tuple[int, float, float]] = []  # (step, val, train) per evaluation
        self.streak = 0

    def on_eval(self, trainer, step, values):
        val, train = values.get(VAL_LOSS.name, math.nan), values.get(TRAIN, math.nan)
        self.history.append((step, val, train))
        ref = self._reference(trainer, step)
        apart = False
        if ref is not None and step >= OVERFIT_MIN_EPOCHS * trainer.bpe and learning(values, baseline_loss(trainer.task)):
            train_drop, val_drop = (ref[2] - train) / ref[2], (ref[1] - val) / ref[1]  # relative falls since ref
            apart = (train_drop >= OVERFIT_TRAIN_DROP and val_drop < OVERFIT_VAL_SHARE * train_drop
                     and (val - train) / train >= OVERFIT_GAP)
        self.streak = self.streak + 1 if apart else 0
        if self.streak >= OVERFIT_EVALS:
            fix, label = dropout_fix(trainer.cfg)
            self.fire(trainer, step, f"since step {ref[0]:,} the training loss fell {train_drop:.0%} (to {train:.4g}) "
                      f"and the validation loss {max(val_drop, 0):.0%} (to {val:.4g}, "
                      f"{val / train - 1:.0%} above training)", WHY, fix, label, apply="fork")

    def _reference(self, trainer, step: int):
        """The evaluation to compare with: an epoch and OVERFIT_SPAN_EVALS evaluations back, or more (None: too early)."""
        if len(self.history) <= OVERFIT_SPAN_EVALS:
            return None
        span = max(trainer.bpe, step - self.history[-1 - OVERFIT_SPAN_EVALS][0])
        return next((h for h in reversed(self.history) if h[0] <= step - span), None)
