"""Task: the interface every task (text, adding, copy, next item, lines) offers the engine.

A task owns its data, its batching and its loss, so the trainer never needs to know which
task it trains. See docs/contracts.md, section data/.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from data.batch import Batch


class Task:
    """Base class of the tasks; the attributes below are set by each subclass."""

    name: str = ""
    input_vocab: int | None = None  # token tasks: embedding rows
    input_dim: int | None = None  # vector tasks: features per time step
    output_size: int = 1  # classes, or 1 for regression
    pad_id: int | None = None  # the lines task pads with this id
    vocab: list[str] | None = None  # text tasks: the character of each id
    loss_kind: str = "ce"  # "ce" (perplexity makes sense) or "mse"
    metrics_every_step: bool = True  # False: the trainer measures train metrics on probe steps only

    def batches_per_epoch(self, batch_size: int) -> int:
        """Training batches in one epoch."""
        raise NotImplementedError

    def train_batches(self, epoch: int, batch_size: int) -> Iterator[Batch]:
        """The batches of one epoch, in an order fixed by seed + epoch."""
        raise NotImplementedError

    def val_batches(self, batch_size: int, max_batches: int = 0) -> list[Batch]:
        """The first `max_batches` validation batches (0: all), the same on every call."""
        raise NotImplementedError

    def loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        """The training loss (scalar) of the model's output `out` (B, T, output_size)."""
        raise NotImplementedError

    def last_loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        """The loss at each sequence's last (real) position alone, averaged over the batch."""
        raise NotImplementedError

    def metrics(self, out: torch.Tensor, batch: Batch) -> dict[str, float]:
        """Extra per-batch metrics as plain floats."""
        return {}

    def baselines(self) -> dict[str, float]:
        """Reference lines for the charts."""
        return {}

    def encode(self, text: str) -> list[int]:
        """Text tasks only: the ids of `text`."""
        raise NotImplementedError(f"the {self.name} task has no text vocabulary")

    def decode(self, ids) -> str:
        """Text tasks only: the text of `ids`."""
        raise NotImplementedError(f"the {self.name} task has no text vocabulary")


def shuffled(n: int, seed: int, epoch: int) -> torch.Tensor:
    """A permutation of range(n) fixed by seed + epoch: the epoch order of every task."""
    g = torch.Generator().manual_seed(seed + epoch)
    return torch.randperm(n, generator=g)


def chunks(order: torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    """Consecutive slices of `order` of batch_size (the last one may be shorter)."""
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def num_batches(n: int, batch_size: int) -> int:
    """Batches needed to cover n examples once (a short last batch included)."""
    return math.ceil(n / batch_size)


def first(batches: list[Batch], max_batches: int) -> list[Batch]:
    """The first max_batches of a list (0: all of them)."""
    return batches[:max_batches] if max_batches > 0 else batches
