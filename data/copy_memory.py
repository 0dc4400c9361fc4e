"""Copy memory (Arjovsky et al. 2016): read 10 symbols, wait T steps, then write them back.

Symbols: 0 = blank, 1..8 = data, 9 = delimiter. A sequence has T + 20 steps (T = seq_len):

    input   d1 .. d10 | 0 x (T - 1) | 9 | 0 x 10        the delimiter sits at index T + 9
    target  0 x (T + 10)                 | d1 .. d10    the last 10 positions repeat the data

The loss is the mean cross-entropy over all T + 20 positions. A memoryless predictor that
knows the layout (blank for the first T + 10 steps, uniform over 1..8 for the last 10)
scores 10 ln 8 / (T + 20).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from data.batch import Batch
from data.synthetic import GeneratedTask

BLANK, DELIMITER = 0, 9
NUM_DATA = 8  # data symbols 1..8
COPY_LEN = 10  # symbols to remember


class CopyTask(GeneratedTask):
    """Reproduce the first 10 symbols after the delimiter."""

    name = "copy"
    input_vocab = 10
    output_size = 10  # 9 would do (the delimiter is never a target); 10 keeps ids aligned
    loss_kind = "ce"

    def __init__(self, seq_len: int, seed: int = 0):
        self.seq_len, self.seed = seq_len, seed

    def make(self, rng: np.random.Generator, n: int) -> Batch:
        """n sequences drawn from rng."""
        T = self.seq_len
        data = rng.integers(1, NUM_DATA + 1, (n, COPY_LEN))  # (n, 10) in 1..8
        x = np.full((n, T + 20), BLANK, dtype=np.int64)
        x[:, :COPY_LEN] = data
        x[:, T + 9] = DELIMITER
        y = np.full((n, T + 20), BLANK, dtype=np.int64)
        y[:, -COPY_LEN:] = data
        return Batch(torch.from_numpy(x), torch.from_numpy(y))

    def loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Mean cross-entropy over all T + 20 positions."""
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), batch.y.reshape(-1))

    def last_loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Cross-entropy at the last position (the 10th recalled symbol), mean over the batch."""
        return F.cross_entropy(out[:, -1], batch.y[:, -1])

    @torch.no_grad()
    def metrics(self, out: torch.Tensor, batch: Batch) -> dict[str, float]:
        """acc: share of the 10 recalled symbols predicted right."""
        hit = out[:, -COPY_LEN:].argmax(-1) == batch.y[:, -COPY_LEN:]
        return {"acc": hit.float().mean().item()}

    def baselines(self) -> dict[str, float]:
        """memoryless_loss: 10 ln 8 / (T + 20)."""
        return {"memoryless_loss": COPY_LEN * math.log(NUM_DATA) / (self.seq_len + 20)}
