"""Weights: their norms after the step and the step's update-to-weight ratio."""

from __future__ import annotations

import torch

from engine.probes.base import Probe, ProbeContext
from engine.series import Series


class WeightProbe(Probe):
    """Weight norms after the step and the step's update-to-weight ratio ||dW|| / ||W||."""

    NORM = Series("weight_norm/{param}", "scalar", "Frobenius norm of the parameter after the step")
    RATIO = Series("update_ratio/{param}", "scalar", "||dW|| / ||W|| of the step's update")
    RATIO_ALL = Series("update_ratio", "scalar", "||dW|| / ||W|| over all parameters together")
    series = (NORM, RATIO, RATIO_ALL)

    def __init__(self):
        self.before: dict[str, torch.Tensor] = {}  # copies taken after_backward, on probe steps only

    @torch.no_grad()
    def after_backward(self, ctx: ProbeContext) -> dict:
        self.before = {n: p.detach().clone() for n, p in ctx.model.named_parameters()}
        return {}

    @torch.no_grad()
    def after_step(self, ctx: ProbeContext) -> dict:
        out, d2, w2 = {}, 0.0, 0.0
        for n, p in ctx.model.named_parameters():
            out[self.NORM.at(param=n)] = float(p.norm())
            if n not in self.before:
                continue
            w, d = float(self.before[n].norm()), float((p - self.before[n]).norm())
            w2, d2 = w2 + w * w, d2 + d * d
            if w > 0:  # a zeroed head has no ratio on its first step: left out, not inf
                out[self.RATIO.at(param=n)] = d / w
        if w2 > 0:
            out[self.RATIO_ALL.name] = (d2 / w2) ** 0.5
        self.before = {}
        return out
