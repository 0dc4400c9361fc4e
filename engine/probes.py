"""Probes: one small class per measurement, run by the trainer every `probe_every` steps.

On a probe step the trainer builds one ProbeContext and calls, for every probe in order:

    loss.backward()
    measured = {}; [measured.update(p.after_backward(ctx)) for p in probes]  # grads exist, unclipped
    clip; optimizer.step()
    [measured.update(p.after_step(ctx)) for p in probes]                     # weights updated

Both calls happen on the same step, after_backward first (WeightProbe keeps the weights
before the update then). Each returns {series name: float | np.ndarray}, detached, on CPU;
each probe class declares the series it records (`series`, engine/series.py), and names
them with `Series.at(...)`. Probes never plot or print, leave no hooks,
never retain_grad and never touch a parameter's .grad. Do not call them under
torch.inference_mode: the reach probe needs autograd.

Measured cost, LSTM H=128, T=64, B=32, vocab 65, one CPU thread, against a 12 ms training
step: spectrum 28-33 ms (numpy eigvals of four 128 x 128 gate blocks: about 2.5 steps),
gradient reach 13 ms on 8 sequences (18 ms on 16), gradient histograms 0.6 ms, hidden 0.6 ms,
output 0.35 ms, weights 0.2 ms; about 3.9 training steps in all. The trainer's ProbeBudget
stretches the probe interval to keep that within its share of the time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.series import Series

GRAD_HIST_EDGES = np.linspace(-10.0, 2.0, 49)  # log10 |g| bin edges: 48 bins of 0.25 decades
SATURATED = 0.99  # |h| above this counts as saturated (tanh's flat tails)
REACH_FLOOR = 1e-2  # reach/steps: steps back while ||dL_T/dh_t|| >= this share of its value at T
REACH_SEQUENCES = 8  # the reach probe's sub-batch, the first min(B, 8) sequences: 16 cost 40 % more


@dataclass
class ProbeContext:
    """What one probe step sees; the trainer fills it once after backward and reuses it after the step."""

    model: Any  # RecurrentLM
    task: Any  # data.Task: loss, last_loss, loss_kind
    batch: Any  # data.Batch: x, y, lengths
    out: torch.Tensor  # (B, T, O) outputs of this step's training forward
    hiddens: list[torch.Tensor]  # per layer (B, T, H) from the same forward
    step: int
    cfg: Any  # RunConfig


class Probe:
    """No-op base: override one of the two moments, and declare what you record in `series`."""

    heavy = False  # heavy probes (spectra, gradient reach) run under the time budget, light ones every probe_every
    series: tuple[Series, ...] = ()

    def after_backward(self, ctx: ProbeContext) -> dict:
        """Called after loss.backward() and before clipping and the optimizer step."""
        return {}

    def after_step(self, ctx: ProbeContext) -> dict:
        """Called after optimizer.step() on the same step."""
        return {}


def default_probes(cfg) -> list[Probe]:
    """Every probe the dashboard charts (none when probe_every is 0)."""
    if cfg.probe_every == 0:
        return []
    return [probe() for probe in PROBES]


# ---- weights ----------------------------------------------------------------------------


class SpectrumProbe(Probe):
    """W_h per layer and gate: eigenvalues, singular values, spectral radius, largest singular value."""

    EIG = Series("spectrum/eig/l{layer}/{gate}", "array", "eigenvalues of W_h's gate block, (n, 2): real and imaginary parts")
    SV = Series("spectrum/sv/l{layer}/{gate}", "array", "singular values of W_h's gate block, (n,), descending")
    RADIUS = Series("spectrum/radius/l{layer}/{gate}", "scalar", "spectral radius rho = max |eigenvalue|")
    SIGMA_MAX = Series("spectrum/sigma_max/l{layer}/{gate}", "scalar", "largest singular value sigma_max")
    series = (EIG, SV, RADIUS, SIGMA_MAX)
    heavy = True  # an eigendecomposition per gate block: about 7 ms at H = 128

    @torch.no_grad()
    def after_backward(self, ctx: ProbeContext) -> dict:
        # before the update: the spectrum recorded at step s is that of the model after s updates
        out = {}
        for layer in range(ctx.model.num_layers):
            for g, w in ctx.model.recurrent_weights(layer).items():
                out.update(spectrum(w.cpu().double(), layer, g))
        return out


def spectrum(w: torch.Tensor, layer: int, gate: str) -> dict:
    """SpectrumProbe's series of one square float64 matrix: eig (n, 2) real and imaginary, sv (n,), radius, sigma_max."""
    # torch's LAPACK runs on the engine's one thread; numpy's threaded OpenBLAS took 700 ms instead
    # of 6 ms at n = 128 when the other core was busy (measured)
    eig = torch.linalg.eigvals(w).numpy()
    sv = torch.linalg.svdvals(w).numpy()  # descending; 2x faster than numpy's svd here
    at = {"layer": layer, "gate": gate}
    return {
        SpectrumProbe.EIG.at(**at): np.stack([eig.real, eig.imag], axis=1),
        SpectrumProbe.SV.at(**at): sv,
        SpectrumProbe.RADIUS.at(**at): float(np.abs(eig).max()),
        SpectrumProbe.SIGMA_MAX.at(**at): float(sv[0]),
    }


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


