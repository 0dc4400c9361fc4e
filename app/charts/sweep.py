"""The Sweep page's stability map: a grid's runs -> one cell per pair of settings -> a heatmap.

    cells = stability_cells(infos, "lr", "clip_value", "ppl")   # infos: the sweep's RunInfo rows
    fig = stability_map(cells, "lr", "clip_value", "ppl")

Each cell gathers every run with that pair of values, whatever their other settings and
seeds, and is coloured by the median of its runs' final value (log scale, lower is better),
with the spread (half the range) beside it. Runs that diverged (a NaN, or a perplexity past
the float range) have no final value: a cell frames them in red and says how many ("✕ 2/3
diverged"), and is grey when all of its runs diverged. Runs still training are counted as pending. Pure: RunInfo-like rows in, figure out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go

from app.charts.base import TEMPLATE
from engine.config import FIELDS, format_value
from engine.distributed.progress import stopped_early
from engine.trainer import VAL_LOSS, VAL_PPL

METRICS = {"ppl": "final validation perplexity", "share": "final validation loss ÷ baseline"}
BASELINES = ("uniform_loss", "mean_mse", "memoryless_loss")  # the loss of guessing, by task (docs/contracts.md)
DIVERGED = "#C0392B"
EMPTY = "#d9d9d9"  # cells without a value: every run diverged, failed or is still training
HEIGHT_PER_ROW, MIN_HEIGHT = 90, 360  # px
ORDER = {f.name: i for i, f in enumerate(FIELDS)}


@dataclass
class Cell:
    """The runs of one (x, y) pair and what they reached."""

    x: object
    y: object
    run_ids: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)  # finite final values of the runs that have one
    diverged: int = 0
    stopped_early: int = 0
    pending: int = 0  # queued or training
    failed: int = 0  # failed or interrupted: no value, not the settings' fault

    @property
    def median(self) -> float:
        return float(np.median(self.values)) if self.values else math.nan

    @property
    def spread(self) -> float:
        """Half the range of the values: the ± beside the median."""
        return (max(self.values) - min(self.values)) / 2 if len(self.values) > 1 else 0.0


def varying(infos) -> list[str]:
    """The settings whose value differs between the runs, in the order RunConfig declares them."""
    names = set()
    for name in {k for i in infos for k in i.config}:
        if len({repr(i.config.get(name)) for i in infos}) > 1:
            names.add(name)
    return sorted(names, key=lambda n: ORDER.get(n, len(ORDER)))


def final_value(info, metric: str) -> float:
    """The run's final validation perplexity ('ppl') or loss over its task's baseline ('share'); nan if none."""
    final = (info.summary or {}).get("final", {})
    if metric == "ppl":
        return float(final.get(VAL_PPL.name, math.nan))
    base = next((v for k, v in (info.summary or {}).get("baselines", {}).items() if k in BASELINES and v), None)
    return float(final.get(VAL_LOSS.name, math.nan)) / base if base else math.nan


def stability_cells(infos, x: str, y: str, metric: str) -> list[Cell]:
    """One cell per (x, y) value pair present among the runs, y-major, both in ascending order."""
    cells: dict[tuple, Cell] = {}
    for info in infos:
        key = (info.config.get(x), info.config.get(y))
        cell = cells.setdefault(key, Cell(*key))
        cell.run_ids.append(info.id)
        value = final_value(info, metric)
        if info.status in ("queued", "running", "paused"):
            cell.pending += 1
        elif info.status in ("failed", "interrupted"):
            cell.failed += 1
        elif info.status == "diverged" or math.isinf(value):  # inf: the loss left the float range without a NaN
            cell.diverged += 1
        elif math.isfinite(value):
            cell.values.append(value)
            cell.stopped_early += stopped_early(info)
        else:  # ended before its first evaluation
            cell.failed += 1
    return [cells[k] for k in sorted(cells, key=lambda k: (_sort_key(k[1]), _sort_key(k[0])))]


def _sort_key(v):
    return (0, v, "") if isinstance(v, int | float) and not isinstance(v, bool) else (1, 0, str(v))


def stability_map(cells: list[Cell], x: str, y: str, metric: str) -> go.Figure:
    """The heatmap: colour = log10 of each cell's median, text = median ± spread, a red frame = diverged runs."""
    xs = _axis_values([c.x for c in cells])
    ys = _axis_values([c.y for c in cells])
    z = np.full((len(ys), len(xs)), np.nan)
    text = [["" for _ in xs] for _ in ys]
    for c in cells:
        i, j = ys.index(c.y), xs.index(c.x)
        z[i, j] = math.log10(c.median) if c.values and c.median > 0 else np.nan
        text[i][j] = cell_text(c)
    fig = go.Figure(layout=_layout(x, y, metric, len(ys)))
    fig.add_trace(_heatmap(xs, ys, z, text, metric))
    fig.add_trace(_cell_targets(cells, x, y))
    for c in cells:  # a red frame around every cell with diverged runs (category axes: cell i spans i +- 0.5)
        if c.diverged:
            i, j = ys.index(c.y), xs.index(c.x)
            fig.add_shape(type="rect", x0=j - 0.47, x1=j + 0.47, y0=i - 0.45, y1=i + 0.45,
                          line=dict(color=DIVERGED, width=3), layer="above")
    return fig


