"""Sweep: where in a grid of settings training stays stable, as a heatmap over two of them.

Lists the store's sweeps (groups made by `python -m engine sweep`), shows how far the chosen one
has got ("12 of 36 done, 3 stopped early") and draws its stability map, refreshing while runs
train. Clicking a cell (or picking it below the map) opens that cell's runs in Compare.
"""

import streamlit as st

from app import frame, resources, state
from app.charts import sweep as charts
from engine.distributed.grid import is_sweep
from engine.distributed.progress import SweepProgress

eng = frame.begin("sweep")
st.title("Sweep", anchor=False)
sweeps = {}
for info in eng.store.runs():  # newest first, so the newest sweep comes first
    if is_sweep(info.group_id):
        sweeps.setdefault(info.group_id, []).append(info)
if not sweeps:
    st.info(
        "No sweeps yet. Run a grid of settings on Ray from the command line, e.g. "
        "`python -m engine sweep --grid lr=1e-3,3e-3,1e-2 --grid clip_value=0.25,1,4 --seeds 0-2`; "
        "its runs appear here as they train."
    )
    st.stop()

group = st.selectbox("Sweep", list(sweeps), key="sweep-group", format_func=lambda g: f"{g} · {len(sweeps[g])} runs")
axes = charts.varying(sweeps[group]) or ["seed"]
ce = all(i.config.get("task", "text") in ("text", "lines") for i in sweeps[group])
left, middle, right = st.columns([1, 1, 2])
x = left.selectbox("Across", axes, key="sweep-x")
y = middle.selectbox("Up", axes, index=min(1, len(axes) - 1), key="sweep-y")
metric = right.radio("Colour by", ["ppl", "share"] if ce else ["share"], key="sweep-metric", horizontal=True,
                     format_func=lambda m: charts.METRICS[m])


def open_cell(run_ids: list[str]) -> None:
    """Callback: show these runs in Compare."""
    if run_ids:
        state.show(run_ids, "compare")


def clicked(cells) -> None:
    """Callback of the map: the clicked cell's runs go to Compare."""
    points = st.session_state["sweep-map"].selection.points
    if points:
        open_cell(cells[int(points[0]["customdata"])].run_ids)


live = any(i.status in ("queued", "running", "paused") for i in sweeps[group])


@st.fragment(run_every=resources.refresh_seconds() if live else None)
def board():
    if state.pending_rerun():  # a cell was opened: switch pages from a full run
        st.rerun()
    infos = eng.store.group_runs(group)
    progress = SweepProgress.of(infos)
    st.progress(progress.ended / max(progress.total, 1), text=progress.text())
    others = [a for a in charts.varying(infos) if a not in (x, y)]
    cells = charts.stability_cells(infos, x, y, metric)
    st.plotly_chart(charts.stability_map(cells, x, y, metric), key="sweep-map", on_select=lambda: clicked(cells),
                    selection_mode="points", config={"displayModeBar": False})
    st.caption(f"Each cell: the median over its runs ({', '.join(others) or 'one run each'}), ± half their range. "
               "A red frame marks cells with runs that diverged. Click a cell to open its runs in Compare.")
    label = {i: f"{x}={charts.value_label(c.x)}, {y}={charts.value_label(c.y)} ({len(c.run_ids)} runs)" for i, c in enumerate(cells)}
    pick, go = st.columns([3, 1], vertical_alignment="bottom")
    chosen = pick.selectbox("A cell", list(label), key="sweep-cell", format_func=label.get)
    go.button("Open in Compare", key="sweep-open", on_click=open_cell, args=(cells[chosen].run_ids,),
              icon=":material/compare_arrows:")
    if live and progress.finished:
        st.rerun()  # the last run ended: redraw once without the timer


board()
