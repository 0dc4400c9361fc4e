"""Activations and outputs: saturated or dead hidden units, logit scale and predictive entropy.

Both are split probes: the training thread keeps references to the forward's hidden sequences
and logits (nothing writes into them after the forward), a probe worker measures them.
"""

from __future__ import annotations

import torch

from engine.probes.base import ProbeContext, SplitProbe, real_positions
from engine.series import Series

SATURATED = 0.99  # |h| above this counts as saturated (tanh's flat tails)


class HiddenProbe(SplitProbe):
    """Per layer: share of |h| > 0.99 (tanh, GRU, LSTM) or share of dead units (ReLU), real positions only."""

    SATURATION = Series("hidden/saturation/l{layer}", "scalar", f"share of |h| > {SATURATED} (tanh, GRU, LSTM)")
    DEAD = Series("hidden/dead/l{layer}", "scalar", "ReLU: share of units zero for every position of the batch")
    series = (SATURATION, DEAD)

    @torch.no_grad()
    def capture(self, ctx: ProbeContext) -> tuple:
        hs = [h.detach() for h in ctx.hiddens]  # per layer (B, T, H)
        return ctx.model.cell, hs, real_positions(ctx.batch, hs[0].shape[1], hs[0].device)  # mask (B, T) or None

    @torch.no_grad()
    def analyse(self, captured: tuple) -> dict:
        cell, hs, m = captured
        out = {}
        for layer, h in enumerate(hs):
            v = h.reshape(-1, h.shape[-1]) if m is None else h[m]  # (positions, H)
            if cell == "rnn_relu":
                out[self.DEAD.at(layer=layer)] = float((v == 0).all(dim=0).float().mean())
            else:
                out[self.SATURATION.at(layer=layer)] = float((v.abs() > SATURATED).float().mean())
        return out


class OutputProbe(SplitProbe):
    """Classification tasks: std of the logits and mean predictive entropy (nats), real positions only."""

    LOGIT_SCALE = Series("output/logit_scale", "scalar", "std of the logits")
    ENTROPY = Series("output/entropy", "scalar", "mean predictive entropy (nats)")
    series = (LOGIT_SCALE, ENTROPY)

    @torch.no_grad()
    def capture(self, ctx: ProbeContext) -> tuple | None:
        if ctx.task.loss_kind != "ce":
            return None
        logits = ctx.out.detach()  # (B, T, O)
        return logits, real_positions(ctx.batch, logits.shape[1], logits.device)  # mask (B, T) or None

    @torch.no_grad()
    def analyse(self, captured: tuple) -> dict:
        logits, m = captured
        logits = logits.float()
        z = logits.reshape(-1, logits.shape[-1]) if m is None else logits[m]  # (positions, O)
        logp = torch.log_softmax(z, dim=-1)
        entropy = -(logp.exp() * logp).sum(dim=-1)
        return {self.LOGIT_SCALE.name: float(z.std()), self.ENTROPY.name: float(entropy.mean())}
