"""Diagnosis rules: each fires on a real small run built to trigger it, none on a healthy LSTM; their
bookkeeping and the fixes they derive, checked with a stand-in trainer.

Runs go through a JobManager, so they get `observers_for(cfg)` exactly as the dashboard's
runs do. Every fired event must carry the contract's data and a fix that changes the run.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from engine import diagnosis
from engine.config import RunConfig
from engine.diagnosis import base, divergence, fit, gradients
from engine.jobs import JobManager
from engine.store import RunStore

TIMEOUT = 180
KEYS = {"rule", "title", "explanation", "fix", "fix_label", "apply"}

# each rule and a run built to trigger it (every setting is named: nothing depends on defaults
# that might change)
TRIGGERS = {
    # Adam at lr 0.1 makes the first updates confidently wrong
    "ppl_above_uniform": RunConfig(cell="rnn_tanh", hidden_size=256, seq_len=32, batch_size=64, lr=0.1,
                                   max_steps=30, eval_every=30),
    # the gated-cells lesson's tanh RNN: at step 72 a 11x gradient spike, and the loss doubles after it
    "grad_spike": RunConfig(task="adding", seq_len=50, hidden_size=64, batch_size=64, cell="rnn_tanh", optimizer="adam",
                            lr=0.01, clip="norm", clip_value=1.0, eval_batches=8, probe_every=50, max_steps=120,
                            eval_every=60),
    # a ReLU recurrence with spectral radius 5 overflows float32 within 64 steps: NaN/Inf at step 0
    "non_finite": RunConfig(cell="rnn_relu", init="spectral", spectral_radius=5.0, max_steps=20, eval_every=10),
    # issue 13 item 9: a tanh RNN at SGD lr 1000 wrecks its weights without overflowing
    "loss_far_above_baseline": RunConfig(cell="rnn_tanh", optimizer="sgd", lr=1000.0, clip="none", max_steps=120,
                                         eval_every=60, probe_every=0),
    # reduce-on-plateau with no patience and a 100x factor on a one-batch signal: lr at the floor, no progress
    "plateau_after_cut": RunConfig(cell="rnn_tanh", hidden_size=64, schedule="plateau", plateau_patience=0,
                                   plateau_factor=0.01, min_lr=1e-6, eval_every=5, eval_batches=1, max_steps=400,
                                   sample_every=1000),
    # recurrent weights with spectral radius 5 drive most tanh units onto their flat tails
    "saturation": RunConfig(cell="rnn_tanh", init="spectral", spectral_radius=5.0, max_steps=60, probe_every=10,
                            eval_every=60),
    # recurrent weights with spectral radius 0.1 that barely train: each step back loses 10x
    "short_reach": RunConfig(cell="rnn_tanh", init="spectral", spectral_radius=0.1, lr=1e-5, seq_len=64,
                             max_steps=160, probe_every=10, probe_budget=1.0, eval_every=80),
    # 500 training sequences, four batches an epoch: the GRU memorises them within a few epochs
    "parting_curves": RunConfig(task="next_item", cell="gru", hidden_size=64, embed_dim=32, batch_size=128,
                                train_sequences=500, eval_every=4, eval_batches=0, max_steps=200),
    # the same small training set: the training loss keeps falling while validation stops following it
    "overfitting": RunConfig(task="next_item", cell="gru", hidden_size=64, embed_dim=32, batch_size=128,
                             train_sequences=500, eval_every=4, eval_batches=0, max_steps=200),
}
HEALTHY = RunConfig(cell="lstm", hidden_size=128, seq_len=64, batch_size=32, lr=3e-3, clip="norm", clip_value=1.0,
                    max_steps=300, eval_every=25, probe_every=10, probe_budget=1.0)


@pytest.fixture
def jobs():
    jm = JobManager(RunStore(), max_workers=1)
    yield jm
    jm.shutdown()


def diagnoses(jobs, cfg):
    run_id = jobs.submit(cfg)
    assert jobs.wait([run_id], timeout=TIMEOUT)
    return run_id, [e for e in jobs.store.events(run_id) if e.kind == "diagnosis"]


@pytest.mark.parametrize("rule", list(TRIGGERS))
def test_rule_fires_on_a_run_built_to_trigger_it(jobs, rule):
    run_id, events = diagnoses(jobs, TRIGGERS[rule])
    fired = [e for e in events if e.data["rule"] == rule]
    assert len(fired) == 1, f"{rule}: {[(e.step, e.data['rule'], e.message) for e in events]}"
    event = fired[0]
    assert KEYS <= set(event.data) and event.message
    assert event.data["title"] and len(event.data["explanation"]) > 50 and event.data["fix_label"]
    parent = RunConfig.from_dict(jobs.store.run(run_id).config)
    child = parent.replace(**event.data["fix"])  # a run with the fix is a valid run (raises otherwise)
    assert child != parent, "a fix must change something"
    assert event.data["apply"] in ("rerun", "fork")
    if event.data["apply"] == "fork":  # the state the fork starts from was kept where the rule fired
        from engine.store.checkpoints import kept

        assert event.data["fork_step"] in kept(jobs.store, run_id)


def test_no_rule_fires_on_a_healthy_lstm(jobs):
    run_id, events = diagnoses(jobs, HEALTHY)
    assert jobs.store.run(run_id).status == "done"
    assert events == [], [(e.step, e.data["rule"], e.message) for e in events]
    assert "reach/steps/l0" in jobs.store.series_names(run_id)  # the reach rule had something to judge


def test_every_rule_is_in_the_observers_and_has_a_trigger():
    rules = {type(o).__name__ for o in diagnosis.observers_for(RunConfig())}
    assert {r.__name__ for r in diagnosis.RULES} <= rules and "StepTimer" in rules
    assert {r.id for r in diagnosis.RULES} == set(TRIGGERS)


def test_step_timer_records_each_steps_time(jobs):
    run_id, _ = diagnoses(jobs, RunConfig(cell="gru", hidden_size=16, embed_dim=8, seq_len=16, max_steps=20,
                                          eval_every=10, probe_every=0))
    steps, ms = jobs.store.scalars(run_id, "time/step_ms")
    assert len(steps) == 19 and np.all(ms > 0) and np.all(np.isfinite(ms))  # every step but the first


# ---- unit checks of the rules' bookkeeping and derived fixes, with a stand-in trainer ----------


class FakeStore:
    def __init__(self):
        self.events = []

    def add_event(self, run_id, step, kind, message, data=None):
        self.events.append((step, kind, message, data))


def fake_trainer(bpe=10, loss_kind="ce", output_size=100, **cfg):
    cfg = RunConfig().replace(**cfg)
    task = SimpleNamespace(loss_kind=loss_kind, output_size=output_size, baselines=lambda: {"mean_mse": 1 / 6})
    t = SimpleNamespace(store=FakeStore(), run_id="r", cfg=cfg, clip_mode=cfg.clip, clip_value=cfg.clip_value,
                        step_index=0, bpe=bpe, task=task, kept=[], diverged=None)
    t.keep_snapshot_here = lambda: t.kept.append(t.step_index) or t.step_index
    t.declare_diverged = lambda reason: setattr(t, "diverged", reason)
    return t


def feed(rule, trainer, steps, norm, loss, lr=1.0):
    """Steps with a gradient norm and a batch loss (the recent mean follows the batch loss)."""
    for s in steps:
        trainer.recent_loss = lambda v=loss: v
        rule.on_step_end(trainer, s, {"grad/norm": norm, "train/loss": loss, "lr": lr})


def spike_rule(**cfg):
    rule, trainer = gradients.GradientSpike(), fake_trainer(**cfg)
    rule.on_fit_start(trainer)
    return rule, trainer


def test_spike_rule_waits_for_a_median_and_clips_at_it():
    rule, trainer = spike_rule(optimizer="sgd", clip="none")
    feed(rule, trainer, [0], 1e6, 2.0)  # a huge first norm is no spike yet: there is no median
    feed(rule, trainer, range(1, base.NORM_MIN_SEEN - 1), 0.4, 2.0)
    assert trainer.store.events == [] and rule.spike is None
    feed(rule, trainer, range(base.NORM_MIN_SEEN, 300), 0.4, 2.0)
    feed(rule, trainer, [300], 50.0, 2.0)
    feed(rule, trainer, range(301, 301 + gradients.SPIKE_WATCH), 0.4, 3.0)  # the loss rose after it
    feed(rule, trainer, [400], 50.0, 2.0)  # within the cooldown: no second finding
    feed(rule, trainer, range(401, 401 + gradients.SPIKE_WATCH), 0.4, 3.0)
    assert len(trainer.store.events) == 1
    step, kind, _, data = trainer.store.events[0]
    # clipped at the run's own median norm (0.4), not a fixed multiple that a lesson could contradict
    assert (step, kind, data["fix"], data["apply"]) == (300, "diagnosis", {"clip": "norm", "clip_value": 0.4}, "rerun")


def test_a_spike_that_does_no_harm_or_comes_from_a_wrecked_run_is_no_finding():
    rule, trainer = spike_rule(optimizer="sgd", clip="none")
    feed(rule, trainer, range(0, 300), 0.4, 2.0)
    feed(rule, trainer, [300], 50.0, 2.0)
    feed(rule, trainer, range(301, 330), 0.4, 1.9)  # the gated-cells LSTM: its loss fell through the spike
    feed(rule, trainer, range(330, 400), 0.4, 20.0)  # a wrecked run (loss above 2 ln|V| = 9.2): not judged
    feed(rule, trainer, [400], 500.0, 20.0)
    feed(rule, trainer, range(401, 420), 0.4, 30.0)
    assert trainer.store.events == []


def test_spike_under_adam_or_a_tight_clip_lowers_the_lr_in_force():
    for cfg in (dict(optimizer="adam"), dict(optimizer="sgd", clip="norm", clip_value=0.1)):
        rule, trainer = spike_rule(**cfg)
        feed(rule, trainer, range(0, 3 * base.NORM_WINDOW), 0.4, 2.0, lr=0.02)
        feed(rule, trainer, [500], 40.0, 2.0, lr=0.02)
        feed(rule, trainer, range(501, 501 + gradients.SPIKE_WATCH), 0.4, 2.5, lr=0.02)
        assert trainer.store.events[0][3]["fix"] == {"lr": 0.007}  # a third of the lr in force, one digit


def test_a_fix_that_the_run_already_has_is_dropped():
    """clip_value 1 and 1.0 are one setting: a rule never offers the run's own value as a fix."""
    trainer = fake_trainer(clip="norm", clip_value=1.0)
    assert base.real_changes(trainer.cfg, {"clip": "norm", "clip_value": 1}) == {}
    assert base.real_changes(trainer.cfg, {"clip": "norm", "clip_value": 0.5, "lr": 0.003}) == {"clip_value": 0.5}
    rule = gradients.GradientSpike()
    rule.fire(trainer, 3, "m", "why", {"clip": "norm", "clip_value": 1}, "clip at 1")
    data = trainer.store.events[0][3]
    assert data["fix"] == {} and data["fix_label"] == ""


