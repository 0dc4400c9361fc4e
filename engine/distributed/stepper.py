"""RunStepper: one run stepped from evaluation to evaluation, the unit of work a Tune trial reports.

    stepper = RunStepper(trainer)
    while not (result := stepper.advance())["done"]:   # {"val_loss", "step", "status", "done", ...}
        ...                                             # a scheduler looks at result["val_loss"]
    stepper.stop("ASHA: ...")                           # ended from outside: 'stopped', with why

The Trainer owns the run's life (start, step, conclude); the stepper only decides where to
pause between two reports, and turns an outside stop into `Stopped("stopped by the scheduler
at step N: <why>")`, so the run ends `stopped` with an event saying why and where. Nothing
raised while training escapes: the run is concluded (`failed`, `diverged`) with its records
kept, and the result says done. No Ray here, so it is tested without a cluster.
"""

from __future__ import annotations

import math

from engine.distributed.progress import EARLY_STOP_PREFIX
from engine.observer import Observer
from engine.trainer import VAL_LOSS, Stopped, Trainer


class EvalWatch(Observer):
    """Notes each evaluation, so the stepper knows when to hand a result back."""

    def __init__(self):
        self.values: dict | None = None
        self.fresh = False

    def on_eval(self, trainer, step, values):
        self.values = values
        self.fresh = True


class RunStepper:
    """Drives one Trainer: advance() to the next evaluation, stop(why) from outside, never raises."""

    def __init__(self, trainer: Trainer, worker: dict | None = None):
        self.trainer = trainer
        self.watch = EvalWatch()
        trainer.observers.append(self.watch)
        self.worker = worker  # where it trains ({"host", "pid", "node"}), kept in the run's summary
        self.started = False
        self.final: str | None = None  # the run's final status, once concluded

    @property
    def ended(self) -> bool:
        return self.final is not None

    def resume_from(self, snapshot: dict) -> None:
        """Continue from a snapshot (a Tune checkpoint) instead of fresh weights; before the first advance."""
        if self.started:
            raise RuntimeError("a run can only be resumed before it starts")
        self.trainer.resume = snapshot

    def advance(self) -> dict:
        """Train up to and including the next evaluation (or to the end); the result to report."""
        if self.ended:
            return self.result()
        try:
            if not self.started:
                self._start()
            self.watch.fresh = False
            while self.trainer.step():
                if self.watch.fresh:
                    return self.result()
            self._conclude(None)
        except (Exception, KeyboardInterrupt) as err:  # the run ends, its records stay
            self._conclude(err)
        return self.result()

    def stop(self, why: str) -> str:
        """End a run that has not ended: 'stopped', with an event saying why and at which step."""
        if not self.ended:
            self._conclude(Stopped(f"{EARLY_STOP_PREFIX} at step {self.trainer.step_index}: {why}"))
        return self.final

    def result(self) -> dict:
        """What a Tune trial reports: the validation loss (inf when there is none), step, status, done."""
        values = self.watch.values or {}
        val = values.get(VAL_LOSS.name, math.inf)
        return {"val_loss": val if math.isfinite(val) else math.inf, "step": self.trainer.step_index,
                "status": self.final or self.trainer.status, "run_id": self.trainer.run_id, "done": self.ended}

    def _start(self) -> None:
        self.started = True
        self.trainer.start()
        if self.worker:
            store, run_id = self.trainer.store, self.trainer.run_id
            store.set_summary(run_id, {**store.run(run_id).summary, "worker": self.worker})

    def _conclude(self, error: BaseException | None) -> None:
        try:
            self.final = self.trainer.conclude(error)
        except Exception:  # conclude's own fallback failed: the store is unreachable, nothing more can land
            self.final = "failed"
