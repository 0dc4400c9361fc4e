"""Every figure the dashboard draws is valid Plotly, though the builders skip validation for speed;
and the grid's fitting (legend below, 1-2-5 log ticks) does what it says."""

import math

import plotly.graph_objects as go
import pytest
from test_charts import make_run

from app import chart_grid
from app.chart_grid import Ctx


@pytest.mark.parametrize("n_runs, cell", [(1, "rnn"), (3, "lstm")])
def test_every_chart_is_valid_plotly(n_runs, cell):
    runs = [make_run(run_id=f"r{i}", seed=i, cell=cell) for i in range(n_runs)]
    gate = "h" if cell == "rnn" else "f"
    ctx = Ctx(key="t", mode="compare", following=True, reference="r0")
    ctx.picks = {"param": "cells.0.weight_hh_l0", "layer": 0, "gate": gate, "diff_series": "val/loss"}
    figs = chart_grid.figures(tuple(chart_grid.CHARTS), runs, ctx)
    assert len(figs) >= 11
    for key, fig, _ in figs:
        go.Figure(fig.to_dict())  # raises on any invalid property
        assert fig.layout.title.text and fig.layout.xaxis.title.text, key


def test_fit_puts_the_legend_under_half_width_charts_and_labels_log_axes_in_full():
    runs = [make_run(run_id=f"r{i}", seed=i) for i in range(2)]
    ctx = Ctx(key="t", following=True)
    (key, ppl, wide), *_ = chart_grid.figures(("perplexity",), runs, ctx)
    assert not wide and ppl.layout.legend.orientation == "h" and ppl.layout.legend.yref == "container"
    ticks = list(ppl.layout.yaxis.tickvals)
    assert ticks and all(round(v / 10 ** math.floor(math.log10(v)), 6) in (1, 1.5, 2, 3, 5, 7) for v in ticks)
    assert list(ppl.layout.yaxis.ticktext) == [f"{v:g}" for v in ticks]
    ((_, weights, wide),) = chart_grid.figures(("weights",), runs, ctx)
    assert wide and weights.layout.legend.orientation is None and weights.layout.height > 380


def test_rows_put_wide_charts_alone():
    items = [("a", None, False), ("b", None, False), ("c", None, False), ("w", None, True), ("d", None, False)]
    assert [[k for k, _, _ in row] for row in chart_grid.rows(items)] == [["a", "b"], ["c"], ["w"], ["d"]]
