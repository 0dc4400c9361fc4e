"""Sweeps on a local Ray (num_cpus=2): a grid lands whole, ASHA leaves nothing running and says why,
and a run written through the writer actor lands exactly as one written directly.

One local Ray serves the module, and the 4-run grid sweep is shared: the actor test trains one
of its configs again, through the writer actor, and compares every record with the direct one.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time

import pytest
import torch
from sweep_testkit import TINY, records, store_openers

from engine.distributed.grid import expand, group_id, parse_grid
from engine.distributed.progress import SweepProgress
from engine.distributed.runtime import NAMESPACE
from engine.distributed.sweep import Asha, Sweep, run_sweep
from engine.store import RunStore
from engine.store.checkpoints import checkpoint_path

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install -r requirements-ray.txt")


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs for the module, in its own temporary folder; stopped afterwards."""
    from engine.distributed.runtime import start_local

    temp = start_local(num_cpus=2)
    yield
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def grid_sweep(local_ray, tmp_path_factory):
    """A 2 x 2 grid (lr x clip_value) swept with direct writes, and who held the store file meanwhile."""
    path = tmp_path_factory.mktemp("grid") / "runs.sqlite"
    sweep = Sweep(group_id("grid"), expand(TINY, parse_grid(["lr=1e-3,1e-2", "clip_value=0.5,2"])))
    with OpenersWatch(path) as watch:
        outcome = run_sweep(sweep, path, records="direct")
    return path, sweep, outcome, watch.pids


class OpenersWatch:
    """Notes, every 0.1 s while the block runs, which processes hold the store file open."""

    def __init__(self, path):
        self.path, self.pids = path, set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._stop.wait(0.1):
            self.pids |= store_openers(self.path)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def test_a_grid_sweep_lands_every_run_with_its_whole_series(grid_sweep):
    path, sweep, outcome, _ = grid_sweep
    assert outcome.records == "direct" and outcome.errors == {}
    assert outcome.progress == SweepProgress(total=4, ended=4, stopped_early=0, diverged=0, failed=0, running=0,
                                             queued=0)
    with RunStore(path) as store:
        infos = store.group_runs(sweep.group)
        assert [i.id for i in infos] == outcome.run_ids
        assert [i.label for i in infos] == [label for label, _ in sweep.runs]
        for info, (_, cfg) in zip(infos, sweep.runs):
            assert info.config == cfg.to_dict()
            assert (info.status, info.step, info.message) == ("done", 30, None)
            assert store.scalars(info.id, "train/loss")[0].tolist() == list(range(30))
            assert store.scalars(info.id, "val/loss")[0].tolist() == [10, 20, 30]
            assert info.summary["final"]["val/loss"] == store.scalars(info.id, "val/loss")[1][-1]
            assert info.summary["worker"]["pid"] == info.pid != os.getpid()  # trained, and owned, by a worker
            assert checkpoint_path(store, info.id).exists()


def test_an_asha_sweep_leaves_no_run_running_and_says_why_each_stopped(local_ray, tmp_path):
    # one run at a time, best first, then ever smaller (worse) learning rates: each later run meets
    # a rung whose median it cannot reach, so ASHA stops all three at their first evaluation, on
    # every attempt (runs racing to a rung would make its choices depend on timing)
    runs = expand(TINY, parse_grid(["lr=3e-3,1e-4,3e-5,1e-5"]))
    sweep = Sweep(group_id("asha"), runs, asha=Asha(grace=1, reduction=2), max_concurrent=1)
    outcome = run_sweep(sweep, tmp_path / "runs.sqlite")
    assert outcome.progress.running == outcome.progress.queued == 0 and outcome.progress.ended == 4
    with RunStore(tmp_path / "runs.sqlite") as store:
        infos = store.group_runs(sweep.group)
        assert [i.status for i in infos] == ["done", "stopped", "stopped", "stopped"]
        assert outcome.progress.stopped_early == 3
        for info in infos[1:]:
            assert info.step == 10  # stopped at the first rung: one evaluation
            assert info.message.startswith("stopped by the scheduler at step 10: ASHA early stopping: its validation "
                                           "loss ") and "not in the best 1/2" in info.message
            assert [(e.step, e.message) for e in store.events(info.id) if e.kind == "stopped"] == [(10, info.message)]
            assert store.scalars(info.id, "train/loss")[0].tolist() == list(range(10))  # its records are kept
        assert infos[0].step == 30 and infos[0].summary["final"]["val/loss"] < infos[1].summary["final"]["val/loss"]
    assert cpus_free_again(2)


