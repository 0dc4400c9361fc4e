"""When a watched loop is probed: the engine's two budgeted tiers (engine/cadence.py ProbeBudget).

Light probes (gradient histograms, weights, saturation) get a third of the budget, heavy ones
(spectra, gradient reach) two thirds, as the engine's ProbeRunner gives them. The difference is
when the decision falls: hooks must be on the model before the forward pass, and the recorder
only sees the loop at after_backward and after_step, so step s + 1 is decided at the end of
step s (`decide`). A step's time is the wall time from one after_step to the next (the user's
whole iteration), measured on steps without probes, minus any time spent paused.
"""

from __future__ import annotations

import math
import time

from engine.cadence import TIME_BETA, ProbeBudget
from engine.smoothing import Ema


class Schedule:
    """Which tiers are due at the coming step, within `budget` of the loop's time."""

    def __init__(self, every: int, budget: float):
        if budget >= 1:  # "1: never stretch", as RunConfig.probe_budget declares: an exact cadence
            budget = math.inf
        self.light_budget = ProbeBudget(every, budget / 3)
        self.heavy_budget = ProbeBudget(every, budget * 2 / 3)
        self.step_time = Ema(TIME_BETA)  # a step without probes, seconds
        self.light = self.heavy = False  # due at the coming step
        self.spent = {False: 0.0, True: 0.0}  # this step's probe seconds by tier (heavy or not)
        self._last = time.perf_counter()

    @property
    def any(self) -> bool:
        return self.light or self.heavy

    def decide(self, step: int) -> None:
        """Decide the tiers of `step`; call once per step, before its forward pass."""
        self.light = self.light_budget.due(step, self.step_time.value)
        self.heavy = self.heavy_budget.due(step, self.step_time.value)
        self.spent = {False: 0.0, True: 0.0}

    def add(self, heavy: bool, seconds: float) -> None:
        """Count probe time against a tier."""
        self.spent[heavy] += seconds

    def step_done(self) -> float:
        """At after_step: time the step (or report its probes' cost); returns the step's wall seconds."""
        now = time.perf_counter()
        seconds, self._last = now - self._last, now
        if not self.any:
            self.step_time.update(seconds)
        for heavy, budget in ((False, self.light_budget), (True, self.heavy_budget)):
            if self.spent[heavy]:
                budget.spent(self.spent[heavy])
        return seconds

    def resume_clock(self) -> None:
        """Restart the step clock (after a pause, which is no step's time)."""
        self._last = time.perf_counter()

    @property
    def heavy_interval(self) -> int:
        return self.heavy_budget.interval
