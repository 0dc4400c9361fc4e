"""When to evaluate and when to probe.

Evaluation runs every N steps, or at fixed fractions of each epoch (eval_every < 1), so that
"four times per epoch" lands on the same quarter boundaries in every epoch.

Light probes (histograms, saturation, logits, weights) run every `probe_every` steps. Heavy
ones (spectra, gradient reach) run at that cadence too, unless they would take more than
the config's `probe_budget` share of the training time: then their interval stretches, and
the trainer records the interval it used as `probe/interval`.
"""

from __future__ import annotations

import math
import time


class EvalCadence:
    """Decides after which steps the trainer evaluates."""

    def __init__(self, eval_every: float, batches_per_epoch: int):
        self.every = int(eval_every) if eval_every >= 1 else None
        if self.every is None:
            # batch positions (1-based, within an epoch) after which to evaluate
            k_max = math.ceil(1 / eval_every - 1e-9)
            self.positions = {min(batches_per_epoch, max(1, round(k * eval_every * batches_per_epoch)))
                              for k in range(1, k_max + 1)}
        self.bpe = batches_per_epoch

    def due(self, step: int) -> bool:
        """True if an evaluation follows the update made at `step` (0-based)."""
        if self.every is not None:
            return (step + 1) % self.every == 0
        return (step % self.bpe) + 1 in self.positions


class ProbeBudget:
    """Probe every `every` steps, stretched so probes stay within `budget` of the wall time."""

    def __init__(self, every: int, budget: float):
        self.every = every
        self.budget = budget
        self.interval = every
        self.next_due = 0  # the initial model is always measured
        self.step_time = None  # EMA of the wall time of a step without probes, seconds
        self.probe_time = None  # EMA of the time one round of probes takes, seconds
        self._last = None
        self._probed_last = False

    def due(self, step: int) -> bool:
        """Called once per step, before deciding; also times the steps."""
        now = time.perf_counter()
        if self._last is not None and not self._probed_last:
            self.step_time = _ema(self.step_time, now - self._last)
        self._last = now
        self._probed_last = self.every > 0 and step >= self.next_due
        if self._probed_last:
            self.interval = self._interval()
            self.next_due = step + self.interval
        return self._probed_last

    def spent(self, seconds: float) -> None:
        """Report how long this step's probes took."""
        self.probe_time = _ema(self.probe_time, seconds)

    def _interval(self) -> int:
        if not self.step_time or not self.probe_time:
            return self.every
        return max(self.every, math.ceil(self.probe_time / (self.budget * self.step_time)))


def _ema(old: float | None, new: float, beta: float = 0.8) -> float:
    return new if old is None else beta * old + (1 - beta) * new
