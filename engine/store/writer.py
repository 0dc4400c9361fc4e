"""RunStore's schema, connections and its single writer thread.

Training threads append records to an in-memory queue (a deque append, no SQLite) through the
writer's put_* methods; one writer thread per RunStore drains the queue every `interval`
seconds and commits it as one transaction, together with the multi-resolution summary rows the
new points complete and a heartbeat for the runs this process owns (own/disown). Calls that
must be durable at once (create_run, set_status, flush, ...) are queued as functions with a
Future and wake the writer, so every write, buffered or not, lands in the order it was made.
Each queued item is (stage, args): the writer-thread method that stages it for the commit.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from concurrent.futures import Future

from engine.store.errors import StoreError, explain
from engine.store.summary import SeriesSummary

log = logging.getLogger(__name__)

BUSY_TIMEOUT = 30.0  # s a connection waits for another writer (thread or process) before failing
HEARTBEAT_EVERY = 10.0  # s between heartbeat commits while nothing else is written

SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS runs (
    num INTEGER PRIMARY KEY AUTOINCREMENT,  -- compact key for the bulky tables below
    id TEXT NOT NULL UNIQUE, created REAL, updated REAL, status TEXT, step INTEGER DEFAULT 0,
    config TEXT, label TEXT, group_id TEXT, lesson TEXT, parent TEXT, fork_step INTEGER,
    message TEXT, summary TEXT, pid INTEGER, host TEXT, heartbeat REAL);
CREATE INDEX IF NOT EXISTS runs_group ON runs (group_id);
CREATE TABLE IF NOT EXISTS names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS series (run INTEGER, name INTEGER, kind TEXT,
    PRIMARY KEY (run, name, kind)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS scalars (run INTEGER, name INTEGER, step INTEGER, value REAL,
    PRIMARY KEY (run, name, step)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS summary (run INTEGER, name INTEGER, level INTEGER, bucket INTEGER,
    n INTEGER, min_step INTEGER, min_value REAL, max_step INTEGER, max_value REAL, nan_step INTEGER,
    total REAL, valued INTEGER, PRIMARY KEY (run, name, level, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS arrays (id INTEGER PRIMARY KEY, run INTEGER, name INTEGER, step INTEGER,
    dtype TEXT, shape TEXT, data BLOB, UNIQUE (run, name, step));
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, run INTEGER, step INTEGER, kind TEXT,
    message TEXT, data TEXT, time REAL);
CREATE INDEX IF NOT EXISTS events_run ON events (run, step);
CREATE TABLE IF NOT EXISTS texts (id INTEGER PRIMARY KEY, run INTEGER, step INTEGER, text TEXT);
CREATE INDEX IF NOT EXISTS texts_run ON texts (run, step);
CREATE TABLE IF NOT EXISTS requests (run INTEGER PRIMARY KEY, action TEXT NOT NULL, time REAL);
COMMIT;
"""
VERSION = 2  # 2: summary rows hold the sum and count of their values (bucket means)

RUN_TABLES = ("scalars", "summary", "series", "arrays", "events", "texts", "requests")
SUMMARY_MARKS = ", ".join("?" * 12)  # run, name, level, bucket and an Agg of 8


