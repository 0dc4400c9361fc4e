"""StepTimer: records `time/step_ms`, the wall time of each step, so lessons can compare the cost of settings."""

from __future__ import annotations

import threading
import time

from engine.observer import Observer
from engine.series import Series

STEP_MS = Series("time/step_ms", "scalar", "wall time of the step in its own thread (runs in lockstep are timed apart)")


class StepTimer(Observer):
    """Records `time/step_ms`: the wall time of each step of this run.

    Runs of a group step in turn in one thread, so the time since the previous step *in
    this thread* ended is this step's own time; evaluation is excluded by restarting the
    clock after it.
    """

    _clock = threading.local()

    def on_step_end(self, trainer, step, scalars):
        now = time.perf_counter()
        last = getattr(self._clock, "t", None)
        if last is not None:
            trainer.store.add_scalars(trainer.run_id, step, {STEP_MS.name: (now - last) * 1000})
        self._clock.t = now

    def on_eval(self, trainer, step, values):
        self._clock.t = time.perf_counter()
