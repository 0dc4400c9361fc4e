"""The charts of the dashboard, each declared once, and the grid that draws them on a page.

A `Chart` record holds everything about one chart: its id (the one lessons name), the views
that show it, the series it reads (the declarations in engine/, never a prefix kept here),
the pickers it needs, and how to build its figures (pure builders in app/charts/) or draw it
(text samples, events). `CHARTS` is the registry; the Live and Compare views, the series a
page loads, and the check that every lesson's charts exist are all read off it.

    ids = views("live")["Training"]                 # ('perplexity', 'loss', 'lr', 'grad_norm')
    runs = series.load_runs(store, cache, infos, reads(ids))
    draw(ids, runs, ctx, texts)                     # pickers, then figures two to a row

Keys are stable per page, runs and chart, so a refresh replaces a chart rather than adding one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from app import charts
from app.charts import RunSeries
from app.charts.fit import enlarge, fit
from app.charts.spectrum import GATES
from app.safe_text import text
from engine.evaluation import FULL_LOSS, FULL_PPL
from engine.optim import GRAD_CLIPPED, GRAD_NORM, GRAD_NORM_CLIPPED, LR, PLATEAU_BAD, PLATEAU_BEST
from engine.probes import (
    GRAD_HIST_EDGES,
    GradHistogramProbe,
    HiddenProbe,
    JacobianProbe,
    OutputProbe,
    SpectrumProbe,
    WeightProbe,
)
from engine.probes import GradientReachProbe as Reach
from engine.series import Series
from engine.trainer import LOSS, PPL, VAL_LOSS, VAL_PPL

PLOT_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
GATE_ORDER = ("h", "i", "f", "g", "o", "r", "z", "n")
DIFF_SERIES = (VAL_LOSS, LOSS, VAL_PPL, GRAD_NORM)  # what the difference chart can subtract
QUIET_EVENTS = ("eval",)  # listed only on request: one per evaluation
TALL = ("eig",)  # figure keys drawn taller: the complex plane is square
VIEW_ORDER = ("Training", "Difference", "Gradients", "Spectrum", "Health", "Text & events")
COMPARE_ONLY = ("Difference",)  # views that need several runs
MIN_HEIGHT = 240  # px: a figure fitted to the screen keeps at least this (1.5x fonts leave little plot below)
ROW_GAP = 16  # px between rows of figures (Streamlit's block gap)
PICKERS_H = 58  # px of the row of pickers fitted to a screen (boxes without labels), gap included


@dataclass
class Ctx:
    """How a page wants its charts: its key prefix, the window, and what the pickers chose."""

    key: str  # prefix of widget and chart keys, stable per page and run selection
    mode: str = "live"  # live | compare (compare overlays the runs' gradient histograms)
    last_n: int | None = None  # show only the newest steps
    batches: bool = True  # draw per-batch curves under the moving average
    smoothing: float = charts.SMOOTHING  # moving-average decay per step of the training curves
    following: bool = False  # a live run is being followed: eigenvalues show the newest step
    reference: str | None = None  # compare: the run the differences are taken against
    picks: dict = field(default_factory=dict)  # picker values: param, layer, gate, eig_step, diff_series
    per_row: int = 2  # charts side by side (1 in a narrow column, e.g. beside a lesson's explanation)
    scale: float = 1.0  # font scale of the figures (presenter mode: 1.5)
    screen: int | None = None  # px the pickers and every row of figures must fit in (presenter mode), else free
    overview: bool = False  # one figure per chart: overlays, not a figure per run as well (presenter mode)


def plot(fig, key: str) -> None:
    """One Plotly figure (SVG traces, our own template, not Streamlit's theme)."""
    st.plotly_chart(fig, key=key, theme=None, config=PLOT_CONFIG, width="stretch")


# ---- what the runs hold ------------------------------------------------------------------------


def _names(runs: list[RunSeries]) -> set[str]:
    return {n for r in runs for n in (*r.scalars, *r.arrays)}


def _parts(runs: list[RunSeries], series: Series, part: str) -> set[str]:
    """The values of one part ({layer}, {gate}, {param}) among the runs' names of a series."""
    return {found[part] for n in _names(runs) if (found := series.parts(n)) is not None}


def layers(runs: list[RunSeries]) -> list[int]:
    """Recurrent layers that have spectrum or reach records."""
    found = _parts(runs, SpectrumProbe.RADIUS, "layer") | _parts(runs, Reach.LAST, "layer")
    return sorted(int(v) for v in found) or [0]


def gates(runs: list[RunSeries], layer: int) -> list[str]:
    """Gates of W_h recorded for the layer (rnn: h; gru: r z n; lstm: i f g o)."""
    found = {p["gate"] for n in _names(runs) if (p := SpectrumProbe.RADIUS.parts(n)) and p["layer"] == str(layer)}
    return sorted(found, key=lambda g: GATE_ORDER.index(g) if g in GATE_ORDER else 99) or ["h"]


def params(runs: list[RunSeries]) -> list[str]:
    """Parameters with gradient histograms, recurrent weights first."""
    found = _parts(runs, GradHistogramProbe.HIST, "param")
    return sorted(found, key=lambda p: (0 if "weight_hh" in p else 1, p))


# ---- pickers ---------------------------------------------------------------------------------


def _pick(ctx: Ctx, name: str, label: str, options: list, fmt=str, help: str | None = None, first=None):
    """A selectbox whose choice survives refreshes (stable key) and new options."""
    k = f"{ctx.key}-pick-{name}"
    if options and st.session_state.get(k) not in options:
        st.session_state[k] = first if first in options else options[0]
    shown = "collapsed" if ctx.screen is not None else "visible"  # fitted to a screen: every row counts
    ctx.picks[name] = st.selectbox(label, options, key=k, format_func=fmt, help=help,
                                   label_visibility=shown) if options else None


def pickers(ids: tuple, runs: list[RunSeries], ctx: Ctx) -> bool:
    """Draw the pickers the charts in `ids` need, in one row; False when they need none."""
    needed = {p for c in ids for p in CHARTS[c].pickers}
    wanted = []
    if "param" in needed:
        wanted.append(("param", "parameter", params(runs), str, "Whose gradients the histograms show."))
    if "layer" in needed:
        wanted.append(("layer", "layer", layers(runs), lambda v: f"layer {v}", None))
    if "gate" in needed:
        wanted.append(("gate", "recurrent matrix", None, None, "LSTM and GRU have one W_h block per gate."))
    if "reference" in needed:
        names = {r.run_id: r.name for r in runs}
        have = _names(runs)
        wanted.append(("diff_series", "difference of", [s.name for s in DIFF_SERIES if s.name in have], str, None))
        wanted.append(("reference", "against the run", list(names), names.get, "Differences are taken against it."))
    if not wanted:
        return False
    cols = st.columns(max(3, len(wanted)))
    for col, (name, label, options, fmt, help_) in zip(cols, wanted):
        with col:
            if name == "gate":
                layer = ctx.picks.get("layer") or 0
                options, fmt = gates(runs, layer), _gate_name
            _pick(ctx, name, label, options, fmt, help_, first=ctx.reference if name == "reference" else None)
    if "reference" in ctx.picks:
        ctx.reference = ctx.picks["reference"]
    return True


def _gate_name(g: str) -> str:
    return f"{GATES.get(g, g)} ({g})" if g != "h" else "W_hh"


# ---- charts ----------------------------------------------------------------------------------


def _grad_hist(runs, ctx):
    param = ctx.picks.get("param")
    figs = []
    if (ctx.mode == "compare" or ctx.overview) and len(runs) > 1 and param:
        figs.append(("overlay", charts.grad_histogram_overlay(runs, param, GRAD_HIST_EDGES)))
        if ctx.overview:
            return figs
    return figs + charts.grad_histograms(runs, str(param), GRAD_HIST_EDGES)  # several runs: one colour scale


def _eigen_step(runs, ctx) -> int | None:
    """The snapshot index the eigenvalue plot shows: newest while following, else the slider's."""
    layer, gate = ctx.picks.get("layer") or 0, ctx.picks.get("gate") or "h"
    key = SpectrumProbe.EIG.at(layer=layer, gate=gate)
    steps = next((r.arrays[key][0] for r in runs if key in r.arrays), [])
    if ctx.following or len(steps) < 2:
        return None
    options = [int(s) for s in steps]
    k = f"{ctx.key}-eigstep"
    if st.session_state.get(k) not in options:
        st.session_state[k] = options[-1]
    step = st.select_slider(
        "probe step of the eigenvalue plot", options, key=k, help="Scrub through the spectra recorded during training."
    )
    return options.index(step)


def _eigen(runs, ctx):
    index = _eigen_step(runs, ctx)
    layer, gate = ctx.picks.get("layer") or 0, ctx.picks.get("gate") or "h"
    return [("eig", charts.eigenvalue_figure(runs, layer, gate, step_index=index))]


def _reach(runs, ctx):
    layer = ctx.picks.get("layer") or 0
    figs = [("profile", charts.reach_profile_figure(runs, layer))]
    if ctx.overview and len(runs) > 1:
        return figs
    return figs + charts.reach_heatmaps(runs, layer)


def _weight_params(runs) -> list[str] | None:
    """Every parameter for one run; for several, only the recurrent matrices (else ~15 lines per run)."""
    if len(runs) < 2:
        return None
    names = _parts(runs, WeightProbe.NORM, "param")
    return sorted(n for n in names if "weight_hh" in n) or None


def _difference(runs, ctx):
    name, ref = ctx.picks.get("diff_series"), ctx.reference
    if not name or not ref or len(runs) < 2:
        return []
    return [("diff", charts.difference_figure(runs, ref, name, ctx.last_n, ctx.smoothing))]


def _spectrum(runs, ctx):
    layer, gate = ctx.picks.get("layer") or 0, ctx.picks.get("gate") or "h"
    return [("spec", charts.spectrum_over_time_figure(runs, layer, gate, ctx.last_n))]


def _jacobian(runs, ctx):
    return [("jac", charts.jacobian_figure(runs, ctx.picks.get("layer") or 0, ctx.last_n))]


@dataclass(frozen=True)
class Chart:
    """One chart, declared once: its id, the views that show it, what it reads, how it is made."""

    id: str  # the id lessons name in their `charts`
    views: tuple[str, ...]  # the Live/Compare views that show it (VIEW_ORDER)
    reads: tuple[Series, ...]  # the series it draws; the page loads these and no others
    build: Callable | None = None  # (runs, ctx) -> [(key suffix, go.Figure)]: pure figure builders
    draw: Callable | None = None  # (runs, ctx, texts) -> None: drawn with streamlit instead (samples, events)
    pickers: tuple[str, ...] = ()  # the pickers it needs: param, layer, gate, reference
    wide: bool = False  # takes a whole row (a legend entry per parameter)
    smooths: tuple[Series, ...] = ()  # series it draws as a moving average: loaded as bucket means too


def figures(ids, runs: list[RunSeries], ctx: Ctx) -> list[tuple[str, object, bool]]:
    """(key, figure, wide) of every chart in `ids`, in order, fitted to their cells (pickers drawn first)."""
    out = []
    for chart in (CHARTS[c] for c in ids if CHARTS[c].build is not None):
        for suffix, fig in chart.build(runs, ctx):
            wide = chart.wide or ctx.per_row == 1
            # fitted to the screen (presenter) the legend stays on the right: width is what a wide screen has spare
            fig = fit(fig, half=not wide and ctx.screen is None, tall=suffix in TALL)
            out.append((f"{ctx.key}-{chart.id}-{suffix}", enlarge(fig, ctx.scale), wide))
    return out


def per_row(figs: list, ctx: Ctx) -> int:
    """Figures side by side: two, or three when fitting more than four to the screen."""
    return 3 if ctx.screen is not None and len(figs) > 4 else 2


def fit_screen(figs: list, grid: list[list], screen: int) -> None:
    """Give every figure the same height, so that the rows of `grid` fill `screen` px (presenter mode)."""
    h = max(MIN_HEIGHT, screen // max(1, len(grid)) - ROW_GAP)
    for _, fig, _ in figs:
        fig.layout.height = h


def rows(figs: list[tuple[str, object, bool]], n: int = 2) -> list[list]:
    """Group figures into rows: `n` narrow ones, or one wide one."""
    out, row = [], []
    for item in figs:
        if item[2]:
            out += [row] if row else []
            out.append([item])
            row = []
            continue
        row.append(item)
        if len(row) == n:
            out.append(row)
            row = []
    return out + ([row] if row else [])


def draw(ids, runs: list[RunSeries], ctx: Ctx, texts: dict | None = None) -> None:
    """Pickers, then the figures two (or three) to a row (wide ones alone), then samples and events when asked for."""
    ids = tuple(ids)
    picked = pickers(ids, runs, ctx)
    figs = figures(ids, runs, ctx)
    n = per_row(figs, ctx)
    grid = rows(figs, n)
    if ctx.screen is not None:
        fit_screen(figs, grid, ctx.screen - (PICKERS_H if picked else 0))
    for row in grid:
        cols = st.columns(1 if row[0][2] else n)
        for col, (key, fig, _) in zip(cols, row):
            with col:
                plot(fig, key)
    for chart in (CHARTS[c] for c in ids if CHARTS[c].draw is not None):
        chart.draw(runs, ctx, texts or {})


def samples(runs: list[RunSeries], ctx: Ctx, texts: dict) -> None:
    """The newest text samples of each run (every sample_every steps and at the end, text tasks)."""
    st.markdown("#### Text samples")
    cols = st.columns(min(2, max(1, len(runs))))
    for i, run in enumerate(runs):
        with cols[i % len(cols)]:
            st.markdown(f"**{text(run.name)}**")
            shown = texts.get(run.run_id, [])[-3:][::-1]
            if not shown:
                st.caption("no samples yet: text tasks sample every sample_every steps and at the end")
            for step, sample in shown:
                st.caption(f"step {step:,}")
                st.code(sample, language=None, wrap_lines=True)


def events_table(runs: list[RunSeries], ctx: Ctx, texts: dict) -> None:
    """Every event of the shown runs: epochs, live edits, plateau cuts, forks, divergence, diagnoses."""
    st.markdown("#### Events")
    show_all = st.checkbox("include evaluations", key=f"{ctx.key}-allevents")
    rows = [
        {"run": r.name, "step": e.step, "kind": e.kind, "message": e.message}
        for r in runs
        for e in r.events
        if show_all or e.kind not in QUIET_EVENTS
    ]
    if not rows:
        st.caption("no events yet")
        return
    table = pd.DataFrame(rows).sort_values(["step", "run"], kind="stable")
    st.dataframe(table, hide_index=True, width="stretch", height=min(400, 38 + 35 * len(table)))


# ---- the registry ------------------------------------------------------------------------------

CHARTS: dict[str, Chart] = {c.id: c for c in (
    Chart("perplexity", ("Training",), (PPL, VAL_PPL, FULL_PPL),
          lambda runs, c: [("ppl", charts.perplexity_figure(runs, c.last_n, show_batches=c.batches,
                                                           smoothing=c.smoothing))], smooths=(LOSS,)),
    Chart("difference", ("Difference",), DIFF_SERIES, _difference, pickers=("reference",), smooths=(LOSS, GRAD_NORM)),
    Chart("loss", ("Training", "Difference"), (LOSS, VAL_LOSS, FULL_LOSS),
          lambda runs, c: [("loss", charts.loss_figure(runs, c.last_n, show_batches=c.batches, smoothing=c.smoothing))],
          smooths=(LOSS,)),
    Chart("lr", ("Training",), (LR, PLATEAU_BAD, PLATEAU_BEST),
          lambda runs, c: [("lr", charts.lr_figure(runs, c.last_n))]),
    Chart("grad_norm", ("Training",), (GRAD_NORM, GRAD_NORM_CLIPPED, GRAD_CLIPPED),
          lambda runs, c: [("gn", charts.grad_norm_figure(runs, c.last_n))]),
    Chart("grad_hist", ("Gradients",), (GradHistogramProbe.HIST,), _grad_hist, pickers=("param",)),
    Chart("reach", ("Gradients",), (Reach.LAST, Reach.SUM, JacobianProbe.RADIUS), _reach, pickers=("layer",)),
    Chart("eigen", ("Spectrum",), (SpectrumProbe.EIG,), _eigen, pickers=("layer", "gate")),
    Chart("jacobian", ("Spectrum",), (JacobianProbe.SIGMA_MAX, JacobianProbe.RADIUS, JacobianProbe.SV), _jacobian,
          pickers=("layer",)),
    Chart("spectrum", ("Spectrum",), (SpectrumProbe.RADIUS, SpectrumProbe.SIGMA_MAX), _spectrum,
          pickers=("layer", "gate")),
    Chart("saturation", ("Health",), HiddenProbe.series,
          lambda runs, c: [("sat", charts.saturation_figure(runs, c.last_n))]),
    Chart("logits", ("Health",), OutputProbe.series, lambda runs, c: [("logits", charts.logit_figure(runs, c.last_n))]),
    Chart("weights", ("Health",), (WeightProbe.NORM, WeightProbe.RATIO, WeightProbe.RATIO_ALL),
          lambda runs, c: [("weights", charts.weights_figure(runs, _weight_params(runs), c.last_n))], wide=True),
    Chart("samples", ("Text & events",), (), draw=samples),
    Chart("events", ("Text & events",), (), draw=events_table),
)}


def views(mode: str) -> dict[str, tuple[str, ...]]:
    """{view: chart ids} for a page: 'live' (one or more runs) or 'compare' (adds the Difference view)."""
    out = {}
    for view in VIEW_ORDER:
        ids = tuple(c.id for c in CHARTS.values() if view in c.views)
        if ids and (mode == "compare" or view not in COMPARE_ONLY):
            out[view] = ids
    return out


def reads(ids) -> tuple[Series, ...]:
    """Every series the charts `ids` read, once each."""
    return tuple(dict.fromkeys(s for c in ids for s in CHARTS[c].reads))


def smooths(ids) -> tuple[Series, ...]:
    """Every series the charts `ids` draw as a moving average, once each."""
    return tuple(dict.fromkeys(s for c in ids for s in CHARTS[c].smooths))
