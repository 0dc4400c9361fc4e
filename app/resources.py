"""The engine objects one dashboard process shares with every browser session, and its settings.

One RunStore and one JobManager per process (principle 10: `st.cache_resource` holds the
thread-safe registry); every tab of every browser sees the same runs and the same queue.
Keyed by the store path, so a test that points $RNNLAB_STORE elsewhere gets its own pair.

Settings from the environment:
    RNNLAB_MODE              local (default): one trusted user steers every run; shared: a server
                             for several people, where only the browser that started a run steers
                             it and each visitor sees only their own uploads (app/ownership.py)
    RNNLAB_STORE             the SQLite file (engine default ~/.rnnlab/runs.sqlite)
    RNNLAB_REFRESH_SECONDS   how often live charts refresh (default 1.0)
    RNNLAB_UPLOAD_MAX_MB     largest corpus upload (default 16)
    RNNLAB_UPLOAD_MAX_FILES  uploads kept per visitor (default 20)
    RNNLAB_UPLOAD_TOTAL_MB   their total size per visitor (default 64); all visitors together: 16 times that
    RNNLAB_WORKERS           runs that train at once (default: the engine's, one per core)
    RNNLAB_RAY_ADDRESS       train on Ray: auto, HOST:PORT, or local (a Ray of the dashboard's own);
                             unset: runs train in this process. Needs requirements-ray.txt.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from app.owners import Owners
from app.series import SeriesCache
from engine.jobs import JobManager
from engine.store import RunStore, default_path

RECOVER_EVERY = 15.0  # seconds between checks for runs whose process is gone (a killed CLI run, say)
MODES = ("local", "shared")


@dataclass
class Engine:
    """What the pages talk to: the store (read), the job manager (act) and the shared read cache."""

    store: RunStore
    jobs: JobManager  # or engine.distributed.ray_jobs.RayJobManager, which has the same calls
    cache: SeriesCache
    owners: Owners  # who started which run (app/ownership.py; enforced in shared mode)
    checked: float = 0.0  # time.monotonic() of the last check for dead runs
    notice: str | None = None  # why the engine is not what the settings asked for, shown on every page

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
def _engine(path: str, workers: int | None, ray_address: str | None) -> Engine:
    store = RunStore(path)
    jobs, notice = _jobs(store, workers, ray_address)
    owners = Owners(Path(path).with_name(Path(path).name + ".owners.json"))
    return Engine(store=store, jobs=jobs, cache=SeriesCache(store), notice=notice, owners=owners)


def _jobs(store: RunStore, workers: int | None, ray_address: str | None):
    """A Ray-backed job manager when an address is set and Ray answers, else this process's; and why not."""
    if not ray_address:
        return JobManager(store, max_workers=workers), None
    try:
        from engine.distributed.ray_jobs import RayJobManager  # Ray is optional: imported only when asked for

        return RayJobManager(store, address=ray_address, max_workers=workers), None
    except Exception as err:  # Ray missing or unreachable: the dashboard still works, on this machine
        return JobManager(store, max_workers=workers), (
            f"RNNLAB_RAY_ADDRESS={ray_address} is set, but Ray could not be used: {err}. "
            "Runs train in the dashboard's own process instead."
        )


def engine() -> Engine:
    """The process-wide engine for the store named by $RNNLAB_STORE (StoreError when it cannot be opened),
    training on Ray when $RNNLAB_RAY_ADDRESS says."""
    workers = os.environ.get("RNNLAB_WORKERS")
    eng = _engine(str(default_path()), int(workers) if workers else None, os.environ.get("RNNLAB_RAY_ADDRESS") or None)
    if eng.notice:
        st.warning(eng.notice, icon=":material/cloud_off:")
    return eng


def forget_engine() -> None:
    """Drop the cached engine (after its store file was replaced); the next call opens the store anew."""
    _engine.clear()


def mode() -> str:
    """'local' (one trusted user, the default) or 'shared' (ownership on): $RNNLAB_MODE.

    Any other value counts as 'shared', the safe side: a typo must not open every run to every
    visitor (scripts/dashboard.sh refuses such a value before starting).
    """
    value = os.environ.get("RNNLAB_MODE", "local").strip().lower() or "local"
    return value if value in MODES else "shared"


def refresh_seconds() -> float:
    """Seconds between refreshes of a live chart panel."""
    try:
        return max(0.2, float(os.environ.get("RNNLAB_REFRESH_SECONDS", "1.0")))
    except ValueError:
        return 1.0


def _env_number(name: str, default: float) -> float:
    """A positive number from the environment, else `default`."""
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 and value < float("inf") else default


def upload_limit_bytes() -> int:
    """Largest corpus file a browser may upload."""
    return int(_env_number("RNNLAB_UPLOAD_MAX_MB", 16) * 2**20)


def upload_max_files() -> int:
    """Uploads kept per visitor."""
    return max(1, int(_env_number("RNNLAB_UPLOAD_MAX_FILES", 20)))


def upload_total_bytes() -> int:
    """Total size of one visitor's uploads."""
    return int(_env_number("RNNLAB_UPLOAD_TOTAL_MB", 64) * 2**20)


def upload_dir() -> Path:
    """Where accepted uploads are kept: beside the store, so every session (and the workers) can read
    them; one folder per visitor inside (app/upload.py)."""
    return default_path().parent / "uploads"
