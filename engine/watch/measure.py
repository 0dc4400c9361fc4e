"""The RNN measurements of a watched model, from its modules' weights and one step's captured calls.

    spectra(layers)                       # W_h eigen- and singular values per layer and gate
    saturation(layers, capture)           # share of |h| > 0.99 (ReLU: dead units) per layer
    reach(layers, capture)                # ||dL/dh_t||, t = 1..T, through the recurrence; + gaps

Each returns {series name: float | np.ndarray} named as docs/contracts.md says, computed with
the engine's own helpers (engine/probes.py: spectrum, step_norms, reach_series), so a watched
run and an engine run of the same weights record the same numbers. reach and saturation also
return {what: why} for what could not be measured on this step.
"""

from __future__ import annotations

import torch

from engine.probes import (
    REACH_SEQUENCES,
    SATURATED,
    GradientReachProbe,
    HiddenProbe,
    reach_series,
    spectrum,
    step_norms,
)
from engine.watch.capture import Call, Capture
from engine.watch.cells import unroll
from engine.watch.layers import Layer, unique_modules


@torch.no_grad()
def spectra(layers: list[Layer]) -> dict:
    """Per layer and gate: eigenvalues, singular values, spectral radius, largest singular value."""
    out = {}
    for la in layers:
        w = la.weight_hh.detach()  # (G*H, H); projected LSTMs (G*H, P) are not square: skipped
        if la.proj_size:
            continue
        for g, block in zip(la.gates, w.chunk(len(la.gates), dim=0)):  # rows are stacked gate by gate
            out.update(spectrum(block.cpu().double(), la.index, g))
    return out


def fused_modules(layers: list[Layer]) -> list:
    """The modules a Capture can hook: nn.RNN / GRU / LSTM (not the per-step *Cell ones)."""
    return [m for m in unique_modules(layers) if not isinstance(m, torch.nn.RNNCellBase)]


# ---- saturation -----------------------------------------------------------------------------


@torch.no_grad()
def saturation(layers: list[Layer], capture: Capture) -> tuple[dict, dict]:
    """hidden/saturation/l{i} (tanh, GRU, LSTM) or hidden/dead/l{i} (ReLU) over the step's real positions."""
    out, gaps = {}, {}
    for module in fused_modules(layers):
        calls = capture.calls_of(module)
        if not calls:
            continue
        mine = [la for la in layers if la.module is module]
        states = layer_states(module, mine, calls, gaps)  # index -> [(positions, H)]
        for la in mine:
            if la.index in states:
                out.update(saturation_series(la, torch.cat(states[la.index])))
    return out, gaps


def layer_states(module, mine: list[Layer], calls: list[Call], gaps: dict) -> dict[int, list[torch.Tensor]]:
    """Each layer's hidden states at real positions, (positions, H) per call: the top layer from the
    module's own output, inner layers from an unrolled re-run where it can be replayed exactly."""
    top = max(la.k for la in mine)
    states: dict[int, list[torch.Tensor]] = {}
    replay = module.num_layers > 1 and not module.bidirectional and not dropout_active(module)
    for call in calls:
        hs = unroll(module, call.x, call.h0, call.c0, call.lengths).h if replay else None
        for la in mine:
            if la.k == top:
                y = call.y[..., la.out_size :] if la.reverse else call.y[..., : la.out_size]  # (B, T, H_out)
                states.setdefault(la.index, []).append(real(y, call.lengths))
            elif hs is not None:
                states.setdefault(la.index, []).append(real(torch.stack(hs[la.k], dim=1), call.lengths))
    return states


def saturation_series(la: Layer, v: torch.Tensor) -> dict:
    """v (positions, H) -> the layer's saturation (share of |h| > 0.99) or, for ReLU, dead-unit share."""
    if la.cell == "rnn_relu":
        return {HiddenProbe.DEAD.at(layer=la.index): float((v == 0).all(dim=0).float().mean())}
    return {HiddenProbe.SATURATION.at(layer=la.index): float((v.abs() > SATURATED).float().mean())}


