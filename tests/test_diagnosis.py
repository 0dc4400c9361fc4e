"""Diagnosis rules: each fires on a real small run built to trigger it, none on a healthy LSTM.

Runs go through a JobManager, so they get `observers_for(cfg)` exactly as the dashboard's
runs do. Every fired event must carry the contract's data and a fix a fork can apply.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from engine import diagnosis
from engine.config import RunConfig
from engine.jobs import JobManager
from engine.store import RunStore

TIMEOUT = 120
KEYS = {"rule", "title", "explanation", "fix", "fix_label"}

# each rule and a run built to trigger it (every setting is named: nothing depends on defaults
# that might change)
TRIGGERS = {
    # Adam at lr 0.1 makes the first updates confidently wrong
    "ppl_above_uniform": RunConfig(cell="rnn_tanh", hidden_size=256, seq_len=32, batch_size=64, lr=0.1,
                                   max_steps=30, eval_every=30),
    # plain SGD at lr 3 with a clip too loose for it: the recurrence's gradient explodes
    "grad_spike": RunConfig(cell="rnn_tanh", optimizer="sgd", lr=3.0, clip="norm", clip_value=1.0, max_steps=120,
                            eval_every=60),
    # a ReLU recurrence with spectral radius 5 overflows float32 within 64 steps: NaN/Inf at step 0
    "non_finite": RunConfig(cell="rnn_relu", init="spectral", spectral_radius=5.0, max_steps=20, eval_every=10),
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
    parent.replace(**event.data["fix"])  # a fork with the fix is a valid run (raises otherwise)
    parent.replace(**event.data.get("new_run", {}))


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


# ---- unit checks of the rules' bookkeeping, with a stand-in trainer ------------------------


class FakeStore:
    def __init__(self):
        self.events = []

    def add_event(self, run_id, step, kind, message, data=None):
        self.events.append((step, kind, message, data))


def fake_trainer(**cfg):
    return SimpleNamespace(store=FakeStore(), run_id="r", cfg=RunConfig().replace(**cfg), clip_mode="none",
                           clip_value=1.0, step_index=0)


def test_spike_rule_waits_for_a_median_and_respects_its_cooldown():
    rule, trainer = diagnosis.GradientSpike(), fake_trainer()
    for s in range(diagnosis.SPIKE_MIN_SEEN - 1):
        rule.on_step_end(trainer, s, {"grad/norm": 1.0 if s else 1e6})  # a huge first norm is no spike yet
    assert trainer.store.events == []
    for s in range(diagnosis.SPIKE_MIN_SEEN, 3 * diagnosis.SPIKE_WINDOW):
        rule.on_step_end(trainer, s, {"grad/norm": 1.0})
    rule.on_step_end(trainer, 300, {"grad/norm": 50.0})
    rule.on_step_end(trainer, 301, {"grad/norm": 50.0})  # within the cooldown: one event
    assert len(trainer.store.events) == 1
    step, kind, _, data = trainer.store.events[0]
    assert (step, kind, data["fix"]) == (300, "diagnosis", {"clip": "norm", "clip_value": 2.0})


def test_parting_rule_ignores_a_single_high_evaluation():
    rule, trainer = diagnosis.PartingCurves(), fake_trainer()
    vals = [3.0, 2.0, 2.5, 1.9, 2.2, 2.3, 2.4]  # one rise, a new best, then three rises in a row
    for k, v in enumerate(vals):
        rule.on_eval(trainer, 10 * k, {"val/loss": v, "window/loss": 2.0 - 0.1 * k})
    assert [e[0] for e in trainer.store.events] == [60]


def test_nice_rounds_suggestions():
    assert diagnosis.nice(0.0337) == 0.03 and diagnosis.nice(2.6) == 3.0 and math.isnan(diagnosis.nice(math.nan))
