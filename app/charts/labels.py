"""Reference labels that never overlap: nudge the labels of close reference lines apart, in pixels.

Every reference label (an annotation named REF, drawn by marks.hline) sits at the right edge, just
above its line, so two lines a few pixels apart ("uniform ln|V| = 4.17" and "unigram = 3.42" on a
loss chart) would print one label over the other. Before a figure is sent, the labels of each y
axis are stacked: from the lowest line up, each label moves up (`yshift`, in pixels) until it
clears the one below. Where the stack would rise more than a label's height past the top of the
plot, it is laid from the top down instead.

Pixels need the axis range, which plotly decides in the browser (autorange). It is estimated
here from the same values plotly ranges over (the traces and the reference lines), widened by
more than plotly's own padding: a wider range puts lines closer in pixels, so the estimate errs
on the side of separating labels that would just have cleared each other.
"""

from __future__ import annotations

import math

import numpy as np

REF = "ref"  # the annotation name of a reference label
LABEL_PX = 17  # a 12 px label's box, with a pixel to spare
PAD = 0.1  # assumed padding of the autorange per side, a share of the span (plotly's is about 0.05)


def separate_labels(lay: dict, traces: list[dict]) -> None:
    """Give every reference label of the layout a yshift so that no two of one axis overlap."""
    by_axis: dict[str, list[dict]] = {}
    for a in lay.get("annotations", []):
        if a.get("name") == REF:
            by_axis.setdefault(a.get("yref", "y"), []).append(a)
    for yref, labels in by_axis.items():
        to_px = axis_pixels(lay, traces, yref)
        if to_px is None or len(labels) < 2:
            continue
        labels.sort(key=lambda a: a["y"])
        bottoms = [to_px(a["y"]) for a in labels]
        for a, want, got in zip(labels, bottoms, stack(bottoms, plot_height(lay, yref))):
            if got != want:
                a["yshift"] = round(got - want, 1)


def stack(bottoms: list[float], height: float) -> list[float]:
    """Bottoms (px, ascending) of labels LABEL_PX tall, moved as little as possible so that none overlap."""
    up, top = [], -math.inf
    for b in bottoms:
        up.append(max(b, top + 1))
        top = up[-1] + LABEL_PX
    if top <= height + LABEL_PX:  # at most one label's height into the margin above, as an unmoved label may
        return up
    down, ceiling = [], height  # the highest a label's top may reach
    for b in reversed(bottoms):
        down.append(min(b, ceiling - LABEL_PX))
        ceiling = down[-1] - 1
    return down[::-1]


def plot_height(lay: dict, yref: str) -> float:
    """Pixel height of the axis' part of the plot area (the figure's height less its margins, times the domain)."""
    axis = lay.get(_axis_name(yref), {})
    lo, hi = axis.get("domain", (0.0, 1.0))
    margin = lay.get("margin", {})
    return (lay.get("height", 450) - margin.get("t", 100) - margin.get("b", 80)) * (hi - lo)


def axis_pixels(lay: dict, traces: list[dict], yref: str):
    """A function from axis units (log10 of the value on a log axis) to pixels above the axis' bottom,
    or None when the axis holds no values to range over."""
    axis = lay.get(_axis_name(yref), {})
    log = axis.get("type") == "log"
    if axis.get("range") is not None and axis.get("autorange") is False:
        lo, hi = axis["range"]
    else:
        values = [np.asarray(t["y"], dtype=float).ravel() for t in traces
                  if t.get("y") is not None and t.get("yaxis", "y") == yref and t.get("type", "scatter") == "scatter"]
        values += [np.array([s[k] for s in lay.get("shapes", []) if s.get("yref") == yref for k in ("y0", "y1")],
                            dtype=float)]
        v = np.concatenate(values)
        v = v[np.isfinite(v)]
        if log:
            v = np.log10(v[v > 0])
        if not len(v):
            return None
        lo, hi = float(v.min()), float(v.max())
        span = hi - lo or abs(hi) or 1.0
        lo, hi = lo - PAD * span, hi + PAD * span
    height = plot_height(lay, yref)
    return lambda y: (y - lo) / (hi - lo) * height


def label_boxes(fig) -> dict[str, list[tuple[float, float]]]:
    """{yref: [(bottom, top) px]} of the figure's reference labels as drawn, on the estimated axis range."""
    lay = fig.layout.to_plotly_json()
    traces = [t.to_plotly_json() for t in fig.data]
    out: dict[str, list[tuple[float, float]]] = {}
    for a in lay.get("annotations", []):
        if a.get("name") != REF:
            continue
        yref = a.get("yref", "y")
        to_px = axis_pixels(lay, traces, yref)
        bottom = to_px(a["y"]) + a.get("yshift", 0)
        out.setdefault(yref, []).append((bottom, bottom + LABEL_PX))
    return out


def _axis_name(yref: str) -> str:
    return "yaxis" if yref == "y" else "yaxis" + yref[1:]
