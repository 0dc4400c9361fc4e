"""RunStore's series reads: raw, min/max-downsampled or bucket-mean scalars, and array snapshots.

Functions take a read connection and the run's and name's integer keys; RunStore resolves
ids and hands out connections. `since` selects steps strictly greater than it (None: all).
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np

from engine.smoothing import evenly
from engine.store.summary import BASE, bucket_means, bucket_width, cover, downsample, point_agg

NEVER = -(2**62)  # a step before every step
_RANGE = "FROM scalars WHERE run = ? AND name = ? AND step > ? AND step <= ?"


def empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, np.int64), np.zeros(0)


def read_scalars(con: sqlite3.Connection, key: tuple[int, int], since: int | None, max_points: int | None,
                 means: bool = False):
    """(steps, values) of one series after `since`; at most about max_points by bucket min/max,
    or with `means` by bucket means (each at its bucket's last step)."""
    after = NEVER if since is None else int(since)
    con.execute("BEGIN")  # one snapshot for the several queries below
    try:
        if max_points is None:
            return _raw(con, key, after, -NEVER)
        first = con.execute(f"SELECT step, value {_RANGE} ORDER BY step LIMIT 1", (*key, after, -NEVER)).fetchone()
        if first is None:
            return empty()
        last = con.execute(f"SELECT step, value {_RANGE} ORDER BY step DESC LIMIT 1", (*key, after, -NEVER)).fetchone()
        lo, hi = first[0], last[0]
        if hi - lo + 1 <= max_points:  # steps are unique integers: no more points than that
            return _raw(con, key, after, hi)
        # min/max give two points per bucket, a mean one: aim at the same number of points
        width, level = bucket_width(lo, hi, 2 * max_points + 4 if means else max_points)
        rows = []
        for lv, a, b in cover(lo, hi, level):
            rows += _pieces(con, key, lv, a, b)
        if sum(r[0] for r in rows) <= max_points:  # sparse series: every point fits
            return _raw(con, key, after, hi)
        if means:
            return bucket_means(rows, width, hi)
        steps, values = downsample(rows, width)
        steps = np.concatenate([steps, [lo, hi]])
        values = np.concatenate([values, [_float(first[1]), _float(last[1])]])
        steps, i = np.unique(steps, return_index=True)  # sorted; a step's value is the same wherever it came from
        return steps, values[i]
    finally:
        con.execute("COMMIT")


def _raw(con, key, after: int, hi: int):
    rows = con.execute(f"SELECT step, value {_RANGE} ORDER BY step", (*key, after, hi)).fetchall()
    if not rows:
        return empty()
    steps = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    values = np.array([r[1] for r in rows], dtype=float)  # NULL (a stored NaN) -> nan
    return steps, values


def _pieces(con, key, level: int, a: int, b: int) -> list[tuple]:
    """Aggregates covering steps a..b-1: raw points at level 0, else that level's bucket rows."""
    if level == 0:
        rows = con.execute(f"SELECT step, value {_RANGE}", (*key, a - 1, b - 1))
        return [point_agg(s, _float(v)) for s, v in rows]
    w = BASE**level
    return con.execute(
        "SELECT n, min_step, min_value, max_step, max_value, nan_step, total, valued FROM summary"
        " WHERE run = ? AND name = ? AND level = ? AND bucket >= ? AND bucket < ?",
        (*key, level, a // w, b // w),
    ).fetchall()


def _float(v) -> float:
    return float("nan") if v is None else v


def read_arrays(con: sqlite3.Connection, key: tuple[int, int], since: int | None, max_items: int | None):
    """(steps, arrays) after `since`, evenly thinned to max_items keeping the oldest and newest."""
    after = NEVER if since is None else int(since)
    con.execute("BEGIN")
    try:
        q = "SELECT step FROM arrays WHERE run = ? AND name = ? AND step > ? ORDER BY step"
        steps = np.array([r[0] for r in con.execute(q, (*key, after))], np.int64)
        if max_items is not None:
            steps = steps[evenly(len(steps), max_items)]
        arrays = []
        for i in range(0, len(steps), 500):  # stay under SQLite's bound-parameter limit
            chunk = steps[i : i + 500].tolist()
            marks = ",".join("?" * len(chunk))
            q = f"SELECT dtype, shape, data FROM arrays WHERE run = ? AND name = ? AND step IN ({marks}) ORDER BY step"
            arrays += [decode(*r) for r in con.execute(q, (*key, *chunk))]
        return steps, arrays
    finally:
        con.execute("COMMIT")


def decode(dtype: str, shape: str, data: bytes) -> np.ndarray:
    """An array from its stored bytes (a writable copy)."""
    return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(json.loads(shape)).copy()
