"""RecurrentLM: embedding -> stacked single-layer RNN/GRU/LSTM cells -> linear head.

    model = RecurrentLM(cfg, task)
    out, hiddens = model(x, lengths)                # fused cuDNN/MKL kernels: the training path
    out, states = model.forward_unrolled(x, lengths)  # same function, one time step at a time
    torch.autograd.grad(loss, states.h[0])          # dL/dh_t through the recurrence, t = 1..T

Each layer is its own one-layer `nn.RNN` / `nn.GRU` / `nn.LSTM`, so each layer's hidden
sequence (B, T, H) is a named value and its weights `weight_hh_l0` (G*H, H) split per gate
(PyTorch's gate order: LSTM i, f, g, o; GRU r, z, n) without hooks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

GATES = {"rnn_tanh": ("h",), "rnn_relu": ("h",), "gru": ("r", "z", "n"), "lstm": ("i", "f", "g", "o")}


def make_cell(cell: str, input_size: int, hidden_size: int) -> nn.Module:
    """One single-layer fused recurrent module, batch first."""
    if cell in ("rnn_tanh", "rnn_relu"):
        return nn.RNN(input_size, hidden_size, nonlinearity=cell[4:], batch_first=True)
    if cell == "gru":
        return nn.GRU(input_size, hidden_size, batch_first=True)
    if cell == "lstm":
        return nn.LSTM(input_size, hidden_size, batch_first=True)
    raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(GATES)}")


def step_mask(lengths: torch.Tensor, T: int, device) -> torch.Tensor:
    """(T, B, 1) bool: mask[t] is True for the sequences still running at step t (t < length)."""
    return (torch.arange(T, device=device)[:, None] < lengths.to(device)[None, :])[..., None]


@dataclass
class UnrolledStates:
    """The states of `forward_unrolled`: h[layer][t] (B, H); c[layer][t] (B, H) for LSTM, else None.

    `states[layer]` is `states.h[layer]` and `states.cell_states` is `states.c`, as the
    contract names them. Past a sequence's length the state stays frozen, as packing does.
    """

    h: list[list[torch.Tensor]]
    c: list[list[torch.Tensor]] | None = None

    def __getitem__(self, layer: int) -> list[torch.Tensor]:
        return self.h[layer]

    def __len__(self) -> int:
        return len(self.h)

    @property
    def cell_states(self) -> list[list[torch.Tensor]] | None:
        return self.c


class RecurrentLM(nn.Module):
    """Tokens (B, T) or vectors (B, T, D) -> outputs (B, T, O), keeping each layer's h sequence."""

    def __init__(self, cfg, task):
        super().__init__()
        self.cell = cfg.cell
        self.gates = GATES[cfg.cell]
        self.hidden_size = H = cfg.hidden_size
        if getattr(task, "input_vocab", None):  # token ids -> vectors
            self.embed = nn.Embedding(task.input_vocab, cfg.embed_dim)
            d_in = cfg.embed_dim
        elif getattr(task, "input_dim", None):  # vectors go straight to the first cell
            self.embed = None
            d_in = task.input_dim
        else:
            raise ValueError("task has neither input_vocab nor input_dim")
        self.cells = nn.ModuleList(make_cell(cfg.cell, d_in if layer == 0 else H, H) for layer in range(cfg.num_layers))
        # Identity when off, so the ordinary forward is the fused cells and the head alone
        self.norms = nn.ModuleList(nn.LayerNorm(H) if cfg.layer_norm else nn.Identity() for _ in range(cfg.num_layers))
        self.drop = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()
        self.head = nn.Linear(H, task.output_size)
        # packed: pads never enter the recurrence; padded modes run the cell over the pads too
        # (harmless to real positions of a one-way RNN, but it costs time and, when unmasked, counts them)
        self.pack = getattr(cfg, "variable_length", "packed") == "packed"

    @property
    def num_layers(self) -> int:
        return len(self.cells)

    # ---- the training path: fused kernels --------------------------------------------
    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        """-> (out (B, T, O), hiddens: per layer (B, T, H)); packed: zeros past each length."""
        z = self.embed(x) if self.embed is not None else x  # (B, T, D)
        hiddens = []
        for layer, cell in enumerate(self.cells):
            h = self._run_cell(cell, z, lengths)  # (B, T, H)
            hiddens.append(h)
            z = self.drop(self.norms[layer](h))
        return self.head(z), hiddens

    def _run_cell(self, cell: nn.Module, z: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        if lengths is None or not self.pack:
            return cell(z)[0]
        # packing skips pads, so each sequence's states equal running it alone
        packed = pack_padded_sequence(z, lengths.cpu(), batch_first=True, enforce_sorted=False)
        h, _ = pad_packed_sequence(cell(packed)[0], batch_first=True, total_length=z.shape[1])
        return h

    def readout(self, h_top: torch.Tensor) -> torch.Tensor:
        """Top layer's h (..., H) -> outputs (..., O): the last norm, dropout and head."""
        return self.head(self.drop(self.norms[-1](h_top)))

    def forward_with_state(self, x: torch.Tensor, state: list | None = None):
        """Continue from `state` (per layer: h, or (h, c) for LSTM, as the modules return it).

        -> (out (B, T, O), new state). For sampling one token at a time; no lengths.
        """
        z = self.embed(x) if self.embed is not None else x
        new_state = []
        for layer, cell in enumerate(self.cells):
            h, s = cell(z, None if state is None else state[layer])
            new_state.append(s)
            z = self.drop(self.norms[layer](h))
        return self.head(z), new_state

    # ---- the same function, stepped by hand ------------------------------------------
    def forward_unrolled(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        """-> (out (B, T, O), UnrolledStates): one time step at a time with the same parameters.

        Each h_t (and c_t) is its own tensor in the graph, so `autograd.grad(loss, states.h[layer])`
        is the total derivative dL/dh_t through the recurrence and the layers above.
        Dropout, if on, draws different masks than forward(): call it in eval mode to compare.
        """
        z = self.embed(x) if self.embed is not None else x  # (B, T, D)
        mask = None if lengths is None else step_mask(lengths, z.shape[1], z.device)
        states = UnrolledStates(h=[], c=[] if self.cell == "lstm" else None)
        for layer, cell in enumerate(self.cells):
            ys, hs, cs = self._unroll_layer(cell, z, mask)
            states.h.append(hs)
            if states.c is not None:
                states.c.append(cs)
            z = self.drop(self.norms[layer](torch.stack(ys, dim=1)))  # (B, T, H)
        return self.head(z), states

    def _unroll_layer(self, cell: nn.Module, z: torch.Tensor, mask: torch.Tensor | None):
        """-> outputs y_t (zero past length), states h_t, c_t (frozen past length); lists over t."""
        B, T = z.shape[:2]
        # the input part of every gate for all t in one matmul; b_hh folds in except GRU's,
        # whose b_hn sits inside r * (W_hn h + b_hn)
        b_x = cell.bias_ih_l0 if self.cell == "gru" else cell.bias_ih_l0 + cell.bias_hh_l0
        xw = F.linear(z, cell.weight_ih_l0, b_x).transpose(0, 1).contiguous()  # (T, B, G*H)
        w_t = cell.weight_hh_l0.t()  # (H, G*H)
        h = z.new_zeros(B, self.hidden_size)
        c = z.new_zeros(B, self.hidden_size) if self.cell == "lstm" else None
        ys, hs, cs = [], [], []
        for t in range(T):
            m = None if mask is None else mask[t]
            h_new, c_new = self._step(xw[t], h, c, w_t, cell.bias_hh_l0, m)
            if m is None:
                h, c, y = h_new, c_new, h_new
            else:  # past the length: keep the state, emit zeros (as pad_packed_sequence does)
                h = torch.where(m, h_new, h)
                y = torch.where(m, h, torch.zeros_like(h))  # from h, so every path to L passes h_t
                c = c_new  # frozen inside _step, before h reads it
            ys.append(y)
            hs.append(h)
            cs.append(c)
        return ys, hs, cs

    def _step(self, xw_t, h, c, w_t, b_hh, m=None):
        """One step of the gate math, few ops (the reach probe runs it): xw_t (B, G*H), h and c (B, H).

        m (B, 1) bool: sequences still running; past its length an LSTM's cell state stays as it
        was, and is frozen before h_t reads it, so the stored c_t is the one h_t depends on.
        """
        H = self.hidden_size
        if self.cell == "gru":
            hw = torch.addmm(b_hh, h, w_t)  # (B, 3H): W_hr h + b_hr, W_hz h + b_hz, W_hn h + b_hn
            r, zg = torch.sigmoid(xw_t[:, : 2 * H] + hw[:, : 2 * H]).chunk(2, dim=1)
            n = torch.tanh(torch.addcmul(xw_t[:, 2 * H :], r, hw[:, 2 * H :]))
            return torch.lerp(n, h, zg), None  # (1 - z) n + z h
        a = torch.addmm(xw_t, h, w_t)  # (B, G*H) pre-activations, both biases in xw_t
        if self.cell == "rnn_tanh":
            return torch.tanh(a), None
        if self.cell == "rnn_relu":
            return torch.relu(a), None
        i, f, _, o = torch.sigmoid(a).chunk(4, dim=1)  # LSTM gates i, f, g, o
        c_new = torch.addcmul(f * c, i, torch.tanh(a[:, 2 * H : 3 * H]))
        if m is not None:
            c_new = torch.where(m, c_new, c)
        return o * torch.tanh(c_new), c_new

    # ---- weights, split per gate -------------------------------------------------------
    def recurrent_weights(self, layer: int) -> dict[str, torch.Tensor]:
        """W_h of one layer split per gate: {gate: (H, H)}, detached copies."""
        return self._split(self.cells[layer].weight_hh_l0)

    def input_weights(self, layer: int) -> dict[str, torch.Tensor]:
        """W_x of one layer split per gate: {gate: (H, D_in)}, detached copies."""
        return self._split(self.cells[layer].weight_ih_l0)

    def _split(self, w: torch.Tensor) -> dict[str, torch.Tensor]:
        blocks = w.detach().chunk(len(self.gates), dim=0)  # rows are stacked gate by gate
        return {g: b.clone() for g, b in zip(self.gates, blocks)}
