"""What every page shares: the sidebar (shown runs, the settings form, Start and Compare) and the
header row (title, glossary, "Share for class", the Presenter toggle).

Each page calls `begin(page)` first, then `header(title)`. The sidebar is drawn by the pages
rather than by the router because AppTest loses the router's elements on every page but the
default one; the widgets keep their values across pages anyway (state.keep_widget_values,
persist_state). In presenter mode (app/presenter.py) there is no sidebar: the settings keep the
values they had (or the link gave them) and nothing to change them is drawn.
"""

from __future__ import annotations

import streamlit as st

from app import controls, glossary, presenter, share, starting, state, store_problem
from app.resources import Engine


def begin(page: str, first=None) -> Engine:
    """Follow a pending page switch, draw the sidebar (unless presenting), and return the engine.

    `first(eng)` runs before the sidebar is drawn: what it changes of the shown runs, the sidebar
    shows (a lesson link's run=1 starts the lesson there).
    """
    state.follow_goto(page)
    state.keep_widget_values()
    state.read_url_once()
    eng = store_problem.engine_or_stop()
    if first is not None:
        first(eng)
    runs = eng.store.runs()
    _drop_deleted_runs(runs)
    if state.presenting():
        presenter.style()
        _warnings()  # a link's ignored values, on the page itself (there is no sidebar)
        values = controls.current()
    else:
        values = _sidebar(eng, runs)
    state.write_url(values, page)
    return eng


def _sidebar(eng: Engine, runs) -> dict:
    """Shown runs, the settings that apply and are not hidden, Start and Compare; -> the settings' values."""
    hidden = state.hidden_names()
    with st.sidebar:
        _warnings()
        run_picker(runs)
        st.subheader("New run", divider="gray")
        actions = st.container()
        values, errors = controls.config_form(hidden=hidden)
        if "start" not in hidden:
            with actions:
                starting.start_button(eng, values, errors)
        if "compare" not in hidden:
            starting.compare_form(eng, values, errors)
    return values


def header(title: str, page: str):
    """The page title, then the glossary, the share dialog and the Presenter toggle; returns the title's
    column, which is empty when presenting (the Live page puts its view switch there, a lesson its question)."""
    present = state.presenting()
    left, right = st.columns([1.4, 2] if not present else [3, 1], vertical_alignment="center")
    if not present:
        left.title(title, anchor=False)
    with right:
        cols = st.columns([1.1, 1.5, 1.2] if not present else [0.01, 1, 1], vertical_alignment="center")
        with cols[0 if not present else 1]:
            glossary.popover()
        if not present:
            with cols[1]:
                share.button(page)
        with cols[2]:
            st.toggle(
                "Presenter",
                key=state.PRESENT_KEY,
                help="For a projector: no sidebar and no settings, large type, charts that fit one "
                "1920x1080 screen. The link keeps it (present=1).",
            )
    return left


def _warnings() -> None:
    notes = state.url_warnings()
    if notes:
        st.warning("\n\n".join(notes), icon=":material/link_off:")
        st.button("Dismiss", key="dismiss_url_warnings", on_click=state.dismiss_url_warnings)


def _drop_deleted_runs(runs) -> None:
    """Forget shown runs that were deleted meanwhile (before anything reads them)."""
    current = state.shown_runs()
    if current:
        known = {r.id for r in runs}
        if any(r not in known for r in current):
            state.set_shown([r for r in current if r in known])


def run_picker(runs) -> list[str]:
    """The shown runs: every stored run can be picked; app/state.py keeps the choice in the URL (?runs=).

    The widget starts from state.shown_runs() and its changes are copied there (state.picked); its
    key changes whenever code sets the shown runs, so a stale value from the browser cannot undo that."""
    options = [r.id for r in runs]
    # the picker stores its choice as display text, so the text must not change with the status
    names = {r.id: f"{r.label or r.id} · {r.id[-4:]}" for r in runs}
    key = state.picker_key()
    return st.multiselect(
        "Shown runs",
        options,
        default=[r for r in state.shown_runs() if r in names] if key not in st.session_state else None,
        key=key,
        on_change=state.picked,
        args=(key,),
        format_func=lambda r: names.get(r, r),
        placeholder="pick runs to show",
        help="The runs the Live and Compare pages draw. Kept in the link, so a reload or a shared link shows the same.",
    )
