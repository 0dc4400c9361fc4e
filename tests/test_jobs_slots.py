"""Paused runs give their training slot up: queued work starts meanwhile; a resumed run waits for the
next free slot, ahead of runs that never started. Slots on their own, then through the JobManager."""

import time

import pytest

from engine.config import RunConfig
from engine.jobs import JobManager
from engine.slots import Slots
from engine.store import RunStore

LONG = RunConfig(cell="rnn_tanh", hidden_size=8, embed_dim=8, seq_len=16, batch_size=4, eval_every=1000,
                 eval_batches=1, probe_every=0, sample_every=0, max_steps=1_000_000)


def until(check, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_slots_returning_jobs_go_before_new_ones():
    slots = Slots(capacity=1)
    assert slots.take("a") and not slots.take("b")
    slots.release("a")  # a paused
    assert slots.take("b")
    assert not slots.reclaim("a") and slots.waiting() == ["a"]  # a resumed: waits for b
    slots.leave("b")
    assert not slots.take("c")  # the free slot is a's, though c asked in between
    assert slots.reclaim("a") and slots.waiting() == [] and slots.holds("a")
    slots.release("a")
    assert slots.reclaim("a")  # a free slot and nobody before it: taken at once
    slots.release("a")
    assert slots.take("c")
    assert not slots.reclaim("a")
    slots.withdraw("a")  # paused again while in line
    assert slots.waiting() == []


@pytest.fixture
def jobs():
    jm = JobManager(RunStore(), max_workers=1)
    yield jm
    jm.shutdown()


def step_of(jobs, run_id) -> int:
    jobs.store.flush()
    return jobs.store.run(run_id).step


def kinds(jobs, run_id) -> list[str]:
    jobs.store.flush()
    return [e.kind for e in jobs.store.events(run_id)]


def test_a_paused_run_lets_queued_work_train_and_resumes_when_a_slot_frees(jobs):
    a = jobs.submit(LONG)
    until(lambda: jobs.status(a) == "running" and step_of(jobs, a) > 0)
    jobs.pause(a)
    until(lambda: jobs.status(a) == "paused")
    b = jobs.submit(LONG)
    until(lambda: jobs.status(b) == "running" and step_of(jobs, b) > 0)  # with a holding the one slot: queued for ever
    jobs.resume(a)
    time.sleep(0.5)
    held_at = step_of(jobs, a)
    assert jobs.queue_position(a) == 1  # waits for b's slot, and says so
    time.sleep(0.5)
    assert step_of(jobs, a) == held_at  # one slot: a does not train beside b
    c = jobs.submit(LONG)
    assert jobs.queue_position(c) == 2  # a came back first
    jobs.pause(b)  # b gives its slot up: a (resumed earlier) gets it, not c
    until(lambda: step_of(jobs, a) > held_at)
    assert jobs.status(c) == "queued" and jobs.queue_position(a) is None
    for run_id in (a, b, c):
        jobs.stop(run_id)
    assert jobs.wait([a, b, c], timeout=30)
    assert {jobs.status(r) for r in (a, b, c)} == {"stopped"}


def test_a_paused_run_without_a_slot_still_takes_edits_and_stops_at_once(jobs):
    a = jobs.submit(LONG)
    until(lambda: jobs.status(a) == "running")
    jobs.pause(a)
    until(lambda: jobs.status(a) == "paused")
    b = jobs.submit(LONG)
    until(lambda: jobs.status(b) == "running")
    jobs.set_lr(a, 0.01)  # served while a holds no slot
    until(lambda: "lr_change" in kinds(jobs, a))
    jobs.stop(a)  # needs no slot to end
    assert jobs.wait([a], timeout=10)
    assert jobs.status(a) == "stopped" and jobs.status(b) == "running"
    jobs.stop(b)
    assert jobs.wait([b], timeout=30)
