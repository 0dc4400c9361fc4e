"""Health of the network: gradient histograms over time, saturation, logits, weights and updates."""

import numpy as np
import plotly.graph_objects as go

from app.charts.base import (
    DASHES,
    MAX_POINTS,
    PALETTE,
    STEP_TITLE,
    RunSeries,
    colors,
    finish,
    layout,
    line,
    revision,
    two_panels,
    view_start,
)
from app.charts.marks import (
    hline,
)
from engine.probes import GradHistogramProbe, HiddenProbe, OutputProbe, WeightProbe
from engine.series import Series
from engine.smoothing import evenly


def grad_histogram_figure(steps, counts, edges, param_name: str, zmax: float | None = None) -> go.Figure:
    """Histogram of log10 |g| over training: x = step, y = bin centre, colour = log(1 + count) from 0 to zmax."""
    steps, counts, edges = np.asarray(steps), np.asarray(counts, dtype=float), np.asarray(edges, dtype=float)
    traces = []
    if len(steps) and counts.ndim == 2 and counts.shape == (len(steps), len(edges) - 1):
        keep = evenly(len(steps), MAX_POINTS)  # evenly spaced columns, newest kept
        steps, counts = steps[keep], counts[keep]
        traces.append(
            go.Heatmap(
                x=steps,
                y=(edges[1:] + edges[:-1]) / 2,
                z=np.log1p(counts).T,
                zmin=0,
                zmax=zmax,
                colorscale="Viridis",
                colorbar=dict(title=dict(text="log(1+count)", side="right")),
                hovertemplate="step %{x}<br>log10|g| %{y:.2f}<br>log(1+count) %{z:.2f}<extra></extra>",
            )
        )
    lay = layout(
        f"Gradient magnitudes over training: {param_name}",
        STEP_TITLE,
        "log10 |gradient| (bin centre)",
        f"grad_hist:{param_name}",
        subtitle="one column per probe step · fixed bins" + (" · one colour scale for every run" if zmax else ""),
    )
    return finish(traces, lay)


def grad_histograms(runs: list[RunSeries], param: str, edges) -> list[tuple[str, go.Figure]]:
    """(run id, histogram heatmap) per run; with several runs, on one colour range: 0 to the largest log(1+count)."""
    edges = np.asarray(edges, dtype=float)
    data = []
    for run in runs:
        steps, counts = run.arrays.get(GradHistogramProbe.HIST.at(param=param), (np.zeros(0), []))
        data.append((run, steps, np.stack(counts) if len(counts) else np.zeros((0, len(edges) - 1))))
    zmax = None
    if len(runs) > 1:
        zmax = max((float(np.log1p(c).max()) for _, _, c in data if c.size), default=None)
    return [
        (run.run_id, grad_histogram_figure(steps, z, edges, f"{param} · {run.name}" if len(runs) > 1 else param, zmax))
        for run, steps, z in data
    ]


def grad_histogram_overlay(runs: list[RunSeries], param: str, edges) -> go.Figure:
    """The latest gradient histogram of each run as lines, overlaid (TensorBoard cannot: TB #6206)."""
    edges = np.asarray(edges, dtype=float)
    centres = (edges[1:] + edges[:-1]) / 2
    traces = []
    for run, color in zip(runs, colors(runs)):
        snap = run.snapshot(GradHistogramProbe.HIST.at(param=param))
        if snap is None or len(snap[1]) != len(centres) or snap[1].sum() <= 0:
            continue
        step, counts = snap
        traces.append(
            line(
                centres,
                counts / counts.sum(),
                f"{run.name} (step {step})",
                color,
                line_shape="hvh",
                hovertemplate=f"{run.name}<br>log10|g| %{{x:.2f}}<br>share %{{y:.3f}}<extra></extra>",
            )
        )
    lay = layout(
        f"Gradient magnitudes, runs overlaid: {param}",
        "log10 |gradient| (bin centre)",
        "share of entries per bin (0–1)",
        revision(f"grad_overlay:{param}", runs),
        subtitle="the latest histogram of each run",
    )
    return finish(traces, lay)


def _named(run: RunSeries, series: Series) -> list[str]:
    """The run's scalar names of one declared series, in sorted order."""
    return sorted(n for n in run.scalars if series.matches(n))


def _saturation_trace(run: RunSeries, color: str, xy, word: str, layer: int) -> dict:
    name = f"{run.name} {word} l{layer}"
    return line(*xy, name, color, dash=DASHES[layer % len(DASHES)], legendgroup=run.run_id,
                hovertemplate=f"{run.name}, {word} l{layer}<br>step %{{x}}<br>share %{{y:.3f}}<extra></extra>")


