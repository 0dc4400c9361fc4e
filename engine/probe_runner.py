"""ProbeRunner: which probes run at a step, and keeping them within their time budget.

The trainer calls it at three moments of a step; everything about cadence and cost lives here:

    runner.begin(step)                 # decides which probes are due; starts the step's clock
    runner.after_backward(ctx)         # gradients exist, not yet clipped
    measured = runner.after_step(ctx)  # after optimizer.step(); {} when nothing was due
"""

from __future__ import annotations

import time

from engine.cadence import TIME_BETA, ProbeBudget
from engine.probes import ProbeContext, default_probes
from engine.series import Series
from engine.smoothing import Ema

INTERVAL = Series("probe/interval", "scalar", "steps between heavy probes in force (stretched to stay within probe_budget)")
SERIES = (INTERVAL,)


class ProbeRunner:
    """Runs the light and heavy probes of one run at their budgeted cadence."""

    def __init__(self, cfg):
        probes = default_probes(cfg)
        self.light = [p for p in probes if not p.heavy]
        self.heavy = [p for p in probes if p.heavy]
        self.light_budget = ProbeBudget(cfg.probe_every, cfg.probe_budget / 3)
        self.heavy_budget = ProbeBudget(cfg.probe_every, cfg.probe_budget * 2 / 3)
        self._step_time = Ema(TIME_BETA)  # wall time of a step without probes, seconds
        self.due: list = []
        self.heavy_due = False
        self._measured: dict = {}
        self._spent = {False: 0.0, True: 0.0}  # this step's probe seconds, by tier (heavy or not)
        self._t0 = 0.0

    def begin(self, step: int) -> None:
        """Decide what runs at `step`; call before the forward pass."""
        light_due = bool(self.light) and self.light_budget.due(step, self._step_time.value)
        self.heavy_due = bool(self.heavy) and self.heavy_budget.due(step, self._step_time.value)
        self.due = (self.light if light_due else []) + (self.heavy if self.heavy_due else [])
        self._measured, self._spent = {}, {False: 0.0, True: 0.0}
        self._t0 = time.perf_counter()

    def after_backward(self, ctx: ProbeContext) -> None:
        self._run("after_backward", ctx)

    def after_step(self, ctx: ProbeContext) -> dict:
        """The step's measurements (floats and arrays); also times a step that had none."""
        if not self.due:
            self._step_time.update(time.perf_counter() - self._t0)
            return {}
        self._run("after_step", ctx)
        for heavy, budget in ((False, self.light_budget), (True, self.heavy_budget)):
            if self._spent[heavy]:
                budget.spent(self._spent[heavy])
        if self.heavy_due:
            self._measured[INTERVAL.name] = float(self.heavy_budget.interval)
        return self._measured

    def _run(self, moment: str, ctx: ProbeContext) -> None:
        for probe in self.due:
            t0 = time.perf_counter()
            self._measured.update(getattr(probe, moment)(ctx) or {})
            self._spent[probe.heavy] += time.perf_counter() - t0
