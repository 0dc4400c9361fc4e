"""Initialisers by name for a RecurrentLM: `initialise(model, cfg)`, called once after building.

Recurrent weights W_h (`weight_hh_l0`, (G*H, H)) are set gate block by gate block, each (H, H):
- default:    PyTorch's U(-1/sqrt(H), 1/sqrt(H)); spectral radius about 1/sqrt(3) = 0.58
- xavier:     xavier_uniform_ per block; radius about 1
- orthogonal: orthogonal_ per block; every |eigenvalue| = 1
- identity:   spectral_radius * I (IRNN, Le et al. 2015), recurrent-cell biases zero
- spectral:   N(0, 1) rescaled so max |eigenvalue| = spectral_radius
Then: input weights N(0, input_init_std) when > 0; the LSTM forget-gate bias when forget_bias
is not 0 (0 keeps PyTorch's biases); a zero head when zero_head. Draws from torch's global
generator, which the trainer seeds from cfg.seed.
"""

from __future__ import annotations

import torch
from torch import nn

INITS = ("default", "xavier", "orthogonal", "identity", "spectral")


@torch.no_grad()
def initialise(model: nn.Module, cfg) -> None:
    """Apply cfg.init, input_init_std, forget_bias and zero_head to `model` in place."""
    if cfg.init not in INITS:
        raise ValueError(f"unknown init {cfg.init!r}; choose one of {', '.join(INITS)}")
    for cell in model.cells:
        if cfg.init != "default":
            _init_recurrent(cell, cfg.init, cfg.spectral_radius, len(model.gates))
        if cfg.input_init_std > 0:
            cell.weight_ih_l0.normal_(0.0, cfg.input_init_std)
        if cfg.forget_bias != 0 and model.cell == "lstm":
            set_forget_bias(cell, cfg.forget_bias)
    if cfg.zero_head:
        model.head.weight.zero_()
        model.head.bias.zero_()


def _init_recurrent(cell: nn.Module, how: str, radius: float, n_gates: int) -> None:
    for block in cell.weight_hh_l0.chunk(n_gates, dim=0):  # views (H, H): writes land in the weight
        if how == "xavier":
            nn.init.xavier_uniform_(block)
        elif how == "orthogonal":
            nn.init.orthogonal_(block)
        elif how == "identity":
            block.copy_(radius * torch.eye(block.shape[0]))
        elif how == "spectral":
            block.copy_(with_spectral_radius(torch.randn(block.shape), radius))
    if how == "identity":  # IRNN: h_t = relu(h_{t-1} + W_x x_t) at init
        cell.bias_ih_l0.zero_()
        cell.bias_hh_l0.zero_()


def spectral_radius(w: torch.Tensor) -> float:
    """max |eigenvalue| of a square matrix, in float64."""
    return float(torch.linalg.eigvals(w.detach().cpu().double()).abs().max())


def with_spectral_radius(w: torch.Tensor, radius: float) -> torch.Tensor:
    """`w` (n, n) rescaled so its spectral radius is `radius` (float32, checked after rounding)."""
    for _ in range(2):  # second pass corrects the float32 rounding of the first
        rho = spectral_radius(w)
        if rho == 0:
            return torch.zeros_like(w)
        w = (w.double() * (radius / rho)).float()
    return w


def set_forget_bias(cell: nn.LSTM, value: float) -> None:
    """Make b_ih + b_hh of the forget gate (block 1 of i, f, g, o) equal `value`."""
    H = cell.hidden_size
    cell.bias_ih_l0[H : 2 * H] = value
    cell.bias_hh_l0[H : 2 * H] = 0.0
