"""How far back in time the gradient reaches: ||dL_T/dh_t|| against the steps back from the end, as each
run's latest profile (with what its measured state Jacobians predict) and as a heatmap over training.

One orientation everywhere: x is T − t, the steps back from the last position, on a reversed axis,
so the last position (where the loss is) sits on the right and earlier steps run to the left, as a
sequence reads; profiles of different lengths line up at their ends. In a comparison the heatmaps
share one colour scale, so equal colours mean equal gradients.
"""

import numpy as np
import plotly.graph_objects as go

from app.charts.base import MAX_POINTS, STEP_TITLE, RunSeries, colors, finish, layout, line, revision
from engine.probes import GradientReachProbe as Reach
from engine.probes import JacobianProbe
from engine.smoothing import evenly

STEPS_BACK = "steps back from the last position, T − t  (← earlier)"
STATE_IS_H = ("rnn_tanh", "rnn_relu", "gru")  # cells whose whole state is h: ||dL/dh_t|| is the state's gradient
PREDICTION = "dotted: ρ^(T−t), ρ of the mean measured state Jacobian: assumes<br>every step has that same Jacobian"
KEEP_DECADES = 3  # a prediction is drawn only within 10^3 of the measured profiles, so it cannot squash them


def _stack_right(profiles) -> np.ndarray:
    """Profiles of possibly different lengths -> (S, T) aligned at t = T (the last position), NaN padded."""
    rows = [np.asarray(p, dtype=float).ravel() for p in profiles]
    T = max((len(p) for p in rows), default=0)
    out = np.full((len(rows), T), np.nan)
    for i, p in enumerate(rows):
        out[i, T - len(p) :] = p
    return out


