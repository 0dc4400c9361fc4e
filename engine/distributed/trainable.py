"""RunTrainable: one stored run as a Ray Tune trial, and the callback that reports a sweep's progress.

Imports Ray Tune at import time: only the Ray path (sweep.py, and Ray's workers) imports it.

A class trainable rather than a function: Tune calls `cleanup()` when its scheduler stops a
trial, so a run that ASHA ends early is concluded `stopped`, with an event saying why and at
which step (a function trainable is simply killed, and its run stays `running`). Each Tune
iteration trains up to the next evaluation and reports its validation loss. The plan (the
runs' configs and where records go) reaches the workers once, through `tune.with_parameters`;
a trial's own config holds only its run id, created in the store by the driver beforehand.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from ray import tune

from engine.config import RunConfig
from engine.diagnosis import observers_for
from engine.distributed.remote_store import open_store, worker_info
from engine.distributed.stepper import RunStepper
from engine.trainer import Trainer

SNAPSHOT_FILE = "snapshot.pt"


class RunTrainable(tune.Trainable):
    """Trains the stored run named by config['run_id'], one evaluation per Tune iteration."""

    def setup(self, config: dict, plan: dict):
        torch.set_num_threads(1)  # one CPU per trial; more threads only contend (measured for the JobManager)
        self.plan = plan  # {"configs": {run_id: dict}, "records": {...}, "why": text}
        self.store = open_store(plan["records"])
        self.stepper: RunStepper | None = None
        self._begin(config["run_id"])

    def step(self) -> dict:
        """Train to the next evaluation; the result carries val_loss and, at the end, done."""
        return self.stepper.advance()

    def reset_config(self, new_config: dict) -> bool:
        """Reuse this worker for another run (saves a process start and a torch import per trial)."""
        self._end()
        self._begin(new_config["run_id"])
        return True

    def cleanup(self):
        """End a run the scheduler stopped, then close the store (explicitly: workers do not exit cleanly)."""
        try:
            self._end()
        finally:
            self.store.close()

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        torch.save(self.stepper.trainer.snapshot(), Path(checkpoint_dir) / SNAPSHOT_FILE)

    def load_checkpoint(self, checkpoint_dir: str) -> None:
        snap = torch.load(Path(checkpoint_dir) / SNAPSHOT_FILE, map_location="cpu", weights_only=False)
        self.stepper.resume_from(snap)

    def _begin(self, run_id: str) -> None:
        cfg = RunConfig.from_dict(self.plan["configs"][run_id])
        trainer = Trainer(cfg, self.store, run_id, observers=observers_for(cfg))
        self.stepper = RunStepper(trainer, worker=worker_info())

    def _end(self) -> None:
        """A run still going when Tune lets go of it was stopped by the scheduler."""
        if self.stepper is not None and not self.stepper.ended:
            val = self.stepper.result()["val_loss"]
            self.stepper.stop(self.plan["why"].format(evals=self.iteration, val=val))


class ProgressCallback(tune.Callback):
    """Calls `poll()` from Tune's driver loop at most every `every` seconds, and once at the end."""

    def __init__(self, poll, every: float = 0.5):
        self.poll, self.every = poll, every
        self.last = 0.0

    def on_step_end(self, iteration, trials, **info):
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self.poll()

    def on_experiment_end(self, trials, **info):
        self.poll()

    def __getstate__(self):
        """Tune pickles its callbacks for a later restore; the poll function (it holds a store) stays here."""
        return {"every": self.every, "last": 0.0, "poll": _no_poll}


def _no_poll() -> None:
    """What a restored ProgressCallback reports to: nothing."""
