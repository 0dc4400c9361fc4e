"""JobManager: runs and groups of runs in background threads, queued under a concurrency cap.

One per process (the dashboard keeps it in `st.cache_resource`, shared by every browser
session). A job is one run or a group; a group runs in one thread that steps its runs in
turn, so they stand at the same step and share seed, init and data order. At most
`max_workers` jobs train at once (one per core: more only slows each down); the rest wait
in a queue whose positions the UI can show. Nothing raised in a worker escapes it: a run
ends as `done`, `stopped`, `diverged` or `failed` with a message, and its records stay.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
import uuid
from collections import deque
from dataclasses import dataclass, field

import torch

from engine.store.checkpoints import load_checkpoint
from engine.config import RunConfig
from engine.controls import RunControls
from engine.trainer import Diverged, Trainer

LIVE = ("queued", "running", "paused")
SNAPSHOT_TIMEOUT = 30.0  # seconds to wait for a live run to hand over its state for a fork


@dataclass
class Job:
    """One unit of queued work: a run, or a group stepped in lockstep."""

    job_id: str
    runs: list[tuple[str, RunConfig, dict | None]]  # (run_id, config, resume snapshot)
    thread: threading.Thread | None = None
    trainers: dict[str, Trainer] = field(default_factory=dict)


def default_observers(cfg) -> list:
    """The diagnosis rules watching every run (none until engine/diagnosis.py exists)."""
    try:
        from engine.diagnosis import observers_for
    except ImportError:
        return []
    return observers_for(cfg)


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class JobManager:
    """Submit, queue, run, stop, pause, edit and fork training runs."""

    def __init__(self, store, max_workers: int | None = None, observers=None):
        torch.set_num_threads(1)  # measured: 1 thread per run beats sharing on 2 cores
        self.store = store
        self.max_workers = max_workers or default_workers()
        self.observers = observers or default_observers  # callable(cfg) -> observers of each run
        self._lock = threading.Lock()
        self._queue: deque[Job] = deque()
        self._running: dict[str, Job] = {}
        self._controls: dict[str, RunControls] = {}
        self._status: dict[str, str] = {}
        self._closed = False
        store.recover()

    # ---- submitting ------------------------------------------------------------------
    def submit(self, cfg: RunConfig, label: str | None = None) -> str:
        """Queue one run; returns its id. Raises ConfigError before anything is stored."""
        cfg = cfg.validate()
        run_id = self.store.create_run(cfg.to_dict(), label=label)
        self._enqueue([(run_id, cfg, None)])
        return run_id

    def submit_group(self, base: RunConfig, variants: dict[str, dict], lesson: str | None = None,
                     ) -> tuple[str, list[str]]:
        """Queue runs that differ from `base` by `variants` (label -> overrides), in lockstep."""
        configs = {label: base.replace(**overrides).validate() for label, overrides in variants.items()}
        group_id = "g-" + uuid.uuid4().hex[:8]
        runs = [(self.store.create_run(cfg.to_dict(), label=label, group_id=group_id, lesson=lesson), cfg, None)
                for label, cfg in configs.items()]
        self._enqueue(runs)
        return group_id, [r[0] for r in runs]

    def fork(self, run_id: str, overrides: dict, label: str | None = None) -> str:
        """A new run continuing from `run_id`'s current weights with some settings changed."""
        parent = self.store.run(run_id)
        cfg = RunConfig.from_dict(parent.config).replace(**overrides)
        controls = self._controls.get(run_id)
        if controls is not None and self.is_live(run_id) and self.status(run_id) != "queued":
            snap = controls.request_snapshot().result(timeout=SNAPSHOT_TIMEOUT)
        else:
            snap = load_checkpoint(self.store, run_id)
        if snap["step"] >= cfg.max_steps and "max_steps" not in overrides:
            cfg = cfg.replace(max_steps=snap["step"] + RunConfig.from_dict(parent.config).max_steps)
        cfg = cfg.validate()
        label = label or ", ".join(f"{k}={v}" for k, v in overrides.items()) or f"fork of {run_id}"
        new_id = self.store.create_run(cfg.to_dict(), label=label, parent=run_id, fork_step=snap["step"])
        self.store.add_event(run_id, snap["step"], "fork", f"forked as {new_id}: {label}", {"child": new_id})
        self.store.add_event(new_id, snap["step"], "fork", f"forked from {run_id} at step {snap['step']}",
                             {"parent": run_id})
        self._enqueue([(new_id, cfg, snap)])
        return new_id

    # ---- live controls ---------------------------------------------------------------
    def stop(self, run_id: str) -> None:
        """Stop a run: a queued one never starts, a running one ends as `stopped` at its next step."""
        controls = self._controls.get(run_id)
        if controls is not None:
            controls.stop.set()
            controls.pause.clear()
        with self._lock:
            for job in list(self._queue):
                job.runs = [r for r in job.runs if r[0] != run_id]
                if not job.runs:
                    self._queue.remove(job)
            if self._status.get(run_id) == "queued":
                self._status[run_id] = "stopped"
                self.store.set_status(run_id, "stopped", "stopped before it started")

    def pause(self, run_id: str) -> None:
        self._controls[run_id].pause.set()

    def resume(self, run_id: str) -> None:
        self._controls[run_id].pause.clear()

    def set_lr(self, run_id: str, lr: float) -> None:
        RunConfig().replace(lr=lr).validate()  # same range checks as a new run
        self._controls[run_id].set_lr(lr)

    def set_clip(self, run_id: str, mode: str, value: float) -> None:
        RunConfig().replace(clip=mode, clip_value=value).validate()
        self._controls[run_id].set_clip(mode, value)

    # ---- status ----------------------------------------------------------------------
    def status(self, run_id: str) -> str:
        """Live status for runs of this process, else what the store says."""
        with self._lock:
            if run_id in self._status:
                return self._status[run_id]
        return self.store.run(run_id).status

    def is_live(self, run_id: str) -> bool:
        with self._lock:
            return self._status.get(run_id) in LIVE

    def queue_position(self, run_id: str) -> int | None:
        """1 for the next job to start; None when the run is not waiting."""
        with self._lock:
            for i, job in enumerate(self._queue, start=1):
                if any(r[0] == run_id for r in job.runs):
                    return i
        return None

    def live_runs(self) -> list[str]:
        with self._lock:
            return [r for r, s in self._status.items() if s in LIVE]

    def wait(self, run_ids, timeout: float | None = None) -> bool:
        """Block until none of `run_ids` is live; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while any(self.is_live(r) for r in run_ids):
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop everything: queued runs are dropped as stopped, running ones end at their next step."""
        with self._lock:
            self._closed = True
            ids = list(self._status)
        for run_id in ids:
            if self.is_live(run_id):
                self.stop(run_id)
        for job in list(self._running.values()):
            if job.thread is not None:
                job.thread.join(timeout)
        self.store.flush()

    # ---- scheduling ------------------------------------------------------------------
    def _enqueue(self, runs) -> None:
        job = Job(job_id=uuid.uuid4().hex[:8], runs=list(runs))
        with self._lock:
            if self._closed:
                raise RuntimeError("the job manager is shut down")
            for run_id, _, _ in runs:
                self._controls[run_id] = RunControls()
                self._status[run_id] = "queued"
            self._queue.append(job)
        self._dispatch()

    def _dispatch(self) -> None:
        with self._lock:
            while self._queue and len(self._running) < self.max_workers and not self._closed:
                job = self._queue.popleft()
                job.thread = threading.Thread(target=self._work, args=(job,), name=f"rnnlab-{job.job_id}", daemon=True)
                self._running[job.job_id] = job
                job.thread.start()

    def _work(self, job: Job) -> None:
        try:
            self._train(job)
        finally:
            with self._lock:
                self._running.pop(job.job_id, None)
            self._dispatch()

    def _train(self, job: Job) -> None:
        active = []
        for run_id, cfg, resume in job.runs:
            observers = self.observers(cfg)
            trainer = Trainer(cfg, self.store, run_id, self._controls[run_id], observers=observers, resume=resume)
            if self._guard(trainer, "start"):
                active.append(trainer)
                self._set_status(run_id, "running")
        while active:
            stepped = False
            for trainer in list(active):
                if self._paused(trainer):
                    continue
                stepped = True
                if not self._guard(trainer, "step"):
                    active.remove(trainer)
            if not stepped:
                time.sleep(0.05)  # everything paused: wait without burning a core

    def _guard(self, trainer: Trainer, action: str) -> bool:
        """Run trainer.start() or trainer.step(); True while the run goes on. Ends the run on any failure."""
        run_id = trainer.run_id
        try:
            if action == "start":
                trainer.start()
                return True
            if trainer.step():
                return True
            trainer.finish("stopped" if trainer.controls.stop.is_set() else "done")
        except Diverged as err:
            self.store.add_event(run_id, trainer.step_index, "diverged", str(err))
            self._finish_quietly(trainer, "diverged", str(err))
        except Exception as err:  # nothing escapes the worker thread
            message = f"{type(err).__name__}: {err}"
            self.store.add_event(run_id, trainer.step_index, "error", message, {"traceback": traceback.format_exc()})
            self._finish_quietly(trainer, "failed", message)
        self._set_status(run_id, trainer.status)
        return False

    def _finish_quietly(self, trainer: Trainer, status: str, message: str) -> None:
        try:
            trainer.finish(status, message)
        except Exception:
            trainer.status = status
            self.store.set_status(trainer.run_id, status, message)

    def _paused(self, trainer: Trainer) -> bool:
        controls = trainer.controls
        if controls.pause.is_set() and not controls.stop.is_set():
            if trainer.status != "paused":
                trainer.status = "paused"
                self._set_status(trainer.run_id, "paused")
                self.store.set_status(trainer.run_id, "paused")
                self.store.add_event(trainer.run_id, trainer.step_index, "paused", "paused")
            trainer._apply_controls()  # a fork may ask for a snapshot while paused
            return True
        if trainer.status == "paused":
            trainer.status = "running"
            self._set_status(trainer.run_id, "running")
            self.store.set_status(trainer.run_id, "running")
            self.store.add_event(trainer.run_id, trainer.step_index, "resumed", "resumed")
        return False

    def _set_status(self, run_id: str, status: str) -> None:
        with self._lock:
            self._status[run_id] = status
