"""Adding problem and copy memory: targets, determinism, and baselines against direct oracles."""

import math

import numpy as np
import pytest
import torch

from data import AddingTask, CopyTask
from data.synthetic import TRAIN_BATCHES, VAL_SIZE


def test_adding_target_is_the_sum_of_the_marked_values():
    task = AddingTask(seq_len=20, seed=1)
    b = next(iter(task.train_batches(0, 64)))
    assert b.x.shape == (64, 20, 2) and b.x.dtype == torch.float32 and b.y.shape == (64,)
    marks = b.x[:, :, 1]
    assert torch.all(marks.sum(1) == 2)
    assert torch.all(marks[:, :10].sum(1) == 1) and torch.all(marks[:, 10:].sum(1) == 1)  # one per half
    assert torch.allclose((b.x[:, :, 0] * marks).sum(1), b.y, atol=1e-6)
    assert b.x[:, :, 0].min() >= 0 and b.x[:, :, 0].max() < 1


def test_adding_batches_are_fixed_by_seed_epoch_and_index():
    a, b = AddingTask(8, seed=5), AddingTask(8, seed=5)
    assert a.batches_per_epoch(16) == TRAIN_BATCHES
    first = [x.y for x in a.train_batches(0, 16)]
    assert all(torch.equal(p, q.y) for p, q in zip(first, b.train_batches(0, 16)))
    assert not torch.equal(first[0], first[1])
    assert not torch.equal(first[0], next(iter(a.train_batches(1, 16))).y)
    val = a.val_batches(100, 0)
    assert sum(v.x.shape[0] for v in val) == VAL_SIZE and torch.equal(val[0].y, b.val_batches(100, 1)[0].y)
    assert not any(torch.equal(val[0].y[:16], y) for y in first)  # validation is its own stream


def test_adding_baseline_is_the_generators_target_variance():
    task = AddingTask(seq_len=10, seed=0)
    y = torch.cat([b.y for b in task.train_batches(0, 1000)])  # 100k targets
    assert task.baselines()["mean_mse"] == pytest.approx(1 / 6)
    assert y.var().item() == pytest.approx(1 / 6, abs=0.003)
    b = task.val_batches(VAL_SIZE, 1)[0]
    mean_out = torch.full((b.x.shape[0], 10, 1), y.mean().item())
    assert task.loss(mean_out, b).item() == pytest.approx(1 / 6, abs=0.015)
    assert task.last_loss(mean_out, b).item() == task.loss(mean_out, b).item()


def test_copy_layout_and_targets():
    T = 12
    task = CopyTask(seq_len=T, seed=2)
    b = next(iter(task.train_batches(0, 32)))
    assert b.x.shape == b.y.shape == (32, T + 20) and b.x.dtype == torch.int64
    data = b.x[:, :10]
    assert data.min() >= 1 and data.max() <= 8
    assert torch.all(b.x[:, T + 9] == 9) and torch.all(b.x[:, 10 : T + 9] == 0) and torch.all(b.x[:, T + 10 :] == 0)
    assert torch.equal(b.y[:, -10:], data) and torch.all(b.y[:, :-10] == 0)
    assert task.input_vocab == task.output_size == 10


def test_copy_memoryless_baseline_equals_the_memoryless_predictor():
    T = 30
    task = CopyTask(seq_len=T, seed=0)
    b = task.val_batches(64, 1)[0]
    # knows the layout, not the data: blank with certainty, then uniform over the 8 data symbols
    out = torch.full((64, T + 20, 10), -1e4)
    out[:, : T + 10, 0] = 0.0
    out[:, T + 10 :, 1:9] = 0.0
    expected = 10 * math.log(8) / (T + 20)
    assert task.baselines()["memoryless_loss"] == pytest.approx(expected)
    assert task.loss(out, b).item() == pytest.approx(expected, rel=1e-5)
    assert task.last_loss(out, b).item() == pytest.approx(math.log(8), rel=1e-5)


def test_copy_accuracy_counts_the_last_ten_positions():
    task = CopyTask(seq_len=5)
    b = task.val_batches(16, 1)[0]
    out = torch.nn.functional.one_hot(b.y, 10).float()
    assert task.metrics(out, b)["acc"] == 1.0
    out[:, -10:] = torch.nn.functional.one_hot(torch.zeros_like(b.y[:, -10:]), 10).float()  # all blanks
    assert task.metrics(out, b)["acc"] == 0.0
    assert np.isclose(task.metrics(torch.zeros(16, 25, 10), b)["acc"], (b.y[:, -10:] == 0).float().mean().item())
