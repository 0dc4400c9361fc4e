"""JobManager: runs and groups of runs in background threads, queued under a concurrency cap.

One per process (the dashboard keeps it in `st.cache_resource`, shared by every browser
session). A job is one run or a group; a group's thread steps its runs a round at a time,
side by side on the cores with a barrier after each round (engine/lockstep.py), so they stand
at the same step and share seed, init and data order. At most `max_workers` jobs train at
once (one per core: more only slows each down); the rest wait in a queue whose positions the
UI can show. Each run's torch intra-op threads are chosen per round from the cores and the
runs training (engine/threads.py), not fixed for the process. Nothing raised in a worker escapes it: each run
ends through `Trainer.conclude`, as `done`, `stopped`, `diverged` or `failed` with a message,
and its records stay. A run's status lives in its Trainer (built at submit, status `queued`);
once the run has ended the manager lets go of it and the store answers.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass

from engine.config import RunConfig
from engine.diagnosis import observers_for
from engine.lockstep import Lockstep
from engine.preflight import preflight
from engine.store.checkpoints import load_checkpoint
from engine.threads import cores, intra_op_threads, use_threads
from engine.trainer import Trainer
from engine.warmup import warm_up_in_background

LIVE = ("queued", "running", "paused")
SNAPSHOT_TIMEOUT = 30.0  # seconds to wait for a live run to hand over its state for a fork


@dataclass
class Job:
    """One unit of queued work: a run, or a group stepped in lockstep."""

    job_id: str
    trainers: list[Trainer]  # built (not started) at submit: each holds its run's status and controls
    thread: threading.Thread | None = None


def default_workers() -> int:
    return max(1, min(4, cores()))


class JobManager:
    """Submit, queue, run, stop, pause, edit and fork training runs."""

    def __init__(self, store, max_workers: int | None = None, observers=None):
        self.store = store
        self.max_workers = max_workers or default_workers()
        self.observers = observers or observers_for  # callable(cfg) -> observers of each run
        self._lock = threading.Lock()
        self._queue: deque[Job] = deque()
        self._running: dict[str, Job] = {}
        self._trainers: dict[str, Trainer] = {}  # the runs this process queued and has not finished
        self._closed = False
        store.recover()
        warm_up_in_background()  # the first Start then finds torch's lazy imports and the default task ready

    # ---- submitting ------------------------------------------------------------------
    def submit(self, cfg: RunConfig, label: str | None = None) -> str:
        """Queue one run; returns its id. A corpus that cannot be opened (DataError) or a model too large
        for the memory (ConfigError) is refused before anything is stored."""
        task = preflight(cfg)
        run_id = self.store.create_run(cfg.to_dict(), label=label)
        self._enqueue([self._trainer(run_id, cfg, task=task)])
        return run_id

    def submit_group(self, base: RunConfig, variants: dict[str, dict], lesson: str | None = None,
                     ) -> tuple[str, list[str]]:
        """Queue runs that differ from `base` by `variants` (label -> overrides), in lockstep.

        Every variant's config and data are built before anything is stored: a bad one raises
        ConfigError (or DataError for a corpus that cannot be opened).
        """
        configs = {label: base.replace(**overrides) for label, overrides in variants.items()}
        tasks = {label: preflight(cfg) for label, cfg in configs.items()}
        group_id = "g-" + uuid.uuid4().hex[:8]
        trainers = [self._trainer(self.store.create_run(cfg.to_dict(), label=label, group_id=group_id, lesson=lesson),
                                  cfg, task=tasks[label]) for label, cfg in configs.items()]
        self._enqueue(trainers)
        return group_id, [t.run_id for t in trainers]

    def fork(self, run_id: str, overrides: dict, label: str | None = None) -> str:
        """A new run continuing from `run_id`'s current weights with some settings changed."""
        parent = self.store.run(run_id)
        parent_cfg = RunConfig.from_dict(parent.config)
        cfg = parent_cfg.replace(**overrides)
        live = self._trainers.get(run_id)
        if live is not None and live.status in ("running", "paused"):
            snap = live.controls.request_snapshot().result(timeout=SNAPSHOT_TIMEOUT)
        else:
            snap = load_checkpoint(self.store, run_id)
        if snap["step"] >= cfg.max_steps and "max_steps" not in overrides:
            cfg = cfg.replace(max_steps=snap["step"] + parent_cfg.max_steps)
        label = label or ", ".join(f"{k}={v}" for k, v in overrides.items()) or f"fork of {run_id}"
        new_id = self.store.create_run(cfg.to_dict(), label=label, parent=run_id, fork_step=snap["step"])
        self.store.add_event(run_id, snap["step"], "fork", f"forked as {new_id}: {label}", {"child": new_id})
        self.store.add_event(new_id, snap["step"], "fork", f"forked from {run_id} at step {snap['step']}",
                             {"parent": run_id})
        self._enqueue([self._trainer(new_id, cfg, resume=snap)])
        return new_id

    # ---- live controls ---------------------------------------------------------------
    def stop(self, run_id: str) -> None:
        """Stop a run: a queued one never starts, a running one ends as `stopped` at its next step."""
        trainer = self._trainers.get(run_id)
        if trainer is None:
            return
        trainer.controls.stop.set()
        trainer.controls.pause.clear()
        with self._lock:
            for job in list(self._queue):
                job.trainers = [t for t in job.trainers if t.run_id != run_id]
                if not job.trainers:
                    self._queue.remove(job)
            queued = trainer.status == "queued"
            if queued:
                self._trainers.pop(run_id, None)
        if queued:
            trainer.set_status("stopped", "stopped before it started")

    def pause(self, run_id: str) -> None:
        self._live(run_id).controls.pause.set()

    def resume(self, run_id: str) -> None:
        self._live(run_id).controls.pause.clear()

    def set_lr(self, run_id: str, lr: float) -> None:
        """A new peak lr from the next step, checked against the run's own config (its min_lr, say)."""
        trainer = self._live(run_id)
        trainer.cfg.replace(lr=lr)  # raises ConfigError as a run started with this lr would
        trainer.controls.set_lr(lr)

    def set_clip(self, run_id: str, mode: str, value: float) -> None:
        """New clipping from the next step, checked against the run's own config."""
        trainer = self._live(run_id)
        trainer.cfg.replace(clip=mode, clip_value=value)
        trainer.controls.set_clip(mode, value)

    # ---- status ----------------------------------------------------------------------
    def status(self, run_id: str) -> str:
        """Live status for runs of this process, else what the store says."""
        trainer = self._trainers.get(run_id)
        return trainer.status if trainer is not None else self.store.run(run_id).status

    def is_live(self, run_id: str) -> bool:
        """Queued, running or paused in this process."""
        trainer = self._trainers.get(run_id)
        return trainer is not None and trainer.status in LIVE

    def queue_position(self, run_id: str) -> int | None:
        """1 for the next job to start; None when the run is not waiting."""
        with self._lock:
            for i, job in enumerate(self._queue, start=1):
                if any(t.run_id == run_id for t in job.trainers):
                    return i
        return None

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
            ids = list(self._trainers)
        for run_id in ids:
            self.stop(run_id)
        for job in list(self._running.values()):
            if job.thread is not None:
                job.thread.join(timeout)
        self.store.flush()

    # ---- scheduling ------------------------------------------------------------------
    def _trainer(self, run_id: str, cfg: RunConfig, resume: dict | None = None, task=None) -> Trainer:
        return Trainer(cfg, self.store, run_id, observers=self.observers(cfg), resume=resume, task=task)

    def _live(self, run_id: str) -> Trainer:
        trainer = self._trainers.get(run_id)
        if trainer is None:
            raise KeyError(f"run {run_id} is not training in this process")
        return trainer

    def _enqueue(self, trainers: list[Trainer]) -> None:
        job = Job(job_id=uuid.uuid4().hex[:8], trainers=list(trainers))
        with self._lock:
            if self._closed:
                raise RuntimeError("the job manager is shut down")
            for trainer in trainers:
                self._trainers[trainer.run_id] = trainer
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
        """Start the job's runs, then step them a round at a time (lockstep) until each has ended."""
        use_threads(1)  # start() builds models on this thread; rounds set what they need
        active = [t for t in job.trainers if self._start(t)]
        lockstep = Lockstep(len(active))
        try:
            while active:
                ready = [t for t in active if not t.held()]
                going = lockstep.round(ready, self._step, self._threads_per_run(ready))
                active = [t for t in active if t not in ready or going[ready.index(t)]]
                if not ready:
                    time.sleep(0.05)  # everything paused: wait without burning a core
        finally:
            lockstep.close()

    def _threads_per_run(self, ready: list[Trainer]) -> int:
        """Intra-op threads for each run of this round, from the cores and every run training in this process."""
        if not ready:
            return 1
        with self._lock:
            training = sum(t.status == "running" for t in self._trainers.values())
        cfg = ready[0].cfg
        return intra_op_threads(max(training, len(ready)), work=cfg.hidden_size * cfg.batch_size)

    def _start(self, trainer: Trainer) -> bool:
        """trainer.start(); True if it started, else the run is concluded (failed)."""
        try:
            trainer.start()
            return True
        except Exception as err:  # nothing escapes the worker thread
            self._end(trainer, err)
            return False

    def _step(self, trainer: Trainer) -> bool:
        """trainer.step(); True while the run goes on, else the run is concluded."""
        try:
            if trainer.step():
                return True
            self._end(trainer, None)
        except Exception as err:  # nothing escapes the worker thread
            self._end(trainer, err)
        return False

    def _end(self, trainer: Trainer, error: BaseException | None) -> None:
        trainer.conclude(error)
        with self._lock:
            self._trainers.pop(trainer.run_id, None)
