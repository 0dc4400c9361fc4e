"""Gradients that blow up: a spike far above the running median, and NaN/Inf."""

from __future__ import annotations

import math

from engine.diagnosis.base import NormMedian, Rule, clip_fix, far_limit, lr_fix, words, wrecked
from engine.optim import GRAD_NORM, LR
from engine.trainer import LOSS, VAL_LOSS

# gradient spikes: Pascanu et al. found clipping thresholds of 0.5-10x the average norm all work,
# so a norm 10x the running median is beyond anything clipping would be tuned to pass. A spike is a
# finding only when it did harm: the mean loss of the SPIKE_WATCH batches after it 10 % or more
# above the recent mean before it (the gated-cells LSTM has harmless 45x spikes as it learns the task:
# its loss falls through them). Norms of a wrecked run (base.far_limit) are neither judged nor counted
SPIKE_FACTOR = 10.0
SPIKE_WATCH = 10
SPIKE_HARM = 0.10
SPIKE_COOLDOWN = 500  # steps before the spike rule may fire again
# a spike under Adam, or under SGD already clipped at its median: a third of the lr in force
SPIKE_LR_SHARE = 3
# after NaN/Inf: the update that overflowed was orders of magnitude too large, a tenth of the lr in force
NONFINITE_LR_SHARE = 10

SPIKE_WHY = ("The recurrence multiplies the gradient by W_h once per time step; when that product grows, one batch "
             "can yield a gradient many times the usual size and an update that throws the weights far off: here the "
             "loss rose after it. For SGD, clipping the norm at its typical size bounds every step to the typical "
             "step; Adam rescales each step to about the learning rate whatever the gradient, so for Adam the "
             "learning rate is the cure. A fix reruns from step 0 with the same seed and data, beside this run.")


class GradientSpike(Rule):
    """The gradient norm jumped far above its running median, and the loss rose after it."""

    id, title = "grad_spike", "Gradient norm spike"
    cooldown = SPIKE_COOLDOWN

    def __init__(self):
        super().__init__()
        self.norms = NormMedian()
        self.limit: float | None = None
        self.spike: dict | None = None  # the spike being watched: step, norm, median, lr, loss before, losses after

    def on_fit_start(self, trainer):
        self.limit = far_limit(trainer.task)

    def on_step_end(self, trainer, step, scalars):
        if wrecked(trainer, self.limit):
            self.spike = None
            return
        norm, median = scalars.get(GRAD_NORM.name, math.nan), self.norms.value
        if self.spike is not None:
            self._watch(trainer, scalars[LOSS.name])
        elif median is not None and norm > SPIKE_FACTOR * median and self.can_fire(step):
            self.spike = dict(step=step, norm=norm, median=median, lr=scalars[LR.name], before=trainer.recent_loss(),
                              after=[])
        self.norms.add(norm)

    def _watch(self, trainer, loss: float) -> None:
        spike = self.spike
        spike["after"].append(loss)
        if len(spike["after"]) < SPIKE_WATCH:
            return
        self.spike = None
        after = sum(spike["after"]) / SPIKE_WATCH
        if after > (1 + SPIKE_HARM) * spike["before"]:
            self._report(trainer, spike, after)

    def _report(self, trainer, spike, after):
        cfg, median = trainer.cfg, spike["median"]
        fix = clip_fix(trainer, median) if cfg.optimizer == "sgd" else {}
        if fix:
            label = f"rerun clipping the gradient norm at {fix['clip_value']:g}, its median before the spike"
        else:
            fix = {"lr": lr_fix(cfg, spike["lr"], SPIKE_LR_SHARE)}
            label = f"rerun with {words(fix)} (a third of the lr in force at the spike)"
        self.fire(trainer, spike["step"], f"gradient norm {spike['norm']:.3g} at step {spike['step']:,} was "
                  f"{spike['norm'] / median:.0f}x its running median {median:.3g}; the loss of the next "
                  f"{SPIKE_WATCH} batches averaged {after:.4g} against {spike['before']:.4g} before",
                  SPIKE_WHY, fix, label, apply="rerun")


class NonFinite(Rule):
    """The loss or gradient became NaN or Inf: the run diverged."""

    id, title = "non_finite", "Loss or gradient is NaN/Inf"

    def __init__(self):
        super().__init__()
        self.norms = NormMedian()
        self.lr: float | None = None

    def on_step_end(self, trainer, step, scalars):
        self.norms.add(scalars.get(GRAD_NORM.name, math.nan))
        self.lr = scalars[LR.name]

    def on_eval(self, trainer, step, values):
        if not math.isfinite(values.get(VAL_LOSS.name, 0.0)):
            self._report(trainer, step, f"validation loss is {values[VAL_LOSS.name]}")

    def on_fit_end(self, trainer, status):
        error = trainer.ended_by
        if status == "diverged" and not getattr(error, "finite", False):
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
        if self.lr is None:  # the untouched initial model overflowed: no learning rate is to blame
            fix = {"init": "default"} if cfg.init != "default" else {}
            label = "rerun with PyTorch's default init (the initial weights overflow before any update)"
        else:
            fix = {"lr": lr_fix(cfg, self.lr, NONFINITE_LR_SHARE), **clip_fix(trainer, self.norms.value)}
            label = f"rerun with {words(fix)} (a tenth of the lr in force" + (
                ", clipping at the median gradient norm)" if "clip" in fix else ")")
        self.fire(trainer, step, f"the run diverged at step {step}: {what}",
                  "An update or the forward pass was so large that the weights or activations overflowed. In a vanilla "
                  "RNN this is the exploding gradient: the product of Jacobians through time grew without bound. "
                  "Everything recorded before the step is kept; a fix reruns from step 0 with the same seed and data.",
                  fix, label if fix else "", apply="rerun")
