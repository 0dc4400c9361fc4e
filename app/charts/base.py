"""Shared parts of the figure builders: the run input type, palette, template, layout, downsampling.

Everything here is pure: plain arrays and small dataclasses in, plain dicts or `go.Figure` out.
Traces are built as `type="scatter"` dicts (SVG, never Scattergl: WebGL contexts run out when
several live charts refresh) because plotly validates dicts about twice as fast as `go.Scatter`.
"""

from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go

from app.charts.labels import separate_labels
from engine.smoothing import smooth

Series = tuple[np.ndarray, np.ndarray]  # (steps int64, values float64), in step order
ArraySeries = tuple[np.ndarray, list[np.ndarray]]  # (steps, one array per step)
Event = tuple[int, str, str]  # (step, kind, message); store Event objects work too

MAX_POINTS = 1000  # per trace: SVG stays smooth and the browser payload small
SMOOTHING = 0.8  # default moving-average decay per step: lags the default run's perplexity < 5 % at step 100
HEIGHT = 380  # px, fixed so a refresh never reflows the page
WAITING = "waiting for data…"
STEP_TITLE = "training step (batches)"

# Okabe-Ito: tells runs apart for colour-blind viewers and on a washed-out projector
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999933")
REFERENCE = "#555555"  # reference lines and their labels
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")

_AXIS = dict(gridcolor="#e6e6e6", zerolinecolor="#c8c8c8", linecolor="#888888", showline=True, ticks="outside")
# a small light template: plotly_white costs ~9 ms per figure to validate, this one ~0.2 ms
TEMPLATE = go.layout.Template(
    layout=dict(
        font=dict(family="Helvetica, Arial, sans-serif", size=14, color="#222222"),
        paper_bgcolor="white",
        plot_bgcolor="white",
        colorway=list(PALETTE),
        xaxis=_AXIS,
        yaxis=_AXIS,
        title=dict(font=dict(size=17)),
        hoverlabel=dict(font=dict(size=13)),
    )
)


@dataclass
class RunSeries:
    """One run's data, read from the store by the page and handed to the builders."""

    run_id: str
    label: str = ""  # legend text, e.g. "clip=none"; the run id when empty
    color: str = ""  # line colour; taken from PALETTE by position when empty
    scalars: dict[str, Series] = field(default_factory=dict)  # series name -> (steps, values), bucket min/max
    means: dict[str, Series] = field(default_factory=dict)  # series name -> (steps, bucket means): for smoothing
    arrays: dict[str, ArraySeries] = field(default_factory=dict)  # series name -> (steps, arrays)
    events: list[Event] = field(default_factory=list)
    baselines: dict[str, float] = field(default_factory=dict)  # task.baselines()
    loss_kind: str = "ce"  # "ce" (perplexity makes sense) or "mse"
    epoch_steps: list[int] = field(default_factory=list)  # steps where epochs start
    eval_steps: list[int] = field(default_factory=list)  # steps of evaluations
    clip: float | None = None  # global-norm clipping threshold now, None when clipping is off
    # (step, threshold or None) from the run's start and at each live clip change: the line is a step function
    clip_history: list[tuple[int, float | None]] = field(default_factory=list)
    cell: str = ""  # the run's cell (rnn_tanh, rnn_relu, gru, lstm): which theory a chart may draw
    validation: dict = field(default_factory=dict)  # what a validation point reads (the run summary's "validation")

    @property
    def name(self) -> str:
        """Legend text."""
        return self.label or self.run_id

    def series(self, name: str, start: int = 0, max_points: int | None = MAX_POINTS) -> Series | None:
        """Finite (steps, values) of a scalar at step >= start, downsampled; None when there are none."""
        if name not in self.scalars:
            return None
        x, y = self.scalars[name]
        x, y = np.asarray(x), np.asarray(y, dtype=float)
        keep = (x >= start) & np.isfinite(y)
        if not keep.any():
            return None
        x, y = x[keep], y[keep]
        return minmax_downsample(x, y, max_points) if max_points else (x, y)

    def smoothed(self, name: str, beta: float, start: int = 0, max_points: int | None = MAX_POINTS) -> Series | None:
        """The moving average (decay `beta` per step) of a series' bucket means, at steps >= start.

        Computed over the whole series and then cut, so a window never restarts the average.
        """
        if name not in self.means:
            return None
        x, y = self.means[name]
        x, y = np.asarray(x), smooth(x, y, beta)
        keep = (x >= start) & np.isfinite(y)
        if not keep.any():
            return None
        return minmax_downsample(x[keep], y[keep], max_points) if max_points else (x[keep], y[keep])

    def snapshot(self, name: str, step: int | None = None) -> tuple[int, np.ndarray] | None:
        """The array stored at the last step <= step (the latest when step is None)."""
        steps, values = self.arrays.get(name, ((), ()))
        if len(steps) == 0:
            return None
        j = len(steps) - 1 if step is None else max(0, int(np.searchsorted(steps, step, side="right")) - 1)
        return int(steps[j]), np.asarray(values[j], dtype=float)

    def last_step(self) -> int:
        """The newest step of any scalar series (0 when empty)."""
        ends = [int(s[0][-1]) for s in self.scalars.values() if len(s[0])]
        return max(ends, default=0)


