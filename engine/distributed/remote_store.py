"""RemoteStore: what a Ray worker on another host hands its Trainer instead of a RunStore.

`open_store(records)` gives a worker its store: the SQLite file itself when every worker is
on the store's host ('direct'), else a RemoteStore ('actor'). A RemoteStore has the RunStore
methods the Trainer and its observers call (set_status, set_summary, set_step, add_scalars,
add_array, add_event, add_text, flush, run, scalars, ...), so the Trainer cannot tell which
it has. Records are buffered here and a background thread sends
them every ~0.5 s to the StoreWriter actor on the store's host (writer_actor.py), in order,
with this process's pid and host and the runs it trains (their heartbeat). Status and
summary changes, flushes and reads go at once; a read first sends what is buffered, so it
sees every record made before it. Checkpoints travel as torch.save bytes.

The worker never opens the store file: it may not even see it. Close it explicitly
(`close()` sends the tail); a worker that dies loses at most its last half second.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import threading
import time

import numpy as np
import ray
import torch

from engine.distributed.runtime import NAMESPACE
from engine.store import ACTIVE, RunStore, StoreError
from engine.store.runs import check_status

log = logging.getLogger(__name__)

SEND_EVERY = 0.5  # s between batches: the store's own commit interval
BEAT_EVERY = 5.0  # s: send an empty batch at least this often, so a quiet run still has a heartbeat


def open_store(records: dict):
    """The store a worker writes to: the SQLite file itself ('direct') or the writer actor ('actor')."""
    if records["mode"] == "direct":
        return RunStore(records["path"])
    return RemoteStore(ray.get_actor(records["writer"], namespace=NAMESPACE))


def worker_info() -> dict:
    """Where this process trains: kept in each run's summary as `worker` (host, pid, Ray node id)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "node": ray.get_runtime_context().get_node_id()}


class RemoteStore:
    """A RunStore look-alike that writes through the StoreWriter actor `writer`."""

    def __init__(self, writer, interval: float = SEND_EVERY):
        self.writer = writer  # a StoreWriter actor handle
        self.path = None  # no file here: checkpoints go through save_checkpoint
        self.owner = {"pid": os.getpid(), "host": socket.gethostname()}
        self._batch: list[tuple[str, tuple]] = []
        self._lock = threading.Lock()  # guards _batch
        self._send_lock = threading.Lock()  # one batch in flight, so batches land in order
        self._active: set[str] = set()  # runs this process trains: their heartbeat comes with each batch
        self._last_send = 0.0
        self._error: BaseException | None = None
        self._closed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(interval,), name="remote-store", daemon=True)
        self._thread.start()

    # ---- writes, buffered ----

    def set_step(self, run_id: str, step: int) -> None:
        self._put("set_step", run_id, int(step))

    def add_scalars(self, run_id: str, step: int, values: dict) -> None:
        self._put("add_scalars", run_id, int(step), {name: float(v) for name, v in values.items()})

    def add_array(self, run_id: str, step: int, name: str, array) -> None:
        a = np.array(array, copy=True)  # the caller may reuse its buffer
        if a.dtype.kind not in "biufc":
            raise ValueError(f"array {name!r}: dtype {a.dtype} is not numeric")
        self._put("add_array", run_id, int(step), name, a)

    def add_event(self, run_id: str, step: int, kind: str, message: str, data: dict | None = None) -> None:
        self._put("add_event", run_id, int(step), kind, message, data)

    def add_text(self, run_id: str, step: int, text: str) -> None:
        self._put("add_text", run_id, int(step), str(text))

    # ---- writes, at once ----

    def set_status(self, run_id: str, status: str, message: str | None = None) -> None:
        check_status(status)
        if status in ACTIVE:
            self._active.add(run_id)
        else:
            self._active.discard(run_id)
        self._put("set_status", run_id, status, message)
        self.flush()

    def set_summary(self, run_id: str, summary: dict) -> None:
        self._put("set_summary", run_id, summary)
        self.flush()

    def save_checkpoint(self, run_id: str, snapshot: dict) -> str:
        """Send the run's checkpoint to the store's host; returns where it was written there."""
        buf = io.BytesIO()
        torch.save(snapshot, buf)
        self.flush()
        return ray.get(self.writer.save_checkpoint.remote(run_id, buf.getvalue()))

    def flush(self, timeout: float | None = None) -> None:
        """Send everything recorded so far and wait until the writer has taken it."""
        self._send(force=True, timeout=timeout)

    def close(self) -> None:
        """Send the tail and stop the sender (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join(10)
        self._send(force=True)

    # ---- reads, through the writer ----

    def run(self, run_id: str):
        return self._read("run", run_id)

    def scalars(self, run_id: str, name: str, since: int | None = None, max_points: int | None = None,
                means: bool = False):
        return self._read("scalars", run_id, name, since, max_points, means)

    def latest_scalar(self, run_id: str, name: str):
        return self._read("latest_scalar", run_id, name)

    def arrays(self, run_id: str, name: str, since: int | None = None, max_items: int | None = None):
        return self._read("arrays", run_id, name, since, max_items)

    def latest_array(self, run_id: str, name: str):
        return self._read("latest_array", run_id, name)

    def events(self, run_id: str, since: int | None = None):
        return self._read("events", run_id, since)

    def texts(self, run_id: str, since: int | None = None):
        return self._read("texts", run_id, since)

    def series_names(self, run_id: str, kind: str | None = None):
        return self._read("series_names", run_id, kind)

    # ---- helpers ----

    def _read(self, method: str, *args):
        self.flush()
        return ray.get(self.writer.read.remote(method, args))

    @property
    def failure(self) -> StoreError | None:
        """Why records are refused since a batch could not be sent (None while the writer takes them)."""
        return None if self._error is None else unreachable(self._error)

    def _put(self, method: str, *args) -> None:
        if self._error is not None:
            raise self.failure from self._error
        if self._closed:
            raise RuntimeError("RemoteStore is closed")
        with self._lock:
            self._batch.append((method, args))

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self._send(force=time.monotonic() - self._last_send > BEAT_EVERY)
            except Exception as err:  # noticed by the next write, which fails the run with this reason
                log.warning("sending records to the store writer failed: %s", err)
                self._error = err

    def _send(self, force: bool, timeout: float | None = None) -> None:
        with self._send_lock:
            with self._lock:
                batch, self._batch = self._batch, []
            if not batch and not force:
                return
            # not retried on failure: a batch that timed out may still land, and a dead actor takes none
            try:
                ray.get(self.writer.write.remote(batch, self.owner, sorted(self._active)), timeout=timeout)
            except (ray.exceptions.RayError, TimeoutError) as err:
                raise unreachable(err) from err
            self._last_send = time.monotonic()


def unreachable(error: BaseException) -> StoreError:
    """The StoreError of a writer actor that does not answer: the Trainer ends the run failed, saying so."""
    return StoreError("on the store's host, through its writer actor",
                      f"records could not be sent ({type(error).__name__}: {str(error).strip().splitlines()[-1][:200]})",
                      "Check that the sweep's command (or the dashboard) still runs on the store's host.")
