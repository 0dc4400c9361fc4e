"""Character text task: windows, epochs, split, vocabulary, loss and baselines."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from data import DataError, TextTask, load_corpus, make_task

TEXT = load_corpus("pydoc")[:20_000]


@pytest.fixture(scope="module")
def task():
    return TextTask(TEXT, seq_len=16, seed=3, source="pydoc")


def _rows(batches):
    return [tuple(row.tolist()) for b in batches for row in b.x]


def test_make_task_reads_the_config():
    cfg = SimpleNamespace(task="text", corpus="pydoc", seq_len=32, seed=0, variable_length="packed")
    task = make_task(cfg)
    assert task.name == "text" and task.loss_kind == "ce"
    assert task.input_vocab == task.output_size == len(task.vocab)
    assert next(iter(task.train_batches(0, 8))).x.shape == (8, 32)


def test_y_is_x_shifted_by_one(task):
    for b in [next(iter(task.train_batches(0, 8))), task.val_batches(8, 1)[0]]:
        assert b.x.dtype == b.y.dtype == torch.int64 and b.lengths is None
        assert torch.equal(b.x[:, 1:], b.y[:, :-1])
        assert task.decode(b.x[0]) + task.decode(b.y[0, -1:]) in TEXT


def test_same_seed_same_order_new_epoch_new_order(task):
    again = TextTask(TEXT, seq_len=16, seed=3)
    assert _rows(task.train_batches(0, 8)) == _rows(again.train_batches(0, 8))
    assert _rows(task.train_batches(0, 8)) != _rows(task.train_batches(1, 8))
    assert _rows(task.train_batches(0, 8)) != _rows(TextTask(TEXT, seq_len=16, seed=4).train_batches(0, 8))


def test_every_window_once_per_epoch(task):
    n_train = int(len(TEXT) * 0.9)
    expected = [tuple(task.encode(TEXT[s : s + 16])) for s in range(0, n_train - 16, 16)]
    for epoch in (0, 1):
        batches = list(task.train_batches(epoch, 7))
        assert len(batches) == task.batches_per_epoch(7)
        assert sorted(_rows(batches)) == sorted(expected)  # each window exactly once


def test_val_split_is_the_last_tenth_and_fixed(task):
    split = int(len(TEXT) * 0.9)
    val = task.val_batches(8, 0)
    assert _rows(val) == _rows(task.val_batches(8, 0))
    assert len(task.val_batches(8, 2)) == 2
    assert task.decode(val[0].x[0]) == TEXT[split : split + 16]
    first_val, last_train = split, split - 1
    assert task.train_ids[-1] == task.encode(TEXT[last_train])[0]
    assert len(task.train_ids) + len(task.val_ids) == len(TEXT) and first_val == len(task.train_ids)


def test_unseen_characters_map_to_unk():
    text = "abcab" * 200 + "zz\u00e9" * 30  # z and é only in the validation tail
    task = TextTask(text, seq_len=8)
    assert task.vocab[1:] == ["a", "b", "c"]
    assert task.encode("az\u00e9b") == [1, 0, 0, 2]
    assert set(task.val_ids[-60:].tolist()) == {0}
    assert task.decode([1, 0, 2]) == "a\ufffdb"


def test_uniform_logits_score_ln_output_size(task):
    b = next(iter(task.train_batches(0, 8)))
    out = torch.zeros(8, 16, task.output_size)
    assert task.loss(out, b).item() == pytest.approx(math.log(task.output_size), abs=1e-6)
    assert task.last_loss(out, b).item() == pytest.approx(task.baselines()["uniform_loss"], abs=1e-6)
    assert task.baselines()["uniform_ppl"] == task.output_size


def test_last_loss_is_the_last_position_alone(task):
    b = next(iter(task.train_batches(0, 8)))
    out = torch.randn(8, 16, task.output_size)
    manual = np.mean([-torch.log_softmax(out[i, -1], -1)[b.y[i, -1]].item() for i in range(8)])
    assert task.last_loss(out, b).item() == pytest.approx(manual, abs=1e-5)
    perfect = torch.nn.functional.one_hot(b.y, task.output_size).float()
    assert task.metrics(perfect, b)["acc"] == 1.0


def test_unigram_ppl_matches_a_direct_count():
    text = "aab" * 300 + "ab" * 40
    task = TextTask(text, seq_len=4)
    split = int(len(text) * 0.9)
    train, val = text[:split], text[split:]
    V = task.output_size  # UNK, a, b
    p = {c: (train.count(c) + 1e-3) / (len(train) + 1e-3 * V) for c in "ab"}
    expected = math.exp(-np.mean([math.log(p[c]) for c in val]))
    assert task.baselines()["unigram_ppl"] == pytest.approx(expected, rel=1e-9)


def test_too_short_text_says_so():
    with pytest.raises(DataError, match="seq_len"):
        TextTask("short text", seq_len=64, source="tiny.txt")
