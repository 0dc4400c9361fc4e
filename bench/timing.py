"""Timing helper shared by the benchmarks."""

from __future__ import annotations

import statistics
import time


def timed(fn, repeat: int) -> float:
    """Median milliseconds of fn() over `repeat` calls."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out) * 1e3