def cell_text(c: Cell) -> str:
    """What a cell says: '12.3 ±0.4', plus '✕ 1/3' for diverged runs, or why it has no value."""
    n = len(c.run_ids)
    parts = []
    if c.values:
        parts.append(f"{_num(c.median)}" + (f" ±{_num(c.spread)}" if c.spread else ""))
    if c.diverged:
        what = f"✕ {c.diverged}/{n} diverged" if c.diverged < n else "✕ diverged"
        parts.append(f"<span style='color:{DIVERGED}'><b>{what}</b></span>")
    if c.pending:
        parts.append(f"{c.pending} training")
    if c.failed and not c.values:
        parts.append("failed")
    return "<br>".join(parts)


def _heatmap(xs, ys, z, text, metric) -> dict:
    finite = z[np.isfinite(z)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    ticks = _log_ticks(lo, hi)
    return dict(type="heatmap", x=[value_label(v) for v in xs], y=[value_label(v) for v in ys], z=z.tolist(), text=text,
                texttemplate="%{text}", textfont=dict(size=14), colorscale="Viridis", reversescale=True,
                zmin=lo, zmax=hi if hi > lo else lo + 1e-9, hoverinfo="skip", xgap=2, ygap=2,
                colorbar=dict(title=dict(text=METRICS[metric].removeprefix("final "), side="right"),
                              tickvals=[math.log10(t) for t in ticks], ticktext=[_num(t) for t in ticks]))


def _cell_targets(cells: list[Cell], x: str, y: str) -> dict:
    """Invisible markers over the cells: hovering shows the cell's runs, clicking selects them."""
    hover = [f"{x}={value_label(c.x)}, {y}={value_label(c.y)}<br>{_hover(c)}" for c in cells]
    return dict(type="scatter", x=[value_label(c.x) for c in cells], y=[value_label(c.y) for c in cells], mode="markers",
                marker=dict(symbol="square", size=44, color="rgba(0,0,0,0)"), customdata=list(range(len(cells))),
                hovertext=hover, hoverinfo="text", showlegend=False)


def _hover(c: Cell) -> str:
    n = len(c.run_ids)
    lines = [f"{n} run{'s' * (n != 1)}"]
    if c.values:
        lines.append(f"median {_num(c.median)}, range {_num(min(c.values))} – {_num(max(c.values))}")
    for count, what in ((c.diverged, "diverged"), (c.stopped_early, "stopped early"), (c.pending, "training"),
                        (c.failed, "failed")):
        if count:
            lines.append(f"{count} {what}")
    return "<br>".join(lines + ["click to open these runs in Compare"])


def _layout(x: str, y: str, metric: str, rows: int) -> dict:
    return dict(template=TEMPLATE, height=max(MIN_HEIGHT, 120 + HEIGHT_PER_ROW * rows),
                margin=dict(l=80, r=20, t=60, b=60), plot_bgcolor=EMPTY, clickmode="event+select", dragmode=False,
                title=dict(text=f"Stability map: {METRICS[metric]} by {x} and {y}"),
                xaxis=dict(title=dict(text=x), type="category", showgrid=False),
                yaxis=dict(title=dict(text=y), type="category", showgrid=False))


def _axis_values(values: list) -> list:
    return sorted(set(values), key=_sort_key)


def value_label(v) -> str:
    """A setting's value as the axes and the URL write it."""
    return format_value(v) if v is not None else "—"


def _num(v: float) -> str:
    return f"{v:.3g}"


def _log_ticks(lo: float, hi: float) -> list[float]:
    """About five round values between 10**lo and 10**hi, for a log colour bar."""
    if hi - lo < 1e-9:
        return [10**lo]
    return [float(f"{t:.2g}") for t in np.logspace(lo, hi, 5)]
