"""Fixes and forks that change the outcome (issue 8 item 2): an early fix reruns from step 0 with the same
seed and data, a late one forks from the state kept where its rule fired, any kept state can be forked,
states are bounded per run, and labels name only real changes."""

import time

import numpy as np
import pytest

from engine.config import RunConfig
from engine.forks import apply_fix, canonical, change_label
from engine.jobs import JobManager
from engine.store import RunStore
from engine.store import checkpoints as ck

TIMEOUT = 240
TINY = RunConfig(cell="gru", hidden_size=16, embed_dim=8, seq_len=16, batch_size=8, eval_every=20, eval_batches=2,
                 probe_every=0, sample_every=0)
# the early-spike lesson's base at its small size: Adam at lr 0.03 without warmup overshoots |V| in a few steps
SPIKE = RunConfig(task="text", corpus="pydoc", cell="rnn_tanh", embed_dim=32, hidden_size=256, batch_size=64, seq_len=32,
                  optimizer="adam", lr=0.03, max_steps=100, eval_every=50, eval_batches=4, probe_every=5,
                  sample_every=0)


@pytest.fixture
def jobs():
    jm = JobManager(RunStore(), max_workers=2)
    yield jm
    jm.shutdown()


def finished(jobs, *run_ids):
    assert jobs.wait(run_ids, timeout=TIMEOUT)
    jobs.store.flush()
    return run_ids


def wait_step(jobs, run_id, step):
    deadline = time.monotonic() + TIMEOUT
    while jobs.store.run(run_id).step < step:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def series(jobs, run_id, name):
    return jobs.store.scalars(run_id, name)


def test_a_warmup_fix_reruns_from_step_0_and_lowers_the_peak():
    """The brief's oracle: the fixed run's lr starts near 0 and its peak perplexity is below the original's."""
    jm = JobManager(RunStore(), max_workers=1)
    try:
        (parent,) = finished(jm, jm.submit(SPIKE))
        (event,) = [e for e in jm.store.events(parent) if e.kind == "diagnosis" and e.data["rule"] == "ppl_above_uniform"]
        assert event.data["apply"] == "rerun" and set(event.data["fix"]) == {"warmup_steps"}
        (child,) = finished(jm, apply_fix(jm, parent, event.data))
        info = jm.store.run(child)
        assert info.parent == parent and info.fork_step == 0 and info.config["seed"] == SPIKE.seed
        warmup = event.data["fix"]["warmup_steps"]
        assert info.label == f"warmup_steps 0 → {warmup}"
        _, lr = series(jm, child, "lr")
        assert lr[0] == pytest.approx(SPIKE.lr / warmup) and lr[0] <= 0.1 * SPIKE.lr  # starts near 0
        # same seed and data order: the untouched initial model scores the same first batch
        assert series(jm, child, "train/loss")[1][0] == series(jm, parent, "train/loss")[1][0]
        peak_parent, peak_child = series(jm, parent, "train/ppl")[1].max(), series(jm, child, "train/ppl")[1].max()
        assert peak_child < peak_parent, (peak_child, peak_parent)
    finally:
        jm.shutdown()


def test_fork_from_a_kept_step_continues_exactly_as_the_parent_did(jobs):
    (parent,) = finished(jobs, jobs.submit(TINY.replace(max_steps=80)))
    assert jobs.snapshot_steps(parent) == [16, 32, 64, 80]  # log-spaced states, and the last one
    (child,) = finished(jobs, jobs.fork(parent, {}, step=40))  # the nearest kept state at or before 40 is 32
    info = jobs.store.run(child)
    assert info.fork_step == 32 and info.label == f"fork of {parent} at step 32"
    steps, loss = series(jobs, child, "train/loss")
    p_steps, p_loss = series(jobs, parent, "train/loss")
    assert steps[0] == 32 and steps[-1] == 79
    # the same weights, optimiser state, schedule and data order: the same losses, to the bit
    assert np.array_equal(loss, p_loss[32:])
    with pytest.raises(ValueError, match="no kept state at or before step 10"):
        jobs.fork(parent, {}, step=10)


def test_a_fork_applies_its_optimiser_settings_over_the_parents_state(jobs):
    (parent,) = finished(jobs, jobs.submit(TINY.replace(max_steps=40, weight_decay=0.0)))
    (child,) = finished(jobs, jobs.fork(parent, {"weight_decay": 0.1}, step=32))
    assert jobs.store.run(child).label == "weight_decay 0 → 0.1"
    p_loss, c_loss = series(jobs, parent, "train/loss")[1], series(jobs, child, "train/loss")[1]
    assert c_loss[0] == p_loss[32] and not np.array_equal(c_loss[1:], p_loss[33:])  # decay took effect


