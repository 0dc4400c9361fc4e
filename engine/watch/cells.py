"""A fused nn.RNN / nn.GRU / nn.LSTM module, re-run one time step at a time with its own weights.

    run = unroll(module, x, h0, c0, lengths)   # x (B, T, D) batch first; h0, c0 (L, B, H) or None
    run.h[k][t]                                # h_t of layer k, (B, H_out): its own node in the graph
    run.y                                      # (B, T, H_out) the top layer's outputs, as the module's

The fused kernel keeps no per-step states, so autograd cannot give dL/dh_t through it. Re-run
unrolled, each h_t is a tensor of the graph and `autograd.grad(run.y, run.h[k], grad_outputs)`
pushes the partials dL/dy captured from the user's backward through the recurrence: the total
derivative dL/dh_t. The gate math is PyTorch's own (gate order LSTM i, f, g, o; GRU r, z, n;
b_hn inside the reset gate; proj_size: h_t = W_hr (o * tanh c_t)). Unidirectional modules only;
dropout between stacked layers is not replayed (the caller checks).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.models import step_mask
from engine.watch.layers import cell_name


@dataclass
class Unrolled:
    """States of an unrolled run: h[k][t] (B, H_out), c[k][t] (B, H) for LSTM (else None), y (B, T, H_out)."""

    h: list[list[torch.Tensor]]
    c: list[list[torch.Tensor]] | None
    y: torch.Tensor

    def final(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """h_n (L, B, H_out) and c_n (L, B, H): each layer's state after the last step (frozen past lengths)."""
        h_n = torch.stack([hs[-1] for hs in self.h])
        c_n = None if self.c is None else torch.stack([cs[-1] for cs in self.c])
        return h_n, c_n


def unroll(module: nn.Module, x: torch.Tensor, h0=None, c0=None, lengths=None, detach_weights=True) -> Unrolled:
    """Run every layer of `module` over x (B, T, D), one step at a time; past a length the state is frozen."""
    cell, L = cell_name(module), module.num_layers
    B, T = x.shape[:2]
    mask = None if lengths is None else step_mask(lengths, T, x.device)  # (T, B, 1)
    z, hs_all, cs_all = x, [], [] if cell == "lstm" else None
    for k in range(L):
        w = layer_weights(module, k, detach_weights)
        H_out = w["w_hr"].shape[0] if w["w_hr"] is not None else module.hidden_size
        h = x.new_zeros(B, H_out) if h0 is None else h0[k]
        c = (x.new_zeros(B, module.hidden_size) if c0 is None else c0[k]) if cell == "lstm" else None
        ys, hs, cs = unroll_layer(cell, z, h, c, w, mask)
        hs_all.append(hs)
        if cs_all is not None:
            cs_all.append(cs)
        z = torch.stack(ys, dim=1)  # (B, T, H_out): the next layer's input
    return Unrolled(hs_all, cs_all, z)


def layer_weights(module: nn.Module, k: int, detach: bool) -> dict:
    """Layer k's w_ih (G*H, D), w_hh (G*H, H_out), biases (G*H,) or None, w_hr (P, H) or None."""
    def get(name):
        p = getattr(module, f"{name}_l{k}", None)
        return None if p is None else (p.detach() if detach else p)

    return {"w_ih": get("weight_ih"), "w_hh": get("weight_hh"), "b_ih": get("bias_ih"), "b_hh": get("bias_hh"),
            "w_hr": get("weight_hr")}


def unroll_layer(cell: str, z: torch.Tensor, h, c, w: dict, mask):
    """One layer over z (B, T, D) -> outputs y_t (zero past length), states h_t, c_t (frozen past length)."""
    # the input part of every gate for all t in one matmul; b_hh folds in too, except GRU's,
    # whose b_hn sits inside r * (W_hn h + b_hn)
    b_x = w["b_ih"] if cell == "gru" or w["b_hh"] is None else w["b_ih"] + w["b_hh"]
    xw = F.linear(z, w["w_ih"], b_x).transpose(0, 1)  # (T, B, G*H)
    ys, hs, cs = [], [], []
    for t in range(z.shape[1]):
        m = None if mask is None else mask[t]  # (B, 1): sequences still running at t
        h_new, c = step(cell, xw[t], h, c, w, m)
        if m is None:
            h, y = h_new, h_new
        else:  # as packing does: the state stays, the output is zero
            h = torch.where(m, h_new, h)
            y = torch.where(m, h, torch.zeros_like(h))  # from h, so every path to L passes h_t
        ys.append(y)
        hs.append(h)
        cs.append(c)
    return ys, hs, cs


def step(cell: str, xw_t, h, c, w: dict, m=None):
    """One time step: xw_t (B, G*H) input part with biases, h (B, H_out), c (B, H) -> new h, c.

    m (B, 1) marks running sequences: an LSTM's c is frozen past a length before h is read
    from it, so each c_t is the node h_t depends on and dL/dc_t is the total derivative.
    """
    if cell == "gru":
        hw = F.linear(h, w["w_hh"], w["b_hh"])  # (B, 3H)
        H = hw.shape[1] // 3
        r, zg = torch.sigmoid(xw_t[:, : 2 * H] + hw[:, : 2 * H]).chunk(2, dim=1)
        n = torch.tanh(xw_t[:, 2 * H :] + r * hw[:, 2 * H :])
        return torch.lerp(n, h, zg), None  # (1 - z) n + z h
    a = xw_t + F.linear(h, w["w_hh"])  # (B, G*H) pre-activations
    if cell == "rnn_tanh":
        return torch.tanh(a), None
    if cell == "rnn_relu":
        return torch.relu(a), None
    i, f, g, o = a.chunk(4, dim=1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    c = c_new if m is None else torch.where(m, c_new, c)
    h = torch.sigmoid(o) * torch.tanh(c)
    return (h if w["w_hr"] is None else F.linear(h, w["w_hr"])), c
