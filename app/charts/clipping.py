"""The gradient norm before and after clipping, and the clipping threshold as it was at every step.

The threshold is a step function of the run's own history: its setting at the start, then each
live change (a `clip_change` event) from the step it was applied; where clipping was off, no line.
"""

import numpy as np
import plotly.graph_objects as go

from app.charts.base import REFERENCE, STEP_TITLE, RunSeries, colors, finish, layout, line, revision, view_start
from app.charts.marks import event_marks
from engine.optim import GRAD_CLIPPED, GRAD_NORM, GRAD_NORM_CLIPPED
from engine.smoothing import evenly


def clip_segments(run: RunSeries) -> list[tuple[int, int, float | None]]:
    """(from step, to step, threshold or None) for the run's whole history up to its newest step."""
    history = run.clip_history or ([(0, run.clip)] if run.clip else [])
    end = run.last_step()
    out = []
    for (a, value), nxt in zip(history, [*history[1:], None]):
        b = end if nxt is None else nxt[0]
        if b > a or nxt is None:
            out.append((int(a), int(max(a, b)), value))
    return out


def clip_line(run: RunSeries, color: str, start: int, single: bool) -> dict | None:
    """The threshold as a step function: flat while it held, a jump at each change, a gap while clipping was off."""
    x, y = [], []
    for a, b, value in clip_segments(run):
        if b < start:
            continue
        a = max(a, start)
        if value is None:  # clipping off: a None breaks the line
            x.append(a)
            y.append(None)
            continue
        x += [a, b]
        y += [value, value]
    if not any(v is not None for v in y):
        return None
    name = "clip threshold" if single else f"{run.name} clip threshold"
    return line(x, y, name, color, width=1.5, dash="longdash", legendgroup=run.run_id,
                hovertemplate=f"{name} %{{y:g}}<br>step %{{x}}<extra></extra>")


def grad_norm_figure(runs: list[RunSeries], last_n: int | None = None, log_y: bool = True) -> go.Figure:
    """Global gradient norm before and after clipping, the steps where clipping fired, the threshold."""
    cols = colors(runs)
    start = view_start(runs, last_n)
    traces = []
    for run, color in zip(runs, cols):
        before, after, fired = (run.series(s.name, start) for s in (GRAD_NORM, GRAD_NORM_CLIPPED, GRAD_CLIPPED))
        hover = f"{run.name}<br>step %{{x}}<br>%{{y:.3g}}<extra>%{{fullData.name}}</extra>"
        if before is not None:
            traces.append(
                line(*before, f"{run.name} before clip", color, width=1.5, legendgroup=run.run_id, hovertemplate=hover)
            )
        if after is not None:
            traces.append(
                line(
                    *after,
                    f"{run.name} after clip",
                    color,
                    width=1.5,
                    dash="dot",
                    opacity=0.8,
                    legendgroup=run.run_id,
                    hovertemplate=hover,
                )
            )
        if fired is not None and before is not None and (fired[1] > 0.5).any():
            x = fired[0][fired[1] > 0.5]
            x = x[evenly(len(x), 500)]
            traces.append(
                dict(
                    type="scatter",
                    x=x,
                    y=np.interp(x, *before),
                    name=f"{run.name} clipped",
                    mode="markers",
                    legendgroup=run.run_id,
                    hoverinfo="skip",
                    marker=dict(color=color, size=6, symbol="x-thin", line=dict(color=color, width=1.5)),
                )
            )
    lay = layout(
        "Gradient norm",
        STEP_TITLE,
        "global gradient norm ‖g‖₂",
        revision("grad_norm", runs),
        log_y=log_y,
        subtitle="solid: before clipping · dotted: after · ×: clipping fired · long dashes: the threshold in force",
    )
    for run, color in zip(runs, cols):
        trace = clip_line(run, REFERENCE if len(runs) == 1 else color, start, len(runs) == 1)
        if trace is not None:
            traces.append(trace)
    event_marks(lay, runs, cols, start)
    return finish(traces, lay)
