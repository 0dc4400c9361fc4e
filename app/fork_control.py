"""Fork from step N: continue any shown run from a state it kept, as a new run shown beside it.

    fork_from_step(eng, infos)     # under the diagnosis cards of the Live page (app/live_view.py)

The steps offered are the states the run kept (log-spaced while it trained, where a diagnosis
asked for one, its last state) and, while it trains, its current step
(JobManager.snapshot_steps). The fork keeps the run's settings; change lr or clipping on it
afterwards with the run's own controls.
"""

from __future__ import annotations

import streamlit as st

from app import ownership, state
from app.safe_text import text

ERROR = "_fork_error"


def _fork(eng, run_id: str, step: int, current: int | None) -> None:
    """Callback: fork `run_id` at `step` (its live state when that is its current step) and show both."""
    try:
        new_id = eng.jobs.fork(run_id, {}, step=None if step == current else step)
    except (KeyError, OSError, TimeoutError, ValueError, RuntimeError) as e:
        st.session_state[ERROR] = f"Could not fork {run_id} at step {step:,}: {e}"
        return
    ownership.claim(eng, [new_id])
    eng.cache.forget(run_id)  # the parent got a 'fork' event at a step it had already shown
    state.show([run_id, new_id], "live")


def fork_from_step(eng, infos) -> None:
    """A compact 'fork from step' row for the shown runs that kept a state."""
    kept = getattr(eng.jobs, "snapshot_steps", None)  # a job manager without kept states offers none
    offers = {}
    for info in infos if kept else ():
        steps = kept(info.id)
        if steps:
            offers[info.id] = (info, steps)
    message = st.session_state.pop(ERROR, None)
    if message:
        st.error(text(message, 300))
    if not offers:
        return
    with st.expander("Fork from a step", icon=":material/call_split:"):
        ids = list(offers)
        run_id = ids[0] if len(ids) == 1 else st.selectbox(
            "run", ids, key="fork-run", format_func=lambda r: text(offers[r][0].label or r))
        info, steps = offers[run_id]
        live = eng.jobs.is_live(run_id)
        step = st.selectbox("step", steps[::-1], key=f"fork-step-{run_id}", format_func=lambda s: f"{s:,}",
                            help="The states this run kept: after 16, 32, 64... updates (the newest few), where a "
                            "diagnosis asked for one, and its last state" + (" (its current step while it trains)"
                                                                             if live else "") + ".")
        st.button(f"Fork at step {step:,}", key=f"fork-go-{run_id}", icon=":material/call_split:",
                  on_click=_fork, args=(eng, run_id, step, steps[-1] if live else None),
                  help="A new run continuing from this run's weights and optimiser state at that step, with the "
                  "same settings and data order; shown beside it.")
