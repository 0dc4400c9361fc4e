"""The recurrence itself: W_h's eigenvalues against the unit circle, its spectrum over training, and the
spectrum of the state Jacobian ds_t/ds_{t-1}, which decides how gradients flow for every cell.

Each reference line is drawn only where its theory holds, with one sentence that names the theory:
Pascanu et al.'s bound on W_h for vanilla RNNs; the product bound on state Jacobians for any cell.
"""

import numpy as np
import plotly.graph_objects as go

from app.charts.base import (
    REFERENCE,
    STEP_TITLE,
    RunSeries,
    auto_log,
    colors,
    finish,
    layout,
    line,
    probe_line,
    revision,
    view_start,
)
from app.charts.marks import (
    hline,
)
from engine.probes import JacobianProbe, SpectrumProbe

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
VANILLA_GATES = ("h",)  # W_h of a vanilla RNN (tanh or ReLU), undivided: the only block Pascanu's bound is about
PASCANU_LABEL = "σ_max = 1/γ = 1"
# subtitles in lines of at most ~75 characters: a half-width chart at 1440 px shows about 80
PASCANU = ("theory, vanilla RNN with |φ′| ≤ 1 (Pascanu et al. 2013): σ_max < 1 ⇒<br>"
           "the gradient vanishes; σ_max > 1 is needed for it to explode")
NO_BOUND = ("no bound drawn: Pascanu's bound is for vanilla RNNs; a gate scales<br>"
            "W_h's effect, so see the state Jacobian instead")
UNIT_CIRCLE = "theory, linear RNN: ρ < 1 ⇒ the gradient vanishes (a tanh RNN: see W_hh's σ_max)"
UNIT_CIRCLE_GATE = "for scale only: a gate block's eigenvalues bound nothing (see the state Jacobian)"
JACOBIAN_LABEL = "σ_max(J) = 1"
JACOBIAN_LINES = "solid: σ_max · dashed: ρ(mean J) · faint: σ_2…σ_8 · 4 sequences × 3 steps"
JACOBIAN_THEORY = ("theory, any cell: ‖∂L/∂s_t‖ ≤ ‖∂L/∂s_T‖ ∏ σ_max(J_k), so with σ_max < 1<br>"
                   "at every step the gradient vanishes (s = h; an LSTM's s is h and c)")


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
        subtitle=f"faint: {trail} earlier spectra · dashed: unit circle |λ| = 1<br>"
        + (UNIT_CIRCLE if gate in VANILLA_GATES else UNIT_CIRCLE_GATE),
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
    runs: list[RunSeries], layer: int = 0, gate: str = "h", last_n: int | None = None
) -> go.Figure:
    """Spectral radius ρ and largest singular value σ_max of a W_h block over training; log axis when they
    span orders of magnitude; Pascanu's line only on a vanilla RNN's W_h."""
    start = view_start(runs, last_n)
    traces = []
    for run, color in zip(runs, colors(runs)):
        for series, dash, symbol in ((SpectrumProbe.RADIUS, "solid", "ρ"), (SpectrumProbe.SIGMA_MAX, "dash", "σ_max")):
            xy = run.series(series.at(layer=layer, gate=gate), start)
            if xy is not None:
                traces.append(
                    probe_line(
                        *xy,
                        f"{run.name} {symbol}",
                        color,
                        dash=dash,
                        legendgroup=run.run_id,
                        hovertemplate=f"{run.name}<br>step %{{x}}<br>{symbol} %{{y:.3g}}<extra></extra>",
                    )
                )
    vanilla = gate in VANILLA_GATES
    lay = layout(
        f"Spectrum of {GATES.get(gate, gate)} (layer {layer}) over training",
        STEP_TITLE,
        "ρ, σ_max (dimensionless)",
        revision(f"spectrum:{layer}:{gate}", runs),
        subtitle="solid: spectral radius ρ · dashed: largest singular value σ_max<br>" + (PASCANU if vanilla else NO_BOUND),
    )
    auto_log(lay, traces)
    if vanilla:
        hline(lay, 1.0, PASCANU_LABEL)
    return finish(traces, lay)


def jacobian_figure(runs: list[RunSeries], layer: int = 0, last_n: int | None = None) -> go.Figure:
    """σ_max of the state Jacobian ∂s_t/∂s_{t−1} and ρ of its mean over training, every cell; for one run
    also its next largest singular values, faint; the product bound's line at 1."""
    start = view_start(runs, last_n)
    traces = []
    for run, color in zip(runs, colors(runs)):
        if len(runs) == 1:
            traces += _lower_singular_values(run, layer, start, color)
        for series, dash, symbol in ((JacobianProbe.SIGMA_MAX, "solid", "σ_max(J)"), (JacobianProbe.RADIUS, "dash", "ρ(mean J)")):
            xy = run.series(series.at(layer=layer), start)
            if xy is not None:
                traces.append(
                    probe_line(
                        *xy,
                        f"{run.name} {symbol}",
                        color,
                        dash=dash,
                        legendgroup=run.run_id,
                        hovertemplate=f"{run.name}<br>step %{{x}}<br>{symbol} %{{y:.3g}}<extra></extra>",
                    )
                )
    lay = layout(
        f"State Jacobian ∂s_t/∂s_(t−1) (layer {layer}) over training",
        STEP_TITLE,
        "singular value, ρ (dimensionless)",
        revision(f"jacobian:{layer}", runs),
        subtitle=(JACOBIAN_LINES if len(runs) == 1 else JACOBIAN_LINES.replace(" · faint: σ_2…σ_8", ""))
        + "<br>" + JACOBIAN_THEORY,
    )
    auto_log(lay, traces)
    hline(lay, 1.0, JACOBIAN_LABEL)
    return finish(traces, lay)


def _lower_singular_values(run: RunSeries, layer: int, start: int, color: str) -> list[dict]:
    """σ_2, σ_3, ... of the Jacobian over training as faint lines (one run only: they would crowd a comparison)."""
    steps, values = run.arrays.get(JacobianProbe.SV.at(layer=layer), (np.zeros(0), []))
    keep = np.asarray(steps) >= start
    if not keep.any() or not values:
        return []
    k = min(len(v) for v in values)
    sv = np.stack([np.asarray(v, dtype=float)[:k] for v in values])[keep]  # (S, k)
    x = np.asarray(steps)[keep]
    return [
        line(x, sv[:, i], f"σ_{i + 1}", color, width=1, opacity=0.35, showlegend=False, legendgroup=run.run_id,
             hovertemplate=f"σ_{i + 1} %{{y:.3g}}<br>step %{{x}}<extra></extra>")
        for i in range(1, k)
    ]
