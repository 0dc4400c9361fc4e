"""The path from Start to the first point: warmed-up process, cached task, first records committed at once,
and a live panel that looks for them often until they land."""

import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from app.live_view import awaiting_first_point
from data.cache import shared_task, task_key
from engine.config import RunConfig
from engine.store import RunInfo, RunStore
from engine.trainer import LOSS, Trainer
from engine.warmup import warm_up

ROOT = Path(__file__).resolve().parents[1]
TINY = RunConfig(hidden_size=8, embed_dim=4, seq_len=12, batch_size=4, max_steps=50, eval_every=40,
                 eval_batches=1, probe_every=10, sample_every=0)


def test_the_first_step_is_committed_before_step_returns():
    store = RunStore(commit_every=60.0)  # no timed commit would come within the test
    trainer = Trainer(TINY, store, store.create_run(TINY.to_dict()))
    trainer.start()
    trainer.step()
    steps, _ = store.scalars(trainer.run_id, LOSS.name)  # reads committed rows only
    assert list(steps) == [0] and store.run(trainer.run_id).step == 1
    trainer.step()
    assert list(store.scalars(trainer.run_id, LOSS.name)[0]) == [0]  # later steps wait for the writer's commit
    trainer.conclude(None)


def test_warm_up_imports_what_the_first_optimiser_imports_and_keeps_the_default_task():
    code = """
import sys
from engine.config import RunConfig
from engine.warmup import warm_up
assert "torch._dynamo" not in sys.modules
warm_up(RunConfig(hidden_size=8, embed_dim=4, seq_len=12, batch_size=4))
assert "torch._dynamo" in sys.modules
"""
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=300)
    cfg = TINY.replace(max_steps=1)
    warm_up(cfg)
    assert task_key(cfg) == task_key(RunConfig(seq_len=12))  # the model's size is not the data's
    assert shared_task(cfg) is shared_task(RunConfig(seq_len=12))


def info(status: str, step: int, fork_step=None) -> RunInfo:
    return RunInfo(id="r", created=0.0, updated=0.0, status=status, step=step, config={}, fork_step=fork_step)


def test_the_panel_waits_for_a_runs_first_point_then_not():
    assert awaiting_first_point(info("queued", 0)) and awaiting_first_point(info("running", 0))
    assert not awaiting_first_point(info("running", 1))
    assert awaiting_first_point(info("running", 120, fork_step=120))  # a fork: nothing past its parent's step
    assert not awaiting_first_point(info("running", 121, fork_step=120))
    assert not awaiting_first_point(info("paused", 0)) and not awaiting_first_point(info("done", 0))


ENG = SimpleNamespace(store=None)  # first_points passes eng.store to series.infos, replaced below


class Reads:
    """series.infos stand-in: hands out the given rows one read at a time (then the last), counting reads."""

    def __init__(self, *rows):
        self.rows, self.count = list(rows), 0

    def __call__(self, store, run_ids):
        self.count += 1
        return self.rows.pop(0) if len(self.rows) > 1 else self.rows[0]


def test_the_page_draws_a_started_runs_first_point_rather_than_empty_charts(monkeypatch):
    from app import live_view

    reads = Reads([info("running", 0)], [info("running", 1)])
    monkeypatch.setattr(live_view.series, "infos", reads)
    got = live_view.first_points(ENG, ["r"], [info("running", 0)])
    assert [i.step for i in got] == [1] and reads.count == 2  # read again until the point was stored

    reads = Reads([info("queued", 0)])
    monkeypatch.setattr(live_view.series, "infos", reads)
    assert live_view.first_points(ENG, ["r"], [info("queued", 0)])[0].status == "queued"
    assert reads.count == 0  # a queued run's turn may be minutes away: not waited for

    monkeypatch.setattr(live_view, "FIRST_POINT_WAIT", 0.1)
    monkeypatch.setattr(live_view.series, "infos", Reads([info("running", 0)]))
    t0 = time.monotonic()
    assert live_view.first_points(ENG, ["r"], [info("running", 0)])[0].step == 0
    assert 0.1 <= time.monotonic() - t0 < 2  # a slow first step: the page draws without it, soon
