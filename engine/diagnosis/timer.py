"""StepTimer: records `time/step_ms`, the wall time of each step, so lessons can compare the cost of settings."""

from __future__ import annotations

import time

from engine.observer import Observer
from engine.series import Series

STEP_MS = Series("time/step_ms", "scalar", "wall time of the step in its own thread (runs in lockstep are timed apart)")


class StepTimer(Observer):
    """Records `time/step_ms`: the wall time of each step of this run, but the first (lazy set-up).

    Timed from the start of the trainer's step (Trainer.step_started) to its records, so runs of a
    group stepped side by side in parallel threads, or in turn, are timed apart, and evaluation and
    samples (after the records) are left out.
    """

    def __init__(self):
        self.first = True

    def on_step_end(self, trainer, step, scalars):
        if self.first:
            self.first = False
            return
        ms = (time.perf_counter() - trainer.step_started) * 1000
        trainer.store.add_scalars(trainer.run_id, step, {STEP_MS.name: ms})
