"""Stepping a paused run: exactly n batches per Step, a group steps in lockstep, records stored at once.

The oracle is the store: a run paused at step k and stepped n times holds k + n training losses
and says step k + n, and every run of a group stands at the same step after each click.
"""

import time

import pytest

from engine.config import RunConfig
from engine.controls import RunControls
from engine.jobs import JobManager
from engine.store import RunStore
from engine.trainer import LOSS, Trainer

LONG = RunConfig(cell="rnn_tanh", hidden_size=16, embed_dim=8, seq_len=16, batch_size=8, eval_every=1000,
                 eval_batches=1, probe_every=5, sample_every=0, max_steps=100_000)


@pytest.fixture
def jobs():
    jm = JobManager(RunStore(), max_workers=2)
    yield jm
    jm.shutdown()


def losses(store, run_id) -> int:
    """Training losses the store holds (committed rows only: no flush here)."""
    return len(store.scalars(run_id, LOSS.name)[0])


def until_step(store, run_id, step: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while store.run(run_id).step < step:
        assert time.monotonic() < deadline, f"{run_id} never reached step {step}"
        time.sleep(0.02)


def paused_at(jobs, run_ids) -> list[int]:
    """Pause, wait for the pause to land, and return each run's stored step."""
    jobs.pause(run_ids[0])
    assert jobs.settle(run_ids, timeout=30)
    return [jobs.store.run(r).step for r in run_ids]


def test_controls_grant_and_spend_steps():
    c = RunControls()
    assert not c.take_step()
    c.add_steps(2)
    c.add_steps(1)
    assert c.steps_left() == 3
    assert [c.take_step() for _ in range(4)] == [True, True, True, False]
    c.add_steps(5)
    c.drop_steps()
    assert c.steps_left() == 0
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="steps"):
            c.add_steps(bad)


def test_held_lets_exactly_the_granted_steps_through():
    store = RunStore()
    cfg = LONG.replace(max_steps=50)
    trainer = Trainer(cfg, store, store.create_run(cfg.to_dict()))
    trainer.start()
    trainer.controls.pause.set()
    assert trainer.held() and trainer.status == "paused" and trainer.at_rest()
    trainer.controls.add_steps(2)
    taken = 0
    while not trainer.held():
        assert trainer.status == "paused" and not trainer.at_rest()
        trainer.step()
        taken += 1
    assert taken == 2 and trainer.step_index == 2 and trainer.at_rest()
    assert losses(store, trainer.run_id) == 2  # held() flushed after the last granted step
    assert [e.kind for e in store.events(trainer.run_id)].count("paused") == 1
    assert "resumed" not in [e.kind for e in store.events(trainer.run_id)]
    trainer.conclude(None)


def test_step_advances_a_paused_run_by_exactly_n(jobs):
    run_id = jobs.submit(LONG)
    until_step(jobs.store, run_id, 3)
    (k,) = paused_at(jobs, [run_id])
    assert losses(jobs.store, run_id) == k
    for n in (1, 10, 1):
        assert jobs.step(run_id, n) == [run_id]
        assert jobs.settle([run_id], timeout=30)
        k += n
        assert jobs.store.run(run_id).step == k and losses(jobs.store, run_id) == k
        assert jobs.status(run_id) == "paused"
    kinds = [e.kind for e in jobs.store.events(run_id)]
    assert kinds.count("paused") == 1 and "resumed" not in kinds


def test_a_group_pauses_and_steps_in_lockstep(jobs):
    _, runs = jobs.submit_group(LONG, {"a": {}, "b": {"clip": "none"}, "c": {"lr": 0.01}})
    until_step(jobs.store, runs[-1], 2)
    steps = paused_at(jobs, runs[1:] + runs[:1])  # pausing one run pauses its group
    assert len(set(steps)) == 1, steps
    assert {jobs.status(r) for r in runs} == {"paused"}
    k = steps[0]
    for n in (1, 1, 10):
        assert sorted(jobs.step(runs[1], n)) == sorted(runs)
        assert jobs.settle(runs, timeout=30)
        k += n
        assert [jobs.store.run(r).step for r in runs] == [k] * 3
        assert [losses(jobs.store, r) for r in runs] == [k] * 3


def test_step_refuses_a_running_run_and_resume_trains_on_to_the_end(jobs):
    run_id = jobs.submit(LONG.replace(max_steps=2000))  # long enough that the pause lands before the end
    with pytest.raises(ValueError, match="not paused"):
        jobs.step(run_id, 1)
    until_step(jobs.store, run_id, 1)
    paused_at(jobs, [run_id])
    jobs.resume(run_id)
    assert jobs.settle([run_id], timeout=30) and jobs.status(run_id) in ("running", "done")
    assert jobs.wait([run_id], timeout=60)
    assert jobs.store.run(run_id).status == "done" and losses(jobs.store, run_id) == 2000
    with pytest.raises(KeyError, match="not training"):
        jobs.step(run_id, 1)