# ---- gradients --------------------------------------------------------------------------


class GradHistogramProbe(Probe):
    """Per parameter: counts of log10 |g| on GRAD_HIST_EDGES (below or zero: first bin; above: last)."""

    HIST = Series("grad_hist/{param}", "array", "counts of log10 |g| on GRAD_HIST_EDGES, before clipping")
    series = (HIST,)

    @torch.no_grad()
    def after_backward(self, ctx: ProbeContext) -> dict:
        return {self.HIST.at(param=n): log_histogram(p.grad) for n, p in ctx.model.named_parameters()
                if p.grad is not None}


def log_histogram(g: torch.Tensor) -> np.ndarray:
    """Counts (48,) int64 of log10 |g| in bins [e_i, e_i+1) of GRAD_HIST_EDGES; outside: the end bins, NaN: the last."""
    lo, hi = float(GRAD_HIST_EDGES[0]), float(GRAD_HIST_EDGES[-1])
    v = torch.log10(g.detach().abs().float().flatten())  # log10(0) = -inf: clamped into the first bin
    v = v.nan_to_num_(nan=hi).clamp_(lo, hi)
    # histc needs evenly spaced edges (GRAD_HIST_EDGES are) and is 5x faster than bucketize
    counts = torch.histc(v, bins=len(GRAD_HIST_EDGES) - 1, min=lo, max=hi)
    return counts.cpu().numpy().astype(np.int64)


class GradientReachProbe(Probe):
    """||dL/dh_t|| for t = 1..T through the unrolled recurrence, for L_T (last position) and L_sum.

    Runs `model.forward_unrolled` on the first min(B, max_sequences) sequences with dropout
    off, twice over in one batch (copy 1 feeds L_T, copy 2 the summed loss), so one backward
    gives both gradients. Uses autograd.grad with the states as the only inputs: parameters'
    .grad stay as they were, and the graph is freed on return.
    """

    LAST = Series("reach/last/l{layer}", "array", "||dL_T/dh_t|| for t = 1..T, L_T the loss at the last position alone")
    SUM = Series("reach/sum/l{layer}", "array", "||dL/dh_t|| for t = 1..T, L the training loss summed over positions")
    CELL = Series("reach/cell/l{layer}", "array", "LSTM: ||dL_T/dc_t|| for t = 1..T, through the cell state")
    RATIO = Series("reach/ratio/l{layer}", "scalar", "||dL_T/dh_1|| / ||dL_T/dh_T||")
    STEPS = Series("reach/steps/l{layer}", "scalar", f"steps back from T while ||dL_T/dh_t|| stays above {REACH_FLOOR:g} of its value at T")
    series = (LAST, SUM, CELL, RATIO, STEPS)
    heavy = True  # an unrolled forward and two backward passes over a sub-batch

    def __init__(self, max_sequences: int = REACH_SEQUENCES):
        self.max_sequences = max_sequences

    def after_backward(self, ctx: ProbeContext) -> dict:
        # before the update, like the training gradients it sits beside
        model, b = ctx.model, min(ctx.batch.x.shape[0], self.max_sequences)
        sub = first_sequences(ctx.batch, b)
        was_training = model.training
        model.eval()  # dropout off; nothing else in the model depends on the mode
        try:
            h_grads, c_grads = self._state_grads(model, ctx.task, sub, b)
        finally:
            model.train(was_training)
        out = {}
        for layer, g in enumerate(h_grads):  # g (T, 2b, H)
            norms = step_norms(g, sub.lengths)  # (T, 2)
            out.update(reach_series(norms[:, 0], norms[:, 1], layer))
        for layer, g in enumerate(c_grads):
            out[self.CELL.at(layer=layer)] = step_norms(g, sub.lengths)[:, 0]
        return out

    @staticmethod
    def _state_grads(model, task, sub, b: int):
        """-> per layer dL/dh (T, 2b, H) and, for LSTM, dL/dc; rows :b for L_T, b: for L_sum."""
        lengths = None if sub.lengths is None else torch.cat([sub.lengths, sub.lengths])
        with torch.enable_grad():
            out, states = model.forward_unrolled(torch.cat([sub.x, sub.x]), lengths)
            loss = task.last_loss(out[:b], sub) + task.loss(out[b:], sub)
            flat_h = [h for layer in states.h for h in layer]
            flat_c = [c for layer in (states.c or []) for c in layer]
            grads = torch.autograd.grad(loss, flat_h + flat_c, allow_unused=True)
        grads = [torch.zeros_like(s) if g is None else g for s, g in zip(flat_h + flat_c, grads)]
        T = len(states.h[0])
        per_layer = [torch.stack(grads[i : i + T]) for i in range(0, len(grads), T)]
        L = len(states.h)
        return per_layer[:L], per_layer[L:]


