"""The runs table of RunStore: run rows, statuses and crash recovery.

A run is owned by the process that queued or runs it (pid, host); that process's writer
commits a heartbeat at least every 10 s. `find_gone` decides which active runs have no
living owner, `interrupt` marks one inside the writer's transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field

STATUSES = ("queued", "running", "paused", "done", "stopped", "diverged", "failed", "interrupted")
ACTIVE = ("queued", "running", "paused")  # a process is (or should be) working on these
STALE_AFTER = 60.0  # s without a heartbeat after which recover() calls a run's process gone
MAX_LABEL = 80  # characters of a run's name

RUN_COLUMNS = "id, created, updated, status, step, config, label, group_id, lesson, parent, fork_step, message, summary, pid, host, heartbeat"


@dataclass(frozen=True)
class RunInfo:
    """One run's row. Times are Unix seconds."""

    id: str
    created: float
    updated: float
    status: str
    step: int
    config: dict
    label: str | None = None
    group_id: str | None = None
    lesson: str | None = None
    parent: str | None = None
    fork_step: int | None = None
    message: str | None = None
    summary: dict = field(default_factory=dict)
    pid: int | None = None  # the process that last queued or ran it
    host: str | None = None
    heartbeat: float | None = None  # last commit by that process

    @classmethod
    def from_row(cls, row: tuple) -> RunInfo:
        values = list(row)
        values[5] = json.loads(values[5] or "{}")
        values[12] = json.loads(values[12] or "{}")
        return cls(*values)


@dataclass(frozen=True)
class Event:
    """Something that happened in a run at a step (kinds: see docs/contracts.md)."""

    step: int
    kind: str
    message: str
    data: dict
    time: float


def check_label(label) -> str:
    """The run name as stored (trimmed); ValueError naming `label` when it is empty or too long."""
    text = label.strip() if isinstance(label, str) else ""
    if not text:
        raise ValueError("label: a run's name cannot be empty; type a few words that tell it apart")
    if len(text) > MAX_LABEL:
        raise ValueError(f"label: {len(text)} characters is too long for a run's name; use at most {MAX_LABEL}")
    return text


def match_ids(con: sqlite3.Connection, ref: str) -> list[str]:
    """Ids of the runs whose id is `ref` or ends with it, newest first (the exact one alone when it exists)."""
    if not ref:
        return []
    exact = con.execute("SELECT id FROM runs WHERE id = ?", (ref,)).fetchone()
    if exact is not None:
        return [exact[0]]
    pattern = "%" + ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = con.execute("SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY created DESC, num DESC", (pattern,))
    return [r[0] for r in rows]


def resolve_id(con: sqlite3.Connection, ref: str, path) -> str:
    """The one run id `ref` names (match_ids); KeyError for none, ValueError listing the candidates for several."""
    found = match_ids(con, ref.strip())
    if not found:
        raise KeyError(f"no run {ref!r} in the store {path}")
    if len(found) > 1:
        shown = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10 else "")
        raise ValueError(f"{ref!r} matches {len(found)} runs: {shown}; give more of the id")
    return found[0]


def check_status(status: str) -> None:
    """ValueError unless status is one of STATUSES."""
    if status not in STATUSES:
        raise ValueError(f"unknown run status {status!r}; use one of {', '.join(STATUSES)}")


def find_gone(con: sqlite3.Connection, host: str, skip: set[int], stale_after: float) -> list[tuple[int, str, str]]:
    """(num, id, why) of active runs, not in skip, whose process is gone.

    Gone: on this host and its pid no longer exists, or no heartbeat for stale_after seconds
    (a pid can be reused, and a run of another host can only be judged by its heartbeat).
    """
    now = time.time()
    marks = ",".join("?" * len(ACTIVE))
    q = f"SELECT num, id, pid, host, heartbeat FROM runs WHERE status IN ({marks})"
    gone = []
    for num, run_id, pid, run_host, beat in con.execute(q, ACTIVE).fetchall():
        if num in skip:
            continue
        if run_host == host and pid and not _alive(pid):
            gone.append((num, run_id, f"process {pid} on {host} is gone"))
        elif beat is None or now - beat > stale_after:
            age = "ever" if beat is None else f"{now - beat:.0f} s"
            gone.append((num, run_id, f"no heartbeat from process {pid} on {run_host} for {age}"))
    return gone


def _alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def interrupt(con: sqlite3.Connection, num: int, why: str) -> bool:
    """Mark one run interrupted, with an event, if it is still active; whether it was."""
    now = time.time()
    marks = ",".join("?" * len(ACTIVE))
    cur = con.execute(
        f"UPDATE runs SET status = 'interrupted', message = ?, updated = ? WHERE num = ? AND status IN ({marks})",
        (why, now, num, *ACTIVE),
    )
    if cur.rowcount:
        con.execute(
            "INSERT INTO events (run, step, kind, message, data, time)"
            " SELECT num, step, 'interrupted', ?, '{}', ? FROM runs WHERE num = ?",
            (why, now, num),
        )
    return cur.rowcount > 0
