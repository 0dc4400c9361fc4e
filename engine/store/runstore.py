"""RunStore: every run's records in one SQLite file, written in batches, read by many.

    store = RunStore()                       # $RNNLAB_STORE or ~/.rnnlab/runs.sqlite
    run_id = store.create_run(cfg.to_dict(), label="lstm")
    store.set_status(run_id, "running")      # durable at once
    store.add_scalars(run_id, step, {"train/loss": 2.3})   # buffered, committed within ~0.5 s
    steps, values = store.scalars(run_id, "train/loss", max_points=1000)

The file is in WAL mode, so the dashboard's sessions read while training threads (and a CLI
process) write. Records go to an in-memory queue that one writer thread per store commits
every ~0.5 s (writer.py), so a training step never waits for SQLite and a killed process
loses at most the last half second. Scalar series keep a multi-resolution min/max summary
(summary.py), so a downsampled read costs what it returns, not what is stored.
`since` always means steps strictly greater than it; None reads from the start.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from engine.store.checkpoints import delete_checkpoints
from engine.store.errors import StoreError
from engine.store.export import check_export, run_meta, write_table
from engine.store.read import NEVER, decode, empty, read_arrays, read_scalars
from engine.store.requests import check_request, put_request, read_request
from engine.store.runs import (
    ACTIVE,
    MAX_LABEL,
    RUN_COLUMNS,
    STALE_AFTER,
    STATUSES,
    Event,
    RunInfo,
    check_label,
    check_status,
    find_gone,
    interrupt,
    resolve_id,
)
from engine.store.writer import RUN_TABLES, Writer, connect, create_schema

__all__ = ["ACTIVE", "MAX_LABEL", "STATUSES", "Event", "RunInfo", "RunStore", "default_path"]


def default_path() -> Path:
    """$RNNLAB_STORE, else ~/.rnnlab/runs.sqlite."""
    return Path(os.environ.get("RNNLAB_STORE") or Path.home() / ".rnnlab" / "runs.sqlite")


class RunStore:
    """Runs, scalar series, array snapshots, events and texts in one SQLite file."""

    def __init__(self, path: str | os.PathLike | None = None, commit_every: float = 0.5):
        self.path = Path(path) if path is not None else default_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(self.path, f"its folder cannot be made ({e.strerror})",
                             "Set RNNLAB_STORE to a file in a folder you can write.") from None
        create_schema(str(self.path))  # raises StoreError naming the file for a corrupt or read-only one
        self._nums: dict[str, int] = {}  # run id -> integer key used by the bulky tables
        self._names: dict[str, int] = {}  # series name -> id, as readers have found them
        self._pool: list[sqlite3.Connection] = []  # idle read connections, one borrowed per read
        self._pool_lock = threading.Lock()
        self._writer = Writer(str(self.path), commit_every)
        self._closed = False
        atexit.register(self.close)  # commit the tail even if nobody calls close()

    # ---- runs ----

    def create_run(
        self, config, label=None, group_id=None, lesson=None, parent=None, fork_step=None, status="queued"
    ) -> str:
        """Add a run (committed at once) and return its id, like 'r-20261122-ab12'."""
        check_status(status)
        config = config.to_dict() if hasattr(config, "to_dict") else dict(config)
        info = (_dumps(config), label, group_id, lesson, parent, fork_step, os.getpid(), socket.gethostname())

        def insert(con):
            now = time.time()
            while True:  # 65536 ids a day: retry the rare collision
                run_id = f"r-{time.strftime('%Y%m%d')}-{secrets.token_hex(2)}"
                cur = con.execute(
                    "INSERT OR IGNORE INTO runs (id, created, updated, status, step, config, label, group_id, lesson,"
                    " parent, fork_step, pid, host, heartbeat) VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, now, now, status, *info, now),
                )
                if cur.rowcount:
                    break
            self._nums[run_id] = cur.lastrowid
            if status in ACTIVE:
                self._writer.own(cur.lastrowid)
            return run_id

        return self._writer.call(insert)

    def set_status(self, run_id: str, status: str, message: str | None = None) -> None:
        """Set the run's status and message, committed at once (with everything queued before)."""
        check_status(status)
        num = self._num(run_id)

        def update(con):
            now = time.time()
            con.execute(
                "UPDATE runs SET status = ?, message = ?, updated = ? WHERE num = ?", (status, message, now, num)
            )
            if status in ACTIVE:  # whoever works on it now owns it
                con.execute(
                    "UPDATE runs SET pid = ?, host = ?, heartbeat = ? WHERE num = ?",
                    (os.getpid(), socket.gethostname(), now, num),
                )
                self._writer.own(num)
            else:
                self._writer.disown(num)

        self._writer.call(update)

    def release(self, run_id: str) -> None:
        """Stop committing the run's heartbeat: another process (a Ray worker) works on it now."""
        self._writer.disown(self._num(run_id))

    def set_summary(self, run_id: str, summary: dict) -> None:
        """Replace the run's final metrics, committed at once."""
        num, text = self._num(run_id), _dumps(summary)
        self._writer.call(
            lambda con: con.execute("UPDATE runs SET summary = ?, updated = ? WHERE num = ?", (text, time.time(), num))
        )

    def runs(self, limit: int | None = None) -> list[RunInfo]:
        """Every run, newest first."""
        q = f"SELECT {RUN_COLUMNS} FROM runs ORDER BY created DESC, num DESC LIMIT ?"
        with self._reader() as con:
            return [RunInfo.from_row(r) for r in con.execute(q, (-1 if limit is None else limit,))]

    def run(self, run_id: str) -> RunInfo:
        """One run; KeyError if the store has no such id."""
        with self._reader() as con:
            row = con.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no run {run_id!r} in the store {self.path}")
        return RunInfo.from_row(row)

    def group_runs(self, group_id: str) -> list[RunInfo]:
        """The runs of a group, in the order they were created."""
        q = f"SELECT {RUN_COLUMNS} FROM runs WHERE group_id = ? ORDER BY created, num"
        with self._reader() as con:
            return [RunInfo.from_row(r) for r in con.execute(q, (group_id,))]

    def rename(self, run_id: str, label: str) -> str:
        """Give the run a new name (its label), committed at once; ValueError naming `label` if empty or too long."""
        text, num = check_label(label), self._num(run_id)
        self._writer.call(lambda con: con.execute("UPDATE runs SET label = ?, updated = ? WHERE num = ?",
                                                  (text, time.time(), num)))
        return text

    def resolve(self, ref: str) -> str:
        """The full id of a run given its id or its end as the dashboard shows it ('ab12'); KeyError when none
        matches, ValueError naming the candidates when several do."""
        with self._reader() as con:
            return resolve_id(con, ref, self.path)

    def delete_run(self, run_id: str) -> None:
        """Remove the run and every record of it, committed at once, and the states kept for forks of it."""
        num = self._num(run_id)

        def delete(con):
            for table in RUN_TABLES:
                con.execute(f"DELETE FROM {table} WHERE run = ?", (num,))
            con.execute("DELETE FROM runs WHERE num = ?", (num,))
            self._writer.forget(num)

        self._writer.call(delete)
        self._nums.pop(run_id, None)
        delete_checkpoints(self, run_id)  # its kept states go with it

    def request(self, run_id: str, action: str) -> None:
        """Ask the process that trains a run to 'pause', 'resume' or 'stop' (committed at once; requests.py)."""
        check_request(action)
        num = self._num(run_id)
        self._writer.call(lambda con: put_request(con, num, action))

    def pending_request(self, run_id: str) -> str | None:
        """The run's newest request ('pause', 'resume', 'stop'), or None: one indexed read."""
        num = self._num(run_id)
        with self._reader() as con:
            return read_request(con, num)

    # ---- buffered records ----

    def set_step(self, run_id: str, step: int) -> None:
        """Record the run's current step (buffered)."""
        self._writer.put_step(self._num(run_id), int(step))

    def add_scalars(self, run_id: str, step: int, values: dict) -> None:
        """Record {name: float} at a step (buffered). Steps of a series should increase."""
        self._writer.put_scalars(self._num(run_id), int(step), [(name, float(v)) for name, v in values.items()])

    def add_array(self, run_id: str, step: int, name: str, array) -> None:
        """Record a numeric array at a step (buffered; copied now, so the caller may reuse it)."""
        a = np.ascontiguousarray(array)
        if a.dtype.kind not in "biufc":
            raise ValueError(f"array {name!r}: dtype {a.dtype} is not numeric")
        self._writer.put_array(self._num(run_id), int(step), name, a.dtype.str, json.dumps(a.shape), a.tobytes())

    def add_event(self, run_id: str, step: int, kind: str, message: str, data: dict | None = None) -> None:
        """Record an event (buffered)."""
        self._writer.put_event(self._num(run_id), int(step), kind, message, _dumps(data or {}), time.time())

    def add_text(self, run_id: str, step: int, text: str) -> None:
        """Record a text sample (buffered)."""
        self._writer.put_text(self._num(run_id), int(step), str(text))

    def flush(self, timeout: float | None = None) -> None:
        """Commit everything recorded so far, now."""
        self._writer.call(lambda con: None, timeout)

    def close(self) -> None:
        """Commit what is buffered, stop the writer and close connections (idempotent)."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self._writer.stop()
        with self._pool_lock:
            for con in self._pool:
                con.close()
            self._pool.clear()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def failure(self) -> StoreError | None:
        """Why records are refused since a commit failed (None while the store works)."""
        return self._writer.failure

    def stats(self) -> dict:
        """Writer figures: commits, rows, seconds spent committing, the longest commit, queued records."""
        return {**self._writer.stats, "queued": len(self._writer.queue)}

    # ---- reads ----

    def series_names(self, run_id: str, kind: str | None = None) -> list[str]:
        """Names of the run's series, sorted; kind 'scalar' or 'array' narrows, None gives both."""
        q = "SELECT DISTINCT n.name FROM series s JOIN names n ON n.id = s.name WHERE s.run = ? AND (? IS NULL OR s.kind = ?) ORDER BY n.name"
        with self._reader() as con:
            return [r[0] for r in con.execute(q, (self._num(run_id), kind, kind))]

    def scalars(self, run_id: str, name: str, since: int | None = None, max_points: int | None = None,
                means: bool = False):
        """(steps int64, values float64) after `since`; with max_points, bucket min/max plus both ends.

        NaN and Inf survive downsampling: Inf as a bucket's min or max, NaN as the bucket's first NaN.
        With `means`, each bucket's mean instead, at its last step: what a moving average reads.
        """
        num = self._num(run_id)
        with self._reader() as con:
            nid = self._find_name_id(con, name)
            return empty() if nid is None else read_scalars(con, (num, nid), since, max_points, means)

    def arrays(self, run_id: str, name: str, since: int | None = None, max_items: int | None = None):
        """(steps int64, [arrays]) after `since`, evenly thinned to max_items keeping the newest."""
        num = self._num(run_id)
        with self._reader() as con:
            nid = self._find_name_id(con, name)
            return (np.zeros(0, np.int64), []) if nid is None else read_arrays(con, (num, nid), since, max_items)

    def latest_scalar(self, run_id: str, name: str) -> tuple[int, float] | None:
        """(step, value) of the newest point of a scalar series, or None."""
        num = self._num(run_id)
        q = "SELECT step, value FROM scalars WHERE run = ? AND name = ? ORDER BY step DESC LIMIT 1"
        with self._reader() as con:
            nid = self._find_name_id(con, name)
            row = None if nid is None else con.execute(q, (num, nid)).fetchone()
        return None if row is None else (row[0], float("nan") if row[1] is None else row[1])

    def latest_array(self, run_id: str, name: str) -> tuple[int, np.ndarray] | None:
        """(step, array) of the newest snapshot, or None."""
        num = self._num(run_id)
        q = "SELECT step, dtype, shape, data FROM arrays WHERE run = ? AND name = ? ORDER BY step DESC LIMIT 1"
        with self._reader() as con:
            nid = self._find_name_id(con, name)
            row = None if nid is None else con.execute(q, (num, nid)).fetchone()
        return None if row is None else (row[0], decode(*row[1:]))

    def events(self, run_id: str, since: int | None = None) -> list[Event]:
        """Events after `since`, in step order."""
        q = "SELECT step, kind, message, data, time FROM events WHERE run = ? AND step > ? ORDER BY step, id"
        with self._reader() as con:
            rows = con.execute(q, (self._num(run_id), NEVER if since is None else since)).fetchall()
        return [Event(s, k, m, json.loads(d or "{}"), t) for s, k, m, d, t in rows]

    def texts(self, run_id: str, since: int | None = None) -> list[tuple[int, str]]:
        """(step, text) samples after `since`, in step order."""
        q = "SELECT step, text FROM texts WHERE run = ? AND step > ? ORDER BY step, id"
        with self._reader() as con:
            return [tuple(r) for r in con.execute(q, (self._num(run_id), NEVER if since is None else since))]

    def export(self, run_id: str, path: str | os.PathLike, fmt: str = "csv", shape: str = "long") -> Path:
        """Write the run's scalars as a table, 'csv' or 'parquet', carrying its id and settings (export.py).

        shape 'long': (run, step, name, value) rows; 'wide': one row per step, one column per series.
        """
        check_export(fmt, shape)
        info = self.run(run_id)
        q = "SELECT s.step, n.name, s.value FROM scalars s JOIN names n ON n.id = s.name WHERE s.run = ? ORDER BY n.name, s.step"
        with self._reader() as con:
            rows = [(s, n, float("nan") if v is None else v) for s, n, v in con.execute(q, (self._num(run_id),))]
        return write_table(rows, Path(path), fmt, shape, run_meta(info))

    # ---- crash recovery ----

    def recover(self, stale_after: float = STALE_AFTER) -> list[str]:
        """Mark queued/running/paused runs whose process is gone as 'interrupted'; return their ids.

        Gone: on this host and its pid no longer exists, or no heartbeat for stale_after seconds
        (a live process commits a heartbeat at least every 10 s while it owns a run). Each gets
        an 'interrupted' event at its last step.
        """
        with self._reader() as con:
            gone = find_gone(con, socket.gethostname(), set(self._writer.owned), stale_after)
        if not gone:
            return []
        # marked by the writer, which re-checks the status: the run may have finished meanwhile
        return self._writer.call(lambda con: [run_id for num, run_id, why in gone if interrupt(con, num, why)])

    # ---- helpers ----

    def _num(self, run_id: str) -> int:
        num = self._nums.get(run_id)
        if num is None:
            with self._reader() as con:
                row = con.execute("SELECT num FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise KeyError(f"no run {run_id!r} in the store {self.path}")
            num = self._nums[run_id] = row[0]
        return num

    def _find_name_id(self, con: sqlite3.Connection, name: str) -> int | None:
        """The id of a series name, or None when no run has recorded it."""
        nid = self._names.get(name)
        if nid is None:
            row = con.execute("SELECT id FROM names WHERE name = ?", (name,)).fetchone()
            if row is not None:
                nid = self._names[name] = row[0]
        return nid

    @contextmanager
    def _reader(self):
        """Borrow a read-only connection from the pool (SQLite connections are not shared at once)."""
        with self._pool_lock:
            con = self._pool.pop() if self._pool else None
        if con is None:
            con = connect(str(self.path), readonly=True)
        try:
            yield con
        finally:
            if con.in_transaction:
                con.execute("ROLLBACK")
            with self._pool_lock:
                keep = not self._closed and len(self._pool) < 8
                if keep:
                    self._pool.append(con)
            if not keep:
                con.close()


def _dumps(obj) -> str:
    """JSON that accepts NumPy scalars and arrays (via tolist) and anything else as text."""
    return json.dumps(obj, default=lambda x: x.tolist() if hasattr(x, "tolist") else str(x))