def minmax_downsample(x, y, max_points: int = MAX_POINTS) -> Series:
    """Each bucket's min and max plus both ends, in step order: spikes survive, ends are kept."""
    x, y = np.asarray(x), np.asarray(y, dtype=float)
    n = len(y)
    if n <= max_points:
        return x, y
    buckets = max(1, (max_points - 2) // 2)
    starts = np.linspace(0, n, buckets + 1).astype(np.int64)[:-1]  # strictly increasing: n > 2 * buckets
    ids = np.repeat(np.arange(buckets), np.diff(np.append(starts, n)))  # bucket of each point
    keep = [np.array([0, n - 1])]
    for reduce in (np.fmin, np.fmax):  # fmin/fmax skip NaN
        extreme = reduce.reduceat(y, starts)
        hit = np.flatnonzero(y == extreme[ids])
        keep.append(hit[np.unique(ids[hit], return_index=True)[1]])  # first hit per bucket
    order = np.unique(np.concatenate(keep))
    return x[order], y[order]


def colors(runs: list[RunSeries]) -> list[str]:
    """Each run's colour: its own, else the palette by position."""
    return [r.color or PALETTE[i % len(PALETTE)] for i, r in enumerate(runs)]


def view_start(runs: list[RunSeries], last_n: int | None) -> int:
    """First step shown: the last `last_n` steps of the newest run, or everything."""
    if not last_n:
        return 0
    return max((r.last_step() for r in runs), default=0) - int(last_n)


def revision(kind: str, runs: list[RunSeries] = ()) -> str:
    """A stable uirevision: the chart kind and the runs it shows."""
    return "|".join([kind, *(r.run_id for r in runs)])


def line(x, y, name: str, color: str, *, width: float = 2.0, dash: str = "solid", **extra) -> dict:
    """A go.Scatter trace as a dict (SVG lines)."""
    trace = dict(type="scatter", x=x, y=y, name=name, mode="lines", line=dict(color=color, width=width, dash=dash))
    trace.update(extra)
    return trace


SPARSE = 60  # points: a probe series this short shows a marker at each measurement


def probe_line(x, y, name: str, color: str, **extra) -> dict:
    """A line through probe-step measurements; sparse ones get a marker at each, so a straight stretch
    between two far-apart probes is not mistaken for measured values."""
    if len(x) <= SPARSE:
        extra = {"mode": "lines+markers", "marker": dict(size=5, color=color), **extra}
    return line(x, y, name, color, **extra)


def layout(title: str, x_title: str, y_title: str, uirevision: str, *, log_y: bool = False, subtitle: str = "") -> dict:
    """The common layout: title, labelled axes, legend on the right, fixed height and margins."""
    return dict(
        template=TEMPLATE,
        # title block pinned to the top edge; the band under it holds the event labels (yref paper, y = 1)
        title=dict(
            text=title,
            subtitle=dict(text=subtitle, font=dict(size=12, color=REFERENCE)),
            x=0.01,
            xanchor="left",
            yref="container",
            y=0.985,
            yanchor="top",
        ),
        height=HEIGHT,
        margin=dict(l=75, r=20, t=60 + 20 * (subtitle.count("<br>") + 1) if subtitle else 60, b=60),
        xaxis=dict(title=dict(text=x_title)),
        yaxis=dict(title=dict(text=y_title), type="log" if log_y else "linear", exponentformat="power"),
        legend=dict(x=1.02, xanchor="left", y=1, yanchor="top", font=dict(size=12), bgcolor="rgba(255,255,255,0.85)"),
        hovermode="closest",
        uirevision=uirevision,
        shapes=[],
        annotations=[],
    )


AUTO_LOG_SPAN = 30.0  # max/min of a positive series above which a linear axis flattens the small values


def auto_log(lay: dict, traces: list[dict], axis: str = "yaxis") -> bool:
    """Switch the axis to log when its positive values span AUTO_LOG_SPAN or more; return whether it did.

    On a linear axis from 0 to 70,000, runs that stay near 1 lie flat on the floor.
    """
    ref = "y" if axis == "yaxis" else "y" + axis[5:]
    parts = [np.asarray(t["y"], dtype=float) for t in traces if t.get("y") is not None and t.get("yaxis", "y") == ref]
    y = np.concatenate(parts) if parts else np.zeros(0)
    y = y[np.isfinite(y) & (y > 0)]
    if not len(y) or y.max() < AUTO_LOG_SPAN * y.min():
        return False
    lay[axis]["type"] = "log"
    lay["uirevision"] = f"{lay.get('uirevision', '')}:log"  # a new axis type: let plotly lay it out afresh
    return True


def two_panels(lay: dict, bottom_title: str, *, log_bottom: bool = False, split: float = 0.36) -> dict:
    """Add a lower panel (yaxis2) sharing the x axis; the x axis is drawn under it."""
    lay["yaxis"]["domain"] = [split + 0.06, 1.0]
    lay["yaxis2"] = dict(
        domain=[0.0, split], anchor="x", title=dict(text=bottom_title), type="log" if log_bottom else "linear"
    )
    lay["xaxis"]["anchor"] = "y2"
    return lay


def finish(traces: list[dict], lay: dict) -> go.Figure:
    """The figure; with no traces, the axes, reference lines and a 'waiting for data…' note."""
    if not traces:
        lay["annotations"].append(
            dict(
                text=WAITING,
                xref="paper",
                yref="paper",
                x=0.5,
                y=0.5,
                showarrow=False,
                font=dict(size=16, color="#888888"),
            )
        )
    separate_labels(lay, traces)
    # Not validated: validation is ~90 % of a figure's build time (11 ms of 12 for four runs'
    # perplexity) and gives the same JSON; tests/test_app_figures.py validates every builder's output.
    return go.Figure(data=traces, layout=lay, _validate=False)
