"""Lessons reproduce their phenomena: each runs small and its checker must see it, both ways.

The science tests (marked `science`) run every lesson at its small size through a
JobManager, assert the verdict, and apply the lesson's per-run criterion to every variant it
judges: it must hold where the lesson says the phenomenon shows (no warmup, no clipping...)
and must not where it says it does not (the warmed-up run, the clipped run...). Negative
controls run a deliberately broken engine (a recurrence cut by a zero, frozen W_h; a clip
that does nothing) and the checkers must fail it. The unmarked tests check the catalogue.
Hand-made stored series for every checker are in test_lessons_criteria.py.
"""

import math

import pytest
import torch

import engine.trainer
from engine.config import RunConfig
from engine.jobs import JobManager
from engine.lessons import LESSONS, SIZES, check_lesson, lesson_configs, start_lesson
from engine.lessons.criteria import beat_baseline, clipped_as_set, epoch_jumps, vanished
from engine.lessons.readers import runs_by_label
from engine.lessons.references import REFERENCES, reference_ids
from engine.store import RunStore

CHARTS = {"perplexity", "loss", "lr", "grad_norm", "grad_hist", "eigen", "spectrum", "reach", "saturation", "logits",
          "weights"}
TIMEOUT = 300  # seconds for one small lesson on a busy two-core machine


@pytest.fixture
def jobs():
    jm = JobManager(RunStore(), max_workers=1)
    yield jm
    jm.shutdown()


def run_small(jobs, lesson_id, seed=None):
    """Run the lesson at its small size; -> ({label: run id}, verdict)."""
    _, run_ids = start_lesson(lesson_id, jobs, size="small", seed=seed)
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


@pytest.fixture
def cut_recurrence(monkeypatch):
    """Every run built while this is active has W_h = 0, frozen: for a vanilla RNN no state passes from
    one step to the next (a GRU's or LSTM's state would still pass through its gates)."""
    initialise = engine.trainer.initialise

    def cut(model, cfg):
        initialise(model, cfg)
        for module in model.cells:
            with torch.no_grad():
                module.weight_hh_l0.zero_()
            module.weight_hh_l0.requires_grad_(False)

    monkeypatch.setattr(engine.trainer, "initialise", cut)


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
def test_vanishing_gradients(jobs):
    runs, verdict = run_small(jobs, "vanishing-gradients")
    assert verdict.showed, verdict.summary
    assert_both_ways(jobs, "vanishing-gradients", runs)
    per_step = [verdict.figures[f"seq {T}: per step"] for T in (16, 32, 64)]
    assert max(per_step) < 2 * min(per_step)  # a property of the model, not of the window: about the same slope
    assert all(math.isfinite(verdict.figures[f"seq {T}: final val ppl"]) for T in (16, 32, 64))


@pytest.mark.science
def test_a_cut_recurrence_neither_vanishes_nor_adds(jobs, cut_recurrence):
    # the last position's loss reaches h_T and nothing before it: that is no gradient through time,
    # not one that vanished through it (the old checker read the 0 at t = 1 as 38 orders of magnitude)
    base, variants = lesson_configs("vanishing-gradients", size="small")
    finding = vanished(jobs.store, run_control(jobs, base.replace(**variants["seq 64"])))
    assert not finding.showed and finding.figures["probes with no gradient past T"] == finding.figures["probes"]
    # and the IRNN, which learns the adding problem, cannot without its recurrence: nothing carries
    # the first marked number to the end (a gated cell would still carry it through its gates)
    base, variants = lesson_configs("tanh-vs-relu", size="small")
    finding = beat_baseline(jobs.store, run_control(jobs, base.replace(**variants["ReLU, identity init"])))
    assert not finding.showed, finding.figures


@pytest.mark.science
def test_a_clip_that_does_nothing_fails_the_exploding_lesson(jobs, monkeypatch):
    def no_clip(params, mode, value):  # measures the norm as the real one does, then leaves the gradients alone
        grads = [p.grad for p in params if p.grad is not None]
        norm = float(torch.nn.utils.get_total_norm(grads))
        return norm, norm, False

    monkeypatch.setattr(engine.trainer, "clip_gradients", no_clip)
    runs, verdict = run_small(jobs, "exploding-gradients")
    assert not verdict.showed, verdict.summary
    assert not clipped_as_set(jobs.store, runs["clip 0.25"]).showed
    assert clipped_as_set(jobs.store, runs["no clipping"]).showed  # the unclipped run is as it should be


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
    for size in SIZES:
        base, variants = lesson_configs(lesson_id, size=size)
        for overrides in variants.values():
            base.replace(**overrides)  # raises ConfigError on a bad setting
        assert set(variants) == set(lesson.variants)


@pytest.mark.parametrize("lesson_id", list(LESSONS))
def test_lesson_carries_its_measured_time_rate_and_reference_titles(lesson_id):
    lesson = LESSONS[lesson_id]
    # the class size's promise (issue 9), measured with bench/lesson_times.py; a lesson that cannot keep it says why
    assert 0 < lesson.class_seconds <= 60 or (lesson.class_seconds > 60 and lesson.class_note)
    assert "seeds" in lesson.rate and "class size" in lesson.rate and "full size" in lesson.rate
    assert all(r in REFERENCES for r in reference_ids(lesson.reference))
    assert lesson.based_on.startswith("based on reference") and REFERENCES[reference_ids(lesson.reference)[0]] in \
        lesson.based_on


def test_sizes_order_the_work_and_the_seed_reaches_every_run():
    for lesson_id in LESSONS:
        steps = [lesson_configs(lesson_id, size=size)[0].max_steps for size in SIZES]
        assert steps[0] <= steps[1] <= steps[2], (lesson_id, steps)
    base, _ = lesson_configs("early-spike", size="full", seed=7)
    assert base.seed == 7 and base == LESSONS["early-spike"].base.replace(seed=7)
    with pytest.raises(ValueError, match="sizes"):
        lesson_configs("early-spike", size="huge")
