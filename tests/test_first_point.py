"""The path from Start to the first point: warmed-up process, cached task, first records committed at once,
and a live panel that looks for them often until they land."""

import subprocess
import sys
from pathlib import Path

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