def test_parting_rule_ignores_a_single_high_evaluation():
    rule, trainer = fit.PartingCurves(), fake_trainer()
    vals = [3.0, 2.0, 2.5, 1.9, 2.2, 2.3, 2.4]  # one rise, a new best, then three rises in a row
    for k, v in enumerate(vals):
        rule.on_eval(trainer, 10 * k, {"val/loss": v, "window/loss": 1.8 - 0.1 * k})
    assert [e[0] for e in trainer.store.events] == [60]
    assert trainer.store.events[0][3]["fix"] == {"dropout": 0.2} and trainer.kept == [0]


def test_parting_rule_is_silent_on_a_run_that_diverged():
    """The seen case: loss 4.64 -> 45.6. Validation rises, but nothing of it is memorising."""
    rule, trainer = fit.PartingCurves(), fake_trainer(output_size=104)  # baseline ln 104 = 4.64
    # the best evaluation came after an early excursion (its window averaged 20), then the run went up:
    # validation above its best and training below its level then, as the old rule asked, yet far above ln|V|
    for k, (val, train) in enumerate([(5.0, 20.0), (8.0, 12.0), (9.0, 10.0), (10.0, 9.0), (45.6, 8.0)]):
        rule.on_eval(trainer, 100 * k, {"val/loss": val, "window/loss": train})
    assert trainer.store.events == []


