"""Next-item task: the chain, epochs over a fixed training set, HR@10 and the oracle."""

import math

import numpy as np
import pytest
import torch

from data import NextItemTask


@pytest.fixture(scope="module")
def task():
    return NextItemTask(num_items=200, train_sequences=1000, seed=7)


def test_shapes_and_ids(task):
    b = next(iter(task.train_batches(0, 64)))
    assert b.x.shape == (64, 10) and b.y.shape == (64,)
    assert b.x.dtype == b.y.dtype == torch.int64 and b.lengths is None
    assert 0 <= int(b.x.min()) and int(b.x.max()) < 200
    assert task.input_vocab == task.output_size == 200
    assert np.allclose(task.transition(np.arange(200)).sum(1), 1.0)


def test_epochs_shuffle_a_fixed_training_set(task):
    def seqs(epoch):
        return [tuple(x.tolist()) + (int(y),) for b in task.train_batches(epoch, 64) for x, y in zip(b.x, b.y)]

    assert task.batches_per_epoch(64) == math.ceil(1000 / 64) == len(list(task.train_batches(0, 64)))
    assert len(seqs(0)) == 1000 and sorted(seqs(0)) == sorted(seqs(1))
    assert seqs(0) != seqs(1)
    assert seqs(0) == [
        s
        for b in NextItemTask(200, 1000, seed=7).train_batches(0, 64)
        for s in [tuple(x.tolist()) + (int(y),) for x, y in zip(b.x, b.y)]
    ]
    assert sum(b.x.shape[0] for b in task.val_batches(64, 0)) == 2000 and len(task.val_batches(64, 3)) == 3


def test_transitions_follow_the_chain(task):
    x, y = task.train.x.numpy(), task.train.y.numpy()
    current = x[:, -1]
    to_successor = (task.successors[current] == y[:, None]).any(1).mean()
    assert to_successor == pytest.approx(0.7 + 0.3 * 10 / 200, abs=0.04)


def test_oracle_hr10_from_true_probabilities(task):
    current, y = task.val.x[:, -1].numpy(), task.val.y.numpy()
    top10 = np.argsort(-task.transition(current), axis=1)[:, :10]
    direct = (top10 == y[:, None]).any(1).mean()
    base = task.baselines()
    assert base["oracle_hr@10"] == pytest.approx(direct)
    assert 0.6 < base["oracle_hr@10"] < 0.8
    assert base["uniform_loss"] == pytest.approx(math.log(200))
    assert base["oracle_loss"] < base["uniform_loss"]
    # the task's own metric on the oracle's logits agrees
    out = torch.zeros(2000, 10, 200)
    out[:, -1] = torch.from_numpy(np.log(task.transition(current))).float()
    b = task.val_batches(2000, 1)[0]
    assert task.metrics(out, b)["hr@10"] == pytest.approx(direct)
    assert task.loss(out, b).item() == pytest.approx(base["oracle_loss"], rel=1e-4)


def test_uniform_logits(task):
    b = task.val_batches(2000, 1)[0]
    out = torch.randn(2000, 10, 200, generator=torch.Generator().manual_seed(0)) * 1e-3  # random ranking
    m = task.metrics(out, b)
    assert m["hr@10"] == pytest.approx(10 / 200, abs=0.02)
    assert task.loss(torch.zeros(2000, 10, 200), b).item() == pytest.approx(math.log(200), abs=1e-5)
    assert task.last_loss(out, b).item() == task.loss(out, b).item()
