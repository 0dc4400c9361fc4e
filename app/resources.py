"""The engine objects one dashboard process shares with every browser session, and its settings.

One RunStore and one JobManager per process (principle 10: `st.cache_resource` holds the
thread-safe registry); every tab of every browser sees the same runs and the same queue.
Keyed by the store path, so a test that points $RNNLAB_STORE elsewhere gets its own pair.

Settings from the environment:
    RNNLAB_STORE             the SQLite file (engine default ~/.rnnlab/runs.sqlite)
    RNNLAB_REFRESH_SECONDS   how often live charts refresh (default 1.0)
    RNNLAB_UPLOAD_MAX_MB     largest corpus upload (default 16)
    RNNLAB_WORKERS           runs that train at once (default: the engine's, one per core)
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from app.series import SeriesCache
from engine.jobs import JobManager
from engine.store import RunStore, default_path

RECOVER_EVERY = 15.0  # seconds between checks for runs whose process is gone (a killed CLI run, say)


@dataclass
class Engine:
    """What the pages talk to: the store (read), the job manager (act) and the shared read cache."""

    store: RunStore
    jobs: JobManager
    cache: SeriesCache
    checked: float = 0.0  # time.monotonic() of the last check for dead runs

    def notice_dead_runs(self) -> list[str]:
        """Mark runs whose process is gone as interrupted, at most every RECOVER_EVERY seconds.

        Recovery at start-up alone left a killed CLI run `running` on an open dashboard for ever;
        this runs on page loads and live refreshes, so such a run is marked within a minute
        (at once when its process was on this host, after STALE_AFTER without a heartbeat otherwise).
        """
        now = time.monotonic()
        if now - self.checked < RECOVER_EVERY:
            return []
        self.checked = now
        return self.store.recover()

    def close(self) -> None:
        """Stop the workers first (they write to the store), then close the store."""
        self.jobs.shutdown()
        self.store.close()


@st.cache_resource(show_spinner=False, on_release=lambda eng: eng.close())
def _engine(path: str, workers: int | None) -> Engine:
    store = RunStore(path)
    return Engine(store=store, jobs=JobManager(store, max_workers=workers), cache=SeriesCache(store))


def engine() -> Engine:
    """The process-wide engine for the store named by $RNNLAB_STORE (StoreError when it cannot be opened)."""
    workers = os.environ.get("RNNLAB_WORKERS")
    return _engine(str(default_path()), int(workers) if workers else None)


def forget_engine() -> None:
    """Drop the cached engine (after its store file was replaced); the next call opens the store anew."""
    _engine.clear()


def refresh_seconds() -> float:
    """Seconds between refreshes of a live chart panel."""
    try:
        return max(0.2, float(os.environ.get("RNNLAB_REFRESH_SECONDS", "1.0")))
    except ValueError:
        return 1.0


def upload_limit_bytes() -> int:
    """Largest corpus file a browser may upload."""
    try:
        return int(float(os.environ.get("RNNLAB_UPLOAD_MAX_MB", "16")) * 2**20)
    except ValueError:
        return 16 * 2**20


def upload_dir() -> Path:
    """Where accepted uploads are kept: beside the store, so every session (and the workers) can read them."""
    return default_path().parent / "uploads"
