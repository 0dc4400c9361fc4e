"""Next-item prediction on a Markov chain with known structure (sequence recommendation).

The chain is fixed by the seed: each of the `num_items` items has 10 successors with
Dirichlet(1) weights; a step follows a successor with probability 0.7 and jumps to a
uniformly random item with probability 0.3 (noise), so

    P(next = j | current = i) = 0.7 * w[i, j] + 0.3 / num_items.

A sequence is a uniform start item and 10 steps: x (B, 10) int64 the first 10 items,
y (B,) int64 the 11th. The training set is `train_sequences` fixed sequences, reshuffled
each epoch by seed + epoch; validation is 2,000 fresh ones. The loss is the cross-entropy
of the last position's logits out[:, -1, :] against y.

An oracle that knows the chain ranks items by P(next | x[:, -1]); its top 10 are exactly
the 10 successors, so its HR@10 is about 0.7 + 0.3 * 10 / num_items.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from data.batch import Batch
from data.task import Task, chunks, first, num_batches, shuffled

SUCCESSORS = 10  # successors per item
NOISE = 0.3  # chance that a step jumps to a uniformly random item
HISTORY = 10  # items given as input
VAL_SIZE = 2000
TOP_K = 10  # HR@10
VAL_SEED_OFFSET = 10_000


class NextItemTask(Task):
    """Predict the 11th item of a sequence from the first 10."""

    name = "next_item"
    loss_kind = "ce"

    def __init__(self, num_items: int, train_sequences: int, seed: int = 0):
        self.num_items, self.seed = num_items, seed
        self.input_vocab = self.output_size = num_items
        rng = np.random.default_rng((seed, 2))
        # each item's successors (N, 10), distinct, and their weights (N, 10), rows sum to 1
        self.successors = np.stack([rng.choice(num_items, SUCCESSORS, replace=False) for _ in range(num_items)])
        self.weights = rng.dirichlet(np.ones(SUCCESSORS), num_items)
        self.train = self.sample(np.random.default_rng((seed, 3)), train_sequences)
        self.val = self.sample(np.random.default_rng((seed + VAL_SEED_OFFSET, 4)), VAL_SIZE)

    def sample(self, rng: np.random.Generator, n: int) -> Batch:
        """n sequences walked on the chain: x (n, 10), y (n,)."""
        items = np.empty((n, HISTORY + 1), dtype=np.int64)
        items[:, 0] = rng.integers(0, self.num_items, n)
        cum = np.cumsum(self.weights, axis=1)  # (N, 10) for inverse-CDF sampling
        for t in range(1, HISTORY + 1):
            cur = items[:, t - 1]
            k = (rng.random(n)[:, None] > cum[cur]).sum(1).clip(max=SUCCESSORS - 1)  # (n,) successor slot
            noise = rng.random(n) < NOISE
            items[:, t] = np.where(noise, rng.integers(0, self.num_items, n), self.successors[cur, k])
        return Batch(torch.from_numpy(items[:, :HISTORY].copy()), torch.from_numpy(items[:, HISTORY].copy()))

    def transition(self, current: np.ndarray) -> np.ndarray:
        """(n, N) true probabilities of the next item given the current items (n,)."""
        p = np.full((len(current), self.num_items), NOISE / self.num_items)
        rows = np.arange(len(current))[:, None]
        p[rows, self.successors[current]] += (1 - NOISE) * self.weights[current]
        return p

    # ---- batches ---------------------------------------------------------------------
    def batches_per_epoch(self, batch_size: int) -> int:
        """ceil(train_sequences / batch_size)."""
        return num_batches(len(self.train.y), batch_size)

    def train_batches(self, epoch: int, batch_size: int) -> Iterator[Batch]:
        """The fixed training sequences, shuffled by seed + epoch."""
        for idx in chunks(shuffled(len(self.train.y), self.seed, epoch), batch_size):
            yield Batch(self.train.x[idx], self.train.y[idx])

    def val_batches(self, batch_size: int, max_batches: int = 0) -> list[Batch]:
        """The 2,000 validation sequences in a fixed order."""
        v = self.val
        batches = [Batch(v.x[i : i + batch_size], v.y[i : i + batch_size]) for i in range(0, len(v.y), batch_size)]
        return first(batches, max_batches)

    # ---- loss and metrics ------------------------------------------------------------
    def loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Cross-entropy of the last position's logits against the next item."""
        return F.cross_entropy(out[:, -1], batch.y)

    def last_loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        """The same as the loss: only the last position is scored."""
        return self.loss(out, batch)

    @torch.no_grad()
    def metrics(self, out: torch.Tensor, batch: Batch) -> dict[str, float]:
        """hr@10: the target is among the 10 highest logits; acc: it is the highest."""
        logits = out[:, -1]  # (B, N)
        top = logits.topk(min(TOP_K, logits.shape[-1]), dim=-1).indices  # (B, 10)
        hit = (top == batch.y[:, None]).any(-1)
        return {"hr@10": hit.float().mean().item(), "acc": (top[:, 0] == batch.y).float().mean().item()}

    def baselines(self) -> dict[str, float]:
        """uniform_loss = ln(num_items); the chain oracle's oracle_hr@10 and oracle_loss on validation."""
        current = self.val.x[:, -1].numpy()
        y = self.val.y.numpy()
        hit = (self.successors[current] == y[:, None]).any(1)  # oracle top 10 = the 10 successors
        p = self.transition(current)[np.arange(len(y)), y]
        return {
            "uniform_loss": math.log(self.num_items),
            "oracle_hr@10": float(hit.mean()),
            "oracle_loss": float(-np.log(p).mean()),
        }
