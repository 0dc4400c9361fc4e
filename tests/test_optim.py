"""Schedules and clipping against direct computations and torch's own implementations."""

import math

import pytest
import torch

from engine.config import RunConfig
from engine.optim import LrSchedule, build_optimizer, clip_gradients


def test_warmup_then_constant_is_linear_and_floored():
    cfg = RunConfig(lr=0.01, warmup_steps=10, min_lr=5e-4)
    s = LrSchedule(cfg)
    for step in range(30):
        expected = 0.01 * (step + 1) / 10 if step < 10 else 0.01
        assert s.lr_at(step) == pytest.approx(max(expected, 5e-4))
        assert s.lr_at(step) >= cfg.min_lr
    assert s.lr_at(0) == pytest.approx(0.001)  # 0.01 / 10 warmup steps, above the floor
    assert LrSchedule(RunConfig(lr=0.01, warmup_steps=100, min_lr=5e-4)).lr_at(0) == 5e-4


def test_step_and_cosine():
    s = LrSchedule(RunConfig(lr=0.1, schedule="step", step_every=10, gamma=0.5))
    assert [s.lr_at(k) for k in (0, 9, 10, 25)] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    c = LrSchedule(RunConfig(lr=0.1, schedule="cosine", max_steps=100, min_lr=1e-3))
    assert c.lr_at(0) == pytest.approx(0.1)
    assert c.lr_at(50) == pytest.approx(1e-3 + (0.1 - 1e-3) * 0.5)
    assert c.lr_at(100) == pytest.approx(1e-3)


@pytest.mark.parametrize("patience,factor,cooldown,threshold", [(1, 0.1, 0, 1e-4), (3, 0.5, 2, 1e-2), (0, 0.3, 1, 0.0)])
def test_plateau_matches_torch_reduce_on_plateau(patience, factor, cooldown, threshold):
    cfg = RunConfig(lr=1.0, schedule="plateau", plateau_patience=patience, plateau_factor=factor,
                    plateau_cooldown=cooldown, plateau_threshold=threshold, min_lr=1e-3)
    ours = LrSchedule(cfg)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=factor, patience=patience,
                                                        cooldown=cooldown, threshold=threshold, min_lr=1e-3, eps=1e-12)
    gen = torch.Generator().manual_seed(0)
    losses = (3.0 - torch.arange(40) * 0.01 + torch.rand(40, generator=gen) * 0.3).tolist()
    for i, loss in enumerate(losses):
        ours.on_eval(i + 1, loss)
        theirs.step(loss)
        assert ours.lr_at(1000) == pytest.approx(opt.param_groups[0]["lr"]), f"evaluation {i}"
        assert ours.lr_at(1000) >= cfg.min_lr


def test_plateau_records_its_state_and_cuts():
    s = LrSchedule(RunConfig(lr=1.0, schedule="plateau", plateau_patience=1, plateau_factor=0.1, min_lr=0.01))
    events = [e for v in [5, 4, 4, 4, 4, 4, 4, 4] for e in s.on_eval(10, v)]
    assert [e["data"]["new"] for e in events] == pytest.approx([0.1, 0.01])
    assert events[-1]["data"]["at_min"]
    assert s.state()["plateau/best"] == 4 and s.state()["plateau/cuts"] == 2


def _grads(scale):
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(7))]
    for p in params:
        p.grad = torch.randn_like(p) * scale
    return params


def test_norm_clipping_caps_the_global_norm_like_torch():
    params, reference = _grads(10.0), _grads(10.0)
    before, after, fired = clip_gradients(params, "norm", 1.0)
    torch_norm = torch.nn.utils.clip_grad_norm_(reference, 1.0)
    assert fired and before == pytest.approx(float(torch_norm))
    total = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in params))
    assert total == pytest.approx(1.0, rel=1e-5) and after == pytest.approx(total, rel=1e-5)
    for p, q in zip(params, reference):
        assert torch.allclose(p.grad, q.grad)


def test_norm_clipping_leaves_small_gradients_alone():
    params = _grads(1e-3)
    copies = [p.grad.clone() for p in params]
    before, after, fired = clip_gradients(params, "norm", 1.0)
    assert not fired and before == after
    assert all(torch.equal(p.grad, c) for p, c in zip(params, copies))


def test_value_clipping_bounds_every_element():
    params = _grads(5.0)
    _, after, fired = clip_gradients(params, "value", 0.5)
    assert fired and max(float(p.grad.abs().max()) for p in params) <= 0.5
    assert after == pytest.approx(math.sqrt(sum(float(p.grad.pow(2).sum()) for p in params)), rel=1e-6)


def test_optimizers_by_name():
    model = torch.nn.Linear(3, 2)
    assert isinstance(build_optimizer(model, RunConfig(optimizer="sgd")), torch.optim.SGD)
    assert isinstance(build_optimizer(model, RunConfig(optimizer="adamw")), torch.optim.AdamW)
    assert build_optimizer(model, RunConfig(optimizer="adam", beta2=0.98)).param_groups[0]["betas"] == (0.9, 0.98)
