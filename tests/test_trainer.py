"""The trainer end to end on small runs: what it records must equal what was computed."""

import math

import numpy as np
import pytest

from engine.config import RunConfig
from engine.store import RunStore
from engine.trainer import Diverged, Trainer

SMALL = dict(hidden_size=24, embed_dim=8, seq_len=16, batch_size=8, eval_every=10, eval_batches=2, probe_every=5)


def train(cfg, store=None):
    store = store or RunStore()
    run_id = store.create_run(cfg.to_dict())
    t = Trainer(cfg, store, run_id)
    t.start()
    status = "done"
    try:
        while t.step():
            pass
    except Diverged:
        status = "diverged"
    t.finish(status)
    return store, run_id, t


def test_zero_head_starts_exactly_at_ln_v():
    store, run_id, t = train(RunConfig(cell="gru", zero_head=True, max_steps=2, **SMALL))
    steps, loss = store.scalars(run_id, "train/loss")
    assert steps[0] == 0
    assert loss[0] == pytest.approx(math.log(t.task.output_size), abs=1e-6)
    assert t.task.baselines()["uniform_ppl"] == t.task.output_size


def test_same_seed_same_loss_series():
    cfg = RunConfig(cell="lstm", max_steps=25, dropout=0.2, num_layers=2, **SMALL)
    store = RunStore()
    _, a, _ = train(cfg, store)
    _, b, _ = train(cfg, store)
    _, c, _ = train(cfg.replace(seed=1), store)
    la, lb, lc = (store.scalars(r, "train/loss")[1] for r in (a, b, c))
    assert len(la) == 25 and np.array_equal(la, lb)
    assert not np.array_equal(la, lc)


def test_huge_lr_diverges_and_keeps_history():
    # a ReLU RNN: unbounded activations overflow at once (a tanh RNN saturates and stays finite, if useless)
    cfg = RunConfig(cell="rnn_relu", optimizer="sgd", lr=1000.0, clip="none", max_steps=200, **SMALL)
    store, run_id, t = train(cfg)
    run = store.run(run_id)
    assert run.status == "diverged"
    steps, loss = store.scalars(run_id, "train/loss")
    assert len(steps) >= 2 and list(steps) == list(range(len(steps)))  # every step up to the bad one
    assert np.isfinite(loss[0])
    last_norm = store.scalars(run_id, "grad/norm")[1][-1]
    assert not (np.isfinite(loss[-1]) and np.isfinite(last_norm))  # the last record is the bad step
    assert run.step == len(steps) - 1


def test_records_and_probes_land_in_the_store():
    store, run_id, t = train(RunConfig(cell="lstm", max_steps=20, **SMALL))
    names = set(store.series_names(run_id))
    for name in ("train/loss", "train/ppl", "lr", "grad/norm", "grad/norm_clipped", "val/loss",
                 "val/ppl", "val/bpc", "spectrum/radius/l0/f", "reach/ratio/l0", "update_ratio"):
        assert name in names, name
    steps, _ = store.scalars(run_id, "val/loss")
    assert list(steps) == [10, 20]
    eig_steps, eigs = store.arrays(run_id, "spectrum/eig/l0/i")
    assert eig_steps[0] == 0 and eigs[0].shape == (24, 2)
    assert store.texts(run_id), "a text sample at the end"


def test_no_hook_or_retained_grad_left_on_the_model():
    _, _, t = train(RunConfig(cell="gru", max_steps=6, probe_every=1, **{k: v for k, v in SMALL.items() if k != "probe_every"}))
    for m in t.model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
        assert not getattr(m, "_backward_pre_hooks", {})
    for p in t.model.parameters():
        assert not p._backward_hooks and not p.retains_grad


def test_live_lr_change_applies_at_next_step_and_is_recorded():
    cfg = RunConfig(cell="rnn_tanh", max_steps=10, **SMALL)
    store = RunStore()
    run_id = store.create_run(cfg.to_dict())
    t = Trainer(cfg, store, run_id)
    t.start()
    for _ in range(4):
        t.step()
    t.controls.set_lr(0.05)
    t.controls.set_clip("value", 0.5)
    while t.step():
        pass
    t.finish()
    steps, lr = store.scalars(run_id, "lr")
    assert list(lr[:4]) == [cfg.lr] * 4 and list(lr[4:]) == [0.05] * 6
    kinds = {e.kind: e.step for e in store.events(run_id)}
    assert kinds["lr_change"] == 4 and kinds["clip_change"] == 4
    assert t.clip_mode == "value"


def test_divergence_mid_run_keeps_every_earlier_record():
    cfg = RunConfig(cell="rnn_relu", optimizer="sgd", lr=0.05, clip="none", max_steps=200, **SMALL)
    store = RunStore()
    run_id = store.create_run(cfg.to_dict())
    t = Trainer(cfg, store, run_id)
    t.start()
    for _ in range(30):
        t.step()
    t.controls.set_lr(1000.0)
    with pytest.raises(Diverged):
        while t.step():
            pass
    t.finish("diverged")
    steps, loss = store.scalars(run_id, "train/loss")
    assert list(steps) == list(range(len(steps))) and len(steps) > 30
    assert np.all(np.isfinite(loss[:30]))
    assert store.run(run_id).status == "diverged"
    assert len(store.scalars(run_id, "val/loss")[0]) == 3  # evaluations at 10, 20, 30 survive


def test_step_zero_spectrum_is_the_initial_matrix():
    cfg = RunConfig(cell="rnn_tanh", init="orthogonal", lr=0.05, max_steps=3, probe_budget=1.0, **SMALL)
    store, run_id, t = train(cfg)
    steps, eigs = store.arrays(run_id, "spectrum/eig/l0/h")
    assert steps[0] == 0
    radius = np.hypot(eigs[0][:, 0], eigs[0][:, 1])
    np.testing.assert_allclose(radius, 1.0, atol=1e-5)  # orthogonal: every |eigenvalue| is 1 before any update
    w_final = t.model.recurrent_weights(0)["h"].double().numpy()
    assert not np.allclose(np.abs(np.linalg.eigvals(w_final)), 1.0, atol=1e-5)  # training moved it off the circle
