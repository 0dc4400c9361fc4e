"""Evaluation and probe cadence."""

from engine.cadence import EvalCadence, ProbeBudget


def test_eval_every_n_steps():
    c = EvalCadence(25, batches_per_epoch=1000)
    assert [s for s in range(100) if c.due(s)] == [24, 49, 74, 99]


def test_eval_four_times_per_epoch_lands_on_quarters():
    c = EvalCadence(0.25, batches_per_epoch=79)
    due = [s for s in range(158) if c.due(s)]
    assert len(due) == 8
    assert due[3] == 78 and due[7] == 157  # the last batch of each epoch
    assert [d - 79 for d in due[4:]] == due[:4]  # the same positions in every epoch


def test_probe_budget_keeps_configured_cadence_when_cheap():
    b = ProbeBudget(10, budget=0.03)
    b.spent(1e-5)
    assert [s for s in range(50) if b.due(s, step_time=0.01)] == [0, 10, 20, 30, 40]


def test_probe_budget_stretches_expensive_probes():
    b = ProbeBudget(10, budget=0.03)
    assert b.due(0, step_time=None)  # step 0 is always measured
    b.spent(0.01)  # a probe round costs a whole 10 ms step
    assert not b.due(9, step_time=0.01) and b.due(10, step_time=0.01)
    assert b.interval == 34  # 0.01 / (0.03 * 0.01), rounded up: the probes take 3 % of the time
    assert b.next_due == 44
    assert ProbeBudget(0, 0.03).due(0, None) is False
