"""The task cache: a task is built once per distinct data, keyed by exactly what make_task reads,
and a task trained on stays as it was built (so runs can share it)."""

import copy
import dataclasses
import os
import time

import numpy as np
import pytest
import torch

from data import make_task
from data.cache import MAX_TASKS, forget_tasks, shared_task, task_key
from engine.config import RunConfig
from engine.store import RunStore
from engine.trainer import Trainer

TASKS = {
    "text": dict(task="text", seq_len=32),
    "lines": dict(task="lines", seq_len=48),
    "adding": dict(task="adding", seq_len=12),
    "copy": dict(task="copy", seq_len=12),
    "next_item": dict(task="next_item", num_items=20, train_sequences=64),
}


@pytest.fixture(autouse=True)
def _empty_cache():
    forget_tasks()
    yield
    forget_tasks()


class Reads:
    """A config that notes which of its fields are read (test-only stand-in)."""

    def __init__(self, cfg):
        self._cfg, self.names = cfg, set()

    def __getattr__(self, name):
        self.names.add(name)
        return getattr(self._cfg, name)


@pytest.mark.parametrize("kind", TASKS)
def test_the_key_reads_exactly_the_fields_make_task_reads(kind):
    cfg = RunConfig(**TASKS[kind])
    built, keyed = Reads(cfg), Reads(cfg)
    make_task(built)
    task_key(keyed)
    assert built.names == keyed.names


@pytest.mark.parametrize("kind", TASKS)
def test_equal_data_gives_the_same_task_and_other_data_another(kind):
    cfg = RunConfig(**TASKS[kind])
    task = shared_task(cfg)
    assert shared_task(cfg.replace(lr=0.1, hidden_size=8, max_steps=3)) is task  # not data: same task
    other = shared_task(cfg.replace(seed=1))
    assert other is not task
    a, b = next(iter(task.train_batches(0, 4))), next(iter(other.train_batches(0, 4)))
    assert not torch.equal(a.x, b.x) or not torch.equal(a.y, b.y)


def test_a_changed_corpus_file_is_read_again(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("abba cab bad\n" * 300)
    cfg = RunConfig(task="text", corpus=str(path), seq_len=16)
    first = shared_task(cfg)
    assert shared_task(cfg) is first
    path.write_text("xyz zyx\n" * 450)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a different modification time, surely
    second = shared_task(cfg)
    assert second is not first and "a" in first.vocab and "z" in second.vocab and "z" not in first.vocab


def test_the_least_recently_used_task_goes_first():
    cfgs = [RunConfig(task="adding", seq_len=10 + i) for i in range(MAX_TASKS + 1)]
    tasks = [shared_task(c) for c in cfgs[:MAX_TASKS]]
    assert shared_task(cfgs[0]) is tasks[0]  # now the most recent
    shared_task(cfgs[MAX_TASKS])  # one too many: cfgs[1] is dropped
    assert shared_task(cfgs[0]) is tasks[0]
    assert shared_task(cfgs[1]) is not tasks[1]


def state(task) -> dict:
    """Every attribute of a task, deep-copied (tensors and arrays included)."""
    return copy.deepcopy(vars(task))


def same(a, b) -> bool:
    """Equal values, looking into tensors, arrays, dataclasses (batches), lists and dicts."""
    if torch.is_tensor(a):
        return torch.is_tensor(b) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    if dataclasses.is_dataclass(a):
        return type(a) is type(b) and same(vars(a), vars(b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if hasattr(a, "__dict__"):  # e.g. the CharVocab
        return type(a) is type(b) and same(vars(a), vars(b))
    return a == b


@pytest.mark.parametrize("kind", TASKS)
def test_training_on_a_task_leaves_it_as_it_was_built(kind):
    cfg = RunConfig(**TASKS[kind], hidden_size=8, embed_dim=4, batch_size=4, max_steps=6, eval_every=3,
                    eval_batches=2, probe_every=2, probe_budget=1.0, sample_every=2)
    task = shared_task(cfg)
    task.val_batches(4, 2)  # lazily built parts (a generated task's validation set) are part of it from here
    before = state(task)
    store = RunStore()
    trainer = Trainer(cfg, store, store.create_run(cfg.to_dict()), task=task)
    trainer.start()
    while trainer.step():
        pass
    assert trainer.conclude(None) == "done"
    list(task.train_batches(1, 4))
    task.baselines()
    after = state(task)
    assert [k for k in before if not same(before[k], after.get(k))] == []
