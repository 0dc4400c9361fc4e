"""Live: the shown runs' charts while they train (or as they ended), with their controls."""

import streamlit as st

from app import chart_grid, frame, live_view, run_controls, series, starting, state

eng = frame.begin("live")
slot = frame.header("Live", "live")
run_ids = state.shown_runs()
if not run_ids:
    starting.first_start(eng)
    st.stop()

infos = series.infos(eng.store, run_ids)
if not state.presenting():
    run_controls.controls(eng, infos, live_view.legend_labels(infos), state.hidden_names())
views = chart_grid.views("live")
view, ctx = live_view.toolbar("live", views, key="view", slot=slot)
ctx.key = live_view.selection_key("live", run_ids)
live_view.panel(eng, run_ids, views[view], ctx)
