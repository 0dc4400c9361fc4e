"""'Share for class': a dialog of checkboxes that builds a classroom link, as TensorFlow Playground's does.

The link carries the settings that differ from the dashboard's defaults, the seed (always, so
the class trains exactly the teacher's run), presenter mode, and a `<name>_hide=1` flag for each
ticked control or setting; a hidden setting keeps the value the link gives it. The link itself
is built by app/state.py (share_query, link), the one module that writes URLs.
"""

from __future__ import annotations

import streamlit as st

from app import controls, state
from engine.config import FIELDS, GROUPS

PATHS = {"live": "live", "compare": "compare", "runs": "runs", "lessons": "lessons"}  # st.Page url_paths
KEY = "share-"  # prefix of the dialog's widget keys


def button(page: str) -> None:
    """The header button that opens the dialog."""
    if st.button("Share for class", key="share-open", icon=":material/share:",
                 help="Build a link for a class: these settings and seed, presenter mode, hidden controls."):
        dialog(page)


@st.dialog("Share for class", width="large")
def dialog(page: str) -> None:
    """Checkboxes for presenter mode, the shown runs and every hideable control and setting; the link under them."""
    values = controls.current()
    st.caption("The link opens this page with the current settings and seed. Tick what the class should not "
               "see: a hidden setting keeps its value from the link. The copy button is at the link's right.")
    shown_link = st.empty()  # filled last, from the boxes below, but shown first
    top = st.columns(2)
    present = top[0].checkbox("Presenter mode (no sidebar, large type)", value=state.presenting(), key=KEY + "present")
    runs = state.shown_runs()
    with_runs = top[1].checkbox(f"Show the {len(runs)} shown run(s)", value=False, key=KEY + "runs",
                                disabled=not runs, help="Only useful on this server: the runs live in its store.")
    st.markdown("**Hide these controls**")
    cols = st.columns(3)
    hide = {name for i, (name, words) in enumerate(state.CONTROLS.items())
            if cols[i % 3].checkbox(words, value=state.hidden(name), key=f"{KEY}{name}")}
    st.markdown("**Hide these settings**")
    cols = st.columns(len(GROUPS))
    for col, group in zip(cols, GROUPS):
        col.caption(controls.GROUP_TITLES.get(group, group))
        for f in (f for f in FIELDS if f.group == group):
            if col.checkbox(f.name, value=state.hidden(f.name), key=f"{KEY}f-{f.name}"):
                hide.add(f.name)
    lesson = state.open_lesson() if page == "lessons" else None
    query = state.share_query(values, hide, present, runs if with_runs else (), lesson)
    shown_link.code(state.link(state.app_url(), PATHS.get(page, ""), query), language=None, wrap_lines=True)
