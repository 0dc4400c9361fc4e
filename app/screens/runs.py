"""Runs: every stored run (live, finished, diverged, interrupted, from the CLI); open, delete, export, share."""

import streamlit as st

from app import frame, run_table, state

eng = frame.begin("runs")
frame.header("Runs", "runs")
run_table.deleted_note()
infos = eng.store.runs()
if not infos:
    st.info(
        "No runs yet. Press **Start** in the sidebar, or train from the command line: "
        "`python -m engine train`; its runs appear here too."
    )
    st.stop()

table = run_table.table(infos)
picked = st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="multi-row",
    key="runs-table",
    column_config=run_table.COLUMNS,
    height=min(560, 38 + 35 * len(table)),
)
by_id = {i.id: i for i in infos}
rows = picked.selection.rows if picked else []
chosen = [table.iloc[r]["id"] for r in rows] or [r for r in state.shown_runs() if r in by_id]
st.caption("Select rows in the table (or pick runs in the sidebar) to act on them.")
if chosen:
    run_table.actions(eng, [by_id[r] for r in chosen])
