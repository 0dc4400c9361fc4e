"""The recurrent state: units saturated or dead, and a gradient that reaches only a few steps back."""

from __future__ import annotations

import numpy as np

from engine.diagnosis.base import Rule, far_limit, lr_fix, words, wrecked
from engine.optim import LR
from engine.probes import GradientReachProbe, HiddenProbe

# saturation: "most" units, on 3 probes in a row so one odd batch does not fire it
SATURATED_SHARE = 0.5
SATURATED_PROBES = 3
# saturation that the updates caused (the first probe, of the initial model, was below the share):
# the lr in force pushed the units there, a third of it
SATURATION_LR_SHARE = 3
# gradient reach: fewer than 3 steps back above 1 % of its value at T means the model cannot
# learn from anything older than a few characters; judged on the median of the last 5 probes
# once the first 100 steps are past (the reach of a fresh init says little about training)
REACH_MIN_STEPS = 3
REACH_PROBES = 5
REACH_AFTER_STEPS = 100
REACH_MIN_SEQ = 16  # shorter sequences have no long range to lose

# what to start instead when the gradient's reach is short (new weights: a rerun from step 0)
REACH_REMEDY = {
    "rnn_tanh": ({"cell": "gru", "init": "orthogonal"}, "rerun as a gated cell (GRU) with orthogonal init"),
    "rnn_relu": ({"cell": "gru", "init": "orthogonal"}, "rerun as a gated cell (GRU) with orthogonal init"),
    "gru": ({"init": "orthogonal"}, "rerun with orthogonal init"),
    "lstm": ({"forget_bias": 1.0}, "rerun with forget_bias 1, so the forget gate starts open"),
}


class Saturation(Rule):
    """Most tanh/gate units are saturated (|h| > 0.99), or most ReLU units are dead."""

    id, title = "saturation", "Hidden units saturated"

    def __init__(self):
        super().__init__()
        self.streak = 0
        self.at_init: float | None = None  # the share measured on the initial model
        self.lr = 0.0
        self.limit: float | None = None

    def on_fit_start(self, trainer):
        self.limit = far_limit(trainer.task)

    def on_step_end(self, trainer, step, scalars):
        self.lr = scalars[LR.name]

    def on_probe(self, trainer, step, measured):
        share = max((v for k, v in measured.items() if HiddenProbe.SATURATION.matches(k) or HiddenProbe.DEAD.matches(k)),
                    default=None)
        if share is None or (step > 0 and wrecked(trainer, self.limit)):  # a wrecked run: the divergence rule speaks
            return
        if self.at_init is None:
            self.at_init = share
        self.streak = self.streak + 1 if share > SATURATED_SHARE else 0
        if self.streak >= SATURATED_PROBES:
            self._report(trainer, step, share)

    def _report(self, trainer, step, share):
        cfg = trainer.cfg
        dead = cfg.cell == "rnn_relu"
        what = "dead (zero for every sequence)" if dead else "saturated (|h| > 0.99)"
        if self.at_init > SATURATED_SHARE:  # the initial weights put them there
            fix = {"init": "identity", "spectral_radius": 1.0} if dead else {"init": "orthogonal"}
            if cfg.init == fix["init"]:
                fix = {}
            label = f"rerun with init={fix['init']} (the initial model was already {self.at_init:.0%} {what.split()[0]})" \
                if fix else ""
            why = "Recurrent weights that start too large (a spectral radius well above 1) push units there."
        else:  # training moved them there
            fix = {"lr": lr_fix(cfg, self.lr, SATURATION_LR_SHARE)}
            label = (f"rerun with {words(fix)} (a third of the lr in force; the initial model had only "
                     f"{self.at_init:.0%} of units {what.split()[0]})")
            why = "They got there during training: updates too large for the recurrence threw the weights there."
        self.fire(trainer, step, f"{share:.0%} of hidden units are {what}",
                  ("A saturated tanh unit sits on its flat tail, where its derivative is near zero: no gradient "
                   "passes through it, so it stops learning and blocks the gradient through time. "
                   if not dead else
                   "A ReLU unit whose input is negative for every sequence outputs zero and gets no gradient, so "
                   "it never comes back. ") + why, fix, label, apply="rerun")


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
            fix, label = REACH_REMEDY[trainer.cfg.cell]
            if trainer.cfg.cell == "gru" and trainer.cfg.init == "orthogonal":
                fix, label = {"cell": "lstm", "init": "orthogonal", "forget_bias": 1.0}, \
                    "rerun as an LSTM with its forget gate open at the start (forget_bias 1)"
            self.fire(trainer, step, f"the gradient falls below 1 % of its value within {reach:g} steps back "
                      f"(seq_len {trainer.cfg.seq_len})",
                      "Each step back in time multiplies the gradient by the recurrent Jacobian; when its norm is "
                      "below 1 the signal from older inputs fades geometrically, so the model cannot learn "
                      "dependencies longer than a few steps however long the sequences are. The remedy needs new "
                      "weights: a rerun from step 0 with the same seed and data.",
                      dict(fix), label, apply="rerun")
