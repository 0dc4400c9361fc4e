"""What every probe shares: the context a probe step sees, the no-op Probe base, and batch helpers.

On a probe step the trainer builds one ProbeContext and calls, for every probe in order:

    loss.backward()
    measured = {}; [measured.update(p.after_backward(ctx)) for p in probes]  # grads exist, unclipped
    clip; optimizer.step()
    [measured.update(p.after_step(ctx)) for p in probes]                     # weights updated

Both calls happen on the same step, after_backward first (WeightProbe keeps the weights
before the update then). Each returns {series name: float | np.ndarray}, detached, on CPU.

A SplitProbe comes in two halves so that its work leaves the training thread: `capture(ctx)`
runs on the training thread after backward and takes cheap detached copies (weights, gradients,
a few hidden states), and `analyse(captured)` turns them into the measurement on a probe worker
(engine/probes/worker.py). Its `after_backward` is the two halves in a row: the same probe inline.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from engine.series import Series
from engine.shadow import cloned_weights


@dataclass
class ProbeContext:
    """What one probe step sees; the trainer fills it once after backward and reuses it after the step."""

    model: Any  # RecurrentLM
    task: Any  # data.Task: loss, last_loss, loss_kind
    batch: Any  # data.Batch: x, y, lengths
    out: torch.Tensor  # (B, T, O) outputs of this step's training forward
    hiddens: list[torch.Tensor]  # per layer (B, T, H) from the same forward
    step: int
    cfg: Any  # RunConfig
    cloned: dict | None = dataclasses.field(default=None, repr=False)  # weights(), once taken

    def weights(self) -> dict[str, torch.Tensor]:
        """The model's weights as they are now (after backward, before the update), cloned once a step for all probes."""
        if self.cloned is None:
            self.cloned = cloned_weights(self.model)
        return self.cloned


class Probe:
    """No-op base: override one of the two moments, and declare what you record in `series`."""

    heavy = False  # costly to measure (the state Jacobian, gradient reach): the heavy tier, with its own share of the budget
    series: tuple[Series, ...] = ()

    def after_backward(self, ctx: ProbeContext) -> dict:
        """Called after loss.backward() and before clipping and the optimizer step."""
        return {}

    def after_step(self, ctx: ProbeContext) -> dict:
        """Called after optimizer.step() on the same step."""
        return {}


class SplitProbe(Probe):
    """A probe whose analysis runs off the training thread: capture there, analyse on a probe worker.

    capture(ctx), on the training thread after backward (before clipping and the update), returns
    what the analysis needs and nothing that the step goes on to change: clones of weights and
    gradients (the update and clipping change those in place), detached references to the forward's
    outputs (nothing writes into them). complete(ctx, captured), after the update, may add what the
    update decided (the weights after it). Neither synchronises the device: no .item(), .cpu(),
    float() or numpy there, so a probe step on a GPU queues copies and goes on. analyse(captured),
    on the worker, sees no model, no graph and no context; it moves what it needs to the CPU (a wait
    that blocks only the worker) and returns {series name: float | np.ndarray}.
    """

    def capture(self, ctx: ProbeContext) -> Any:
        """Training thread: detached copies for analyse; None when there is nothing to measure."""
        raise NotImplementedError

    def complete(self, ctx: ProbeContext, captured: Any) -> Any:
        """Training thread, after the update: the capture with what the update decided added (default: as it is)."""
        return captured

    def analyse(self, captured: Any) -> dict:
        """Probe worker: the measurement from capture's copies."""
        raise NotImplementedError

    def after_backward(self, ctx: ProbeContext) -> dict:
        """The probe inline: capture and analyse in a row, on the calling thread (a probe with a complete() overrides it)."""
        captured = self.capture(ctx)
        return {} if captured is None else self.analyse(captured)


def first_sequences(batch, b: int):
    """The batch cut to its first b sequences: every tensor field whose first dim is B is sliced."""
    B = batch.x.shape[0]
    names = [f.name for f in dataclasses.fields(batch)] if dataclasses.is_dataclass(batch) else list(vars(batch))
    cut = {}
    for n in names:
        v = getattr(batch, n)
        cut[n] = v[:b] if torch.is_tensor(v) and v.dim() > 0 and v.shape[0] == B else v
    if dataclasses.is_dataclass(batch):
        return dataclasses.replace(batch, **cut)
    return type(batch)(**cut)  # e.g. a SimpleNamespace in tests


def real_positions(batch, T: int, device) -> torch.Tensor | None:
    """(B, T) bool, True at real (non-pad) positions; None when every sequence is full length."""
    if batch.lengths is None:
        return None
    return torch.arange(T, device=device)[None, :] < batch.lengths.to(device)[:, None]
