"""Validation: what one validation point measures, and on how much held-out data.

    validation = Validation(task, cfg, device)
    values = validation.measure(model)               # {val/loss, val/ppl, ...} on the sample
    values = validation.measure(model, full=True)    # and val_full/* on the whole split
    validation.sizes()                               # batches, sequences and targets each kind reads
    later = WholeSplitLater(validation)              # val_full/* off the training thread:
    later.request(model, step)                       #   copies the weights, returns at once
    for step, values in later.collect(): ...         #   the whole-split values measured so far, in step order

Two kinds of point, recorded as two series so a chart never mixes them:

- `val/*`, at every evaluation: `eval_batches` batches (of the training batch size) spread evenly
  over the whole validation split (0: every batch). Spread, not the first ones: a text's validation
  split is its tail, and its first batches can read very differently from the rest (measured on the
  default run at step 500: first 8 of 23 batches 5.97 perplexity, 8 spread over the split 5.04, the
  whole split 5.15). The same batches every time, so successive points differ by the model alone.
- `val_full/*`: the whole validation split, every `full_eval_every` evaluations and at the end of
  the run, read in batches of about FULL_TOKENS positions (a forward pass over many sequences at
  once costs less per sequence than over few).

A point is the mean over its targets (every character of the text task, every real token of the
lines task, one per sequence elsewhere): batch means weighted by their targets, so the whole-split
value is what a plain loop over every validation target computes, however the split is batched.

The whole split is read on a worker thread (WholeSplitLater) from the weights copied at the
step, so the training thread pays a copy instead of the pass: on the default corpus that pass
took 8 training steps, once per full_eval_every evaluations. The sample stays on the training
thread: the plateau schedule and the diagnoses act on it at the step it was taken.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from engine.probes.worker import ProbeWorker
from engine.series import Series
from engine.shadow import ShadowModel

FULL_TOKENS = 16_384  # positions per whole-split batch (at least the training batch size in sequences)

VAL_LOSS = Series("val/loss", "scalar", "validation loss at an evaluation, on eval_batches batches spread over the split")
VAL_PPL = Series("val/ppl", "scalar", "exp(val/loss) (classification tasks)")
VAL_BPC = Series("val/bpc", "scalar", "val/loss in bits: val/loss / ln 2")
VAL_METRIC = Series("val/{metric}", "scalar", "a task metric on the validation batches")
FULL_LOSS = Series("val_full/loss", "scalar", "validation loss on the whole validation split (every full_eval_every "
                   "evaluations and at the end)")
FULL_PPL = Series("val_full/ppl", "scalar", "exp(val_full/loss) (classification tasks)")
FULL_BPC = Series("val_full/bpc", "scalar", "val_full/loss in bits")
FULL_METRIC = Series("val_full/{metric}", "scalar", "a task metric on the whole validation split")
SERIES = (VAL_LOSS, VAL_PPL, VAL_BPC, VAL_METRIC, FULL_LOSS, FULL_PPL, FULL_BPC, FULL_METRIC)
SAMPLE, FULL = (VAL_LOSS, VAL_PPL, VAL_BPC, VAL_METRIC), (FULL_LOSS, FULL_PPL, FULL_BPC, FULL_METRIC)


def spread(n: int, k: int) -> list[int]:
    """k indices of range(n) spread evenly from the start (all of them when k is 0 or at least n)."""
    if k <= 0 or k >= n:
        return list(range(n))
    return [i * n // k for i in range(k)]


class Validation:
    """The validation split of a run's task, on the device: the sample each evaluation reads, and the whole."""

    def __init__(self, task, cfg, device):
        self.task = task
        batches = task.val_batches(cfg.batch_size, 0)
        self.covers_split = cfg.eval_batches <= 0 or cfg.eval_batches >= len(batches)  # every point is whole
        self.sample = [batches[i].to(device) for i in spread(len(batches), cfg.eval_batches)]
        self.split = self.sample if self.covers_split else [
            b.to(device) for b in task.val_batches(max(cfg.batch_size, FULL_TOKENS // cfg.seq_len), 0)]
        self.split_batches = len(batches)  # in training-size batches, as eval_batches counts them

    def sizes(self) -> dict[str, dict[str, int]]:
        """{"sample": {...}, "split": {...}}: batches (of the training batch size), sequences and targets."""
        split = {**_size(self.split), "batches": self.split_batches}
        return {"sample": _size(self.sample), "split": split}

    @torch.no_grad()
    def measure(self, model, full: bool = False, sample: bool = True) -> dict[str, float]:
        """val/* on the sample (when `sample`), val_full/* on the whole split (when `full`)."""
        model.eval()
        values = {}
        if self.covers_split:  # one pass serves both
            measured = [self._batch(model, b) for b in self.split]
            if sample:
                values.update(self._values(measured, SAMPLE))
            if full:
                values.update(self._values(measured, FULL))
            return values
        if sample:
            values.update(self._values([self._batch(model, b) for b in self.sample], SAMPLE))
        if full:
            values.update(self._values([self._batch(model, b) for b in self.split], FULL))
        return values

    def _batch(self, model, batch) -> tuple[int, float, dict[str, float]]:
        out, _ = model(batch.x, batch.lengths)  # (B, T, O)
        return _targets(batch), self.task.loss(out, batch).item(), self.task.metrics(out, batch)

    def _values(self, measured, names: tuple[Series, ...]) -> dict[str, float]:
        loss_s, ppl_s, bpc_s, metric_s = names
        weights = np.array([n for n, _, _ in measured], dtype=float)  # targets per batch
        weights /= max(weights.sum(), 1.0)
        loss = float(np.dot(weights, [v for _, v, _ in measured])) if measured else math.nan
        values = {loss_s.name: loss}
        for name in measured[0][2] if measured else ():
            values[metric_s.at(metric=name)] = float(np.dot(weights, [m[name] for _, _, m in measured]))
        if self.task.loss_kind == "ce":
            values[ppl_s.name] = math.exp(loss) if loss < 700 else math.inf
            values[bpc_s.name] = loss / math.log(2)
        return values


class WholeSplitLater:
    """val_full/* of the weights at a step, measured on a worker thread; collected by the training thread."""

    def __init__(self, validation: Validation):
        self.validation = validation
        self.shadow = ShadowModel()
        self.worker = ProbeWorker(name="rnnlab-validation")

    def request(self, model, step: int) -> None:
        """Training thread: take the weights as they are now; their whole-split values come back from collect()."""
        self.worker.submit(step, [(self, self.shadow.take(model))])

    def analyse(self, weights: dict) -> dict[str, float]:
        """Worker: val_full/* of the captured weights (the worker calls it like a split probe's analysis)."""
        return self.validation.measure(self.shadow.load(weights), full=True, sample=False)

    def collect(self, wait: bool = False) -> list[tuple[int, dict[str, float]]]:
        """[(step, val_full values)] measured so far, in step order; wait=True: every one requested.

        Raises engine.probes.worker.ProbeError when a measurement raised.
        """
        return self.worker.collect(wait=wait)


def _targets(batch) -> int:
    """Targets of a batch: real positions of a per-position task, else one per sequence."""
    if batch.y.dim() < 2:
        return batch.y.shape[0]
    return int(batch.lengths.sum()) if batch.lengths is not None else batch.y.numel()


def _size(batches) -> dict[str, int]:
    return {"batches": len(batches), "sequences": sum(b.x.shape[0] for b in batches),
            "targets": sum(_targets(b) for b in batches)}
