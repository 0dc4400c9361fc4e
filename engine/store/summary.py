"""The multi-resolution summary behind RunStore's min/max downsampling.

Level 0 is the raw series. Level l >= 1 cuts the step axis into buckets of BASE**l steps by
step value (bucket k holds steps k * BASE**l .. (k + 1) * BASE**l - 1) and keeps one row per
bucket: the point count, the min and the max with the step where each first occurs, the
step of the first NaN, and the sum and count of the values that are not NaN (for means). The writer appends a bucket's row in the same commit as the first point
that lies past it, so a reader whose newest point is at step `hi` finds every bucket that ends
at or before `hi`, and covers the rest from finer levels and the raw tail.

A downsampled read over steps lo..hi picks an output bucket width W (`bucket_width`, a multiple
of a level's width) and returns, per output bucket `step // W`, the min point, the max point
and the first NaN point, plus the first and last point of the range (`downsample`: spikes
survive), or the mean of each output bucket at the bucket's last step (`bucket_means`: what
a moving average must be computed from; min and max would bias it). It reads at most about
BASE * max_points / 2 summary rows plus a few dozen finer ones, whatever the series length.
"""

from __future__ import annotations

import numpy as np

BASE = 8  # bucket width grows by this factor per level
LEVELS = 7  # widths 8 .. 8**7 (about 2.1 M steps)

# One bucket's aggregate: (count, min_step, min, max_step, max, nan_step, total, valued).
# min/max and their steps are None when the bucket holds only NaN; nan_step is None without NaN;
# total is the sum of the values that are not NaN (Inf included), valued how many there are.
Agg = tuple


def point_agg(step: int, value: float) -> Agg:
    """The aggregate of a single point."""
    if value != value:  # NaN
        return (1, None, None, None, None, step, 0.0, 0)
    return (1, step, value, step, value, None, value, 1)


def merge(a: Agg | None, b: Agg | None) -> Agg | None:
    """Merge two aggregates, `a` covering earlier steps than `b`; ties keep the earlier step."""
    if a is None or b is None:
        return a if b is None else b
    lo = a if b[2] is None or (a[2] is not None and a[2] <= b[2]) else b
    hi = a if b[4] is None or (a[4] is not None and a[4] >= b[4]) else b
    nan_step = a[5] if a[5] is not None else b[5]
    return (a[0] + b[0], lo[1], lo[2], hi[3], hi[4], nan_step, a[6] + b[6], a[7] + b[7])


