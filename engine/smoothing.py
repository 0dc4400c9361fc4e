"""Smoothing and thinning: one debiased moving average and one even thinning for every part.

The moving average is TensorBoard's: debiased, so the first values are not dragged towards
zero, and NaN skipped. It decays by `beta` per step of the x axis rather than per point, and a
point that stands for several steps (a bucket mean of a thinned series) weighs as those steps
together, so a series thinned to bucket means smooths to about the same curve as the full one.

    e = Ema(0.8); e.update(x)                       # incremental: a running timing, say
    y = smooth(steps, values, beta=0.6)             # a whole series, for a chart
    keep = evenly(len(items), 100)                  # at most 100 indices, first and newest kept
"""

from __future__ import annotations

import math

import numpy as np


class Ema:
    """Debiased exponential moving average, updated one value at a time."""

    def __init__(self, beta: float):
        self.beta = beta
        self.total = 0.0  # sum of beta^age * value
        self.weight = 0.0  # sum of beta^age: dividing by it removes the bias towards the zero start
        self.value: float | None = None
        self.step: float | None = None  # where the last finite value was added

    def update(self, x: float, step: float | None = None) -> float | None:
        """Add a value at `step` (default: one step after the last); the average so far (None before any)."""
        if not math.isfinite(x):
            return self.value
        step = (0.0 if self.step is None else self.step + 1) if step is None else float(step)
        # a value `gap` steps after the last one stands for those gap steps: it gets their weight,
        # 1 - beta^gap, so a series thinned to bucket means smooths like the full one
        gap = 1.0 if self.step is None else max(step - self.step, 0.0)
        decay = self.beta**gap
        self.step = step
        self.total = decay * self.total + (1 - decay) * x
        self.weight = decay * self.weight + (1 - decay)
        self.value = self.total / self.weight
        return self.value


def smooth(steps, values, beta: float) -> np.ndarray:
    """The debiased EMA of each point of a series (non-finite points skipped, their slots keep the average)."""
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    if beta <= 0 or not len(values):
        return values.copy()
    e, out = Ema(beta), np.empty(len(values))
    for i, (step, x) in enumerate(zip(steps, values)):
        v = e.update(x, step)
        out[i] = np.nan if v is None else v
    return out


def evenly(n: int, k: int) -> np.ndarray:
    """Indices of at most k of n items, spread evenly, the first and the newest always among them."""
    if n <= k:
        return np.arange(n)
    if k <= 1:
        return np.array([n - 1])
    return np.unique(np.linspace(0, n - 1, k).round().astype(int))
