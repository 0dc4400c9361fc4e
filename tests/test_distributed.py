"""The Ray-free parts of engine/distributed: grids, seeds, progress, the stepper, clear errors without Ray.

The stepper is checked against `run_to_end`, the path every local run takes: stepped from
evaluation to evaluation, a run must record exactly what it records in one go.
"""

import math
import sys

import pytest
from sweep_testkit import TINY, records

from engine.__main__ import main
from engine.config import RunConfig
from engine.distributed import RayMissing, need_ray
from engine.distributed.grid import GridError, expand, group_id, is_sweep, parse_grid, parse_seeds
from engine.distributed.progress import SweepProgress
from engine.distributed.stepper import RunStepper
from engine.distributed.sweep import Asha, evaluations
from engine.store import RunInfo, RunStore
from engine.trainer import Trainer, run_to_end

# ---- grid ---------------------------------------------------------------------------------------


def test_grid_values_are_parsed_by_field_type_in_the_order_given():
    grid = parse_grid(["lr=1e-3,3e-3,1e-2", "clip_value=0.25,1,4", "cell=gru,lstm", "layer_norm=true,false"])
    assert grid == {"lr": [1e-3, 3e-3, 1e-2], "clip_value": [0.25, 1.0, 4.0], "cell": ["gru", "lstm"],
                    "layer_norm": [True, False]}
    assert parse_grid(["hidden_size=16, 32"]) == {"hidden_size": [16, 32]}


@pytest.mark.parametrize("items,says", [
    (["lr"], "FIELD=V1"),
    (["speed=1,2"], "speed: unknown setting"),
    (["lr=1e-3,fast"], "lr: 'fast' is not a number"),
    (["lr=1e-3,,1e-2"], "empty value"),
    (["lr=1e-3,1e-3"], "repeated"),
    (["lr=1", "lr=2"], "given twice"),
    (["seed=0,1"], "--seeds"),
    (["hidden_size=1.5"], "hidden_size"),
])
def test_bad_grids_name_the_setting_and_what_to_do(items, says):
    with pytest.raises(GridError, match=says):
        parse_grid(items)


def test_seeds_accept_ranges_and_lists():
    assert parse_seeds("0-2") == [0, 1, 2]
    assert parse_seeds("0,3,5") == [0, 3, 5]
    assert parse_seeds("4") == [4]
    assert parse_seeds("0-1,7") == [0, 1, 7]
    for bad in ("2-0", "a", "-1", "0,0"):
        with pytest.raises(GridError, match="--seeds"):
            parse_seeds(bad)


def test_expand_makes_every_combination_with_seeds_last_and_labels_that_say_it():
    runs = expand(TINY, parse_grid(["lr=1e-3,1e-2", "clip_value=0.5,2"]), [0, 1])
    assert len(runs) == 8
    cfgs = [cfg for _, cfg in runs]
    assert {(c.lr, c.clip_value, c.seed) for c in cfgs} == {(lr, cv, s) for lr in (1e-3, 1e-2)
                                                             for cv in (0.5, 2.0) for s in (0, 1)}
    assert [c.seed for c in cfgs[:2]] == [0, 1]  # seeds vary fastest
    assert runs[0][0] == "lr=0.001, clip_value=0.5, seed=0"
    assert all(c.replace(lr=TINY.lr, clip_value=TINY.clip_value, seed=TINY.seed) == TINY for c in cfgs)


def test_a_forbidden_combination_stops_the_sweep_before_anything_runs():
    with pytest.raises(GridError, match="forget_bias.*cell=gru"):
        expand(RunConfig(cell="lstm"), parse_grid(["cell=lstm,gru", "forget_bias=0,1"]))


def test_group_ids_mark_sweeps():
    assert group_id("lr-clip") == "sweep-lr-clip" and group_id("sweep-x") == "sweep-x"
    assert is_sweep(group_id()) and not is_sweep("g-1234abcd") and not is_sweep(None)
    with pytest.raises(GridError, match="--name"):
        group_id("no spaces please")


def test_asha_settings_are_checked():
    with pytest.raises(GridError, match="--asha-grace"):
        Asha(grace=0)
    with pytest.raises(GridError, match="--asha-reduction"):
        Asha(reduction=1)


def test_evaluation_count_matches_the_trainer(tmp_path):
    """ASHA's max_t comes from evaluations(cfg): it must count the evaluations a run really makes."""
    store = RunStore(tmp_path / "runs.sqlite")
    for cfg in (TINY, TINY.replace(max_steps=25), TINY.replace(max_steps=5)):
        run_id = store.create_run(cfg.to_dict())
        run_to_end(Trainer(cfg, store, run_id))
        store.flush()
        assert sum(e.kind == "eval" for e in store.events(run_id)) == evaluations(cfg)
    store.close()


# ---- progress -----------------------------------------------------------------------------------


def _info(status: str, message: str | None = None) -> RunInfo:
    return RunInfo(id="r", created=0, updated=0, status=status, step=0, config={}, message=message)