def step_norms(g: torch.Tensor, lengths: torch.Tensor | None) -> np.ndarray:
    """(T, 2b, H) state gradients -> (T, 2) float64: Frobenius norm over (b, H) for L_T and L_sum.

    With lengths, each sequence is right-aligned first (its last real position at t = T),
    so "steps back from T" means steps back from each sequence's own end.
    """
    T, b2 = g.shape[:2]
    if lengths is not None:
        n = torch.cat([lengths, lengths]).to(g.device)  # (2b,)
        src = torch.arange(T, device=g.device)[:, None] - (T - n)[None, :]  # (T, 2b): source time of each slot
        g = g.gather(0, src.clamp(min=0)[..., None].expand_as(g)) * (src >= 0)[..., None]
    per_copy = g.reshape(T, 2, b2 // 2, -1)  # copy 0 fed L_T, copy 1 the summed loss
    return per_copy.flatten(2).norm(dim=2).double().cpu().numpy()


def reach_series(last: np.ndarray, summed: np.ndarray, layer: int) -> dict:
    """reach/* of one layer from ||dL_T/dh_t|| and ||dL_sum/dh_t||, each (T,) for t = 1..T."""
    ref = last[-1]
    if ref > 0:
        ratio = float(last[0] / ref)
        below = np.nonzero(last[::-1] < REACH_FLOOR * ref)[0]  # steps back from T that fall under the floor
        steps = float(below[0] - 1 if len(below) else len(last) - 1)
    else:  # no gradient at T (e.g. a masked last position): no reach to speak of
        ratio, steps = 0.0, 0.0
    P = GradientReachProbe
    return {
        P.LAST.at(layer=layer): last,
        P.SUM.at(layer=layer): summed,
        P.RATIO.at(layer=layer): ratio,
        P.STEPS.at(layer=layer): steps,
    }


def first_sequences(batch, b: int):
    """The batch cut to its first b sequences: every tensor field whose first dim is B is sliced."""
    B = batch.x.shape[0]
    names = [f.name for f in dataclasses.fields(batch)] if dataclasses.is_dataclass(batch) else list(vars(batch))
    cut = {}
    for n in names:
        v = getattr(batch, n)
        cut[n] = v[:b] if torch.is_tensor(v) and v.dim() > 0 and v.shape[0] == B else v
    if dataclasses.is_dataclass(batch):
        return dataclasses.replace(batch, **cut)
    return type(batch)(**cut)  # e.g. a SimpleNamespace in tests


# ---- activations ------------------------------------------------------------------------


def real_positions(batch, T: int, device) -> torch.Tensor | None:
    """(B, T) bool, True at real (non-pad) positions; None when every sequence is full length."""
    if batch.lengths is None:
        return None
    return torch.arange(T, device=device)[None, :] < batch.lengths.to(device)[:, None]


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


# every probe class, in the order they run (light ones first)
PROBES = (GradHistogramProbe, HiddenProbe, OutputProbe, WeightProbe, SpectrumProbe, GradientReachProbe)
