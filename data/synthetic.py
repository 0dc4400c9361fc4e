"""What the generated tasks (adding, copy) share: seeded streams of fresh batches.

Training batch k of epoch e comes from its own generator seeded by (seed, e, k), so any batch
can be rebuilt alone and the same seed gives the same data in every run. An "epoch" is just
TRAIN_BATCHES fresh batches. The validation set is VAL_SIZE sequences generated once from
seed + 10_000, then cut into batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property

import numpy as np

from data.batch import Batch
from data.task import Task, first

TRAIN_BATCHES = 100  # batches in one (nominal) epoch of fresh data
VAL_SIZE = 2048  # sequences in the fixed validation set
VAL_SEED_OFFSET = 10_000


def train_rng(seed: int, epoch: int, k: int) -> np.random.Generator:
    """The generator of training batch k of epoch `epoch`."""
    return np.random.default_rng((seed, 0, epoch, k))


def val_rng(seed: int) -> np.random.Generator:
    """The generator of the validation set."""
    return np.random.default_rng((seed + VAL_SEED_OFFSET, 1))


class GeneratedTask(Task):
    """A task whose sequences come from the subclass's `make(rng, n) -> Batch`."""

    seed: int = 0

    def make(self, rng: np.random.Generator, n: int) -> Batch:
        """n sequences drawn from rng."""
        raise NotImplementedError

    def batches_per_epoch(self, batch_size: int) -> int:
        """A fixed TRAIN_BATCHES, so epochs have a size."""
        return TRAIN_BATCHES

    def train_batches(self, epoch: int, batch_size: int) -> Iterator[Batch]:
        """TRAIN_BATCHES fresh batches, each fixed by (seed, epoch, k)."""
        for k in range(TRAIN_BATCHES):
            yield self.make(train_rng(self.seed, epoch, k), batch_size)

    @cached_property
    def val_set(self) -> Batch:
        """All VAL_SIZE validation sequences, generated once."""
        return self.make(val_rng(self.seed), VAL_SIZE)

    def val_batches(self, batch_size: int, max_batches: int = 0) -> list[Batch]:
        """The fixed validation set (VAL_SIZE sequences) in batches."""
        v = self.val_set
        batches = [Batch(v.x[i : i + batch_size], v.y[i : i + batch_size]) for i in range(0, VAL_SIZE, batch_size)]
        return first(batches, max_batches)