def test_progress_counts_and_says_how_far_a_sweep_has_got():
    infos = [_info("done")] * 9 + [_info("stopped", "stopped by the scheduler at step 20: ASHA ...")] * 3 + \
        [_info("diverged"), _info("failed"), _info("stopped", "stopped by Ctrl-C")] + [_info("running")] * 2 + \
        [_info("queued")] * 19
    p = SweepProgress.of(infos)
    assert (p.total, p.ended, p.stopped_early, p.diverged, p.failed, p.running, p.queued) == (36, 15, 3, 1, 1, 2, 19)
    assert p.text() == "15 of 36 done, 3 stopped early, 1 diverged, 1 failed; 2 running"
    assert SweepProgress.of([_info("done")] * 2).text() == "2 of 2 done" and SweepProgress.of([_info("done")]).finished


# ---- the stepper --------------------------------------------------------------------------------


def test_stepping_evaluation_by_evaluation_records_what_a_run_to_end_records(tmp_path):
    a, b = RunStore(tmp_path / "a.sqlite"), RunStore(tmp_path / "b.sqlite")
    ra, rb = a.create_run(TINY.to_dict()), b.create_run(TINY.to_dict())
    assert run_to_end(Trainer(TINY, a, ra)) == "done"
    stepper = RunStepper(Trainer(TINY, b, rb), worker={"host": "here"})
    results = []
    while not (result := stepper.advance())["done"]:
        results.append(result)
    a.flush(), b.flush()
    assert [r["step"] for r in results] == [10, 20]  # one result per evaluation; the last one says done
    assert result["step"] == 30 and result["status"] == "done"
    assert result["val_loss"] == pytest.approx(a.run(ra).summary["final"]["val/loss"])
    assert records(a, ra) == records(b, rb)
    assert b.run(rb).summary["worker"] == {"host": "here"}
    a.close(), b.close()


def test_a_stop_from_outside_ends_the_run_stopped_saying_why_and_where(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    run_id = store.create_run(TINY.to_dict())
    stepper = RunStepper(Trainer(TINY, store, run_id))
    assert stepper.advance()["step"] == 10
    assert stepper.stop("ASHA early stopping: behind") == "stopped"
    store.flush()
    info = store.run(run_id)
    assert info.status == "stopped" and info.step == 10
    assert info.message == "stopped by the scheduler at step 10: ASHA early stopping: behind"
    assert [(e.step, e.message) for e in store.events(run_id) if e.kind == "stopped"] == [(10, info.message)]
    assert "val/loss" in info.summary["final"]  # the summary and checkpoint of a stopped run are kept
    assert stepper.stop("again") == "stopped" and stepper.advance()["done"]  # idempotent
    store.close()


def test_a_run_that_cannot_start_ends_failed_and_the_stepper_does_not_raise(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    cfg = TINY.replace(corpus=str(tmp_path / "missing.txt"))
    run_id = store.create_run(cfg.to_dict())
    result = RunStepper(Trainer(cfg, store, run_id)).advance()
    assert result["done"] and result["status"] == "failed" and math.isinf(result["val_loss"])
    store.flush()
    info = store.run(run_id)
    assert info.status == "failed" and "missing.txt" in info.message
    assert [e.kind for e in store.events(run_id)] == ["error"]
    store.close()


def test_a_diverging_run_reports_done_with_an_infinite_loss(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    cfg = TINY.replace(cell="rnn_relu", optimizer="sgd", lr=1000.0, clip="none", max_steps=50)
    run_id = store.create_run(cfg.to_dict())
    stepper = RunStepper(Trainer(cfg, store, run_id))
    while not (result := stepper.advance())["done"]:
        pass
    assert result["status"] == "diverged" and math.isinf(result["val_loss"])
    store.close()


# ---- without Ray --------------------------------------------------------------------------------


def test_without_ray_the_sweep_command_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    with pytest.raises(RayMissing, match="requirements-ray.txt"):
        need_ray()
    assert main(["sweep", "--grid", "lr=1e-3,1e-2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "not installed" in err and "pip install -r requirements-ray.txt" in err


def test_bad_sweep_arguments_fail_before_anything_is_stored(capsys):
    assert main(["sweep", "--grid", "lr=1e-3,fast"]) == 2
    assert "lr" in capsys.readouterr().err
    assert main(["sweep", "--grid", "lr=1e-3", "--set", "cell=rnn_tanh", "--set", "forget_bias=1"]) == 2
    assert "forget_bias" in capsys.readouterr().err
    assert main(["sweep", "--grid", "lr=1e-3", "--seeds", "3-1"]) == 2
    assert "--seeds" in capsys.readouterr().err
    assert main(["sweep", "--grid", "lr=1e-3,1e-2", "--set", "corpus=/no/such/corpus.txt"]) == 2  # preflight
    assert "/no/such/corpus.txt" in capsys.readouterr().err
    assert RunStore().runs() == []
