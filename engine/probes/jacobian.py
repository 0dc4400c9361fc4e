"""The state Jacobian ds_t/ds_{t-1}: what decides how a gradient flows back through one step, for every cell.

W_h alone decides it only for a vanilla RNN, and even there through the activation's slope:
for a tanh RNN the Jacobian is diag(1 - h_t^2) W_h. A gate multiplies W_h's effect by its own
value, so for a GRU or an LSTM the spectrum of a W_h block says little; the Jacobian of the
whole step bounds it: ||dL/ds_{t-1}|| <= sigma_max(J_t) ||dL/ds_t||. The state s is h, or
(h, c) stacked for an LSTM (n = 2H), since the gradient also flows through the cell state.

A split probe: the training thread takes the weights and the first sequences of the batch, and a
probe worker runs a copy of the model unrolled, without gradients and with dropout off, on the first
JACOBIAN_SEQUENCES sequences, takes each sequence's state at JACOBIAN_TIMES steps spread up to
its last real position, writes the Jacobian out from the gate math (formulas below, checked
against autograd in tests/test_probes_jacobian.py) and records the mean of the largest singular values
over those samples, and the spectral radius of their mean Jacobian.
"""

from __future__ import annotations

import torch

from engine.probes.base import ProbeContext, SplitProbe, first_sequences
from engine.series import Series
from engine.shadow import ShadowModel

JACOBIAN_SEQUENCES = 4  # sequences sampled (the first min(B, 4))
JACOBIAN_TIMES = 3  # steps sampled per sequence, evenly spread up to its end
JACOBIAN_TOP = 8  # singular values kept per layer


class JacobianProbe(SplitProbe):
    """Per layer: the spectrum of ds_t/ds_{t-1} over a few sampled sequences and steps."""

    SV = Series("jacobian/sv/l{layer}", "array",
                "largest singular values of the state Jacobian ds_t/ds_{t-1} (s = h; LSTM: (h, c)), "
                "mean over sampled sequences and steps, descending")
    SIGMA_MAX = Series("jacobian/sigma_max/l{layer}", "scalar",
                       "largest singular value of ds_t/ds_{t-1}, mean over the sampled sequences and steps")
    RADIUS = Series("jacobian/radius/l{layer}", "scalar",
                    "spectral radius of the mean of the sampled state Jacobians ds_t/ds_{t-1}")
    series = (SV, SIGMA_MAX, RADIUS)
    heavy = True  # the worker pays an unrolled forward, one symmetric eigensolve per sample and one eigvals
    # per layer (16 ms for a tanh RNN 128); the training thread pays the copy of the weights

    def __init__(self, sequences: int = JACOBIAN_SEQUENCES, times: int = JACOBIAN_TIMES):
        self.sequences, self.times = sequences, times
        self.shadow = ShadowModel()  # the worker's copy of the model

    def capture(self, ctx: ProbeContext):
        # before the update, like the spectra and the reach beside it; the batch's tensors are never written to
        sub = first_sequences(ctx.batch, min(ctx.batch.x.shape[0], self.sequences))
        return self.shadow.take(ctx.model, ctx.weights()), sub.x, sub.lengths

    def analyse(self, captured) -> dict:
        weights, x, lengths = captured
        out = {}
        for layer, J in enumerate(layer_jacobians(self.shadow.load(weights), x, lengths, self.times)):
            J = J.flatten(0, 1)  # (N, n, n), N = sequences x times
            out.update(jacobian_spectrum(J, layer))
        return out


def jacobian_spectrum(J: torch.Tensor, layer: int) -> dict:
    """JacobianProbe's series of one layer from its sampled Jacobians J (N, n, n)."""
    # sigma_i(J)^2 are the eigenvalues of J^T J: a symmetric solve, twice as fast as svdvals (measured);
    # it resolves singular values down to about sqrt(eps) sigma_max (3e-4 of it in float32), ample for the top ones
    ev = torch.linalg.eigvalsh(J.transpose(1, 2) @ J)  # (N, n) ascending
    sv = ev.clamp(min=0).sqrt().flip(1)[:, :JACOBIAN_TOP]  # (N, k) descending
    # in the model's precision: float64 eigvals of a 256 x 256 matrix took twice as long (measured)
    radius = float(torch.linalg.eigvals(J.mean(0)).abs().max())  # of the mean Jacobian (n, n)
    P = JacobianProbe
    return {
        P.SV.at(layer=layer): sv.mean(0).double().cpu().numpy(),
        P.SIGMA_MAX.at(layer=layer): float(sv[:, 0].mean()),
        P.RADIUS.at(layer=layer): radius,
    }


def sample_times(lengths: torch.Tensor | None, b: int, T: int, k: int) -> torch.Tensor:
    """(b, k) int64 time indices (0-based): for a sequence of length L, ceil(L j / k) - 1 for j = 1..k.

    The last sample is always the sequence's last real position; short sequences repeat steps.
    """
    L = torch.full((b,), T) if lengths is None else lengths.cpu().long()  # (b,)
    j = torch.arange(1, k + 1)
    return (torch.ceil(L[:, None] * j[None, :] / k).long() - 1).clamp(min=0)