def test_a_run_through_the_writer_actor_lands_as_a_direct_one_without_touching_the_file(grid_sweep, tmp_path):
    direct_path, grid, direct, direct_openers = grid_sweep
    label, cfg = grid.runs[1]
    path = tmp_path / "runs.sqlite"
    with OpenersWatch(path) as watch:
        outcome = run_sweep(Sweep(group_id("actor"), [(label, cfg)]), path, records="actor")
    assert outcome.records == "actor" and outcome.errors == {}
    with RunStore(direct_path) as a, RunStore(path) as b:
        run_a, run_b = direct.run_ids[1], outcome.run_ids[0]
        assert records(b, run_b) == records(a, run_a)  # every series, array, event, text and the ending
        assert b.run(run_b).status == "done" and len(records(b, run_b)["texts"]) == 3
        worker = b.run(run_b).summary["worker"]
        assert b.run(run_b).pid == worker["pid"] and b.run(run_b).host == worker["host"]  # the worker owns it
        snap_a = torch.load(checkpoint_path(a, run_a), weights_only=False)
        snap_b = torch.load(checkpoint_path(b, run_b), weights_only=False)
        assert snap_b["step"] == snap_a["step"] == 30
        assert all(torch.equal(snap_a["model"][k], snap_b["model"][k]) for k in snap_a["model"])
    # direct: the workers held the file; through the actor: only this process and the writer did
    direct_workers = {RunStore(direct_path).run(r).pid for r in direct.run_ids}
    assert direct_workers <= direct_openers
    assert worker["pid"] not in watch.pids and len(watch.pids - {os.getpid()}) == 1
    with pytest.raises(ValueError):  # the writer actor ended with its sweep
        ray.get_actor(f"rnnlab-writer-{outcome.group}", namespace=NAMESPACE)
    assert cpus_free_again(2)


def test_a_worker_that_dies_leaves_its_run_failed_with_its_records(local_ray, tmp_path):
    """Nothing lost: the worker process is killed mid-run; the run ends failed, saying so, its steps kept."""
    path = tmp_path / "runs.sqlite"
    killed = []

    def kill_when_training(progress):
        if progress.running and not killed:
            with RunStore(path) as store:
                info = store.group_runs(sweep.group)[0]
                if info.step >= 20:  # some records are committed
                    os.kill(info.pid, signal.SIGKILL)
                    killed.append(info.step)

    sweep = Sweep(group_id("killed"), [("long", TINY.replace(max_steps=1_000_000))])
    outcome = run_sweep(sweep, path, records="direct", on_progress=kill_when_training)
    assert killed and outcome.progress.failed == 1
    with RunStore(path) as store:
        info = store.run(outcome.run_ids[0])
        assert info.status == "failed" and info.message == outcome.errors[info.id]
        assert "died" in info.message or "Actor" in info.message or "actor" in info.message
        steps = store.scalars(info.id, "train/loss")[0]
        assert len(steps) >= killed[0] - 1 and steps.tolist() == list(range(len(steps)))  # up to the kill, in order
        assert [e.kind for e in store.events(info.id)][-1] == "error"


def cpus_free_again(n: int, timeout: float = 30) -> bool:
    """Whether the cluster has all n CPUs available again (every trial's worker let go)."""
    deadline = time.monotonic() + timeout
    while ray.available_resources().get("CPU", 0) < n and time.monotonic() < deadline:
        time.sleep(0.2)
    return ray.available_resources().get("CPU", 0) == n
