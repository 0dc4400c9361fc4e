"""When a watched loop is probed: the engine's two budgeted tiers (engine/cadence.py ProbeBudget).

Light probes (gradient histograms, weights, saturation) get a third of the budget, heavy ones
(spectra, gradient reach) two thirds, as the engine's ProbeRunner gives them. The difference is
when the decision falls: hooks must be on the model before the forward pass, and the recorder
only sees the loop at after_backward and after_step, so step s + 1 is decided at the end of
step s (`decide`). A step's time is the wall time from one after_step to the next (the user's
whole iteration), on steps without probes and not counting pauses. The engine times its step
from its own begin() and excludes evaluation; here an evaluation, a checkpoint or another loop
run in between lands inside one step's time, so the typical step is the median of the last
STEP_SAMPLES rather than a moving average, which one long step would drag up for several probes.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import deque

from engine.cadence import ProbeBudget

STEP_SAMPLES = 15  # steps without probes whose median is the typical step time


class Schedule:
    """Which tiers are due at the coming step, within `budget` of the loop's time."""

    def __init__(self, every: int, budget: float):
        if budget >= 1:  # "1: never stretch", as RunConfig.probe_budget declares: an exact cadence
            budget = math.inf
        self.light_budget = ProbeBudget(every, budget / 3)
        self.heavy_budget = ProbeBudget(every, budget * 2 / 3)
        self._times: deque[float] = deque(maxlen=STEP_SAMPLES)  # recent steps without probes, seconds
        self.light = self.heavy = False  # due at the coming step
        self.spent = {False: 0.0, True: 0.0}  # this step's probe seconds by tier (heavy or not)
        self._last = time.perf_counter()

    @property
    def any(self) -> bool:
        return self.light or self.heavy

    def decide(self, step: int) -> None:
        """Decide the tiers of `step`; call once per step, before its forward pass."""
        self.light = self.light_budget.due(step, self.step_time)
        self.heavy = self.heavy_budget.due(step, self.step_time)
        self.spent = {False: 0.0, True: 0.0}

    def add(self, heavy: bool, seconds: float) -> None:
        """Count probe time against a tier."""
        self.spent[heavy] += seconds

    def step_done(self) -> float:
        """At after_step: time the step (or report its probes' cost); returns the step's wall seconds."""
        now = time.perf_counter()
        seconds, self._last = now - self._last, now
        if not self.any:
            self._times.append(seconds)
        for heavy, budget in ((False, self.light_budget), (True, self.heavy_budget)):
            if self.spent[heavy]:
                budget.spent(self.spent[heavy])
        return seconds

    def resume_clock(self) -> None:
        """Restart the step clock (after a pause, which is no step's time)."""
        self._last = time.perf_counter()

    @property
    def step_time(self) -> float | None:
        """The typical time of a step without probes, seconds (None before the first)."""
        return statistics.median(self._times) if self._times else None

    @property
    def heavy_interval(self) -> int:
        return self.heavy_budget.interval
