"""Variable-length lines: padding, lengths, and the loss each mode reports."""

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from data import DataError, LinesTask, load_corpus, make_task

TEXT = load_corpus("pydoc")[:60_000]


@pytest.fixture(scope="module")
def tasks():
    return {mode: LinesTask(TEXT, 40, mode, seed=1) for mode in ("packed", "padded_masked", "padded_naive")}


def test_lines_are_kept_by_length_and_split(tasks):
    task = tasks["packed"]
    kept = [s for s in TEXT.split("\n") if 5 <= len(s) <= 40]
    split = int(len(kept) * 0.9)
    assert [task.decode(s) for s in task.train_lines] == kept[:split]
    unk = ["".join(c if c in task.vocab else "\ufffd" for c in s) for s in kept[split:]]  # unseen -> UNK
    assert [task.decode(s) for s in task.val_lines] == unk
    assert task.pad_id == task.output_size - 1 == len(task.vocab) - 1 and task.vocab[0] == "\ufffd"


def test_padding_shift_and_lengths(tasks):
    task = tasks["packed"]
    b = next(iter(task.train_batches(0, 16)))
    assert b.x.shape == b.y.shape and b.x.shape[1] == int(b.lengths.max())
    for i, n in enumerate(b.lengths.tolist()):
        assert 4 <= n <= 39
        assert torch.all(b.x[i, n:] == task.pad_id) and torch.all(b.y[i, n:] == task.pad_id)
        assert not torch.any(b.x[i, :n] == task.pad_id)
        assert torch.equal(b.x[i, 1:n], b.y[i, : n - 1])
        assert task.decode(b.x[i, :n]) + task.decode(b.y[i, n - 1 : n]) in TEXT


def test_epochs_visit_every_line_once_in_a_seeded_order(tasks):
    task = tasks["packed"]

    def lines(t, epoch):
        return [t.decode(x[:n]) for b in t.train_batches(epoch, 16) for x, n in zip(b.x, b.lengths.tolist())]

    assert len(list(task.train_batches(0, 16))) == task.batches_per_epoch(16)
    assert sorted(lines(task, 0)) == sorted(task.decode(s[:-1]) for s in task.train_lines)
    assert lines(task, 0) == lines(LinesTask(TEXT, 40, "padded_naive", seed=1), 0)  # same order in every mode
    assert lines(task, 0) != lines(task, 1)


def _manual_real_loss(out, b):
    """A loop over the sequences: cross-entropy on each one's real positions, averaged over tokens."""
    total, count = 0.0, 0
    for i, n in enumerate(b.lengths.tolist()):
        total += F.cross_entropy(out[i, :n], b.y[i, :n], reduction="sum").item()
        count += n
    return total / count


def test_masked_loss_ignores_pads_and_naive_counts_them(tasks):
    b = tasks["packed"].val_batches(16, 1)[0]
    out = torch.randn(*b.x.shape, tasks["packed"].output_size, generator=torch.Generator().manual_seed(0))
    real = _manual_real_loss(out, b)
    for mode in ("packed", "padded_masked"):
        assert tasks[mode].loss(out, b).item() == pytest.approx(real, rel=1e-5)
    naive = F.cross_entropy(out.flatten(0, 1), b.y.flatten()).item()
    assert tasks["padded_naive"].loss(out, b).item() == pytest.approx(naive, rel=1e-5)
    assert tasks["padded_naive"].metrics(out, b)["real_loss"] == pytest.approx(real, rel=1e-5)
    # a model that predicts PAD after PAD looks better under the naive loss only
    cheat = out.clone()
    cheat[b.y == tasks["packed"].pad_id] = F.one_hot(torch.tensor(tasks["packed"].pad_id), out.shape[-1]) * 50.0
    assert tasks["padded_naive"].loss(cheat, b).item() < 0.9 * naive
    assert tasks["padded_masked"].loss(cheat, b).item() == pytest.approx(real, rel=1e-5)


def test_last_loss_at_each_last_real_position(tasks):
    task = tasks["packed"]
    b = task.val_batches(16, 1)[0]
    out = torch.randn(*b.x.shape, task.output_size, generator=torch.Generator().manual_seed(1))
    manual = sum(F.cross_entropy(out[i, n - 1], b.y[i, n - 1]).item() for i, n in enumerate(b.lengths.tolist())) / 16
    assert task.last_loss(out, b).item() == pytest.approx(manual, rel=1e-5)


def test_uniform_baseline_and_metrics(tasks):
    task = tasks["padded_masked"]
    b = task.val_batches(16, 1)[0]
    out = torch.zeros(*b.x.shape, task.output_size)
    assert task.loss(out, b).item() == pytest.approx(math.log(task.output_size), abs=1e-6)
    base = task.baselines()
    assert base["uniform_ppl"] == task.output_size and base["uniform_loss"] == pytest.approx(math.log(task.output_size))
    assert 1 < base["unigram_ppl"] < task.output_size
    m = task.metrics(F.one_hot(b.y, task.output_size).float(), b)
    assert m["acc"] == 1.0 and m["pad_share"] == pytest.approx(1 - b.lengths.sum().item() / b.y.numel())


def test_make_task_and_too_few_lines():
    cfg = SimpleNamespace(task="lines", corpus="pydoc", seq_len=64, seed=0, variable_length="padded_naive")
    task = make_task(cfg)
    assert task.mode == "padded_naive" and task.name == "lines"
    with pytest.raises(DataError, match="lines"):
        LinesTask("one line only\n" * 5, 40, source="few.txt")
