"""A group steps side by side on the cores and stays in lockstep: identical runs give identical series,
and a pause asked for during a round holds every run at the same step.

Oracle for the values: the same config trained alone, in this thread, one step after another.
"""

import threading

import numpy as np
import pytest

from engine.config import RunConfig
from engine.jobs import JobManager
from engine.lockstep import Lockstep, side_by_side
from engine.observer import Observer
from engine.store import RunStore
from engine.trainer import LOSS, Trainer, run_to_end

SMALL = RunConfig(cell="lstm", hidden_size=16, embed_dim=8, seq_len=16, batch_size=8, eval_every=10,
                  eval_batches=2, probe_every=5, probe_budget=1.0, max_steps=30, sample_every=0)


@pytest.fixture
def jobs():
    jm = JobManager(RunStore(), max_workers=2)
    yield jm
    jm.shutdown()


class ThreadLog(Observer):
    """Which thread ran each step of each run."""

    def __init__(self, log: dict):
        self.log = log

    def on_step_end(self, trainer, step, scalars):
        self.log.setdefault(trainer.run_id, set()).add(threading.current_thread().name)


def test_identical_runs_stepped_side_by_side_equal_the_run_trained_alone(jobs):
    threads: dict = {}
    jobs.observers = lambda cfg: [ThreadLog(threads)]
    _, runs = jobs.submit_group(SMALL, {"a": {}, "b": {}, "c": {}})
    assert jobs.wait(runs, timeout=120)
    store = jobs.store
    alone = Trainer(SMALL, store, store.create_run(SMALL.to_dict()))
    assert run_to_end(alone) == "done"
    assert len(set().union(*threads.values())) == 3  # the three runs did step on three threads
    names = store.series_names(alone.run_id)
    assert LOSS.name in names and len(names) > 20
    for run_id in runs:
        assert store.run(run_id).status == "done"
        assert store.series_names(run_id) == names
        for name in names:
            if store.scalars(alone.run_id, name)[0].size:
                steps, values = store.scalars(run_id, name)
                want_steps, want = store.scalars(alone.run_id, name)
                np.testing.assert_array_equal(steps, want_steps, err_msg=name)
                np.testing.assert_array_equal(values, want, err_msg=name)
            else:
                (steps, arrays), (want_steps, want) = store.arrays(run_id, name), store.arrays(alone.run_id, name)
                np.testing.assert_array_equal(steps, want_steps, err_msg=name)
                for x, y in zip(arrays, want):
                    np.testing.assert_array_equal(x, y, err_msg=name)


class PauseAll(Observer):
    """At `step` of the run it watches, from inside the round, asks every run of the group to pause."""

    def __init__(self, step: int, trainers: list):
        self.step, self.trainers = step, trainers

    def on_step_end(self, trainer, step, scalars):
        if step == self.step:
            for t in self.trainers:
                t.controls.pause.set()


def test_a_pause_asked_during_a_round_holds_every_run_at_the_same_step(jobs):
    cfg = SMALL.replace(max_steps=10_000, probe_every=0)
    trainers: list = []
    observers = iter([[], [], [PauseAll(7, trainers)]])  # the last run asks, after its step 7
    jobs.observers = lambda c: next(observers)
    _, runs = jobs.submit_group(cfg, {"a": {}, "b": {"lr": 1e-3}, "c": {"clip": "none"}})
    trainers += [jobs._trainers[r] for r in runs]
    assert _until(lambda: all(t.status == "paused" for t in trainers))
    assert [t.step_index for t in trainers] == [8, 8, 8]
    for t in trainers:
        t.controls.pause.clear()
    assert _until(lambda: min(t.step_index for t in trainers) > 12)
    for t in trainers:
        jobs.stop(t.run_id)
    assert jobs.wait(runs, timeout=60)


def _until(condition, timeout: float = 60.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class Stub:
    """What Lockstep needs of a trainer."""

    def __init__(self, dropout=0.0, device="cpu"):
        self.cfg = RunConfig(dropout=dropout)
        self.device = device


def test_runs_with_dropout_or_on_a_gpu_step_in_turn_on_the_calling_thread():
    assert side_by_side([Stub(), Stub()])
    assert not side_by_side([Stub(), Stub(dropout=0.1)])  # dropout draws from torch's one global generator
    assert not side_by_side([Stub(), Stub(device="cuda")])
    assert not side_by_side([Stub()])
    lockstep = Lockstep(2)
    try:
        seen = lockstep.round([Stub(dropout=0.1), Stub()], lambda t: threading.current_thread().name)
        assert seen == [threading.current_thread().name] * 2
        seen = lockstep.round([Stub(), Stub()], lambda t: threading.current_thread().name)
        assert seen[0] == threading.current_thread().name and seen[1] != seen[0]
    finally:
        lockstep.close()