def connect(path: str, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (we BEGIN ourselves) that waits for locks."""
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
    con.execute("PRAGMA synchronous = NORMAL")  # WAL: durable against a killed process, fsync at checkpoints
    if readonly:
        con.execute("PRAGMA query_only = ON")
    return con


def create_schema(path: str) -> None:
    """Switch the file to WAL and create the tables if they are missing (idempotent)."""
    try:
        con = connect(path)
    except sqlite3.Error as e:
        raise explain(path, e) from None
    try:
        con.execute("PRAGMA journal_mode = WAL")
        con.executescript(SCHEMA)
        if con.execute("PRAGMA user_version").fetchone()[0] < VERSION:
            _upgrade(con)
    except sqlite3.Error as e:
        raise explain(path, e) from None
    finally:
        con.close()


def _upgrade(con: sqlite3.Connection) -> None:
    """Bring a store written by an older version up to VERSION (once; rebuilds the summaries)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        columns = {r[1] for r in con.execute("PRAGMA table_info(summary)")}
        if "total" not in columns:  # version 1: no sums in the summary rows
            con.execute("ALTER TABLE summary ADD COLUMN total REAL")
            con.execute("ALTER TABLE summary ADD COLUMN valued INTEGER")
            for key in con.execute("SELECT run, name FROM series WHERE kind = 'scalar'").fetchall():
                rebuild_summary(con, key)
        con.execute(f"PRAGMA user_version = {VERSION}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def rebuild_summary(con: sqlite3.Connection, key: tuple[int, int]) -> SeriesSummary:
    """Recompute one series' summary rows from its raw points; the summary state it ends in."""
    con.execute("DELETE FROM summary WHERE run = ? AND name = ?", key)
    state, rows = SeriesSummary(), []
    for step, value in con.execute("SELECT step, value FROM scalars WHERE run = ? AND name = ? ORDER BY step", key):
        rows += state.push(step, float("nan") if value is None else value)
    con.executemany(f"INSERT INTO summary VALUES ({SUMMARY_MARKS})", [(*key, lv, k, *a) for lv, k, a in rows])
    return state


class Writer:
    """The one thread that writes for a RunStore: batches the queue into one commit per interval."""

    def __init__(self, path: str, interval: float):
        self.path, self.interval = path, interval
        self.queue: deque = deque()  # (stage method, args), in the order they were put
        self.owned: set[int] = set()  # runs this process has queued/running/paused: their heartbeat is ours
        self.stats = {"commits": 0, "rows": 0, "seconds": 0.0, "max_seconds": 0.0}
        self._wake = threading.Event()
        self._stopping = False
        # the first failed commit of records: from then on records are refused (put_* raise it), so
        # a run stops at once instead of training on while its records are dropped
        self.failure: StoreError | None = None
        self.lost = 0  # records dropped by failed commits
        self._series: dict[tuple[int, int], SeriesSummary | None] = {}  # None: rebuild from the store
        self._names: dict[str, int] = {}
        self._arrays_seen: set[tuple[int, int]] = set()
        self._thread = threading.Thread(target=self._loop, name="runstore-writer", daemon=True)
        self._thread.start()

    # ---- any thread: records, committed within one interval ----

    def put_scalars(self, num: int, step: int, pairs: list[tuple[str, float]]) -> None:
        self._put(self._stage_scalars, num, step, pairs)

    def put_array(self, num: int, step: int, name: str, dtype: str, shape: str, blob: bytes) -> None:
        self._put(self._stage_array, num, step, name, dtype, shape, blob)

    def put_event(self, num: int, step: int, kind: str, message: str, data: str, when: float) -> None:
        self._put(self._stage_row, "events", (num, step, kind, message, data, when))

    def put_text(self, num: int, step: int, text: str) -> None:
        self._put(self._stage_row, "texts", (num, step, text))

    def put_step(self, num: int, step: int) -> None:
        self._put(self._stage_step, num, step)

    def own(self, num: int) -> None:
        """This process works on the run now: its heartbeat is ours to commit."""
        self.owned.add(num)

    def disown(self, num: int) -> None:
        self.owned.discard(num)

    def _put(self, stage, *args) -> None:
        if self._stopping:
            raise RuntimeError("RunStore is closed")
        if self.failure is not None and stage is not None:
            raise self.failure
        self.queue.append((stage, args))

    def call(self, fn, timeout: float | None = None):
        """Run fn(con) in the writer's next transaction, after everything queued before; return its result."""
        fut: Future = Future()
        self._put(None, fn, fut)  # stage None: a call, which first writes what was staged before it
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:  # wake now and then to notice a writer thread that has died
            try:
                return fut.result(1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic())))
            except TimeoutError:
                if not self._thread.is_alive():
                    raise RuntimeError("the RunStore writer thread has stopped") from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    def stop(self, timeout: float = 30.0) -> None:
        """Commit what is queued and end the thread."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        if self.queue:
            log.warning("RunStore closed with %d records not written", len(self.queue))

    def forget(self, num: int) -> None:
        """Drop cached state of a deleted run (writer thread only)."""
        self._series = {k: v for k, v in self._series.items() if k[0] != num}
        self._arrays_seen = {k for k in self._arrays_seen if k[0] != num}
        self.disown(num)

    # ---- writer thread ----

    def _loop(self) -> None:
        con = connect(self.path)
        last_beat = time.monotonic()
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            stopping = self._stopping
            batch = [self.queue.popleft() for _ in range(len(self.queue))]
            beat = self.owned and time.monotonic() - last_beat > HEARTBEAT_EVERY
            if (batch or beat) and self._commit(con, batch):
                last_beat = time.monotonic()
            if stopping and not self.queue:
                break
        con.close()

    def _commit(self, con: sqlite3.Connection, batch: list) -> bool:
        t0 = time.perf_counter()
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # another process held the lock past BUSY_TIMEOUT: retry later
            log.warning("store busy, %d records wait for the next commit", len(batch))
            self.queue.extendleft(reversed(batch))
            return False
        done = []
        try:
            rows = self._apply(con, batch, done)
            con.execute("COMMIT")
        except Exception as e:
            if con.in_transaction:
                con.execute("ROLLBACK")
            error = explain(self.path, e)
            records = sum(stage is not None for stage, _ in batch)
            self.lost += records
            if records and self.failure is None:
                self.failure = error
                log.error("%s (%d records not written; further records are refused)", error, records)
            self._series.clear()  # states may hold rolled-back points: rebuilt from the store on next use
            self._names.clear()
            self._arrays_seen.clear()
            for stage, args in batch:
                if stage is None:
                    args[1].set_exception(error)
            return False
        for fut, result in done:
            fut.set_result(result)
        dt = time.perf_counter() - t0
        self.stats["commits"] += 1
        self.stats["rows"] += rows
        self.stats["seconds"] += dt
        self.stats["max_seconds"] = max(self.stats["max_seconds"], dt)
        return True

    def _apply(self, con: sqlite3.Connection, batch: list, done: list) -> int:
        """Write the batch in order; functions see every record queued before them."""
        pending = Pending()
        rows = 0
        for stage, args in batch:
            if stage is not None:
                stage(con, pending, *args)
                continue
            fn, fut = args
            rows += self._write(con, pending)
            pending = Pending()
            done.append((fut, fn(con)))
        rows += self._write(con, pending)
        if self.owned:
            marks = ",".join("?" * len(self.owned))
            con.execute(f"UPDATE runs SET heartbeat = ? WHERE num IN ({marks})", (time.time(), *self.owned))
        return rows

    # ---- writer thread: stage one queued record into the pending rows ----

    def _stage_scalars(self, con, pending: Pending, num: int, step: int, pairs) -> None:
        for name, value in pairs:
            key = (num, self._names.get(name) or self._name_id_or_insert(con, name))
            pending.scalars.append((*key, step, value))
            self._summarise(con, key, step, value, pending)

    def _stage_array(self, con, pending: Pending, num: int, step: int, name: str, dtype: str, shape: str, blob) -> None:
        key = (num, self._name_id_or_insert(con, name))
        if key not in self._arrays_seen:
            con.execute("INSERT OR IGNORE INTO series VALUES (?, ?, 'array')", key)
            self._arrays_seen.add(key)
        pending.arrays.append((*key, step, dtype, shape, blob))

    def _stage_row(self, con, pending: Pending, table: str, row: tuple) -> None:
        getattr(pending, table).append(row)

    def _stage_step(self, con, pending: Pending, num: int, step: int) -> None:
        pending.steps[num] = step

    def _write(self, con: sqlite3.Connection, p: Pending) -> int:
        con.executemany("INSERT OR REPLACE INTO scalars VALUES (?, ?, ?, ?)", p.scalars)
        con.executemany(f"INSERT OR REPLACE INTO summary VALUES ({SUMMARY_MARKS})", p.summary)
        con.executemany(
            "INSERT OR REPLACE INTO arrays (run, name, step, dtype, shape, data) VALUES (?, ?, ?, ?, ?, ?)", p.arrays
        )
        con.executemany("INSERT INTO events (run, step, kind, message, data, time) VALUES (?, ?, ?, ?, ?, ?)", p.events)
        con.executemany("INSERT INTO texts (run, step, text) VALUES (?, ?, ?)", p.texts)
        now = time.time()
        con.executemany(
            "UPDATE runs SET step = ?, updated = ? WHERE num = ?", [(s, now, n) for n, s in p.steps.items()]
        )
        for key in p.rebuild:
            self._rebuild(con, key)
        return len(p.scalars) + len(p.summary) + len(p.arrays) + len(p.events) + len(p.texts)

    def _summarise(self, con, key, step, value, pending) -> None:
        """Feed a point to its series' summary; queue the bucket rows it completes."""
        state = self._series.get(key, False)
        if state is False:  # first point of this series in this process
            con.execute("INSERT OR IGNORE INTO series VALUES (?, ?, 'scalar')", key)
            old = con.execute("SELECT 1 FROM scalars WHERE run = ? AND name = ? LIMIT 1", key).fetchone()
            state = None if old else SeriesSummary()  # points from elsewhere: rebuild from the store
            self._series[key] = state
            if state is None:
                pending.rebuild.add(key)
        if state is None:
            return
        rows = state.push(step, value)
        if rows:
            pending.summary.extend((*key, level, k, *agg) for level, k, agg in rows)
        elif rows is None:  # a step at or before the last one: rewrite this series' summary from the store
            self._series[key] = None
            pending.rebuild.add(key)

    def _rebuild(self, con: sqlite3.Connection, key: tuple[int, int]) -> None:
        """Recompute one series' summary from its raw points (rare: resumed or rewritten series)."""
        self._series[key] = rebuild_summary(con, key)

    def _name_id_or_insert(self, con: sqlite3.Connection, name: str) -> int:
        """The id of a series name, adding the name on first use."""
        nid = self._names.get(name)
        if nid is None:
            con.execute("INSERT OR IGNORE INTO names (name) VALUES (?)", (name,))
            nid = con.execute("SELECT id FROM names WHERE name = ?", (name,)).fetchone()[0]
            self._names[name] = nid
        return nid


class Pending:
    """Rows gathered from the queue, written with one executemany per table."""

    def __init__(self):
        self.scalars, self.summary, self.arrays, self.events, self.texts = [], [], [], [], []
        self.steps: dict[int, int] = {}  # run num -> newest step
        self.rebuild: set[tuple[int, int]] = set()
