"""Weights: their norms after the step and the step's update-to-weight ratio (a split probe).

The training thread takes the weights before the update (the copy every split probe of the step
shares) and after it; a probe worker takes the norms.
"""

from __future__ import annotations

import torch

from engine.probes.base import ProbeContext, SplitProbe
from engine.series import Series


class WeightProbe(SplitProbe):
    """Weight norms after the step and the step's update-to-weight ratio ||dW|| / ||W||."""

    NORM = Series("weight_norm/{param}", "scalar", "Frobenius norm of the parameter after the step")
    RATIO = Series("update_ratio/{param}", "scalar", "||dW|| / ||W|| of the step's update")
    RATIO_ALL = Series("update_ratio", "scalar", "||dW|| / ||W|| over all parameters together")
    series = (NORM, RATIO, RATIO_ALL)

    def __init__(self):
        self.before: dict[str, torch.Tensor] | None = None  # inline: the capture, until after_step

    def capture(self, ctx: ProbeContext) -> dict[str, torch.Tensor]:
        return ctx.weights()  # before the update

    @torch.no_grad()
    def complete(self, ctx: ProbeContext, before: dict) -> tuple[dict, dict]:
        return before, {n: p.detach().clone() for n, p in ctx.model.named_parameters()}  # after it

    @torch.no_grad()
    def analyse(self, captured: tuple[dict, dict]) -> dict:
        before, after = captured
        out, d2, w2 = {}, 0.0, 0.0
        for n, p in after.items():
            out[self.NORM.at(param=n)] = float(p.norm())
            w, d = float(before[n].norm()), float((p - before[n]).norm())
            w2, d2 = w2 + w * w, d2 + d * d
            if w > 0:  # a zeroed head has no ratio on its first step: left out, not inf
                out[self.RATIO.at(param=n)] = d / w
        if w2 > 0:
            out[self.RATIO_ALL.name] = (d2 / w2) ** 0.5
        return out

    def after_backward(self, ctx: ProbeContext) -> dict:
        """Inline: keep the weights before the update for after_step."""
        self.before = self.capture(ctx)
        return {}

    def after_step(self, ctx: ProbeContext) -> dict:
        """Inline: the norms and ratios of the step just taken."""
        before, self.before = self.before, None
        return {} if before is None else self.analyse(self.complete(ctx, before))