def overfit_run(vals, trains, bpe=10, every=5):
    rule, trainer = fit.Overfitting(), fake_trainer(bpe=bpe)
    for k, (v, t) in enumerate(zip(vals, trains)):
        trainer.step_index = every * (k + 1)
        rule.on_eval(trainer, every * (k + 1), {"val/loss": v, "window/loss": t})
    return trainer.store.events


def test_overfitting_fires_when_training_pulls_away():
    # the seen case: a GRU at train perplexity 5.5 against validation 6.6, validation flat
    trains = list(np.linspace(2.0, math.log(5.5), 12))
    vals = [max(t + 0.02, math.log(6.6)) for t in trains]
    events = overfit_run(vals, trains)
    assert len(events) == 1 and events[0][3]["fix"] == {"dropout": 0.2} and events[0][3]["apply"] == "fork"


def test_overfitting_is_silent_while_validation_follows_or_in_the_first_epochs():
    trains = list(np.linspace(2.0, 1.6, 12))
    assert overfit_run([t + 0.15 for t in trains], trains) == []  # a steady gap (text shift) is not overfitting
    assert overfit_run([1.95] * 12, trains, bpe=1000) == []  # within the first epochs every batch is new


def test_divergence_rule_needs_many_steps_far_above_the_baseline_and_can_stop_the_run():
    for stop in (False, True):
        rule, trainer = divergence.LossFarAboveBaseline(), fake_trainer(output_size=100, stop_on_divergence=stop,
                                                                        optimizer="sgd", clip="none")
        rule.on_fit_start(trainer)
        losses = [4.0] * 40 + [20.0] * 30 + [4.0] * 5 + [5885.0] * 60  # a 30-step excursion comes back: no finding
        for s, loss in enumerate(losses):
            trainer.recent_loss = lambda v=loss: v
            rule.on_step_end(trainer, s, {"grad/norm": 0.5, "lr": 1000.0})
        (step, _, message, data), = trainer.store.events
        assert step == 75 + divergence.DIVERGE_STEPS - 1 and "5885" in message
        assert data["fix"] == {"lr": 100.0, "clip": "norm", "clip_value": 0.5} and data["apply"] == "rerun"
        assert (trainer.diverged is not None) == stop


def test_nice_rounds_suggestions():
    assert base.nice(0.0337) == 0.03 and base.nice(2.6) == 3.0 and math.isnan(base.nice(math.nan))
