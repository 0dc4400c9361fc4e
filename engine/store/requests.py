"""Control requests for runs trained by another process: the dashboard asks, the run's own loop obeys.

A run of the JobManager is steered through its RunControls in the same process. A run recorded
by `engine.watch` lives in the user's own script, so the dashboard leaves a request in the
store's `requests` table (one row per run, the newest request wins) and the script's recorder
reads it between two steps, at most about once a second:

    store.request(run_id, "pause")       # the dashboard; committed at once
    store.pending_request(run_id)        # the recorder: 'pause', 'resume', 'stop' or None
"""

from __future__ import annotations

import sqlite3
import time

REQUESTS = ("pause", "resume", "stop")


def check_request(action: str) -> None:
    """ValueError unless action is one of REQUESTS."""
    if action not in REQUESTS:
        raise ValueError(f"unknown run request {action!r}; use one of {', '.join(REQUESTS)}")


def put_request(con: sqlite3.Connection, num: int, action: str) -> None:
    """Replace the run's request with this one."""
    con.execute("INSERT OR REPLACE INTO requests (run, action, time) VALUES (?, ?, ?)", (num, action, time.time()))


def read_request(con: sqlite3.Connection, num: int) -> str | None:
    """The run's newest request, or None."""
    row = con.execute("SELECT action FROM requests WHERE run = ?", (num,)).fetchone()
    return None if row is None else row[0]
