"""Lessons reproduce their phenomena: each runs small and its checker must see it, both ways.

The science tests (marked `science`) run every lesson at its small size through a
JobManager, assert the verdict, and apply the lesson's per-run criterion to every variant it
judges: it must hold where the lesson says the phenomenon shows (no warmup, no clipping...)
and must not where it says it does not (the warmed-up run, the clipped run...). Lessons whose
variants all show it get a control run built not to. The unmarked tests at the end check the
catalogue and that the criteria read what is stored, on hand-made series.
"""

import math

import pytest

from engine.config import RunConfig
from engine.jobs import JobManager
from engine.lessons import LESSONS, check_lesson, lesson_configs, start_lesson
from engine.lessons.criteria import epoch_jumps, runs_by_label, spiked, stalled, vanished
from engine.store import RunStore

CHARTS = {"perplexity", "loss", "lr", "grad_norm", "grad_hist", "eigen", "spectrum", "reach", "saturation", "logits",
          "weights"}
TIMEOUT = 300  # seconds for one small lesson on a busy two-core machine


@pytest.fixture
def jobs():
    jm = JobManager(RunStore(), max_workers=1)
    yield jm
    jm.shutdown()


def run_small(jobs, lesson_id):
    """Run the lesson at its small size; -> ({label: run id}, verdict)."""
    _, run_ids = start_lesson(lesson_id, jobs, small=True)
    assert jobs.wait(run_ids, timeout=TIMEOUT), f"{lesson_id} did not finish in {TIMEOUT} s"
    return runs_by_label(jobs.store, run_ids), check_lesson(lesson_id, jobs.store, run_ids)


def assert_both_ways(jobs, lesson_id, runs):
    """The lesson's criterion holds exactly where the lesson says it should."""
    lesson = LESSONS[lesson_id]
    assert any(lesson.expect.values()), "a lesson must say where the phenomenon shows"
    for label, want in lesson.expect.items():
        finding = lesson.criterion(jobs.store, runs[label])
        assert finding.showed == want, f"{lesson_id} / {label}: expected {want}, figures {finding.figures}"


def run_control(jobs, cfg):
    run_id = jobs.submit(cfg, label="control")
    assert jobs.wait([run_id], timeout=TIMEOUT)
    return run_id


# ---- science: every lesson, small --------------------------------------------------------


@pytest.mark.science
@pytest.mark.parametrize("lesson_id", ["early-spike", "exploding-gradients", "init-spectrum", "gated-cells",
                                       "tanh-vs-relu", "plateau-stall"])
def test_lesson_shows_where_it_should_and_not_elsewhere(jobs, lesson_id):
    runs, verdict = run_small(jobs, lesson_id)
    assert verdict.showed, verdict.summary
    assert verdict.figures and all(isinstance(v, float) for v in verdict.figures.values())
    assert_both_ways(jobs, lesson_id, runs)


@pytest.mark.science
def test_vanishing_gradients_and_a_gated_control(jobs):
    runs, verdict = run_small(jobs, "vanishing-gradients")
    assert verdict.showed, verdict.summary
    assert_both_ways(jobs, "vanishing-gradients", runs)
    per_step = [verdict.figures[f"seq {T}: per step"] for T in (16, 32, 64)]
    assert max(per_step) < 2 * min(per_step)  # a property of the model, not of the window: about the same slope
    assert all(math.isfinite(verdict.figures[f"seq {T}: final val ppl"]) for T in (16, 32, 64))
    # control: a GRU on the same data keeps its gradient within 2 orders of magnitude
    base, variants = lesson_configs("vanishing-gradients", small=True)
    control = run_control(jobs, base.replace(**variants["seq 64"], cell="gru"))
    finding = vanished(jobs.store, control)
    assert not finding.showed, finding.figures


@pytest.mark.science
def test_epoch_jumps_and_a_fresh_data_control(jobs):
    runs, verdict = run_small(jobs, "epoch-jumps")
    assert verdict.showed, verdict.summary
    assert_both_ways(jobs, "epoch-jumps", runs)
    lr3, lr1 = verdict.figures["lr 3e-3: loss change at epoch start"], verdict.figures["lr 1e-3: loss change at epoch start"]
    assert lr3 < lr1 < 0  # the jump grows with the learning rate
    # control: same cell and cadence on copy memory, whose batches are fresh every epoch:
    # nothing to memorise, so no jump at the epoch boundaries
    control = run_control(jobs, RunConfig(task="copy", seq_len=10, cell="gru", hidden_size=32, batch_size=128,
                                          lr=3e-3, eval_every=0.25, eval_batches=4, probe_every=50, max_steps=600))
    finding = epoch_jumps(jobs.store, control)
    assert not finding.showed, finding.figures


