"""Timing helpers shared by the benchmarks: medians, the machine's load, and which checkout to measure.

Every bench prints the load average beside its figures (a busy machine slows what it times),
and most take `--repo PATH` to measure another checkout of this project with the same bench
code (e.g. the code before a change): `use_checkout()` puts that checkout first on sys.path
before anything of it is imported.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def timed(fn, repeat: int) -> float:
    """Median milliseconds of fn() over `repeat` calls."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out) * 1e3


def load() -> str:
    """'load 1.23 / 1.10 / 0.95 (1, 5, 15 min), 2 cores'."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} / {fifteen:.2f} (1, 5, 15 min), {os.cpu_count()} cores"


def use_checkout(argv: list[str] | None = None) -> Path:
    """The checkout named by --repo (default: this one), put first on sys.path; returns its root."""
    argv = sys.argv[1:] if argv is None else argv
    root = HERE
    for i, arg in enumerate(argv):
        if arg == "--repo" and i + 1 < len(argv):
            root = Path(argv[i + 1]).resolve()
        elif arg.startswith("--repo="):
            root = Path(arg.split("=", 1)[1]).resolve()
    sys.path.insert(0, str(root))
    return root


def median_ratio(numerators: list[float], denominators: list[float]) -> float:
    """Median of the pairwise ratios a_i / b_i (blocks measured side by side)."""
    return statistics.median(a / b for a, b in zip(numerators, denominators))
