"""How far back in time the gradient reaches: ||dL/dh_t|| for t = 1..T through the unrolled recurrence."""

from __future__ import annotations

import numpy as np
import torch

from engine.probes.base import ProbeContext, SplitProbe, first_sequences
from engine.series import Series
from engine.shadow import ShadowModel

REACH_FLOOR = 1e-2  # reach/steps: steps back while ||dL_T/dh_t|| >= this share of its value at T
REACH_SEQUENCES = 8  # the reach probe's sub-batch, the first min(B, 8) sequences: 16 cost 40 % more


class GradientReachProbe(SplitProbe):
    """||dL/dh_t|| for t = 1..T through the unrolled recurrence, for L_T (last position) and L_sum.

    A split probe: it needs the weights and the batch, not the training step's graph (nn.RNN's
    fused forward keeps no per-step state to differentiate against). The training thread takes
    the weights and the first min(B, max_sequences) sequences; a probe worker runs a copy of the
    model with `forward_unrolled` on them with dropout off, twice over in one batch (copy 1 feeds
    L_T, copy 2 the summed loss), so one backward gives both gradients. autograd.grad with the
    states as the only inputs leaves the copy's .grad alone, and the graph is freed on return.
    """

    LAST = Series("reach/last/l{layer}", "array", "||dL_T/dh_t|| for t = 1..T, L_T the loss at the last position alone")
    SUM = Series("reach/sum/l{layer}", "array", "||dL/dh_t|| for t = 1..T, L the training loss summed over positions")
    CELL = Series("reach/cell/l{layer}", "array", "LSTM: ||dL_T/dc_t|| for t = 1..T, through the cell state")
    RATIO = Series("reach/ratio/l{layer}", "scalar", "||dL_T/dh_1|| / ||dL_T/dh_T||")
    STEPS = Series("reach/steps/l{layer}", "scalar", f"steps back from T while ||dL_T/dh_t|| stays above {REACH_FLOOR:g} of its value at T")
    series = (LAST, SUM, CELL, RATIO, STEPS)
    heavy = True  # the worker pays an unrolled forward and a backward over a sub-batch (12 ms for a tanh RNN 128)

    def __init__(self, max_sequences: int = REACH_SEQUENCES):
        self.max_sequences = max_sequences
        self.shadow = ShadowModel()  # the worker's copy of the model
        self.task = None  # the run's task (its losses), kept at the first capture: a capture holds tensors only

    def capture(self, ctx: ProbeContext):
        # before the update, like the training gradients it sits beside; the batch's tensors are never written to
        self.task = ctx.task
        return self.shadow.take(ctx.model, ctx.weights()), first_sequences(ctx.batch, min(ctx.batch.x.shape[0],
                                                                                          self.max_sequences))

    def analyse(self, captured) -> dict:
        weights, sub = captured
        model = self.shadow.load(weights)  # in eval mode: dropout off, nothing else depends on the mode
        h_grads, c_grads = self._state_grads(model, self.task, sub, sub.x.shape[0])
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