@pytest.mark.science
def test_packing(jobs):
    runs, verdict = run_small(jobs, "packing")
    assert verdict.showed, verdict.summary
    assert_both_ways(jobs, "packing", runs)
    assert verdict.figures["packed vs masked: max |train loss difference|"] < 1e-4
    assert all(verdict.figures[f"{label}: ms per step (median)"] > 0 for label in runs)


# ---- the catalogue -----------------------------------------------------------------------


@pytest.mark.parametrize("lesson_id", list(LESSONS))
def test_lesson_is_complete_data(lesson_id):
    lesson = LESSONS[lesson_id]
    assert lesson.id == lesson_id and lesson.title and lesson.question.endswith("?")
    assert lesson.what_to_see and len(lesson.explanation) > 200 and lesson.reference
    assert set(lesson.charts) <= CHARTS and lesson.charts
    assert lesson.reference_run in lesson.variants
    assert set(lesson.expect) <= set(lesson.variants)
    assert callable(lesson.check) and callable(lesson.criterion)
    for small in (False, True):
        base, variants = lesson_configs(lesson_id, small=small)
        for overrides in variants.values():
            base.replace(**overrides)  # raises ConfigError on a bad setting
        assert set(variants) == set(lesson.variants)


def test_seed_override_reaches_every_run():
    base, _ = lesson_configs("early-spike", seed=7)
    assert base.seed == 7


# ---- the criteria read what is stored ----------------------------------------------------


def stored_run(store, series: dict[str, list[tuple[int, float]]], summary=None, config=None, status="done"):
    run_id = store.create_run((config or RunConfig()).to_dict())
    for name, points in series.items():
        for step, value in points:
            store.add_scalars(run_id, step, {name: value})
    store.set_summary(run_id, summary or {})
    store.set_status(run_id, status)
    store.flush()
    return run_id


def test_spiked_reads_the_stored_perplexity():
    store = RunStore()
    base = {"baselines": {"uniform_ppl": 100.0}}
    flat = stored_run(store, {"train/ppl": [(s, 100.0 - s) for s in range(20)]}, base)
    spike = stored_run(store, {"train/ppl": [(s, 300.0 if s == 3 else 100.0 - s) for s in range(20)]}, base)
    assert not spiked(store, flat).showed
    found = spiked(store, spike)
    assert found.showed and found.figures["peak ppl"] == 300.0 and found.figures["peak step"] == 3


def test_stalled_reads_the_stored_lr():
    store = RunStore()
    cfg = RunConfig(schedule="plateau", min_lr=1e-5, lr=1e-3, max_steps=100)
    early = stored_run(store, {"lr": [(s, 1e-3 if s < 30 else 1e-5) for s in range(100)]}, config=cfg)
    late = stored_run(store, {"lr": [(s, 1e-3 if s < 80 else 1e-5) for s in range(100)]}, config=cfg)
    assert stalled(store, early).showed and stalled(store, early).figures["reached min_lr at step"] == 30
    assert not stalled(store, late).showed


def test_epoch_jumps_tells_a_sawtooth_from_a_steady_decline():
    store = RunStore()
    summary = {"batches_per_epoch": 40}
    steps = [10 * k for k in range(1, 25)]  # four evaluations per epoch of 40 steps
    # an evaluation at step s closes epoch (s - 1) // 40 at position (s - 1) % 40 + 1: down 0.5 per epoch, up within
    saw = [(s, 3.0 - 0.5 * ((s - 1) // 40) + 0.01 * ((s - 1) % 40 + 1)) for s in steps]
    steady = [(s, 3.0 - 0.01 * s) for s in steps]
    hr = [(s, 0.1) for s in steps]
    assert epoch_jumps(store, stored_run(store, {"window/loss": saw, "window/hr@10": hr}, summary)).showed
    assert not epoch_jumps(store, stored_run(store, {"window/loss": steady, "window/hr@10": hr}, summary)).showed