class SeriesSummary:
    """The open (incomplete) bucket of every level for one series, fed one point at a time.

    open[1] aggregates the raw points of the current level-1 bucket; open[l] for l >= 2 the
    already completed level-(l-1) buckets inside the current level-l bucket, so a step costs
    one merge and a completed level costs one more (amortised ~1.15 merges per point).
    """

    def __init__(self):
        self.last: int | None = None  # step of the newest point
        self.open: list[Agg | None] = [None] * (LEVELS + 1)

    def push(self, step: int, value: float) -> list[tuple[int, int, Agg]] | None:
        """Add a point; return the (level, bucket, agg) rows it completes, or None if out of order."""
        rows = []
        last = self.last
        if last is not None:
            if step <= last:
                return None
            if step // BASE != last // BASE:  # 7 points in 8 skip this: same level-1 bucket
                rows = self._close(step)
        self.open[1] = add_point(self.open[1], step, value)
        self.last = step
        return rows

    def _close(self, step: int) -> list[tuple[int, int, Agg]]:
        """Complete every level whose bucket `step` leaves; fold each into the next level up."""
        rows, full = [], None
        for level in range(1, LEVELS + 1):
            w = BASE**level
            if step // w == self.last // w:  # same bucket here, so at every coarser level
                self.open[level] = merge(self.open[level], full)
                break
            full = merge(self.open[level], full)
            rows.append((level, self.last // w, full))
            self.open[level] = None
        return rows


def add_point(a: Agg | None, step: int, value: float) -> Agg:
    """merge(a, point_agg(step, value)) without building the point (the per-point hot path)."""
    if a is None:
        return point_agg(step, value)
    n, s0, lo, s1, hi, sn, total, valued = a
    if value != value:  # NaN
        return (n + 1, s0, lo, s1, hi, step if sn is None else sn, total, valued)
    if lo is None:
        return (n + 1, step, value, step, value, sn, total + value, valued + 1)
    if value < lo:
        lo, s0 = value, step
    if value > hi:
        hi, s1 = value, step
    return (n + 1, s0, lo, s1, hi, sn, total + value, valued + 1)


def bucket_width(first: int, last: int, max_points: int) -> tuple[int, int]:
    """(W, level): the output bucket width for steps first..last and the summary level read.

    Aims at (max_points - 4) // 2 buckets so that min + max per bucket plus both ends stay
    within max_points; W is a multiple of the level's width so level buckets nest in it.
    """
    buckets = max(1, (max_points - 4) // 2)
    raw = -(-(last - first + 1) // buckets)  # ceil
    level = 0
    while level < LEVELS and BASE ** (level + 1) <= raw:
        level += 1
    w = BASE**level
    return -(-raw // w) * w, level


def cover(lo: int, hi: int, top: int) -> list[tuple[int, int, int]]:
    """Split steps lo..hi into (level, a, b) pieces of whole buckets of that level, b exclusive.

    Uses `top` for the middle and finer levels (at most BASE - 1 buckets each side per level)
    for the ragged edges: the left edge before the first whole bucket, and the right edge whose
    buckets are not complete yet (a level-l bucket is complete when it ends at or before hi).
    """
    pieces = []
    level, a, b = 0, lo, hi + 1
    while level < top:
        w = BASE ** (level + 1)
        a2, b2 = -(-a // w) * w, (hi // w) * w
        if a2 >= b2:
            break
        pieces += [(level, a, a2), (level, b2, b)]
        level, a, b = level + 1, a2, b2
    pieces.append((level, a, b))
    return [p for p in pieces if p[1] < p[2]]


def downsample(rows: list[Agg], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output bucket (min_step // width) the min, max and first-NaN points, in step order."""
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0)
    n, min_step, mn, max_step, mx, nan_step, _, _ = zip(*rows)
    has = np.array([s is not None for s in min_step])
    steps, values = [], []
    if has.any():
        smin = np.array([s for s in min_step if s is not None], np.int64)
        vmin = np.array([v for v in mn if v is not None], float)
        smax = np.array([s for s in max_step if s is not None], np.int64)
        vmax = np.array([v for v in mx if v is not None], float)
        ob = smin // width  # a piece never straddles an output bucket, so any of its steps names it
        first = np.lexsort((smin, vmin, ob))  # per bucket: smallest value, then earliest step
        keep = first[np.r_[True, ob[first][1:] != ob[first][:-1]]]
        steps.append(smin[keep])
        values.append(vmin[keep])
        first = np.lexsort((smax, -vmax, ob))
        keep = first[np.r_[True, ob[first][1:] != ob[first][:-1]]]
        steps.append(smax[keep])
        values.append(vmax[keep])
    snan = np.array([s for s in nan_step if s is not None], np.int64)
    if len(snan):
        snan = np.sort(snan)
        ob = snan // width
        snan = snan[np.r_[True, ob[1:] != ob[:-1]]]
        steps.append(snan)
        values.append(np.full(len(snan), np.nan))
    return np.concatenate(steps), np.concatenate(values)


def bucket_means(rows: list[Agg], width: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output bucket (step // width) the mean of its values, at the bucket's last step (hi at most).

    A bucket of NaN alone is NaN. Each row lies within one output bucket, so any of its steps names it.
    """
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0)
    bucket = np.array([(r[1] if r[1] is not None else r[5]) // width for r in rows], np.int64)
    total = np.array([r[6] for r in rows], float)
    valued = np.array([r[7] for r in rows], float)
    ids, where = np.unique(bucket, return_inverse=True)
    sums, counts = np.bincount(where, total, len(ids)), np.bincount(where, valued, len(ids))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return np.minimum((ids + 1) * width - 1, hi), means
