"""Optimisers, learning-rate schedules and gradient clipping, by name.

    opt = build_optimizer(model, cfg)
    schedule = LrSchedule(cfg)
    lr = schedule.lr_at(step)                   # warmup, then constant / step / cosine / plateau
    events = schedule.on_eval(step, val_loss)   # plateau bookkeeping; a cut is an event
    before, after, fired = clip_gradients(model.parameters(), "norm", 1.0)

Every lr the schedule gives is at least `min_lr`. Reduce-on-plateau follows
`torch.optim.lr_scheduler.ReduceLROnPlateau` (mode min, relative threshold) so its state,
best value, bad evaluations, cooldown and cuts, can be drawn on the timeline.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from engine.series import Series

LR = Series("lr", "scalar", "the learning rate of the step's update (warmup and schedule applied)")
PLATEAU_BEST = Series("plateau/best", "scalar", "reduce-on-plateau: best validation loss so far")
PLATEAU_BAD = Series("plateau/bad", "scalar", "reduce-on-plateau: evaluations without improvement")
PLATEAU_CUTS = Series("plateau/cuts", "scalar", "reduce-on-plateau: cuts so far")
GRAD_NORM = Series("grad/norm", "scalar", "global gradient norm before clipping")
GRAD_NORM_CLIPPED = Series("grad/norm_clipped", "scalar", "global gradient norm after clipping")
GRAD_CLIPPED = Series("grad/clipped", "scalar", "1 when clipping changed the gradient, else 0")
SERIES = (LR, PLATEAU_BEST, PLATEAU_BAD, PLATEAU_CUTS, GRAD_NORM, GRAD_NORM_CLIPPED, GRAD_CLIPPED)


def build_optimizer(model: torch.nn.Module, cfg) -> torch.optim.Optimizer:
    """The optimiser named by cfg.optimizer over all of the model's parameters."""
    params = model.parameters()
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    betas = (cfg.beta1, cfg.beta2)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
    raise ValueError(f"optimizer: unknown {cfg.optimizer!r}")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


class LrSchedule:
    """Linear warmup to the peak lr, then constant, step, cosine or reduce-on-plateau."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.peak = cfg.lr  # changed by a live edit
        self.plateau_lr = cfg.lr  # the plateau schedule's current lr
        self.best = math.inf
        self.bad = 0  # evaluations without improvement since the last improvement or cut
        self.cooldown_left = 0
        self.cuts = 0

    def lr_at(self, step: int) -> float:
        """The learning rate for the update made at `step` (0-based)."""
        cfg = self.cfg
        if step < cfg.warmup_steps:
            # linear from peak/warmup to peak: the first update already moves, the last is at peak
            lr = self.peak * (step + 1) / cfg.warmup_steps
        else:
            lr = self._after_warmup(step - cfg.warmup_steps)
        return max(lr, cfg.min_lr)

    def _after_warmup(self, k: int) -> float:
        cfg = self.cfg
        if cfg.schedule == "step":
            return self.peak * cfg.gamma ** (k // cfg.step_every)
        if cfg.schedule == "cosine":
            span = max(1, cfg.max_steps - cfg.warmup_steps)
            return cfg.min_lr + (self.peak - cfg.min_lr) * 0.5 * (1 + math.cos(math.pi * min(k, span) / span))
        if cfg.schedule == "plateau":
            return self.plateau_lr
        return self.peak

    def set_peak(self, lr: float) -> None:
        """A live edit: the new peak takes over from the next step; plateau restarts from it."""
        self.peak = lr
        self.plateau_lr = lr

    def on_eval(self, step: int, val_loss: float) -> list[dict]:
        """Feed one validation loss; returns the events it caused (a plateau cut)."""
        cfg = self.cfg
        if cfg.schedule != "plateau" or step <= cfg.warmup_steps:
            return []
        if val_loss < self.best * (1 - cfg.plateau_threshold):
            self.best = val_loss
            self.bad = 0
        else:
            self.bad += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad = 0  # as torch: bad evaluations during cooldown do not count
        if self.bad <= cfg.plateau_patience:
            return []
        old = self.plateau_lr
        new = max(old * cfg.plateau_factor, cfg.min_lr)
        self.cooldown_left = cfg.plateau_cooldown
        self.bad = 0
        if old - new <= 1e-12:
            return []  # already at the floor: nothing to cut
        self.plateau_lr = new
        self.cuts += 1
        at_min = new <= cfg.min_lr * (1 + 1e-9)  # 0.1 * 0.1 is a hair above 0.01 in floating point
        floor = " (reached min_lr)" if at_min else ""
        return [{"kind": "lr_cut", "message": f"plateau: lr {old:.3g} -> {new:.3g}{floor}",
                 "data": {"old": old, "new": new, "at_min": at_min}}]

    def state_dict(self) -> dict[str, float]:
        """What a snapshot must carry to continue the schedule elsewhere (the config travels apart)."""
        return {"peak": self.peak, "plateau_lr": self.plateau_lr, "best": self.best, "bad": self.bad,
                "cooldown_left": self.cooldown_left, "cuts": self.cuts}

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Continue from a state_dict(); unknown keys raise."""
        unknown = set(state) - set(self.state_dict())
        if unknown:
            raise KeyError(f"not LrSchedule state: {', '.join(sorted(unknown))}")
        for k, v in state.items():
            setattr(self, k, v)

    def state(self) -> dict[str, float]:
        """The plateau bookkeeping, for the timeline."""
        return {PLATEAU_BEST.name: self.best, PLATEAU_BAD.name: float(self.bad), PLATEAU_CUTS.name: float(self.cuts)}


def clip_gradients(params: Iterable[torch.Tensor], mode: str, value: float) -> tuple[float, float, bool]:
    """Clip in place; returns the global gradient norm before and after, and whether it fired."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0, 0.0, False
    before = float(torch.nn.utils.get_total_norm(grads))
    if mode == "norm":
        fired = before > value
        if fired:
            scale = value / (before + 1e-6)  # as torch.nn.utils.clip_grad_norm_
            for g in grads:
                g.mul_(scale)
            return before, before * scale, True
        return before, before, False
    if mode == "value":
        fired = any(bool((g.abs() > value).any()) for g in grads)
        if fired:
            for g in grads:
                g.clamp_(-value, value)
            return before, float(torch.nn.utils.get_total_norm(grads)), True
        return before, before, False
    return before, before, False
