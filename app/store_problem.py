"""When the run store cannot be opened or has stopped taking records: say so, naming the file,
and offer what still works (moving a broken file aside and starting a fresh store).

    eng = store_problem.engine_or_stop()   # the engine, or the message and a way out, then st.stop()
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from app import resources
from app.safe_text import code, text
from engine.store import StoreError


def engine_or_stop():
    """The process's engine; if its store is broken, the reason and the way out, and the page stops."""
    try:
        eng = resources.engine()
    except StoreError as err:
        st.error(f"**The run store cannot be opened.** {code(err.path, 500)}: {text(err.problem, 300)}.\n\n{err.todo}",
                 icon=":material/database:")
        _fresh_store_offer(Path(err.path))
        st.stop()
    eng.notice_dead_runs()
    if eng.store.failure is not None:
        err = eng.store.failure
        st.error(f"**The run store stopped taking records.** {code(err.path, 500)}: {text(err.problem, 300)}. Runs that were "
                 f"training have ended as failed, with every committed step kept.\n\n{err.todo}",
                 icon=":material/database:")
    return eng


def _fresh_store_offer(path: Path) -> None:
    if not path.exists():
        return
    aside = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
    if st.button(f"Move it aside as {aside.name} and start a fresh store", key="fresh_store",
                 icon=":material/restart_alt:"):
        path.rename(aside)  # kept as it was, for whoever wants to look at it
        for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            extra.unlink(missing_ok=True)
        resources.forget_engine()
        st.rerun()
