"""Run names: cell and size, then the settings that differ from a base, in declaration order."""

from engine.config import RunConfig
from engine.naming import MAX_SETTINGS, run_name


def test_a_name_lists_what_differs_from_the_base_and_nothing_else():
    assert run_name(RunConfig()) == "lstm 128"
    assert run_name(RunConfig(lr=0.3)) == "lstm 128 · lr 0.3"
    assert run_name(RunConfig(cell="gru", hidden_size=64, clip="none", seed=3)) == "gru 64 · clip none · seed 3"
    base = RunConfig(eval_every=50.0, sample_every=100, probe_budget=0.2)  # the dashboard's defaults
    assert run_name(RunConfig(eval_every=50.0, sample_every=100, probe_budget=0.2, lr=0.3), base) == "lstm 128 · lr 0.3"
    # how a run is watched does not make it a different run
    assert run_name(RunConfig(max_steps=40, probe_every=5, probe_budget=1.0, device="cpu")) == "lstm 128"


def test_a_long_difference_is_counted_not_spelled_out():
    cfg = RunConfig(embed_dim=16, num_layers=2, dropout=0.1, seq_len=32, batch_size=8, lr=0.01)
    name = run_name(cfg)
    assert name == "lstm 128 · embed_dim 16 · num_layers 2 · dropout 0.1 · seq_len 32 · +2 more"
    assert name.count(" · ") == MAX_SETTINGS + 1