def test_a_fork_cannot_change_the_weights_shape_or_data(jobs):
    (parent,) = finished(jobs, jobs.submit(TINY.replace(max_steps=20)))
    with pytest.raises(ValueError, match="hidden_size cannot change; rerun from step 0 instead"):
        jobs.fork(parent, {"hidden_size": 32})


def test_kept_states_are_bounded_per_run_and_go_with_the_run(jobs, monkeypatch):
    (run_id,) = finished(jobs, jobs.submit(TINY.replace(max_steps=600, eval_every=200)))
    # 16 ... 512 were written; the newest KEEP["log"] stay, with the last state
    assert list(ck.kept(jobs.store, run_id)) == [64, 128, 256, 512, 600]
    assert len(list(ck.snapshot_dir(jobs.store, run_id).iterdir())) == ck.KEEP["log"]
    size = ck.kept(jobs.store, run_id)[512].stat().st_size
    monkeypatch.setattr(ck, "MAX_BYTES_PER_RUN", int(2.5 * size))  # room for two states
    ck.prune(jobs.store, run_id)
    assert list(ck.kept(jobs.store, run_id)) == [256, 512, 600]
    jobs.store.delete_run(run_id)
    assert not ck.snapshot_dir(jobs.store, run_id).exists() and not ck.checkpoint_path(jobs.store, run_id).exists()


def test_rerun_of_a_running_original_leaves_it_running(jobs):
    parent = jobs.submit(TINY.replace(max_steps=100_000))
    wait_step(jobs, parent, 5)
    child = jobs.rerun(parent, {"lr": 0.001})
    wait_step(jobs, child, 5)
    assert jobs.status(parent) == "running" and jobs.status(child) == "running"
    for run_id in (parent, child):
        jobs.stop(run_id)
    finished(jobs, parent, child)
    assert series(jobs, child, "train/loss")[1][0] == series(jobs, parent, "train/loss")[1][0]
    assert series(jobs, child, "train/loss")[0][0] == 0


def test_a_late_fix_forks_at_the_step_its_rule_fired():
    cfg = RunConfig(cell="rnn_tanh", hidden_size=64, schedule="plateau", plateau_patience=0, plateau_factor=0.01,
                    min_lr=1e-6, eval_every=5, eval_batches=1, max_steps=400, sample_every=1000, probe_every=0)
    jm = JobManager(RunStore(), max_workers=1)
    try:
        (parent,) = finished(jm, jm.submit(cfg))
        (event,) = [e for e in jm.store.events(parent) if e.kind == "diagnosis" and e.data["rule"] == "plateau_after_cut"]
        assert event.data["apply"] == "fork"
        (child,) = finished(jm, apply_fix(jm, parent, event.data))
        at = event.data["fork_step"]
        assert jm.store.run(child).fork_step == at and series(jm, child, "train/loss")[0][0] == at
        parent_lr, child_lr = series(jm, parent, "lr")[1], series(jm, child, "lr")[1]
        # the parent sits at the floor; the fork starts again from the peak, with a patience the run measured
        assert parent_lr[at] <= 0.01 * cfg.lr and child_lr[0] == pytest.approx(cfg.lr)
        assert event.data["fix"]["plateau_patience"] > cfg.plateau_patience
    finally:
        jm.shutdown()


def test_labels_name_only_real_changes_canonically():
    base = RunConfig(clip="norm", clip_value=1.0)
    assert change_label(base, base.replace(clip_value=1)) == ""  # 1 and 1.0 are the same setting
    assert change_label(base, base.replace(clip="norm", clip_value=0.25)) == "clip_value 1 → 0.25"
    assert canonical(1.0) == "1" and canonical(0.1 + 0.2) == "0.3" and canonical(3e-5) == "3e-05"
    assert canonical(True) == "true" and canonical(128) == "128"


def test_a_fix_the_run_already_has_is_refused(jobs):
    (run_id,) = finished(jobs, jobs.submit(TINY.replace(max_steps=5)))
    with pytest.raises(ValueError, match="already has"):
        apply_fix(jobs, run_id, {"rule": "x", "fix": {"clip": "norm", "clip_value": 1}, "apply": "rerun"})
