"""Compare: the runs of a group (or any shown runs) overlaid, legend = the settings that differ."""

import streamlit as st

from app import chart_grid, frame, live_view, run_controls, series, state

VIEWS = chart_grid.views("compare")

eng = frame.begin("compare")
slot = frame.header("Compare", "compare")
groups = {}
for info in eng.store.runs():
    if info.group_id:
        groups.setdefault(info.group_id, []).append(info)
if groups:
    names = {g: f"{', '.join(r.label or r.id for r in rs[::-1][:4])} · {g}" for g, rs in groups.items()}
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    pick = left.selectbox(
        "Show a group",
        [None, *groups],
        key="compare-group",
        format_func=lambda g: "choose a group of runs…" if g is None else names[g],
    )
    right.button(
        "Show this group",
        on_click=state.show,
        args=([r.id for r in groups.get(pick, [])[::-1]],),
        disabled=pick is None,
        icon=":material/visibility:",
    )

run_ids = state.shown_runs()
if len(run_ids) < 2:
    st.info(
        "Pick two or more runs in the sidebar, show a group above, or start one with **Compare settings** "
        "in the sidebar: the same settings with up to four values of one or two of them, on the same seed."
    )
    st.stop()

infos = series.infos(eng.store, run_ids)
labels = live_view.legend_labels(infos)
if not state.presenting():
    run_controls.controls(eng, infos, labels, state.hidden_names())
view, ctx = live_view.toolbar("compare", VIEWS, key="cview", slot=slot)
ctx.key, ctx.reference = live_view.selection_key("compare", run_ids), run_ids[0]
live_view.panel(eng, run_ids, VIEWS[view], ctx)
