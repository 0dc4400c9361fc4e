"""ProbeRunner: which probes run at a step, where they run, and keeping them within their time budget.

The trainer calls it at three moments of a step, and collects what the probe worker finished:

    runner.begin(step)                 # decides which probes are due; starts the step's clock
    runner.after_backward(ctx)         # gradients exist, not yet clipped: inline probes measure,
                                       # split probes capture and go to the worker
    measured = runner.after_step(ctx)  # after optimizer.step(); {} when nothing was due
    for step, measured in runner.collect():  # split probes' results, at the steps they were captured
        ...
    runner.collect(wait=True)          # at the end or a pause: every capture analysed first

Tiers (engine/cadence.py ProbeBudget each): light probes (histograms, saturation, logits,
weights, spectra) and heavy ones (the state Jacobian, gradient reach), each with its share of
the budget and its own cadence. Every default probe is a split probe (engine/probes/base.py
SplitProbe): the training thread pays only its capture (one copy of the weights a step, shared
by all; the gradients; references to a few hidden states; the weights after the update), and the
budget counts what the training thread pays, so the light tier runs every probe_every steps
unless its captures cost more than its third. The heavy tier's analyses are charged to its share as well, though the
worker pays them: they are costly (an unrolled forward and backward, eigensolves), and where
every core trains a run (a group of three on two cores) the worker's time is taken from
training. So they keep the cadence they had on the training thread, and on a machine with a
spare core the training thread no longer waits for them. Neither tier starts while the worker
is still analysing the run's previous capture, so the worker never falls behind and uses at most
one core; with a budget of 1 (the exact cadence, as tests and lockstep comparisons ask) a due
tier waits for the worker instead, so which steps are probed never depends on timing.
"""

from __future__ import annotations

import math
import time

from engine.cadence import TIME_BETA, ProbeBudget
from engine.probes import ProbeContext, SplitProbe, default_probes
from engine.probes.worker import ProbeWorker
from engine.series import Series
from engine.smoothing import Ema

INTERVAL = Series("probe/interval", "scalar", "steps between heavy probes in force (stretched to stay within probe_budget)")
SERIES = (INTERVAL,)


class ProbeRunner:
    """Runs the light and heavy probes of one run at their budgeted cadence; split probes' analyses on a worker."""

    def __init__(self, cfg, offload: bool = True):
        probes = default_probes(cfg)
        self.light = [p for p in probes if not p.heavy]
        self.heavy = [p for p in probes if p.heavy]
        # a budget of 1 (all of the time) means the exact cadence: nothing stretches, even when a tiny
        # model's probes cost more than its steps
        self.exact = cfg.probe_budget >= 1
        budget = math.inf if self.exact else cfg.probe_budget
        self.light_budget = ProbeBudget(cfg.probe_every, budget / 3)
        self.heavy_budget = ProbeBudget(cfg.probe_every, budget * 2 / 3)
        # offload=False analyses split probes inline (their after_backward), as tests compare
        split = any(isinstance(p, SplitProbe) for p in probes)
        self.worker = ProbeWorker() if offload and split else None
        self._step_time = Ema(TIME_BETA)  # wall time of a step without probes, seconds
        self.due: list = []
        self.heavy_due = False
        self._measured: dict = {}
        self._captured: list = []  # this step's (split probe, capture), submitted after the update
        self._spent = {False: 0.0, True: 0.0}  # this step's training-thread probe seconds, by tier (heavy or not)
        self._heavy_sent: dict[int, tuple[float, list[int]]] = {}  # step -> (capture seconds, heavy items' positions)
        self._ready: list[tuple[int, dict]] = []  # analyses taken from the worker, not yet handed to the trainer
        self._t0 = 0.0

    def begin(self, step: int) -> None:
        """Decide what runs at `step`; call before the forward pass."""
        if self.worker is not None:  # finished analyses first: the heavy tier's cost is known before it is due again
            due = self.light_budget.is_due(step) or self.heavy_budget.is_due(step)
            self._take(wait=self.exact and due)
        worker_free = self.worker is None or not self.worker.busy()
        light_due = bool(self.light) and worker_free and self.light_budget.due(step, self._step_time.value)
        charged = not self._heavy_sent  # the last heavy round's analysis is in the budget's estimate
        self.heavy_due = bool(self.heavy) and worker_free and charged and self.heavy_budget.due(step, self._step_time.value)
        self.due = (self.light if light_due else []) + (self.heavy if self.heavy_due else [])
        self._measured, self._spent, self._captured = {}, {False: 0.0, True: 0.0}, []
        self._t0 = time.perf_counter()

    def after_backward(self, ctx: ProbeContext) -> None:
        """Inline probes measure; split probes capture (for the worker, once the step has completed)."""
        for probe in self.due:
            t0 = time.perf_counter()
            if self.worker is not None and isinstance(probe, SplitProbe):
                captured = probe.capture(ctx)
                if captured is not None:
                    self._captured.append((probe, captured))
            else:
                self._measured.update(probe.after_backward(ctx) or {})
            self._spent[probe.heavy] += time.perf_counter() - t0

    def after_step(self, ctx: ProbeContext) -> dict:
        """The step's inline measurements (floats and arrays); also times a step that had none.

        The step's captures go to the worker here, so a step that diverged (and never gets here)
        records no probe, inline or split.
        """
        if not self.due:
            self._step_time.update(time.perf_counter() - self._t0)
            return {}
        if self._captured:
            completed = []
            for probe, captured in self._captured:
                t0 = time.perf_counter()
                completed.append((probe, probe.complete(ctx, captured)))
                self._spent[probe.heavy] += time.perf_counter() - t0
            heavy_items = [i for i, (probe, _) in enumerate(completed) if probe.heavy]
            if heavy_items:  # charged when the worker hands its analysis back (collect)
                self._heavy_sent[ctx.step] = (self._spent[True], heavy_items)
            self.worker.submit(ctx.step, completed)
        self._run("after_step", ctx)
        for heavy, budget in ((False, self.light_budget), (True, self.heavy_budget)):
            if self._spent[heavy] and not (heavy and ctx.step in self._heavy_sent):
                budget.spent(self._spent[heavy])
        if self.heavy_due:
            self._measured[INTERVAL.name] = float(self.heavy_budget.interval)
        return self._measured

    def collect(self, wait: bool = False) -> list[tuple[int, dict]]:
        """Split probes' finished results [(step, measured)], oldest first; wait=True: all submitted so far.

        Raises engine.probes.worker.ProbeError when an analysis raised.
        """
        if self.worker is None:
            return []
        self._take(wait)
        found, self._ready = self._ready, []
        return found

    def _take(self, wait: bool = False) -> None:
        """Move the worker's finished analyses to _ready, charging heavy rounds to the heavy tier."""
        for step, measured, seconds in self.worker.collect(wait=wait, timed=True):
            if step in self._heavy_sent:
                captured, items = self._heavy_sent.pop(step)
                self.heavy_budget.spent(captured + sum(seconds[i] for i in items if i < len(seconds)))
            self._ready.append((step, measured))

    def _run(self, moment: str, ctx: ProbeContext) -> None:
        for probe in self.due:
            if self.worker is not None and isinstance(probe, SplitProbe):
                continue  # captured after backward, completed and handed to the worker above
            t0 = time.perf_counter()
            self._measured.update(getattr(probe, moment)(ctx) or {})
            self._spent[probe.heavy] += time.perf_counter() - t0
