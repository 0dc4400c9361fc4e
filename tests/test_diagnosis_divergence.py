"""Divergence without NaN (issue 13 item 9): a tanh RNN at SGD lr 1000 wrecks its weights without
overflowing. The run gets a diagnosis, in the CLI as on the page, and ends `diverged` (history kept)
when the user chose stop_on_divergence."""

import math

import numpy as np
import pytest

from engine.__main__ import main
from engine.config import RunConfig
from engine.diagnosis.base import CE_FACTOR
from engine.diagnosis.divergence import DIVERGE_STEPS
from engine.jobs import JobManager
from engine.store import RunStore

# the seen run: tanh RNN, plain SGD at lr 1000, no clipping (ended `done` at loss 5,885 against ln|V| = 4.64)
WRECKED = RunConfig(cell="rnn_tanh", optimizer="sgd", lr=1000.0, clip="none", max_steps=150, eval_every=50,
                    probe_every=0, sample_every=0)


def run(cfg):
    jobs = JobManager(RunStore(), max_workers=1)
    try:
        run_id = jobs.submit(cfg)
        assert jobs.wait([run_id], timeout=300)
        jobs.store.flush()
        return jobs.store, run_id
    finally:
        jobs.shutdown()


def rules(store, run_id):
    return [e.data["rule"] for e in store.events(run_id) if e.kind == "diagnosis"]


def test_a_wrecked_run_is_diagnosed_and_by_default_runs_to_its_end():
    store, run_id = run(WRECKED)
    info = store.run(run_id)
    assert info.status == "done" and info.step == WRECKED.max_steps
    assert "loss_far_above_baseline" in rules(store, run_id) and "non_finite" not in rules(store, run_id)
    _, loss = store.scalars(run_id, "train/loss")
    assert np.all(np.isfinite(loss)) and loss[-20:].mean() > CE_FACTOR * math.log(info.summary["baselines"]["uniform_ppl"])


def test_stop_on_divergence_ends_it_as_diverged_with_its_history():
    store, run_id = run(WRECKED.replace(stop_on_divergence=True))
    info = store.run(run_id)
    (event,) = [e for e in store.events(run_id) if e.kind == "diagnosis" and e.data["rule"] == "loss_far_above_baseline"]
    assert info.status == "diverged" and "stayed above" in info.message
    steps, loss = store.scalars(run_id, "train/loss")
    assert list(steps) == list(range(event.step + 1))  # every step up to the one the rule stopped at, none after
    assert event.step >= DIVERGE_STEPS - 1 and np.all(np.isfinite(loss))
    assert "non_finite" not in rules(store, run_id)  # a finite divergence is not reported as NaN/Inf


def test_the_cli_records_the_same_diagnosis(capsys):
    code = main(["train", "--quiet", "--set", "cell=rnn_tanh", "--set", "optimizer=sgd", "--set", "lr=1000",
                 "--set", "clip=none", "--set", "probe_every=0", "--set", "eval_every=50", "--steps", "120"])
    out = capsys.readouterr()
    run_id = out.out.strip().splitlines()[-1]
    store = RunStore()
    assert code == 0 and "loss_far_above_baseline" in rules(store, run_id)
    assert "diagnosis at step" in out.err and "Diverged: loss far above the baseline" in out.err


@pytest.mark.parametrize("cfg", [RunConfig(max_steps=60, eval_every=30, probe_every=0, sample_every=0)])
def test_a_healthy_run_is_not_stopped(cfg):
    store, run_id = run(cfg.replace(stop_on_divergence=True))
    assert store.run(run_id).status == "done" and "loss_far_above_baseline" not in rules(store, run_id)
