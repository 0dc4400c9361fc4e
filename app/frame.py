"""What every page shares: the sidebar (shown runs, the settings form, Start and Compare).

Each page calls `begin(page)` first. The sidebar is drawn by the pages rather than by the
router because AppTest loses the router's elements on every page but the default one; the
widgets keep their values across pages anyway (state.keep_widget_values, persist_state).
"""

from __future__ import annotations

import streamlit as st

from app import controls, starting, state, store_problem
from app.resources import Engine


def begin(page: str) -> Engine:
    """Follow a pending page switch, draw the sidebar, and return the engine."""
    state.follow_goto(page)
    state.keep_widget_values()
    state.read_url_once()
    eng = store_problem.engine_or_stop()
    with st.sidebar:
        _warnings()
        run_picker(eng)
        st.subheader("New run", divider="gray")
        actions = st.container()
        values, errors = controls.config_form()
        with actions:
            starting.start_button(eng, values, errors)
        starting.compare_form(eng, values, errors)
    state.write_url(values)
    return eng


def _warnings() -> None:
    notes = state.url_warnings()
    if notes:
        st.warning("\n\n".join(notes), icon=":material/link_off:")
        st.button("Dismiss", key="dismiss_url_warnings", on_click=state.dismiss_url_warnings)


def run_picker(eng: Engine) -> list[str]:
    """The shown runs: every stored run can be picked; app/state.py keeps the choice in the URL (?runs=)."""
    runs = eng.store.runs()
    options = [r.id for r in runs]
    # the picker stores its choice as display text, so the text must not change with the status
    names = {r.id: f"{r.label or r.id} · {r.id[-4:]}" for r in runs}
    current = st.session_state.get(state.RUNS_KEY)
    if current is not None and any(r not in names for r in current):  # deleted meanwhile
        st.session_state[state.RUNS_KEY] = [r for r in current if r in names]
    return st.multiselect(
        "Shown runs",
        options,
        key=state.RUNS_KEY,
        persist_state="session",
        format_func=lambda r: names.get(r, r),
        placeholder="pick runs to show",
        help="The runs the Live and Compare pages draw. Kept in the link, so a reload or a shared link shows the same.",
    )