def real(y: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """(B, T, H) -> (positions, H): every position, or only real ones of a packed batch."""
    if lengths is None:
        return y.reshape(-1, y.shape[-1])
    m = torch.arange(y.shape[1], device=y.device)[None, :] < lengths.to(y.device)[:, None]
    return y[m]


def dropout_active(module) -> bool:
    """Dropout between stacked layers, drawn inside the fused kernel: it cannot be replayed."""
    return module.training and module.num_layers > 1 and module.dropout > 0


# ---- gradient reach -------------------------------------------------------------------------


def reach(layers: list[Layer], capture: Capture, max_sequences: int = REACH_SEQUENCES) -> tuple[dict, dict]:
    """reach/* per layer of every one-way fused module whose one call this step received gradients."""
    out, gaps = {}, {}
    modules = [m for m in fused_modules(layers) if not m.bidirectional and not dropout_active(m)]
    fed = {id(m): [c for c in capture.calls_of(m) if c.got_grads] for m in modules}
    newest = max((c.order for calls in fed.values() for c in calls), default=None)
    for m in modules:
        mine = [la for la in layers if la.module is m]
        name, calls = mine[0].path, fed[id(m)]
        if len(calls) > 1:
            gaps[f"reach/{name}"] = (f"Gradient reach is not measured for {name}: it was called {len(calls)} times "
                                     "in one step (e.g. one time step per call), and reach needs one call that "
                                     "holds the whole sequence.")
        elif calls:
            last = calls[0].order == newest  # no recurrent module runs after it: L_T reaches it through its output only
            out.update(module_reach(m, mine, calls[0], max_sequences, last))
            if not last:
                gaps[f"reach/last/{name}"] = (
                    f"For {name}, only the gradient of your whole loss is shown (reach/sum): another recurrent "
                    "module runs after it, so the loss at the last position also reaches it through that "
                    "module's recurrence, which the captured gradients do not separate.")
    return out, gaps


def module_reach(module, mine: list[Layer], call: Call, max_sequences: int, with_last: bool) -> dict:
    """||dL/dh_t|| per layer for the user's loss (sum) and, with_last, for its last-position part."""
    b = min(call.x.shape[0], max_sequences)
    h_grads, c_grads = state_grads(module, call, b)  # per layer (T, 2b, H): rows :b last, b: sum
    lengths = None if call.lengths is None else call.lengths[:b]
    out = {}
    for la in mine:
        norms = step_norms(h_grads[la.k], lengths)  # (T, 2): last, sum
        if with_last:
            out.update(reach_series(norms[:, 0], norms[:, 1], la.index))
            if c_grads is not None:
                out[GradientReachProbe.CELL.at(layer=la.index)] = step_norms(c_grads[la.k], lengths)[:, 0]
        else:
            out[GradientReachProbe.SUM.at(layer=la.index)] = norms[:, 1]
    return out


def state_grads(module, call: Call, b: int):
    """Total dL/dh_t (and dL/dc_t) of every layer, (T, 2b, H), for the first b sequences, twice over.

    Copy 1 is pushed only the last-position partials (dL/dy_T, dL/dh_n, dL/dc_n), copy 2 all the
    captured partials, so one backward through the unrolled re-run gives both gradients.
    """
    w_hh = module.weight_hh_l0
    dtype = w_hh.dtype  # an autocast forward may have handed the module half floats
    x = call.x[:b].to(dtype)  # (b, T, D)
    h0 = x.new_zeros(module.num_layers, b, w_hh.shape[1]) if call.h0 is None else call.h0[:, :b].to(dtype)
    h0 = h0.clone().requires_grad_()  # weights and input are detached: this leaf puts every h_t in the graph
    c0 = None if call.c0 is None else call.c0[:, :b].to(dtype)
    lengths = None if call.lengths is None else call.lengths[:b]
    with torch.enable_grad():
        run = unroll(module, torch.cat([x, x]), _twice(h0), _twice(c0),
                     None if lengths is None else torch.cat([lengths, lengths]))
        outputs, seeds = seeded_outputs(run, call, b, lengths)
        flat_h = [h for hs in run.h for h in hs]
        flat_c = [c for cs in (run.c or []) for c in cs]
        grads = torch.autograd.grad(outputs, flat_h + flat_c, [s.to(dtype) for s in seeds], allow_unused=True)
    grads = [torch.zeros_like(s) if g is None else g for s, g in zip(flat_h + flat_c, grads)]
    T, L = x.shape[1], module.num_layers
    per_layer = [torch.stack(grads[i : i + T]) for i in range(0, len(grads), T)]
    return per_layer[:L], (per_layer[L:] or None)


def _twice(state: torch.Tensor | None) -> torch.Tensor | None:
    """(L, b, H) -> (L, 2b, H): the same initial state for both copies."""
    return None if state is None else torch.cat([state, state], dim=1)


def seeded_outputs(run, call: Call, b: int, lengths) -> tuple[list, list]:
    """The re-run's outputs that received partials, and the partials: only last-position ones for rows :b."""
    h_n, c_n = run.final()
    pairs = []
    if "y" in call.grads:
        g = call.grads["y"][:b]  # (b, T, H_out)
        t_last = torch.full((b,), g.shape[1] - 1) if lengths is None else lengths - 1  # each sequence's last position
        rows, t_last = torch.arange(b, device=g.device), t_last.to(g.device)
        g_last = torch.zeros_like(g)
        g_last[rows, t_last] = g[rows, t_last]
        pairs.append((run.y, torch.cat([g_last, g])))
    for name, state in (("h_n", h_n), ("c_n", c_n)):
        if name in call.grads and state is not None:
            g = call.grads[name][:, :b]  # (L, b, H)
            pairs.append((state, torch.cat([g, g], dim=1)))
    return [p[0] for p in pairs], [p[1] for p in pairs]
