"""JobManager: groups in lockstep on one seed, queueing under the cap, stop, fork."""

import numpy as np
import pytest

from engine.config import ConfigError, RunConfig
from engine.jobs import JobManager
from engine.store import RunStore

SMALL = RunConfig(cell="rnn_tanh", hidden_size=16, embed_dim=8, seq_len=16, batch_size=8, eval_every=10,
                  eval_batches=2, probe_every=5, max_steps=20)


@pytest.fixture
def jobs():
    jm = JobManager(RunStore(), max_workers=1)
    yield jm
    jm.shutdown()


def test_group_shares_seed_init_and_data_order(jobs):
    group, runs = jobs.submit_group(SMALL, {"clip none": {"clip": "none"}, "clip 1": {"clip_value": 1.0},
                                            "clip 0.01": {"clip_value": 0.01}})
    assert jobs.wait(runs, timeout=60)
    store = jobs.store
    assert [store.run(r).status for r in runs] == ["done"] * 3
    assert {store.run(r).group_id for r in runs} == {group}
    first = [store.scalars(r, "train/loss")[1][0] for r in runs]
    assert first[0] == first[1] == first[2]  # same init, same first batch
    later = [store.scalars(r, "train/loss")[1][-1] for r in runs]
    assert later[0] != later[2]  # the one difference made a difference


def test_cap_queues_extra_work_and_reports_position(jobs):
    a = jobs.submit(SMALL.replace(max_steps=200))
    b = jobs.submit(SMALL)
    assert jobs.queue_position(b) == 1 and jobs.status(b) == "queued"
    jobs.stop(a)
    assert jobs.wait([a, b], timeout=60)
    assert jobs.status(a) == "stopped" and jobs.status(b) == "done"


def test_invalid_config_starts_nothing(jobs):
    with pytest.raises(ConfigError) as err:
        jobs.submit(SMALL.replace(hidden_size=0))
    assert err.value.field == "hidden_size"
    assert jobs.store.runs() == []


def test_fork_continues_from_the_parents_weights(jobs):
    parent = jobs.submit(SMALL)
    jobs.wait([parent], timeout=60)
    child = jobs.fork(parent, {"lr": 0.001})
    jobs.wait([child], timeout=60)
    store = jobs.store
    info = store.run(child)
    assert info.status == "done" and info.parent == parent
    steps, _ = store.scalars(child, "train/loss")
    assert steps[0] == 20 and steps[-1] == 39
    assert np.all(store.scalars(child, "lr")[1] == 0.001)


def test_failure_in_a_run_is_contained(jobs, monkeypatch):
    """A run that breaks mid-training ends failed with its records kept; the next run trains as usual.
    (A corpus that cannot be opened is refused before the run is stored: tests/test_preflight.py.)"""
    from engine.trainer import Trainer

    next_batch = Trainer._next_batch

    def breaks_at_step_3(self):
        if self.cfg.seed == 13 and self.step_index == 3:
            raise OSError("missing.txt vanished while training")
        return next_batch(self)

    monkeypatch.setattr(Trainer, "_next_batch", breaks_at_step_3)
    bad = jobs.submit(SMALL.replace(seed=13))
    good = jobs.submit(SMALL)
    assert jobs.wait([bad, good], timeout=60)
    info = jobs.store.run(bad)
    assert info.status == "failed" and "missing.txt" in info.message
    assert list(jobs.store.scalars(bad, "train/loss")[0]) == [0, 1, 2]
    assert jobs.store.run(good).status == "done"
