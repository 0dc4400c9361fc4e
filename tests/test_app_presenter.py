"""Presenter mode's pure parts: every font of a figure at least 1.5x, the charts of a view fitted to the
screen's height, one figure per chart in overview, and a glossary entry for every term the pages use."""

import json

import numpy as np
import pytest

from app import chart_grid, glossary
from app.chart_grid import Ctx
from app.charts import RunSeries
from app.charts.base import TEMPLATE
from app.charts.fit import enlarge, fit, two_lines
from engine.probes import GradHistogramProbe
from engine.probes import GradientReachProbe as Reach

ISSUE_TERMS = ("perplexity", "|V|", "HR@10", "W_h", "gradient reach", "spectral radius", "sigma_max", "saturation",
               "log(1+count)")


def runs(n: int = 1) -> list[RunSeries]:
    """Runs with the series of the Training view and the Gradients view."""
    x = np.arange(60)
    out = []
    for i in range(n):
        loss = np.log(50.0) - 0.01 * x + 0.01 * i
        scalars = {"train/loss": (x, loss), "train/ppl": (x, np.exp(loss)), "lr": (x, np.full(60, 3e-3)),
                   "grad/norm": (x, 0.3 + 0.01 * x), "grad/norm_clipped": (x, np.minimum(1.0, 0.3 + 0.01 * x)),
                   "grad/clipped": (x, np.zeros(60)), "val/loss": (x[::20], loss[::20]),
                   "val/ppl": (x[::20], np.exp(loss[::20]))}
        hist = GradHistogramProbe.HIST.at(param="rnn.0.weight_hh")
        arrays = {hist: (x[::10], [np.ones(56) for _ in x[::10]]),
                  Reach.LAST.at(layer=0): (x[::10], [np.linspace(1, 0.1, 16) for _ in x[::10]])}
        out.append(RunSeries(f"r-{i}", label=f"run {i}", scalars=scalars, means={"train/loss": (x, loss)},
                             arrays=arrays, baselines={"uniform_ppl": 104.0, "uniform_loss": 4.64}))
    return out


def fonts(layout: dict) -> dict[str, float]:
    """Every font size a figure's JSON layout sets, the template's where the layout leaves it."""
    base = TEMPLATE.layout
    found = {"font": layout.get("font", {}).get("size", base.font.size),
             "title": layout["title"].get("font", {}).get("size", base.title.font.size),
             "legend": layout["legend"].get("font", {}).get("size", base.font.size)}
    for i, note in enumerate(layout.get("annotations", ())):
        found[f"note{i}"] = note.get("font", {}).get("size", found["font"])
    return found


@pytest.mark.parametrize("chart", ["perplexity", "loss", "lr", "grad_norm"])
def test_enlarge_makes_every_font_at_least_one_and_a_half_times_as_large(chart):
    ctx = Ctx(key="t")
    ((_, plain),) = chart_grid.CHARTS[chart].build(runs(), ctx)
    ((_, big),) = chart_grid.CHARTS[chart].build(runs(), ctx)
    before = fonts(json.loads(fit(plain, half=False).to_json())["layout"])
    after = fonts(json.loads(enlarge(fit(big, half=False), 1.5).to_json())["layout"])
    assert before.keys() == after.keys()
    assert not json.loads(big.to_json())["layout"]["title"].get("subtitle", {}).get("text")  # dropped when enlarged
    for name, size in before.items():
        assert after[name] >= 1.5 * size - 0.5, (chart, name, size, after[name])  # rounded to whole px


def test_two_line_axis_titles():
    assert two_lines("perplexity (choices per token)") == "perplexity<br>(choices per token)"
    assert two_lines("global gradient norm ||g||") == "global gradient<br>norm ||g||"
    assert two_lines("loss") == "loss"


def test_rows_of_three_and_figures_fitted_to_the_screen():
    figs = [(str(i), None, False) for i in range(5)]
    assert [len(r) for r in chart_grid.rows(figs, 3)] == [3, 2]
    assert [len(r) for r in chart_grid.rows(figs)] == [2, 2, 1]
    ctx = Ctx(key="t", screen=800, scale=1.5, overview=True)
    built = chart_grid.figures(chart_grid.views("live")["Training"], runs(), ctx)
    grid = chart_grid.rows(built, chart_grid.per_row(built, ctx))
    chart_grid.fit_screen(built, grid, ctx.screen)
    heights = {f.layout.height for _, f, _ in built}
    assert len(grid) == 2 and len(heights) == 1
    assert len(grid) * (heights.pop() + chart_grid.ROW_GAP) <= ctx.screen
    for _, fig, _ in built:  # at a fixed height the legend stays on the right of the plot
        assert fig.layout.legend.orientation != "h"


def test_overview_draws_one_figure_per_chart_for_several_runs():
    three = runs(3)
    full = chart_grid.figures(("grad_hist", "reach"), three, Ctx(key="t", mode="compare",
                                                                 picks={"param": "rnn.0.weight_hh", "layer": 0}))
    overview = chart_grid.figures(("grad_hist", "reach"), three, Ctx(key="t", mode="live", overview=True,
                                                                     picks={"param": "rnn.0.weight_hh", "layer": 0}))
    assert len(full) == (1 + 3) + (1 + 3)  # an overlay and a heatmap per run, a profile and a heatmap per run
    assert [k.rsplit("-", 1)[-1] for k, _, _ in overview] == ["overlay", "profile"]


def test_the_glossary_has_every_term_the_issue_names():
    for term in ISSUE_TERMS:
        assert term in glossary.TERMS and len(glossary.TERMS[term]) > 40, term