@torch.no_grad()
def layer_jacobians(model, x: torch.Tensor, lengths: torch.Tensor | None, k: int) -> list[torch.Tensor]:
    """Per layer (b, k, n, n): ds_t/ds_{t-1} at the sample_times of each sequence, in eval mode.

    s_{-1} is the zero initial state, as the model starts from it.
    """
    was_training = model.training
    model.eval()  # dropout off: the Jacobian of the function the model computes
    try:
        _, states = model.forward_unrolled(x, lengths)
        z = model.embed(x) if model.embed is not None else x  # (b, T, D): layer 0's input
        b, T = x.shape[:2]
        times = sample_times(lengths, b, T, k).to(z.device)  # (b, k)
        rows = torch.arange(b, device=z.device)[:, None].expand(b, k)
        out = []
        for layer, cell in enumerate(model.cells):
            hs = torch.stack(states.h[layer], 1)  # (b, T, H)
            cs = torch.stack(states.c[layer], 1) if states.c is not None else None
            h_prev = _previous(hs, rows, times)  # (b, k, H)
            c_prev = None if cs is None else _previous(cs, rows, times)
            J = step_jacobian(model.cell, cell, z[rows, times], h_prev, c_prev)
            out.append(J)
            z = model.norms[layer](hs)  # the next layer's input at real positions (eval: no dropout)
        return out
    finally:
        model.train(was_training)


def _previous(seq: torch.Tensor, rows: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """seq (b, T, H) -> the state before each sampled step (b, k, H); zeros before t = 0."""
    prev = seq[rows, (times - 1).clamp(min=0)]
    return torch.where((times > 0)[..., None], prev, torch.zeros_like(prev))


def step_jacobian(kind: str, cell, z: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    """ds_t/ds_{t-1} of one step of a one-layer nn.RNN/GRU/LSTM: z (..., D) input, h and c (..., H) the
    previous state -> (..., n, n) with J[..., i, j] = d s_t[i] / d s_{t-1}[j]."""
    W = cell.weight_hh_l0  # (G*H, H)
    xw = z @ cell.weight_ih_l0.T + cell.bias_ih_l0  # (..., G*H) the input part of every gate
    hw = h @ W.T + cell.bias_hh_l0  # (..., G*H) the recurrent part
    if kind == "rnn_tanh":
        h_new = torch.tanh(xw + hw)
        return (1 - h_new**2)[..., None] * W  # diag(1 - h_t^2) W_h
    if kind == "rnn_relu":
        return ((xw + hw) > 0).to(W.dtype)[..., None] * W  # diag(1[a_t > 0]) W_h
    if kind == "gru":
        return _gru_jacobian(W, xw, hw, h)
    if kind == "lstm":
        return _lstm_jacobian(W, xw + hw, c)
    raise ValueError(f"unknown cell {kind!r}")


def _gru_jacobian(W, xw, hw, h):
    """h_t = (1 - u) n + u h, u = sigmoid(x_u + W_hu h + b_hu), r likewise, n = tanh(x_n + r (W_hn h + b_hn))."""
    W_r, W_u, W_n = W.chunk(3, dim=0)  # (H, H) each; PyTorch's order r, z, n (u is PyTorch's z)
    x_r, x_u, x_n = xw.chunk(3, dim=-1)
    a_r, a_u, hn = hw.chunk(3, dim=-1)  # hn = W_hn h + b_hn
    r, u = torch.sigmoid(x_r + a_r), torch.sigmoid(x_u + a_u)
    n = torch.tanh(x_n + r * hn)
    dr = (r * (1 - r))[..., None] * W_r  # dr/dh (..., H, H)
    du = (u * (1 - u))[..., None] * W_u
    dn = (1 - n**2)[..., None] * (r[..., None] * W_n + hn[..., None] * dr)
    return torch.diag_embed(u) + (1 - u)[..., None] * dn + (h - n)[..., None] * du


def _lstm_jacobian(W, a, c):
    """s = (h, c): c_t = f c + i g, h_t = o tanh(c_t); gates from a = W_x x + W_h h + b, order i, f, g, o."""
    W_i, W_f, W_g, W_o = W.chunk(4, dim=0)
    a_i, a_f, a_g, a_o = a.chunk(4, dim=-1)
    i, f, o, g = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.sigmoid(a_o), torch.tanh(a_g)
    tc = torch.tanh(f * c + i * g)  # tanh(c_t)
    dc_dh = (c * f * (1 - f))[..., None] * W_f + (g * i * (1 - i))[..., None] * W_i + (i * (1 - g**2))[..., None] * W_g
    k = o * (1 - tc**2)  # dh_t/dc_t, diagonal
    dh_dh = (tc * o * (1 - o))[..., None] * W_o + k[..., None] * dc_dh
    top = torch.cat([dh_dh, torch.diag_embed(k * f)], dim=-1)  # [dh_t/dh, dh_t/dc]
    bottom = torch.cat([dc_dh, torch.diag_embed(f)], dim=-1)  # [dc_t/dh, dc_t/dc]
    return torch.cat([top, bottom], dim=-2)  # (..., 2H, 2H)