def _log10(P: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(P > 0, np.log10(P), np.nan)


def reach_heatmap_figure(steps, profiles, layer: int = 0, label: str = "", zrange=None) -> go.Figure:
    """log10 ||dL_T/dh_t|| with x = steps back from the end (T − t), y = training step; zrange fixes the colours."""
    steps = np.asarray(steps)
    P = _stack_right(profiles) if len(steps) else np.zeros((0, 0))  # (S, T), column T - 1 is t = T
    keep = evenly(len(P), MAX_POINTS // 2)  # the newest row kept
    steps, P = steps[keep], P[keep]
    traces = []
    if P.size:
        lo, hi = zrange if zrange is not None else (None, None)
        traces.append(
            go.Heatmap(
                x=np.arange(P.shape[1]),  # k = T - t steps back
                y=steps,
                z=_log10(P[:, ::-1]),  # column k holds t = T - k
                zmin=lo,
                zmax=hi,
                colorscale="Viridis",
                colorbar=dict(title=dict(text="log10 ‖∂L_T/∂h_t‖", side="right")),
                hovertemplate="T − t = %{x}<br>step %{y}<br>log10 norm %{z:.2f}<extra></extra>",
            )
        )
    title = f"Gradient reach back in time (layer {layer})" + (f" · {label}" if label else "")
    subtitle = "L_T: the loss at the last position alone · brighter: more gradient reaches h_t"
    if zrange is not None:
        subtitle += "<br>one colour scale for every run shown"
    lay = layout(title, STEPS_BACK, STEP_TITLE, f"reach_heatmap:{layer}:{label}", subtitle=subtitle)
    lay["xaxis"]["autorange"] = "reversed"
    return finish(traces, lay)


def reach_heatmaps(runs: list[RunSeries], layer: int = 0) -> list[tuple[str, go.Figure]]:
    """(run id, heatmap) per run; with several runs, on one colour range: the extremes over them all."""
    data = [(r, *r.arrays.get(Reach.LAST.at(layer=layer), (np.zeros(0), []))) for r in runs]
    zrange = None
    if len(runs) > 1:
        z = [_log10(np.asarray(p, dtype=float)) for _, _, profiles in data for p in profiles]
        z = np.concatenate([v.ravel() for v in z]) if z else np.zeros(0)
        z = z[np.isfinite(z)]
        zrange = (float(z.min()), float(z.max())) if len(z) else None
    label = (lambda r: r.name) if len(runs) > 1 else (lambda r: "")
    return [(r.run_id, reach_heatmap_figure(steps, profiles, layer, label(r), zrange)) for r, steps, profiles in data]


def predicted_reach(run: RunSeries, layer: int, step: int, last: np.ndarray) -> np.ndarray | None:
    """||dL_T/dh_T|| ρ^(T−t) for t = 1..T, ρ the spectral radius of the mean state Jacobian measured at `step`.

    Only where ||dL_T/dh_t|| is the whole state's gradient and flows back through this layer alone:
    a cell whose state is h (vanilla RNNs, GRU), top layer. None elsewhere, or without a measurement.
    """
    if run.cell not in STATE_IS_H or Reach.LAST.at(layer=layer + 1) in run.arrays or not np.isfinite(last[-1]):
        return None
    radius = run.series(JacobianProbe.RADIUS.at(layer=layer), max_points=None)
    if radius is None:
        return None
    j = int(np.searchsorted(radius[0], step, side="right")) - 1  # the measurement at or before the profile's step
    if j < 0:
        return None
    back = np.arange(len(last))[::-1].astype(float)  # T − t for t = 1..T
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return last[-1] * radius[1][j] ** back


def _within_measured(pred: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """The prediction, NaN where it leaves the measured values' range by more than KEEP_DECADES decades."""
    finite = measured[np.isfinite(measured) & (measured > 0)]
    if not finite.size:
        return np.full_like(pred, np.nan)
    lo, hi = finite.min() / 10**KEEP_DECADES, finite.max() * 10**KEEP_DECADES
    return np.where((pred >= lo) & (pred <= hi), pred, np.nan)


def reach_profile_figure(runs: list[RunSeries], layer: int = 0) -> go.Figure:
    """The latest ||dL/dh_t|| profile of each run (last-position and summed loss), and the predicted decay."""
    traces, shown, predicted = [], [], False
    for run, color in zip(runs, colors(runs)):
        last, total = run.snapshot(Reach.LAST.at(layer=layer)), run.snapshot(Reach.SUM.at(layer=layer))
        for snap, dash, what in ((last, "solid", "loss at last position"), (total, "dash", "summed loss")):
            if snap is None:
                continue
            traces.append(
                line(
                    np.arange(len(snap[1]))[::-1],  # T − t
                    snap[1],
                    f"{run.name}: {what}",
                    color,
                    dash=dash,
                    legendgroup=run.run_id,
                    hovertemplate=f"{run.name}, {what}<br>T − t = %{{x}}<br>‖∂L/∂h_t‖ %{{y:.3g}}<extra></extra>",
                )
            )
        if last is None:
            continue
        shown.append(last[0])
        pred = predicted_reach(run, layer, *last)
        if pred is not None:
            predicted = True
            traces.append(
                line(
                    np.arange(len(pred))[::-1],
                    _within_measured(pred, last[1]),
                    f"{run.name}: predicted ρ^(T−t)",
                    color,
                    width=1.5,
                    dash="dot",
                    legendgroup=run.run_id,
                    hovertemplate=f"{run.name}, predicted<br>T − t = %{{x}}<br>%{{y:.3g}}<extra></extra>",
                )
            )
    at = f" · step {shown[0]}" if shown else ""
    subtitle = "solid: last-position loss (shows vanishing) · dashed: summed loss (hides it)"
    if predicted:
        subtitle += "<br>" + PREDICTION
    lay = layout(
        f"Gradient reach (layer {layer}){at}",
        STEPS_BACK,
        "‖∂L/∂h_t‖ (gradient norm)",
        revision(f"reach:{layer}", runs),
        log_y=True,
        subtitle=subtitle,
    )
    lay["xaxis"]["autorange"] = "reversed"
    return finish(traces, lay)
