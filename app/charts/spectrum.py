"""The recurrence itself: W_h's eigenvalues against the unit circle, its spectrum over training,
and how far back in time the gradient reaches (||dL_T/dh_t|| for t = 1..T)."""

import numpy as np
import plotly.graph_objects as go

from app.charts.base import (
    MAX_POINTS,
    REFERENCE,
    STEP_TITLE,
    RunSeries,
    colors,
    finish,
    layout,
    line,
    revision,
    view_start,
)
from app.charts.marks import (
    hline,
)
from engine.probes import GradientReachProbe as Reach
from engine.probes import SpectrumProbe
from engine.smoothing import evenly

GATES = {
    "h": "W_hh",
    "i": "input gate",
    "f": "forget gate",
    "g": "cell candidate",
    "o": "output gate",
    "r": "reset gate",
    "z": "update gate",
    "n": "candidate",
}
PASCANU = "σ_max < 1 ⇒ vanishing · ρ > 1 needed to explode (Pascanu 2013)"


def _eigs(values: np.ndarray) -> np.ndarray:
    """(n, 2) real and imaginary parts -> (n,) complex."""
    v = np.asarray(values, dtype=float).reshape(-1, 2)
    return v[:, 0] + 1j * v[:, 1]


def eigenvalue_figure(
    runs: list[RunSeries], layer: int = 0, gate: str = "h", step_index: int | None = None, trail: int = 3
) -> go.Figure:
    """Eigenvalues of the recurrent matrix in the complex plane, with the unit circle and a faint trail."""
    key = SpectrumProbe.EIG.at(layer=layer, gate=gate)
    have = [(r, c) for r, c in zip(runs, colors(runs)) if len(r.arrays.get(key, ((),))[0])]
    step = None
    if have:  # step_index picks a snapshot of the first run; the others show theirs at that step
        steps = have[0][0].arrays[key][0]
        step = int(steps[min(max(step_index if step_index is not None else -1, -len(steps)), len(steps) - 1)])
    traces, radii, lim = [], [], 1.3
    for run, color in have:
        steps, values = run.arrays[key]
        j = max(0, int(np.searchsorted(steps, step, side="right")) - 1)
        for k in range(max(0, j - trail), j):  # older spectra, fading
            ev = _eigs(values[k])
            lim = max(lim, 1.1 * np.abs(ev).max(initial=0))
            traces.append(
                dict(
                    type="scatter",
                    x=ev.real,
                    y=ev.imag,
                    mode="markers",
                    showlegend=False,
                    hoverinfo="skip",
                    legendgroup=run.run_id,
                    opacity=0.12 + 0.08 * (k - j + trail),
                    marker=dict(color=color, size=5),
                )
            )
        ev = _eigs(values[j])
        rho = float(np.abs(ev).max(initial=0))
        lim, radii = max(lim, 1.1 * rho), radii + [rho]
        traces.append(
            dict(
                type="scatter",
                x=ev.real,
                y=ev.imag,
                customdata=np.abs(ev),
                mode="markers",
                name=f"{run.name}: ρ = {rho:.3f}",
                legendgroup=run.run_id,
                marker=dict(color=color, size=8, line=dict(color="white", width=0.5)),
                hovertemplate="Re %{x:.3f}, Im %{y:.3f}<br>|λ| = %{customdata:.3f}<extra></extra>",
            )
        )
    where = f" · step {step}" if step is not None else ""
    rho_text = " · ρ = " + " | ".join(f"{r:.3f}" for r in radii) if radii else ""
    lay = layout(
        f"Eigenvalues of {GATES.get(gate, gate)} (layer {layer}){where}{rho_text}",
        "real part Re λ",
        "imaginary part Im λ",
        revision(f"eig:{layer}:{gate}", runs),
        subtitle=f"dashed: unit circle |λ| = 1 · faint: {trail} earlier spectra",
    )
    lay["xaxis"].update(range=[-lim, lim], constrain="domain", zeroline=True)
    lay["yaxis"].update(range=[-lim, lim], constrain="domain", zeroline=True, scaleanchor="x", scaleratio=1)
    lay["shapes"].append(
        dict(
            type="circle",
            xref="x",
            yref="y",
            x0=-1,
            y0=-1,
            x1=1,
            y1=1,
            layer="below",
            line=dict(color=REFERENCE, width=1.5, dash="dash"),
        )
    )
    return finish(traces, lay)


def spectrum_over_time_figure(
    runs: list[RunSeries], layer: int = 0, gate: str = "h", last_n: int | None = None, log_y: bool = False
) -> go.Figure:
    """Spectral radius ρ and largest singular value σ_max of the recurrent matrix over training."""
    start = view_start(runs, last_n)
    traces = []
    for run, color in zip(runs, colors(runs)):
        for series, dash, symbol in ((SpectrumProbe.RADIUS, "solid", "ρ"), (SpectrumProbe.SIGMA_MAX, "dash", "σ_max")):
            xy = run.series(series.at(layer=layer, gate=gate), start)
            if xy is not None:
                traces.append(
                    line(
                        *xy,
                        f"{run.name} {symbol}",
                        color,
                        dash=dash,
                        legendgroup=run.run_id,
                        hovertemplate=f"{run.name}<br>step %{{x}}<br>{symbol} %{{y:.3f}}<extra></extra>",
                    )
                )
    lay = layout(
        f"Spectrum of {GATES.get(gate, gate)} (layer {layer}) over training",
        STEP_TITLE,
        "ρ, σ_max (dimensionless)",
        revision(f"spectrum:{layer}:{gate}", runs),
        log_y=log_y,
        subtitle="solid: spectral radius ρ · dashed: largest singular value σ_max",
    )
    hline(lay, 1.0, PASCANU)
    return finish(traces, lay)


