"""RayJobManager: the JobManager's interface, with the runs trained on a Ray cluster.

    jobs = RayJobManager(store, address="auto")     # or "HOST:PORT", or "local" (a Ray of its own)
    run_id = jobs.submit(cfg)                       # same calls as engine.jobs.JobManager

The dashboard builds one when RNNLAB_RAY_ADDRESS is set (app/resources.py), so a class's
runs spread over the cluster's machines. The queue stays here, so queue positions still
show: at most `max_workers` runs (the cluster's CPUs, or fewer) train at once, each on a
RunWorker actor (run_worker.py) that is reused for the next run. Records go straight into
the SQLite file when every node is this host, else through one StoreWriter actor here.

Stop, pause, resume and live lr/clipping edits reach the run between two steps, as locally.
Not on Ray: lockstep groups (a group's runs train side by side, each on its own worker,
with the same seed and data order but not step for step) and forks of a live run (a fork
starts from the checkpoint a run leaves when it ends; `fork` says so). A worker that dies
leaves its run `failed`, with its records.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass

from engine.config import RunConfig
from engine.distributed import need_ray
from engine.distributed.runtime import join, records_mode, start_local, start_writer, stop_writer
from engine.forks import change_label
from engine.jobs import poll_until
from engine.preflight import preflight
from engine.store import ACTIVE
from engine.store.checkpoints import kept, load_checkpoint, load_snapshot

LIVE = ("queued", "running", "paused")
POLL_S = 0.2  # how often the dispatcher looks for ended runs


class NotOnRay(NotImplementedError):
    """A JobManager feature that runs on Ray do not have."""


@dataclass
class Pending:
    """A run waiting for a worker."""

    run_id: str
    config: dict
    resume: dict | None = None


class RayJobManager:
    """Submit, queue, stop, pause and edit runs that train on Ray workers."""

    def __init__(self, store, address: str = "auto", max_workers: int | None = None, records: str = "auto"):
        ray = self.ray = need_ray()
        self.store = store
        self._temp = None
        self._joined = not ray.is_initialized()
        if self._joined:
            if address == "local":
                self._temp = start_local()
            else:
                join(address)
        self.records = records_mode(records)
        name = f"rnnlab-writer-{uuid.uuid4().hex[:8]}"
        self._writer = start_writer(store.path, name) if self.records == "actor" else None
        self._where = {"mode": "direct", "path": str(store.path)} if self._writer is None else \
            {"mode": "actor", "writer": name}
        self.max_workers = max_workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._lock = threading.Lock()
        self._queue: deque[Pending] = deque()
        self._running: dict[str, tuple] = {}  # run id -> (worker, ObjectRef of train)
        self._idle: list = []  # workers between runs
        self._asked: dict[str, str] = {}  # run id -> the status its last pause or resume asked for
        self._closed = False
        store.recover()
        self._thread = threading.Thread(target=self._loop, name="rnnlab-ray-jobs", daemon=True)
        self._thread.start()

    # ---- submitting ------------------------------------------------------------------
    def submit(self, cfg: RunConfig, label: str | None = None) -> str:
        """Queue one run; returns its id. A corpus that cannot be opened or a model too large is refused first."""
        preflight(cfg)
        run_id = self.store.create_run(cfg.to_dict(), label=label)
        self._enqueue([Pending(run_id, cfg.to_dict())])
        return run_id

    def submit_group(self, base: RunConfig, variants: dict[str, dict], lesson: str | None = None
                     ) -> tuple[str, list[str]]:
        """Queue runs that differ from `base` by `variants` (side by side, each on its own worker)."""
        configs = {label: base.replace(**overrides) for label, overrides in variants.items()}
        for cfg in configs.values():
            preflight(cfg)
        group_id = "g-" + uuid.uuid4().hex[:8]
        runs = [Pending(self.store.create_run(cfg.to_dict(), label=label, group_id=group_id, lesson=lesson),
                        cfg.to_dict()) for label, cfg in configs.items()]
        self._enqueue(runs)
        return group_id, [p.run_id for p in runs]

    def fork(self, run_id: str, overrides: dict, label: str | None = None, step: int | None = None) -> str:
        """A new run continuing from a state `run_id` kept (`step`: the nearest kept state at or before it),
        or from the checkpoint it left when it ended; never from a run still training on a worker."""
        if step is None and self.is_live(run_id):
            raise NotOnRay(f"run {run_id} is still training on Ray: a fork continues from the checkpoint a run "
                           "leaves when it ends, or from a step it kept; stop it first, or pick a kept step")
        parent_cfg = RunConfig.from_dict(self.store.run(run_id).config)
        cfg = parent_cfg.replace(**overrides)
        snap = load_checkpoint(self.store, run_id) if step is None else load_snapshot(self.store, run_id, step)
        if snap["step"] >= cfg.max_steps and "max_steps" not in overrides:
            cfg = cfg.replace(max_steps=snap["step"] + parent_cfg.max_steps)
        label = label or ", ".join(f"{k}={v}" for k, v in overrides.items()) or f"fork of {run_id}"
        new_id = self.store.create_run(cfg.to_dict(), label=label, parent=run_id, fork_step=snap["step"])
        self.store.add_event(run_id, snap["step"], "fork", f"forked as {new_id}: {label}", {"child": new_id})
        self.store.add_event(new_id, snap["step"], "fork", f"forked from {run_id} at step {snap['step']}",
                             {"parent": run_id})
        self._enqueue([Pending(new_id, cfg.to_dict(), resume=snap)])
        return new_id

    def rerun(self, run_id: str, overrides: dict, label: str | None = None) -> str:
        """A new run of `run_id`'s settings with some changed, from step 0: same seed, init and data order."""
        parent_cfg = RunConfig.from_dict(self.store.run(run_id).config)
        cfg = parent_cfg.replace(**overrides)
        preflight(cfg)
        label = label or change_label(parent_cfg, cfg) or f"rerun of {run_id}"
        new_id = self.store.create_run(cfg.to_dict(), label=label, parent=run_id, fork_step=0)
        self.store.add_event(new_id, 0, "fork", f"rerun of {run_id} from step 0: {label}", {"parent": run_id})
        self._enqueue([Pending(new_id, cfg.to_dict())])
        return new_id

    def snapshot_steps(self, run_id: str) -> list[int]:
        """Steps a fork of the run can start from: the states it kept (the live step of a worker is not reachable)."""
        return sorted(kept(self.store, run_id))

    # ---- live controls ---------------------------------------------------------------
    can_step = False  # Step while paused needs the run's trainer in this process (JobManager.step)

    def step(self, run_id: str, n: int = 1) -> list[str]:
        raise ValueError(f"run {run_id} trains on Ray: it can pause and resume, but Step needs runs trained in the "
                         "dashboard's own process (start the dashboard without RNNLAB_RAY_ADDRESS)")

    def settle(self, run_ids, timeout: float = 1.0) -> bool:
        """Wait until each run's stored status agrees with the last pause or resume asked of it; False on timeout."""
        def answered() -> bool:
            with self._lock:
                asked = {r: self._asked.get(r) for r in run_ids}
            for run_id, want in asked.items():
                status = self.store.run(run_id).status  # one read per run and look
                if want is not None and status in ACTIVE and status != want:
                    return False
            return True

        return poll_until(answered, timeout, every=0.05)

    def live_settings(self, run_id: str) -> dict:
        """{'lr', 'clip', 'clip_value'}: the run's config with every live edit its worker has recorded."""
        cfg = self.store.run(run_id).config
        now = {"lr": float(cfg["lr"]), "clip": cfg["clip"], "clip_value": float(cfg["clip_value"])}
        for e in self.store.events(run_id):
            data = e.data or {}
            if e.kind == "lr_change" and "lr" in data:
                now["lr"] = float(data["lr"])
            elif e.kind == "clip_change" and "mode" in data:
                now["clip"], now["clip_value"] = data["mode"], float(data["value"])
        return now

    def stop(self, run_id: str) -> None:
        """A queued run never starts; a running one ends `stopped` at its next step."""
        with self._lock:
            queued = [p for p in self._queue if p.run_id == run_id]
            for p in queued:
                self._queue.remove(p)
            running = self._running.get(run_id)
        if queued:
            self.store.set_status(run_id, "stopped", "stopped before it started")
        elif running is not None:
            running[0].stop.remote(run_id)

    def pause(self, run_id: str) -> None:
        self._worker(run_id).pause.remote(run_id, True)
        with self._lock:
            self._asked[run_id] = "paused"

    def resume(self, run_id: str) -> None:
        self._worker(run_id).pause.remote(run_id, False)
        with self._lock:
            self._asked[run_id] = "running"

    def set_lr(self, run_id: str, lr: float) -> None:
        """A new peak lr from the next step, checked against the run's own config."""
        RunConfig.from_dict(self.store.run(run_id).config).replace(lr=lr)
        self._worker(run_id).set_lr.remote(run_id, lr)

    def set_clip(self, run_id: str, mode: str, value: float) -> None:
        RunConfig.from_dict(self.store.run(run_id).config).replace(clip=mode, clip_value=value)
        self._worker(run_id).set_clip.remote(run_id, mode, value)

    # ---- status ----------------------------------------------------------------------
    def status(self, run_id: str) -> str:
        """'queued' while it waits here, else what the store says (the worker writes it)."""
        if self.queue_position(run_id) is not None:
            return "queued"
        return self.store.run(run_id).status

    def is_live(self, run_id: str) -> bool:
        """Waiting here or training on a worker."""
        with self._lock:
            return run_id in self._running or any(p.run_id == run_id for p in self._queue)

    def queue_position(self, run_id: str) -> int | None:
        """1 for the next run to start; None when the run is not waiting."""
        with self._lock:
            for i, p in enumerate(self._queue, start=1):
                if p.run_id == run_id:
                    return i
        return None

    def wait(self, run_ids, timeout: float | None = None) -> bool:
        """Block until none of `run_ids` is live; False on timeout."""
        return poll_until(lambda: not any(self.is_live(r) for r in run_ids), timeout, every=0.05)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop everything, close the workers' stores, and leave Ray (stopping a local one started here)."""
        with self._lock:
            self._closed = True
            ids = [p.run_id for p in self._queue] + list(self._running)
        for run_id in ids:
            self.stop(run_id)
        self.wait(ids, timeout)
        self._thread.join(timeout)
        for worker in self._idle + [w for w, _ in self._running.values()]:
            self._close_worker(worker)
        if self._writer is not None:
            stop_writer(self._writer)
        self.store.flush()
        if self._joined:
            self.ray.shutdown()
        if self._temp:
            shutil.rmtree(self._temp, ignore_errors=True)

    # ---- dispatching -----------------------------------------------------------------
    def _enqueue(self, runs: list[Pending]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the job manager is shut down")
            self._queue.extend(runs)
        self._dispatch()  # at once, as the JobManager does: queue positions are right on return

    def _worker(self, run_id: str):
        with self._lock:
            running = self._running.get(run_id)
        if running is None:
            raise KeyError(f"run {run_id} is not training on Ray")
        return running[0]

    def _loop(self) -> None:
        """Start queued runs on free workers; notice runs that ended (or whose worker died)."""
        while True:
            self._dispatch()
            with self._lock:
                refs = {ref: run_id for run_id, (_, ref) in self._running.items()}
                if self._closed and not refs:
                    return
            if not refs:
                time.sleep(POLL_S)
                continue
            ready, _ = self.ray.wait(list(refs), num_returns=1, timeout=POLL_S)
            for ref in ready:
                self._ended(refs[ref], ref)

    def _dispatch(self) -> None:
        with self._lock:
            while self._queue and len(self._running) < self.max_workers and not self._closed:
                pending = self._queue.popleft()
                worker = self._idle.pop() if self._idle else self._new_worker()
                ref = worker.train.remote(pending.run_id, pending.config, pending.resume)
                self._running[pending.run_id] = (worker, ref)

    def _new_worker(self):
        from engine.distributed.run_worker import RunWorker

        return self.ray.remote(RunWorker).options(num_cpus=1, max_concurrency=2).remote(self._where)

    def _ended(self, run_id: str, ref) -> None:
        """A run's train() returned or raised: keep its worker for the next run, or fail the run."""
        with self._lock:
            worker, _ = self._running.pop(run_id)
        try:
            self.ray.get(ref)
            with self._lock:
                self._idle.append(worker)
        except Exception as err:  # the worker died: its run must not stay 'running'
            self.ray.kill(worker)
            info = self.store.run(run_id)
            if info.status in ACTIVE:
                message = f"its Ray worker died: {str(err).strip().splitlines()[-1][:300]}"
                self.store.add_event(run_id, info.step, "error", message)
                self.store.set_status(run_id, "failed", message)

    def _close_worker(self, worker) -> None:
        try:
            self.ray.get(worker.close.remote(), timeout=30)
        except Exception:  # a dead worker has nothing left to close
            pass
        self.ray.kill(worker)