def saturation_figure(runs: list[RunSeries], last_n: int | None = None) -> go.Figure:
    """Share of saturated hidden units (|h| > 0.99, tanh) or dead units (ReLU) per layer over steps."""
    start = view_start(runs, last_n)
    traces = []
    for run, color in zip(runs, colors(runs)):
        for series, word in ((HiddenProbe.SATURATION, "saturated"), (HiddenProbe.DEAD, "dead")):
            for name in _named(run, series):
                xy = run.series(name, start)
                if xy is None:
                    continue
                layer = int(series.parts(name)["layer"])
                traces.append(_saturation_trace(run, color, xy, word, layer))
    lay = layout(
        "Hidden units: saturated (|h| > 0.99) or dead (ReLU)",
        STEP_TITLE,
        "share of hidden units (0–1)",
        revision("saturation", runs),
        subtitle="solid: layer 0 · dashed: layer 1 · dotted: layer 2",
    )
    lay["yaxis"].update(range=[0, 1.02], autorange=False)
    return finish(traces, lay)


def logit_figure(runs: list[RunSeries], last_n: int | None = None) -> go.Figure:
    """Predictive entropy against ln|V| (top) and the logit scale (bottom) over steps."""
    start = view_start(runs, last_n)
    traces = []
    for run, color in zip(runs, colors(runs)):
        entropy, scale = run.series(OutputProbe.ENTROPY.name, start), run.series(OutputProbe.LOGIT_SCALE.name, start)
        if entropy is not None:
            traces.append(
                line(
                    *entropy,
                    f"{run.name} entropy",
                    color,
                    legendgroup=run.run_id,
                    hovertemplate=f"{run.name}<br>step %{{x}}<br>entropy %{{y:.3f}} nats<extra></extra>",
                )
            )
        if scale is not None:
            traces.append(
                line(
                    *scale,
                    f"{run.name} logit std",
                    color,
                    dash="dash",
                    yaxis="y2",
                    legendgroup=run.run_id,
                    hovertemplate=f"{run.name}<br>step %{{x}}<br>logit std %{{y:.3f}}<extra></extra>",
                )
            )
    lay = layout(
        "Output: predictive entropy and logit scale",
        STEP_TITLE,
        "entropy (nats)",
        revision("logits", runs),
        subtitle="top: mean entropy of the prediction · bottom: std of the logits",
    )
    two_panels(lay, "logit std (logit units)", split=0.4)
    for value in sorted({r.baselines["uniform_loss"] for r in runs if r.baselines.get("uniform_loss")}):
        hline(lay, value, f"ln|V| = {value:.2f} (uniform guess)")
    return finish(traces, lay)


def weights_figure(runs: list[RunSeries], params: list[str] | None = None, last_n: int | None = None) -> go.Figure:
    """Weight norm per parameter (top) and update-to-weight ratio (bottom, log) over steps."""
    start = view_start(runs, last_n)
    names = list(dict.fromkeys(WeightProbe.NORM.parts(n)["param"] for r in runs for n in _named(r, WeightProbe.NORM)))
    names = [n for n in names if params is None or n in params]
    single = len(runs) == 1
    traces = []
    for run, color in zip(runs, colors(runs)):
        for i, param in enumerate(names):
            c, dash = (PALETTE[i % len(PALETTE)], "solid") if single else (color, DASHES[i % len(DASHES)])
            label = param if single else f"{run.name} {param}"
            for series, yaxis in ((WeightProbe.NORM.at(param=param), "y"), (WeightProbe.RATIO.at(param=param), "y2")):
                xy = run.series(series, start)
                if xy is not None:
                    traces.append(
                        line(
                            *xy,
                            label,
                            c,
                            width=1.5,
                            dash=dash,
                            yaxis=yaxis,
                            legendgroup=label,
                            showlegend=yaxis == "y",
                            hovertemplate=f"{label}<br>step %{{x}}<br>%{{y:.3g}}<extra></extra>",
                        )
                    )
        total = run.series(WeightProbe.RATIO_ALL.name, start)
        if total is not None:
            traces.append(
                line(
                    *total,
                    f"{run.name} all parameters",
                    "#222222" if single else color,
                    width=3,
                    yaxis="y2",
                    hovertemplate="all parameters<br>step %{x}<br>%{y:.3g}<extra></extra>",
                )
            )
    lay = layout(
        "Weights and updates",
        STEP_TITLE,
        "‖W‖ (Frobenius norm)",
        revision("weights", runs),
        subtitle="top: weight norm · bottom: update-to-weight ratio ‖ΔW‖/‖W‖ per step",
    )
    two_panels(lay, "‖ΔW‖/‖W‖ (per step)", log_bottom=True, split=0.45)
    hline(lay, 1e-3, "1e-3: rule of thumb", yref="y2", color="#999999")
    return finish(traces, lay)
