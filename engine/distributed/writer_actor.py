"""StoreWriter: the one process on the store's host that writes for workers on other hosts.

SQLite cannot be shared over a network filesystem (WAL needs shared memory on one host), so
when a sweep or the dashboard spreads runs over several machines, a Ray actor pinned to the
store's host owns the RunStore, and each worker's RemoteStore (remote_store.py) sends it
batches of records every ~0.5 s. The actor applies them through the RunStore, so they land
exactly as a local Trainer's would.

Ownership travels too: the runs table says which process trains a run (pid, host) and when it
was last heard of (heartbeat), and `RunStore.recover()` marks a run `interrupted` once that
process is gone. Here the worker's pid and host are written, not the actor's, and the
heartbeat is the worker's last batch, so a worker lost with its machine is noticed even while
the actor lives. Checkpoints arrive as bytes and are written beside the store, where forks
look for them.

    writer = ray.remote(StoreWriter).options(name=..., num_cpus=0, scheduling_strategy=...).remote(path)
"""

from __future__ import annotations

import time

from engine.store import ACTIVE, RunStore
from engine.store.checkpoints import checkpoint_path
from engine.store.writer import connect

WRITES = ("set_step", "add_scalars", "add_array", "add_event", "add_text", "set_status", "set_summary")
READS = ("run", "scalars", "arrays", "latest_scalar", "latest_array", "events", "texts", "series_names")
BEAT_EVERY = 5.0  # s between heartbeat commits per run: the store calls a run gone after 60 s of silence


class StoreWriter:
    """Owns the RunStore at `path`; applies workers' record batches, answers their reads."""

    def __init__(self, path: str):
        self.store = RunStore(path)
        self.con = connect(str(self.store.path))  # owner and heartbeat updates of runs trained elsewhere
        self.beats: dict[str, float] = {}  # run id -> when its heartbeat was last committed here

    def ping(self) -> str:
        """The store path (the actor is up and holds the store)."""
        return str(self.store.path)

    def write(self, batch: list[tuple[str, tuple]], owner: dict, active: list[str]) -> int:
        """Apply (method, args) records in order; note that `owner` (pid, host) trains the `active` runs."""
        for method, args in batch:
            if method not in WRITES:
                raise ValueError(f"the store writer does not accept {method!r}; it accepts {', '.join(WRITES)}")
            getattr(self.store, method)(*args)
            if method == "set_status" and args[1] in ACTIVE:
                self.store.release(args[0])  # its heartbeat is the worker's, relayed below
                self.beats.pop(args[0], None)  # a new owner: write it now
        self._beat(active, owner)
        return len(batch)

    def read(self, method: str, args: tuple = (), kwargs: dict | None = None):
        """A RunStore read, after everything received so far is committed."""
        if method not in READS:
            raise ValueError(f"the store writer does not answer {method!r}; it answers {', '.join(READS)}")
        self.store.flush()
        return getattr(self.store, method)(*args, **(kwargs or {}))

    def save_checkpoint(self, run_id: str, blob: bytes) -> str:
        """Write a run's checkpoint (torch.save bytes) beside the store, atomically; return its path."""
        path = checkpoint_path(self.store, run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(blob)
        tmp.replace(path)
        return str(path)

    def close(self) -> None:
        """Commit everything and close the store (idempotent)."""
        self.store.close()
        self.con.close()

    def _beat(self, run_ids: list[str], owner: dict) -> None:
        now = time.time()
        due = [r for r in run_ids if now - self.beats.get(r, 0.0) >= BEAT_EVERY]
        if not due:
            return
        marks, active = ",".join("?" * len(due)), ",".join("?" * len(ACTIVE))
        self.con.execute(
            f"UPDATE runs SET pid = ?, host = ?, heartbeat = ? WHERE id IN ({marks}) AND status IN ({active})",
            (owner["pid"], owner["host"], now, *due, *ACTIVE),
        )
        self.beats.update(dict.fromkeys(due, now))
