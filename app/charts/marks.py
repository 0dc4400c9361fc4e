"""Marks drawn over the curves: labelled reference lines, epoch starts, evaluation ticks and events."""

import math

import numpy as np

from app.charts.base import REFERENCE, Event, RunSeries
from app.charts.labels import REF

EPOCH_COLOR, EVAL_COLOR = "#bbbbbb", "#888888"
EVAL_TICK = 0.04  # height of an evaluation tick, a share of the plot's height


def vline(x: float, color: str) -> dict:
    """A faint dotted vertical line across the whole plot at step x, behind the data."""
    return dict(type="line", xref="x", x0=x, x1=x, yref="paper", y0=0, y1=1, layer="below",
                line=dict(color=color, width=1, dash="dot"))


def strokes(steps, color: str, *, top: float = 1, dash: str = "solid", width: float = 1) -> dict:
    """Vertical strokes at each step, from the plot's bottom edge up to `top` (paper units), as one
    path shape: plotly redraws every shape on each refresh, and thirty separate lines took it
    longer than the curves themselves."""
    path = "".join(f"M{s},0V{top}" for s in steps)
    return dict(type="path", xref="x", yref="paper", path=path, layer="below", line=dict(color=color, width=width, dash=dash))


def hline(lay: dict, y: float, text: str, *, yref: str = "y", dash: str = "dash", color: str = REFERENCE) -> None:
    """A labelled horizontal reference line across the plot."""
    log = lay.get("yaxis" if yref == "y" else "yaxis" + yref[1:], {}).get("type") == "log"
    if log and y <= 0:
        return
    lay["shapes"].append(
        dict(
            type="line",
            xref="paper",
            x0=0,
            x1=1,
            yref=yref,
            y0=y,
            y1=y,
            layer="below",
            line=dict(color=color, width=1.5, dash=dash),
        )
    )
    # annotations on log axes take log10 of the position (plotly.js #1258); shapes take data units
    lay["annotations"].append(
        dict(
            name=REF,  # labels.separate_labels keeps reference labels from overlapping
            text=text,
            xref="paper",
            x=1,
            xanchor="right",
            yref=yref,
            y=math.log10(y) if log else y,
            yanchor="bottom",
            showarrow=False,
            font=dict(size=12, color=color),
        )
    )


def reference_lines(lay: dict, runs: list[RunSeries], spec: list[tuple], *, yref: str = "y") -> None:
    """Draw baselines named in spec [(key, transform, label format)], once per distinct value."""
    seen = set()
    for key, transform, fmt in spec:
        for run in runs:
            value = run.baselines.get(key)
            if value is None or not np.isfinite(value):
                continue
            y = transform(value)
            if round(y, 6) not in seen:
                seen.add(round(y, 6))
                hline(lay, y, fmt.format(y), yref=yref)


def epoch_lines(lay: dict, runs: list[RunSeries], start: int, max_lines: int = 30) -> None:
    """Faint vertical lines where epochs start (a group shares its data order: the first run's)."""
    all_steps = list(runs[0].epoch_steps) if runs else []
    first = 1 if all_steps and all_steps[0] == 0 else 2  # number of the first listed epoch
    shown = [(first + i, s) for i, s in enumerate(all_steps) if s >= start and s > 0]
    if not shown or len(shown) > max_lines:
        return
    lay["shapes"].append(strokes([s for _, s in shown], EPOCH_COLOR, dash="dot"))
    for number, s in shown:
        if len(shown) <= 8:
            lay["annotations"].append(
                dict(
                    text=f"epoch {number}",
                    x=s,
                    xref="x",
                    y=0,
                    yref="paper",
                    yanchor="bottom",
                    xanchor="left",
                    showarrow=False,
                    font=dict(size=11, color="#888888"),
                )
            )


def eval_ticks(lay: dict, runs: list[RunSeries], start: int, max_ticks: int = 60) -> None:
    """Short ticks on the bottom edge at evaluation steps: they explain periodic bumps in the curve."""
    steps = [s for s in (runs[0].eval_steps if runs else []) if s >= start]
    if not steps or len(steps) > max_ticks:
        return
    lay["shapes"].append(strokes(steps, EVAL_COLOR, top=EVAL_TICK, width=1.5))


EVENT_MARKS = {"lr_change": "lr", "clip_change": "clip", "lr_cut": "lr↓", "diverged": "NaN", "fork": "fork"}


def events_of(run: RunSeries, kinds, start: int = 0) -> list[Event]:
    """The run's events of the given kinds at step >= start, as (step, kind, message)."""
    out = []
    for e in run.events:
        step, kind, message = (e[0], e[1], e[2]) if isinstance(e, tuple | list) else (e.step, e.kind, e.message)
        if kind in kinds and step >= start:
            out.append((int(step), str(kind), str(message)))
    return out


def event_marks(lay: dict, runs: list[RunSeries], cols: list[str], start: int, max_marks: int = 40) -> None:
    """Small labels at the top edge for live edits, plateau cuts, forks and divergence; hover tells more."""
    marks = []
    for run, color in zip(runs, cols):
        marks += [(s, k, m, run.name, color) for s, k, m in events_of(run, EVENT_MARKS, start)]
    for s, kind, message, name, color in sorted(marks)[-max_marks:]:
        lay["shapes"].append(vline(s, color))
        lay["annotations"].append(
            dict(
                text=EVENT_MARKS[kind],
                x=s,
                xref="x",
                y=1,
                yref="paper",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=11, color=color),
                hovertext=f"{name}, step {s}: {message or kind}",
            )
        )
