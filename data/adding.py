"""The adding problem (Hochreiter & Schmidhuber 1997): remember two marked numbers, output their sum.

x (B, T, 2): channel 0 holds values uniform in [0, 1]; channel 1 is 0 except for two 1s,
one in the first half (t < T // 2) and one in the second half. y (B,): the sum of the two
marked values. The model's answer is out[:, -1, 0]; the loss is its mean squared error.
Predicting the mean (1) scores the target's variance, Var(U1 + U2) = 2/12 = 1/6.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from data.batch import Batch
from data.synthetic import GeneratedTask

MEAN_MSE = 1 / 6  # variance of the sum of two independent U[0, 1]


class AddingTask(GeneratedTask):
    """Regression on the last step: the sum of the two marked values."""

    name = "adding"
    input_dim = 2
    output_size = 1
    loss_kind = "mse"

    def __init__(self, seq_len: int, seed: int = 0):
        self.seq_len, self.seed = seq_len, seed

    def make(self, rng: np.random.Generator, n: int) -> Batch:
        """n sequences drawn from rng."""
        T, half = self.seq_len, self.seq_len // 2
        values = rng.random((n, T))  # (n, T) uniform [0, 1)
        first_mark = rng.integers(0, half, n)  # (n,) in the first half
        second_mark = rng.integers(half, T, n)  # (n,) in the second half
        marks = np.zeros((n, T))
        rows = np.arange(n)
        marks[rows, first_mark] = 1.0
        marks[rows, second_mark] = 1.0
        x = np.stack([values, marks], axis=-1)  # (n, T, 2)
        y = values[rows, first_mark] + values[rows, second_mark]  # (n,)
        return Batch(torch.from_numpy(x).float(), torch.from_numpy(y).float())

    def loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        """MSE of the last step's output out[:, -1, 0] against the sum."""
        return F.mse_loss(out[:, -1, 0], batch.y)

    def last_loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        """The same as the loss: only the last step answers."""
        return self.loss(out, batch)

    def baselines(self) -> dict[str, float]:
        """mean_mse: the MSE of always answering the mean, 1/6."""
        return {"mean_mse": MEAN_MSE}
