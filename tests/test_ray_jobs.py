"""The dashboard's job manager on Ray: the JobManager's calls, with queue positions, stops and ends in the store.

One local Ray (2 CPUs) for the module; the manager is told to use at most 2 workers, so a third
run waits in its queue. A run trained on Ray must record what the same run records locally.
"""

from __future__ import annotations

import shutil
import time

import pytest
from sweep_testkit import TINY, records

from engine.store import RunStore
from engine.trainer import Trainer, run_to_end

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install -r requirements-ray.txt")


@pytest.fixture(scope="module")
def local_ray():
    from engine.distributed.runtime import start_local

    temp = start_local(num_cpus=2)
    yield
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def jobs(local_ray, tmp_path):
    from engine.distributed.ray_jobs import RayJobManager

    store = RunStore(tmp_path / "runs.sqlite")
    manager = RayJobManager(store, max_workers=2)
    yield manager
    manager.shutdown()
    store.close()


def test_runs_queue_train_and_stop_like_the_job_manager(jobs, tmp_path):
    long = TINY.replace(max_steps=100_000)  # trains until stopped
    first, second = jobs.submit(long, label="a"), jobs.submit(long, label="b")
    group, (third, fourth) = jobs.submit_group(TINY, {"lr=1e-3": {"lr": 1e-3}, "lr=1e-2": {"lr": 1e-2}})
    assert jobs.queue_position(third) == 1 and jobs.queue_position(fourth) == 2  # two workers, both busy
    assert jobs.status(third) == "queued" and jobs.is_live(first)
    jobs.stop(fourth)  # never starts
    assert jobs.status(fourth) == "stopped" and jobs.queue_position(fourth) is None
    jobs.stop(first)
    jobs.stop(second)
    assert jobs.wait([first, second, third, fourth], timeout=120)
    store = jobs.store
    assert [store.run(r).status for r in (first, second, third, fourth)] == ["stopped", "stopped", "done", "stopped"]
    assert store.run(fourth).message == "stopped before it started"
    assert store.run(third).group_id == group

    # the Ray-trained run recorded exactly what the same run records in this process
    local = RunStore(tmp_path / "local.sqlite")
    cfg = TINY.replace(lr=1e-3)
    run_id = local.create_run(cfg.to_dict())
    from engine.diagnosis import observers_for

    run_to_end(Trainer(cfg, local, run_id, observers=observers_for(cfg)))
    local.flush()
    assert records(store, third) == records(local, run_id)
    local.close()


def test_a_fork_continues_from_the_checkpoint_and_live_forks_say_they_are_not_on_ray(jobs):
    from engine.distributed.ray_jobs import NotOnRay

    parent = jobs.submit(TINY)
    with pytest.raises(NotOnRay, match="stop it first"):
        jobs.fork(parent, {"lr": 1e-3})
    assert jobs.wait([parent], timeout=60)
    child = jobs.fork(parent, {"lr": 1e-3})
    assert jobs.wait([child], timeout=60)
    info = jobs.store.run(child)
    assert (info.status, info.parent, info.fork_step, info.step) == ("done", parent, 30, 60)


def test_the_dashboards_other_calls_on_ray_rerun_live_settings_settle_and_no_step(jobs):
    long = TINY.replace(max_steps=100_000)
    run_id = jobs.submit(long)
    deadline = time.monotonic() + 60
    while jobs.store.run(run_id).status != "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert jobs.live_settings(run_id) == {"lr": long.lr, "clip": long.clip, "clip_value": long.clip_value}
    jobs.set_clip(run_id, "value", 5.0)
    jobs.pause(run_id)
    assert jobs.settle([run_id], timeout=30) and jobs.store.run(run_id).status == "paused"
    edited = {"lr": long.lr, "clip": "value", "clip_value": 5.0}
    deadline = time.monotonic() + 30
    while jobs.live_settings(run_id) != edited:  # once the worker has applied and recorded the edit, paused or not
        assert time.monotonic() < deadline, jobs.live_settings(run_id)
        time.sleep(0.1)
    assert not jobs.can_step
    with pytest.raises(ValueError, match="Ray"):
        jobs.step(run_id, 1)
    jobs.stop(run_id)
    assert jobs.wait([run_id], timeout=60)

    child = jobs.rerun(run_id, {"lr": 1e-3, "max_steps": 40})
    assert jobs.wait([child], timeout=60)
    info = jobs.store.run(child)
    assert (info.status, info.parent, info.fork_step, info.step) == ("done", run_id, 0, 40)
    assert info.config["seed"] == long.seed and info.label.startswith(f"lr {long.lr:g} → 0.001")
