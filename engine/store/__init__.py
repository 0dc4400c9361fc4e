"""The run store: every run's records in one SQLite file (runstore), written by one thread
(writer), read raw or downsampled (read, summary), exported as tables (export), with crash
recovery (runs) and the checkpoints forks continue from (checkpoints).

    from engine.store import RunStore
    store = RunStore()      # $RNNLAB_STORE or ~/.rnnlab/runs.sqlite
"""

from engine.store.errors import StoreError
from engine.store.runs import ACTIVE, MAX_LABEL, STATUSES, Event, RunInfo
from engine.store.runstore import RunStore, default_path

__all__ = ["ACTIVE", "MAX_LABEL", "STATUSES", "Event", "RunInfo", "RunStore", "StoreError", "default_path"]
