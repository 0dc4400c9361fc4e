"""When to evaluate and when to probe.

Evaluation runs every N steps, or at fixed fractions of each epoch (eval_every < 1), so that
"four times per epoch" lands on the same quarter boundaries in every epoch.

Probes come in two tiers. Light ones (histograms, saturation, logits, weights, spectra) and
heavy ones (the state Jacobian, gradient reach) both run every `probe_every` steps, unless that
would take more than their share of the config's `probe_budget` (light a third, heavy two
thirds) of the training time: then their interval stretches. The light tier counts only the
training thread's time (its analyses on the probe worker are not charged); the heavy tier also
counts its analyses, though the worker runs them (engine/probes/runner.py says why). The
trainer records the heavy interval it used as `probe/interval`. Step 0 is always measured.
"""

from __future__ import annotations

import math

from engine.smoothing import Ema

TIME_BETA = 0.8  # probe and step times are averaged over about the last five measurements

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
    """Probe every `every` steps, stretched so one tier's probes stay within `budget` of the time."""

    def __init__(self, every: int, budget: float):
        self.every = every
        self.budget = budget
        self.interval = every
        self.next_due = 0  # the initial model is always measured
        self.probe_time = Ema(TIME_BETA)  # one round of this tier's probes, seconds

    def due(self, step: int, step_time: float | None) -> bool:
        """Whether to probe at `step`, given the current time of a step without probes."""
        if self.every <= 0 or step < self.next_due:
            return False
        self.interval = self._interval(step_time)
        self.next_due = step + self.interval
        return True

    def is_due(self, step: int) -> bool:
        """Whether `step` is at or past the next due step (due() would probe, and moves it on)."""
        return self.every > 0 and step >= self.next_due

    def spent(self, seconds: float) -> None:
        """Report how long this step's probes of this tier took."""
        self.probe_time.update(seconds)

    def _interval(self, step_time: float | None) -> int:
        probe_time = self.probe_time.value
        if not step_time or not probe_time:
            return self.every
        return max(self.every, math.ceil(probe_time / (self.budget * step_time)))