def _stack_right(profiles) -> np.ndarray:
    """Profiles of possibly different lengths -> (S, T) aligned at t = T (the last position), NaN padded."""
    rows = [np.asarray(p, dtype=float).ravel() for p in profiles]
    T = max((len(p) for p in rows), default=0)
    out = np.full((len(rows), T), np.nan)
    for i, p in enumerate(rows):
        out[i, T - len(p) :] = p
    return out


def reach_heatmap_figure(steps, profiles, layer: int = 0, label: str = "") -> go.Figure:
    """log10 ||dL_T/dh_t|| with x = time step t, y = training step: how far back the gradient reaches."""
    steps = np.asarray(steps)
    P = _stack_right(profiles) if len(steps) else np.zeros((0, 0))  # (S, T)
    keep = evenly(len(P), MAX_POINTS // 2)  # the newest row kept
    steps, P = steps[keep], P[keep]
    traces = []
    if P.size:
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(P > 0, np.log10(P), np.nan)
        traces.append(
            go.Heatmap(
                x=np.arange(1, P.shape[1] + 1),
                y=steps,
                z=z,
                colorscale="Viridis",
                colorbar=dict(title=dict(text="log10 ‖∂L_T/∂h_t‖", side="right")),
                hovertemplate="t = %{x}<br>step %{y}<br>log10 norm %{z:.2f}<extra></extra>",
            )
        )
    title = f"Gradient reach back in time (layer {layer})" + (f" · {label}" if label else "")
    lay = layout(
        title,
        "time step t (T = last)",
        STEP_TITLE,
        f"reach_heatmap:{layer}:{label}",
        subtitle="L_T: the loss at the last position alone · brighter: more gradient reaches h_t",
    )
    return finish(traces, lay)


def _bound(run: RunSeries, layer: int, step: int, last: np.ndarray) -> np.ndarray | None:
    """||dL_T/dh_T|| σ_max^(T−t): the vanilla RNN's bound (|tanh'|, |relu'| <= 1), top layer only."""
    sigma = run.series(SpectrumProbe.SIGMA_MAX.at(layer=layer, gate="h"), max_points=None)
    if sigma is None or Reach.LAST.at(layer=layer + 1) in run.arrays or not np.isfinite(last[-1]):
        return None
    s = sigma[1][max(0, int(np.searchsorted(sigma[0], step, side="right")) - 1)]
    back = np.arange(len(last))[::-1]  # T - t
    with np.errstate(over="ignore", divide="ignore"):
        bound = last[-1] * s ** back.astype(float)
    finite = last[np.isfinite(last) & (last > 0)]
    if not finite.size:
        return None
    lo, hi = finite.min() / 1e3, finite.max() * 1e3  # keep the y range on the measured profiles
    return np.where((bound >= lo) & (bound <= hi), bound, np.nan)


def reach_profile_figure(runs: list[RunSeries], layer: int = 0, steps_back: bool = True) -> go.Figure:
    """The latest ||dL/dh_t|| profile of each run, for the last-position loss and the summed loss."""
    traces, shown = [], []
    for run, color in zip(runs, colors(runs)):
        last, total = run.snapshot(Reach.LAST.at(layer=layer)), run.snapshot(Reach.SUM.at(layer=layer))
        for snap, dash, what in ((last, "solid", "loss at last position"), (total, "dash", "summed loss")):
            if snap is None:
                continue
            T = len(snap[1])
            x = np.arange(T)[::-1] if steps_back else np.arange(1, T + 1)
            traces.append(
                line(
                    x,
                    snap[1],
                    f"{run.name}: {what}",
                    color,
                    dash=dash,
                    legendgroup=run.run_id,
                    hovertemplate=f"{run.name}, {what}<br>t = %{{x}}<br>‖∂L/∂h_t‖ %{{y:.3g}}<extra></extra>",
                )
            )
        if last is not None:
            shown.append(last[0])
            bound = _bound(run, layer, *last)
            if bound is not None:
                x = np.arange(len(bound))[::-1] if steps_back else np.arange(1, len(bound) + 1)
                traces.append(
                    line(
                        x,
                        bound,
                        f"{run.name}: bound σ_max^(T−t)",
                        color,
                        width=1,
                        dash="dot",
                        legendgroup=run.run_id,
                        hoverinfo="skip",
                    )
                )
    at = f" · step {shown[0]}" if shown else ""
    x_title = "steps back from the end (T − t)" if steps_back else "time step t (T = last)"
    lay = layout(
        f"Gradient reach (layer {layer}){at}",
        x_title,
        "‖∂L/∂h_t‖ (gradient norm)",
        revision(f"reach:{layer}", runs),
        log_y=True,
        subtitle="solid: last-position loss (shows vanishing) · dashed: summed loss (hides it)",
    )
    return finish(traces, lay)
