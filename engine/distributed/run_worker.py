"""RunWorker: a Ray actor that trains the dashboard's runs one after another, and takes their controls.

The dashboard's Ray job manager (ray_jobs.py) keeps a few of these, one per CPU it uses, and
hands each the next queued run. `train()` holds the actor's main thread for the whole run;
stop, pause and live edits arrive on a second thread (max_concurrency=2) and go into the
run's RunControls, which the Trainer applies between two steps, exactly as in a local run.

    worker = ray.remote(RunWorker).options(num_cpus=1, max_concurrency=2).remote(records)
    status = ray.get(worker.train.remote(run_id, cfg.to_dict()))
"""

from __future__ import annotations

import time

import torch

from engine.config import RunConfig
from engine.controls import RunControls
from engine.diagnosis import observers_for
from engine.distributed.remote_store import open_store, worker_info
from engine.trainer import Trainer

PAUSED_POLL_S = 0.05  # a paused run checks its controls this often, without burning a core


class RunWorker:
    """Trains one run at a time into the store `records` names; forwards controls to the current run."""

    def __init__(self, records: dict):
        torch.set_num_threads(1)  # one CPU per worker
        self.store = open_store(records)
        self.run_id: str | None = None
        self.controls = RunControls()
        self.stopped: set[str] = set()  # stop requests that came before their run began here

    def train(self, run_id: str, config: dict, resume: dict | None = None) -> str:
        """Train the stored run to its end; its final status ('done', 'stopped', 'diverged', 'failed')."""
        cfg = RunConfig.from_dict(config)
        self.controls = RunControls()
        if run_id in self.stopped:  # asked to stop while this worker was still busy or starting
            self.controls.stop.set()
        self.run_id = run_id
        trainer = Trainer(cfg, self.store, run_id, controls=self.controls, observers=observers_for(cfg), resume=resume)
        try:
            return drive(trainer, worker_info())
        finally:
            self.run_id = None

    def stop(self, run_id: str) -> None:
        if run_id == self.run_id:
            self.controls.stop.set()
            self.controls.pause.clear()
        else:  # not begun yet (calls may overtake train()); a late request for an ended run is harmless
            self.stopped.add(run_id)

    def pause(self, run_id: str, paused: bool) -> None:
        if run_id == self.run_id:
            (self.controls.pause.set if paused else self.controls.pause.clear)()

    def set_lr(self, run_id: str, lr: float) -> None:
        if run_id == self.run_id:
            self.controls.set_lr(lr)

    def set_clip(self, run_id: str, mode: str, value: float) -> None:
        if run_id == self.run_id:
            self.controls.set_clip(mode, value)

    def close(self) -> None:
        """Send or commit what is buffered and close the store (workers must, explicitly)."""
        self.store.close()


def drive(trainer: Trainer, worker: dict | None = None) -> str:
    """Start, step (waiting while paused) and conclude one run; returns its final status, never raises."""
    error = None
    try:
        trainer.start()
        if worker:
            summary = trainer.store.run(trainer.run_id).summary
            trainer.store.set_summary(trainer.run_id, {**summary, "worker": worker})
        while True:
            if trainer.held():
                time.sleep(PAUSED_POLL_S)
            elif not trainer.step():
                break
    except (Exception, KeyboardInterrupt) as err:
        error = err
    return trainer.conclude(error)
