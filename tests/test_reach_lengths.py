"""Gradient reach of an LSTM with variable lengths: dL_T/dc_t must equal each sequence run alone.

Past a sequence's length the unrolled model freezes its cell state; it must freeze it before
h_t reads it, or the stored c_t is not the tensor h_t depends on and dL/dc_t at the last real
step comes out 0 (found by the watch() work: 0 instead of 0.517)."""

import numpy as np
import pytest
import torch
from test_probes import context, make, make_batch

from engine.probes import GradientReachProbe


@pytest.mark.parametrize("lengths", [[7, 4, 2], [3, 7, 5]])
def test_lstm_cell_reach_with_lengths_equals_each_sequence_alone(lengths):
    model = make("lstm", H=5, layers=1).double()
    T = 7
    batch = make_batch(B=3, T=T, lengths=lengths)
    probe = GradientReachProbe()
    res = probe.after_backward(context(model, batch))
    model.eval()
    total_h, total_c = np.zeros(T), np.zeros(T)
    for b, n in enumerate(lengths):
        out, states = model.forward_unrolled(batch.x[b : b + 1, :n])  # alone: no mask, no pads
        loss = torch.nn.functional.cross_entropy(out[:, n - 1], batch.y[b : b + 1, n - 1])
        grads = torch.autograd.grad(loss / len(lengths), states.h[0] + states.c[0])
        gh, gc = grads[:n], grads[n:]
        for t in range(n):  # right-aligned: its last real step at T
            total_h[T - n + t] += float(gh[t].norm()) ** 2
            total_c[T - n + t] += float(gc[t].norm()) ** 2
    np.testing.assert_allclose(res[probe.LAST.at(layer=0)], np.sqrt(total_h), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(res[probe.CELL.at(layer=0)], np.sqrt(total_c), rtol=1e-6, atol=1e-12)
