"""Reading a lesson's runs from the store: the series, baselines and derived figures the checkers use.

Plain reads, no judgement: every function returns floats or arrays (NaN where a series is
missing), and criteria.py decides what they mean.
"""

from __future__ import annotations

import math

import numpy as np

from engine.probes import WeightProbe


def runs_by_label(store, run_ids) -> dict[str, str]:
    """{variant label: run id} of a lesson's runs."""
    return {(store.run(r).label or r): r for r in run_ids}


def series(store, run_id: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Every stored point of a scalar series."""
    return store.scalars(run_id, name)


def baseline(store, run_id: str, key: str) -> float:
    return float(store.run(run_id).summary.get("baselines", {}).get(key, math.nan))


def final(store, run_id: str, name: str) -> float:
    _, v = series(store, run_id, name)
    return float(v[-1]) if len(v) else math.nan


def tail_mean(store, run_id: str, name: str, share: float = 0.25) -> float:
    """Mean of the last `share` of a series' points."""
    _, v = series(store, run_id, name)
    if not len(v):
        return math.nan
    return float(np.mean(v[-max(1, int(len(v) * share)) :]))


def median(store, run_id: str, name: str) -> float:
    _, v = series(store, run_id, name)
    return float(np.median(v)) if len(v) else math.nan


def first_step_below(store, run_id: str, name: str, level: float) -> float:
    """The first step at which a series is below `level`; NaN if never."""
    steps, v = series(store, run_id, name)
    below = np.nonzero(v < level)[0]
    return float(steps[below[0]]) if len(below) else math.nan


def step_lengths(store, run_id: str) -> np.ndarray:
    """Length of each probed update, ||dW|| over all parameters: update_ratio x ||W||.

    ||W|| is taken after the update (the probe records that one), so the figure is exact to
    within the update's own size relative to the weights' (about 3 % here)."""
    steps, ratio = series(store, run_id, WeightProbe.RATIO_ALL.name)
    names = [n for n in store.series_names(run_id) if WeightProbe.NORM.matches(n)]
    w2 = np.zeros(len(steps))
    for n in names:
        s, v = series(store, run_id, n)
        w2 += np.interp(steps, s, v) ** 2
    return ratio * np.sqrt(w2)
