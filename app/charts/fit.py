"""Fitting a built figure to its cell in the chart grid: legend placement, height, log-axis labels.

The builders in app/charts.py draw for a full-width chart with the legend on the right; in
a half-width cell that legend would take a third of the width, so it moves under the plot.
"""

from __future__ import annotations

import math

import numpy as np

from app.charts.base import HEIGHT, TEMPLATE

LEGEND_ROW = 22  # px per row of a legend under a plot


def fit(fig, half: bool, tall: bool = False):
    """Shape a figure for its cell: in a half-width cell the legend goes under the plot (on the
    right it would take a third of the width), and two-panel or square charts get more height.
    Properties are set one by one: update_layout re-validates the whole layout (~2 ms)."""
    height = HEIGHT + (150 if "yaxis2" in fig.layout else 110 if tall else 0)
    entries = sum(1 for t in fig.data if t.type == "scatter" and t.showlegend is not False and t.name)
    lay = fig.layout
    if half and entries:
        rows = math.ceil(entries / 2)
        lay.legend.orientation, lay.legend.x, lay.legend.xanchor = "h", 0, "left"
        lay.legend.yref, lay.legend.y, lay.legend.yanchor = "container", 0, "bottom"
        # no automargin (it lays the figure out twice on every refresh: +30 % browser time) and so no
        # standoff (without automargin plotly draws a standoff's title over the tick labels)
        lay.margin.b, lay.margin.r = 64 + LEGEND_ROW * rows, 20
        height += LEGEND_ROW * rows
    if height != HEIGHT:
        lay.height = height
    log_ticks(fig)
    return fig


def log_ticks(fig) -> None:
    """On a log axis spanning under three decades, label 1-2-5 values in full ('20', '0.05'):
    plotly would label every digit of each decade ('2 3 4 5 6 7 8 9'), unreadable at this size."""
    shapes = fig._layout.get("shapes", ())  # plain dicts: reading layout.shapes builds an object per shape (~0.1 ms)
    for axis, ref in (("yaxis", "y"), ("yaxis2", "y2")):
        if axis not in fig.layout or fig.layout[axis].type != "log":
            continue
        parts = [np.asarray(t.y, dtype=float) for t in fig.data if t.y is not None and (t.yaxis or "y") == ref]
        parts.append(np.array([sh["y0"] for sh in shapes if sh.get("yref") == ref and "y0" in sh], dtype=float))
        y = np.concatenate(parts)
        y = y[np.isfinite(y) & (y > 0)]
        if not len(y) or np.log10(y.max() / y.min()) >= 3:
            continue
        lo, hi = np.log10(y.min()) - 0.3, np.log10(y.max()) + 0.3  # about plotly's padding
        marks = (1, 2, 5) if hi - lo > 1 else (1, 1.5, 2, 3, 5, 7)
        vals = [
            m * 10.0**e
            for e in range(math.floor(lo), math.ceil(hi) + 1)
            for m in marks
            if lo <= math.log10(m * 10.0**e) <= hi
        ]
        fig.layout[axis].tickvals, fig.layout[axis].ticktext = vals, [f"{v:g}" for v in vals]


def enlarge(fig, k: float):
    """Every font of the figure `k` times as large (presenter mode), its margins grown to match.

    Fonts a builder set on its own (legend, reference-line labels) are scaled from their size; the
    rest inherit the template's, which is scaled. The subtitle (what the line styles mean) goes:
    the legend names the lines, and the plot needs the height. The figure's height stays: the
    plot area gives up what the larger margins take.
    """
    if k == 1:
        return fig
    lay = fig.layout
    lay.font.size = round(TEMPLATE.layout.font.size * k)
    lay.title.font.size = round(TEMPLATE.layout.title.font.size * k)
    lay.legend.font.size = round((lay.legend.font.size or TEMPLATE.layout.font.size) * k)
    subtitle = bool(lay.title.subtitle.text)
    if subtitle:  # enlarged for a projector, the plot needs the row more: the legend says what the lines are
        lay.title.subtitle.text = ""
    for note in fig._layout.get("annotations", ()):  # plain dicts (see log_ticks)
        if note.get("font", {}).get("size"):
            note["font"]["size"] = round(note["font"]["size"] * k)
    broke = False
    for axis in ("yaxis", "yaxis2"):  # a long title on a short plot: two lines (the unit under the name)
        title = lay[axis].title.text if axis in lay else None
        if title and len(title) > 18 and "<br>" not in title:
            lay[axis].title.text, broke = two_lines(title), True
        if axis in lay:
            lay[axis].automargin = True  # wider tick labels push the title right rather than off the figure
    margin = lay.margin
    margin.l = round((margin.l or 75) * k) + (round(12 * k) if broke else 0)
    margin.b = (margin.b or 60) + round(TEMPLATE.layout.font.size * (k - 1) * 2)  # tick labels and axis title grew
    margin.t = (margin.t or 60) - (20 if subtitle else 0) + round(TEMPLATE.layout.title.font.size * (k - 1)) + 4
    return fig


def two_lines(title: str) -> str:
    """'perplexity (choices per token)' -> 'perplexity<br>(choices per token)'; without a unit in
    brackets, broken at the space nearest the middle."""
    if " (" in title:
        return title.replace(" (", "<br>(", 1)
    spaces = [i for i, c in enumerate(title) if c == " "]
    if not spaces:
        return title
    i = min(spaces, key=lambda j: abs(j - len(title) / 2))
    return title[:i] + "<br>" + title[i + 1 :]
