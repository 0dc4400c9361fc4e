"""The chart grid shared by the Live, Compare and Lessons pages: chart ids -> figures on the page.

Chart ids are the ones lessons name (engine/lessons.py `charts`): perplexity, loss, lr,
grad_norm, grad_hist, eigen, spectrum, reach, saturation, logits, weights; plus difference
(Compare), samples and events. `draw(ids, runs, ctx)` draws the pickers the charts need
(parameter, layer, gate, probe step, reference run), then the figures two to a row. Figures
come from the pure builders in app/charts.py; keys are stable per page, runs and chart, so a
refresh replaces a chart rather than adding one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import streamlit as st

from app import charts
from app.charts import RunSeries
from app.charts.fit import fit
from app.charts.spectrum import GATES
from engine.probes import GRAD_HIST_EDGES

PLOT_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
GATE_ORDER = ("h", "i", "f", "g", "o", "r", "z", "n")
DIFF_SERIES = ("val/loss", "train/loss_ema", "val/ppl", "train/ppl_ema", "grad/norm")
QUIET_EVENTS = ("eval",)  # listed only on request: one per evaluation
WIDE = ("weights",)  # charts that take a whole row (a legend entry per parameter)
TALL = ("eig",)  # figure keys drawn taller: the complex plane is square


@dataclass
class Ctx:
    """How a page wants its charts: its key prefix, the window, and what the pickers chose."""

    key: str  # prefix of widget and chart keys, stable per page and run selection
    mode: str = "live"  # live | compare | lesson
    last_n: int | None = None  # show only the newest steps
    batches: bool = True  # draw per-batch curves under the moving average
    following: bool = False  # a live run is being followed: eigenvalues show the newest step
    reference: str | None = None  # compare: the run the differences are taken against
    picks: dict = field(default_factory=dict)  # picker values: param, layer, gate, eig_step, diff_series
    per_row: int = 2  # charts side by side (1 in a narrow column, e.g. beside a lesson's explanation)


def plot(fig, key: str) -> None:
    """One Plotly figure (SVG traces, our own template, not Streamlit's theme)."""
    st.plotly_chart(fig, key=key, theme=None, config=PLOT_CONFIG, width="stretch")


# ---- what the runs hold ------------------------------------------------------------------------


def _names(runs: list[RunSeries]) -> set[str]:
    return {n for r in runs for n in (*r.scalars, *r.arrays)}


def layers(runs: list[RunSeries]) -> list[int]:
    """Recurrent layers that have spectrum or reach records."""
    found = {int(m.group(1)) for n in _names(runs) if (m := re.search(r"/l(\d+)(/|$)", n))}
    return sorted(found) or [0]


def gates(runs: list[RunSeries], layer: int) -> list[str]:
    """Gates of W_h recorded for the layer (rnn: h; gru: r z n; lstm: i f g o)."""
    found = {n.rsplit("/", 1)[1] for n in _names(runs) if n.startswith(f"spectrum/radius/l{layer}/")}
    return sorted(found, key=lambda g: GATE_ORDER.index(g) if g in GATE_ORDER else 99) or ["h"]


def params(runs: list[RunSeries]) -> list[str]:
    """Parameters with gradient histograms, recurrent weights first."""
    found = {n.split("/", 1)[1] for r in runs for n in r.arrays if n.startswith("grad_hist/")}
    return sorted(found, key=lambda p: (0 if "weight_hh" in p else 1, p))


# ---- pickers ---------------------------------------------------------------------------------


def _pick(ctx: Ctx, name: str, label: str, options: list, fmt=str, help: str | None = None, first=None):
    """A selectbox whose choice survives refreshes (stable key) and new options."""
    k = f"{ctx.key}-pick-{name}"
    if options and st.session_state.get(k) not in options:
        st.session_state[k] = first if first in options else options[0]
    ctx.picks[name] = st.selectbox(label, options, key=k, format_func=fmt, help=help) if options else None


def pickers(ids: tuple, runs: list[RunSeries], ctx: Ctx) -> None:
    """Draw the pickers the charts in `ids` need, in one row."""
    wanted = []
    if "grad_hist" in ids:
        wanted.append(("param", "parameter", params(runs), str, "Whose gradients the histograms show."))
    if {"eigen", "spectrum", "reach"} & set(ids):
        wanted.append(("layer", "layer", layers(runs), lambda v: f"layer {v}", None))
    if {"eigen", "spectrum"} & set(ids):
        wanted.append(("gate", "recurrent matrix", None, None, "LSTM and GRU have one W_h block per gate."))
    if "difference" in ids:
        names = {r.run_id: r.name for r in runs}
        wanted.append(("diff_series", "difference of", [n for n in DIFF_SERIES if n in _names(runs)], str, None))
        wanted.append(("reference", "against the run", list(names), names.get, "Differences are taken against it."))
    if not wanted:
        return
    cols = st.columns(max(3, len(wanted)))
    for col, (name, label, options, fmt, help_) in zip(cols, wanted):
        with col:
            if name == "gate":
                layer = ctx.picks.get("layer") or 0
                options, fmt = gates(runs, layer), _gate_name
            _pick(ctx, name, label, options, fmt, help_, first=ctx.reference if name == "reference" else None)
    if "reference" in ctx.picks:
        ctx.reference = ctx.picks["reference"]


def _gate_name(g: str) -> str:
    return f"{GATES.get(g, g)} ({g})" if g != "h" else "W_hh"


# ---- charts ----------------------------------------------------------------------------------


def _grad_hist(runs, ctx):
    param = ctx.picks.get("param")
    figs = []
    if ctx.mode == "compare" and len(runs) > 1 and param:
        figs.append(("overlay", charts.grad_histogram_overlay(runs, param, GRAD_HIST_EDGES)))
    for run in runs:
        steps, counts = run.arrays.get(f"grad_hist/{param}", (np.zeros(0), []))
        z = np.stack(counts) if len(counts) else np.zeros((0, len(GRAD_HIST_EDGES) - 1))
        title = f"{param} · {run.name}" if len(runs) > 1 else str(param)
        figs.append((run.run_id, charts.grad_histogram_figure(steps, z, GRAD_HIST_EDGES, title)))
    return figs


def _eigen_step(runs, ctx) -> int | None:
    """The snapshot index the eigenvalue plot shows: newest while following, else the slider's."""
    layer, gate = ctx.picks.get("layer") or 0, ctx.picks.get("gate") or "h"
    steps = next((r.arrays[k][0] for r in runs if (k := f"spectrum/eig/l{layer}/{gate}") in r.arrays), [])
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
    for run in runs:
        steps, profiles = run.arrays.get(f"reach/last/l{layer}", (np.zeros(0), []))
        figs.append(
            (run.run_id, charts.reach_heatmap_figure(steps, profiles, layer, run.name if len(runs) > 1 else ""))
        )
    return figs


def _weight_params(runs) -> list[str] | None:
    """Every parameter for one run; for several, only the recurrent matrices (else ~15 lines per run)."""
    if len(runs) < 2:
        return None
    names = {n.split("/", 1)[1] for r in runs for n in r.scalars if n.startswith("weight_norm/")}
    return sorted(n for n in names if "weight_hh" in n) or None


def _difference(runs, ctx):
    name, ref = ctx.picks.get("diff_series"), ctx.reference
    if not name or not ref or len(runs) < 2:
        return []
    return [("diff", charts.difference_figure(runs, ref, name, ctx.last_n))]


FIGURES = {
    "perplexity": lambda runs, c: [("ppl", charts.perplexity_figure(runs, c.last_n, show_batches=c.batches))],
    "loss": lambda runs, c: [("loss", charts.loss_figure(runs, c.last_n, show_batches=c.batches))],
    "lr": lambda runs, c: [("lr", charts.lr_figure(runs, c.last_n))],
    "grad_norm": lambda runs, c: [("gn", charts.grad_norm_figure(runs, c.last_n))],
    "grad_hist": _grad_hist,
    "eigen": _eigen,
    "spectrum": lambda runs, c: [
        (
            "spec",
            charts.spectrum_over_time_figure(runs, c.picks.get("layer") or 0, c.picks.get("gate") or "h", c.last_n),
        )
    ],
    "reach": _reach,
    "saturation": lambda runs, c: [("sat", charts.saturation_figure(runs, c.last_n))],
    "logits": lambda runs, c: [("logits", charts.logit_figure(runs, c.last_n))],
    "weights": lambda runs, c: [("weights", charts.weights_figure(runs, _weight_params(runs), c.last_n))],
    "difference": _difference,
}


def figures(ids, runs: list[RunSeries], ctx: Ctx) -> list[tuple[str, object, bool]]:
    """(key, figure, wide) of every chart in `ids`, in order, fitted to their cells (pickers drawn first)."""
    out = []
    for chart in ids:
        for suffix, fig in FIGURES.get(chart, lambda r, c: [])(runs, ctx):
            wide = chart in WIDE or ctx.per_row == 1
            out.append((f"{ctx.key}-{chart}-{suffix}", fit(fig, half=not wide, tall=suffix in TALL), wide))
    return out


def rows(figs: list[tuple[str, object, bool]]) -> list[list]:
    """Group figures into rows: two half-width ones, or one wide one."""
    out, row = [], []
    for item in figs:
        if item[2]:
            out += [row] if row else []
            out.append([item])
            row = []
            continue
        row.append(item)
        if len(row) == 2:
            out.append(row)
            row = []
    return out + ([row] if row else [])


def draw(ids, runs: list[RunSeries], ctx: Ctx, texts: dict | None = None) -> None:
    """Pickers, then the figures two to a row (wide ones alone), then samples and events when asked for."""
    ids = tuple(ids)
    pickers(ids, runs, ctx)
    for row in rows(figures(ids, runs, ctx)):
        cols = st.columns(1 if row[0][2] else 2)
        for col, (key, fig, _) in zip(cols, row):
            with col:
                plot(fig, key)
    if "samples" in ids:
        samples(runs, texts or {})
    if "events" in ids:
        events_table(runs, ctx)


def samples(runs: list[RunSeries], texts: dict) -> None:
    """The newest text samples of each run (generated at each evaluation)."""
    st.markdown("#### Text samples")
    cols = st.columns(min(2, max(1, len(runs))))
    for i, run in enumerate(runs):
        with cols[i % len(cols)]:
            st.markdown(f"**{run.name}**")
            shown = texts.get(run.run_id, [])[-3:][::-1]
            if not shown:
                st.caption("no samples yet: the first comes with the first evaluation (text tasks only)")
            for step, text in shown:
                st.caption(f"step {step:,}")
                st.code(text, language=None, wrap_lines=True)


def events_table(runs: list[RunSeries], ctx: Ctx) -> None:
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
