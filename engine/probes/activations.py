"""Activations and outputs: saturated or dead hidden units, logit scale and predictive entropy."""

from __future__ import annotations

import torch

from engine.probes.base import Probe, ProbeContext, real_positions
from engine.series import Series

SATURATED = 0.99  # |h| above this counts as saturated (tanh's flat tails)


class HiddenProbe(Probe):
    """Per layer: share of |h| > 0.99 (tanh, GRU, LSTM) or share of dead units (ReLU), real positions only."""

    SATURATION = Series("hidden/saturation/l{layer}", "scalar", f"share of |h| > {SATURATED} (tanh, GRU, LSTM)")
    DEAD = Series("hidden/dead/l{layer}", "scalar", "ReLU: share of units zero for every position of the batch")
    series = (SATURATION, DEAD)

    @torch.no_grad()
    def after_backward(self, ctx: ProbeContext) -> dict:
        out = {}
        for layer, h in enumerate(ctx.hiddens):
            h = h.detach()  # (B, T, H)
            m = real_positions(ctx.batch, h.shape[1], h.device)
            v = h.reshape(-1, h.shape[-1]) if m is None else h[m]  # (positions, H)
            if ctx.model.cell == "rnn_relu":
                out[self.DEAD.at(layer=layer)] = float((v == 0).all(dim=0).float().mean())
            else:
                out[self.SATURATION.at(layer=layer)] = float((v.abs() > SATURATED).float().mean())
        return out


class OutputProbe(Probe):
    """Classification tasks: std of the logits and mean predictive entropy (nats), real positions only."""

    LOGIT_SCALE = Series("output/logit_scale", "scalar", "std of the logits")
    ENTROPY = Series("output/entropy", "scalar", "mean predictive entropy (nats)")
    series = (LOGIT_SCALE, ENTROPY)

    @torch.no_grad()
    def after_backward(self, ctx: ProbeContext) -> dict:
        if ctx.task.loss_kind != "ce":
            return {}
        logits = ctx.out.detach().float()  # (B, T, O)
        m = real_positions(ctx.batch, logits.shape[1], logits.device)
        z = logits.reshape(-1, logits.shape[-1]) if m is None else logits[m]  # (positions, O)
        logp = torch.log_softmax(z, dim=-1)
        entropy = -(logp.exp() * logp).sum(dim=-1)
        return {self.LOGIT_SCALE.name: float(z.std()), self.ENTROPY.name: float(entropy.mean())}
