"""JobManager: runs and groups of runs in background threads, queued under a concurrency cap.

One per process (the dashboard keeps it in `st.cache_resource`, shared by every browser
session). A job is one run or a group; a group's thread steps its runs a round at a time,
side by side on the cores with a barrier after each round (engine/lockstep.py), so they stand
at the same step and share seed, init and data order. At most `max_workers` jobs train at
once (one per core: more only slows each down); the rest wait in a queue whose positions the
UI can show; a job whose runs are all paused gives its slot to the queue and, resumed or
stepped, takes the next free one (engine/slots.py). Each run's torch intra-op threads are chosen per round from the cores and the
runs training (engine/threads.py), not fixed for the process. Nothing raised in a worker escapes it: each run
ends through `Trainer.conclude`, as `done`, `stopped`, `diverged` or `failed` with a message,
and its records stay. A run's status lives in its Trainer (built at submit, status `queued`);
once the run has ended the manager lets go of it and the store answers.

Pause, resume and step act on a whole group (a group paused one run at a time would fall out
of lockstep): `step(run_id, n)` lets a paused group train n more batches and hold again, and
`settle(run_ids)` waits until the runs have done what was last asked of them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

from engine.config import FIELDS, RunConfig
from engine.diagnosis import observers_for
from engine.forks import change_label, changes
from engine.lockstep import Lockstep
from engine.preflight import preflight
from engine.slots import Slots
from engine.store.checkpoints import kept, load_checkpoint, load_snapshot
from engine.threads import cores, intra_op_threads, use_threads
from engine.trainer import Trainer
from engine.warmup import warm_up_in_background

LIVE = ("queued", "running", "paused")
# what a fork cannot change: it continues the parent's weights (their shapes and init) on the parent's data
FORK_FIXED = {f.name for f in FIELDS if f.group in ("model", "data", "init")} - {"dropout"}
SNAPSHOT_TIMEOUT = 30.0  # seconds to wait for a live run to hand over its state for a fork


@dataclass
class Job:
    """One unit of queued work: a run, or a group stepped in lockstep."""

    job_id: str
    trainers: list[Trainer]  # built (not started) at submit: each holds its run's status and controls
    thread: threading.Thread | None = None
    # taken for each round's pause check and by pause/resume/step: a group's runs are held or let
    # through together, so a click between two runs' steps cannot leave them a step apart
    lock: threading.Lock = field(default_factory=threading.Lock)


def _wants_to_train(trainer: Trainer) -> bool:
    """Whether a run of a job without a slot wants one: it was resumed or stepped (or stopped: it ends without one)."""
    c = trainer.controls
    return not c.pause.is_set() or c.stop.is_set() or c.steps_left() > 0


def poll_until(done, timeout: float | None, every: float) -> bool:
    """Call `done()` every `every` seconds until it is true (-> True) or `timeout` seconds pass (-> False)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not done():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(every)
    return True


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
        self._running: dict[str, Job] = {}  # jobs with a thread, training or paused
        self._slots = Slots(self.max_workers)  # which of them may train now
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

    def fork(self, run_id: str, overrides: dict, label: str | None = None, step: int | None = None) -> str:
        """A new run continuing from a state of `run_id` with some settings changed.

        step None: the run's current state (live) or its last one (ended). step N: the state kept
        at N, or the nearest kept before it (engine/store/checkpoints.py; ValueError lists them).
        """
        parent = self.store.run(run_id)
        parent_cfg = RunConfig.from_dict(parent.config)
        cfg = parent_cfg.replace(**overrides)
        fixed = [k for k in changes(parent_cfg, cfg) if k in FORK_FIXED]
        if fixed:
            raise ValueError(f"a fork continues the parent's weights and data, so {', '.join(fixed)} cannot change; "
                             "rerun from step 0 instead")
        task = preflight(cfg)
        live = self._trainers.get(run_id)
        if step is None and live is not None and live.status in ("running", "paused"):
            snap = live.controls.request_snapshot().result(timeout=SNAPSHOT_TIMEOUT)
        elif step is None:
            snap = load_checkpoint(self.store, run_id)
        else:
            snap = load_snapshot(self.store, run_id, step)
        if snap["step"] >= cfg.max_steps and "max_steps" not in overrides:
            cfg = cfg.replace(max_steps=snap["step"] + parent_cfg.max_steps)
        label = label or change_label(parent_cfg, cfg) or f"fork of {run_id} at step {snap['step']:,}"
        new_id = self.store.create_run(cfg.to_dict(), label=label, parent=run_id, fork_step=snap["step"])
        self.store.add_event(run_id, snap["step"], "fork", f"forked as {new_id}: {label}", {"child": new_id})
        self.store.add_event(new_id, snap["step"], "fork", f"forked from {run_id} at step {snap['step']}",
                             {"parent": run_id})
        self._enqueue([self._trainer(new_id, cfg, resume=snap, task=task)])
        return new_id

    def rerun(self, run_id: str, overrides: dict, label: str | None = None) -> str:
        """A new run of `run_id`'s settings with some changed, from step 0: same seed, init and data order.

        The parent is left as it is (a live one keeps training: its records so far are the
        reference, and stopping it would end the comparison it is the other half of).
        """
        parent_cfg = RunConfig.from_dict(self.store.run(run_id).config)
        cfg = parent_cfg.replace(**overrides)
        task = preflight(cfg)
        label = label or change_label(parent_cfg, cfg) or f"rerun of {run_id}"
        new_id = self.store.create_run(cfg.to_dict(), label=label, parent=run_id, fork_step=0)
        self.store.add_event(new_id, 0, "fork", f"rerun of {run_id} from step 0: {label}", {"parent": run_id})
        self._enqueue([self._trainer(new_id, cfg, task=task)])
        return new_id

    def snapshot_steps(self, run_id: str) -> list[int]:
        """Steps a fork of the run can start from: its kept states, and its current step while it trains."""
        steps = set(kept(self.store, run_id))
        live = self._trainers.get(run_id)
        if live is not None and live.status in ("running", "paused"):
            steps.add(live.step_index)
        return sorted(steps)

    # ---- live controls ---------------------------------------------------------------
    def stop(self, run_id: str) -> None:
        """Stop a run: a queued one never starts, a running one ends as `stopped` at its next step."""
        trainer = self._trainers.get(run_id)
        if trainer is None:
            return
        trainer.controls.stop.set()
        trainer.controls.drop_steps()
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
        """Hold a run at its next step boundary; a group's runs are held together (lockstep)."""
        job = self._job_of(run_id)
        with job.lock:
            for trainer in job.trainers:
                trainer.controls.pause.set()

    def resume(self, run_id: str) -> None:
        """Let a paused run (and the rest of its group) train on; steps granted and not taken are dropped."""
        job = self._job_of(run_id)
        with job.lock:
            for trainer in job.trainers:
                trainer.controls.drop_steps()
                trainer.controls.pause.clear()

    can_step = True  # Step while paused (a job manager whose runs train elsewhere may not)

    def step(self, run_id: str, n: int = 1) -> list[str]:
        """Train a paused run `n` more batches, then hold it again; a group's paused runs step together.

        Returns the ids of the runs stepped. ValueError when the run is not paused (pause it first).
        """
        job = self._job_of(run_id)
        with job.lock:
            trainer = next(t for t in job.trainers if t.run_id == run_id)
            if not trainer.controls.pause.is_set():
                raise ValueError(f"run {run_id} is not paused; pause it, then step it")
            stepped = [t for t in job.trainers if t.controls.pause.is_set() and not t.controls.stop.is_set()]
            for t in stepped:
                t.controls.add_steps(n)
        return [t.run_id for t in stepped]

    def settle(self, run_ids, timeout: float = 1.0) -> bool:
        """Wait until each run has answered its last pause, resume or step; False on timeout.

        Answered: paused with every granted step taken and stored, or running again, or ended.
        A queued run answers when it starts. The dashboard waits here after a click, so the
        page it redraws shows the pause or the steps rather than the moment before them.
        """
        def answered() -> bool:
            return all(t is None or _answered(t) for t in map(self._trainers.get, run_ids))

        return poll_until(answered, timeout, every=0.01)

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

    def live_settings(self, run_id: str) -> dict:
        """{'lr', 'clip', 'clip_value'} as the run's next step will use them: its config with every
        live edit applied, a posted one not yet applied included (what an editor must start from)."""
        trainer = self._live(run_id)
        lr, clip = trainer.controls.pending()
        mode, value = clip if clip is not None else (trainer.clip_mode, trainer.clip_value)
        peak = trainer.schedule.peak if trainer.schedule is not None else trainer.cfg.lr
        return {"lr": lr if lr is not None else peak, "clip": mode, "clip_value": value}

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
        """1 for the next job to get a slot; None when the run is not waiting for one.

        Resumed runs waiting for a slot come first (in the order they asked), then the queue.
        """
        with self._lock:
            waiting = [self._running[j] for j in self._slots.waiting() if j in self._running]
            for i, job in enumerate([*waiting, *self._queue], start=1):
                if any(t.run_id == run_id for t in job.trainers):
                    return i
        return None

    def wait(self, run_ids, timeout: float | None = None) -> bool:
        """Block until none of `run_ids` is live; False on timeout."""
        return poll_until(lambda: not any(self.is_live(r) for r in run_ids), timeout, every=0.05)

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

    def _job_of(self, run_id: str) -> Job:
        """The queued or running job that holds the run (KeyError when it is not training here)."""
        self._live(run_id)
        with self._lock:
            for job in (*self._running.values(), *self._queue):
                if any(t.run_id == run_id for t in job.trainers):
                    return job
        raise KeyError(f"run {run_id} is not training in this process")

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
            while self._queue and not self._closed and self._slots.take(self._queue[0].job_id):
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
                self._slots.leave(job.job_id)
            self._dispatch()

    def _train(self, job: Job) -> None:
        """Start the job's runs, then step them a round at a time (lockstep) until each has ended.

        When every run is paused the job gives its slot up; it trains again once it has one back.
        """
        use_threads(1)  # start() builds models on this thread; rounds set what they need
        active = [t for t in job.trainers if self._start(t)]
        lockstep = Lockstep(len(active))
        try:
            while active:
                if not self._has_slot(job, active):
                    self._wait_for_slot(active)
                    time.sleep(0.02)
                    continue
                with job.lock:  # one decision per round for the whole group (see Job.lock)
                    ready = [t for t in active if not t.held()]
                going = lockstep.round(ready, self._step, self._threads_per_run(ready))
                active = [t for t in active if t not in ready or going[ready.index(t)]]
                if not ready:  # everything paused: free the slot for queued work, wait without burning a core
                    self._slots.release(job.job_id)
                    self._dispatch()
                    time.sleep(0.02)  # a Step starts within 20 ms when a slot is free
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

    def _has_slot(self, job: Job, active: list[Trainer]) -> bool:
        """Whether the job may train this round: it holds a slot, or asked for one back and got it."""
        if self._slots.holds(job.job_id):
            return True
        if any(_wants_to_train(t) for t in active):
            return self._slots.reclaim(job.job_id)
        self._slots.withdraw(job.job_id)  # paused again while in line
        return False

    def _wait_for_slot(self, active: list[Trainer]) -> None:
        """A round without a slot: a stopped run ends at once (it needs none); the others keep their
        status and have their live edits and fork snapshots served."""
        for trainer in list(active):
            if trainer.controls.stop.is_set():
                self._step(trainer)  # returns False at once: the run is concluded
                active.remove(trainer)
            else:
                trainer.apply_controls()

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


def _answered(trainer: Trainer) -> bool:
    """Whether a run's status agrees with what was last asked of it (pause, resume, steps)."""
    if trainer.status == "queued":
        return True
    if trainer.controls.pause.is_set() and not trainer.controls.stop.is_set():
        return trainer.at_rest()
    return trainer.status != "paused"
