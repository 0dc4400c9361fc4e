"""The state-Jacobian probe against autograd: ds_t/ds_{t-1} of one step of PyTorch's own fused cell."""

import numpy as np
import pytest
import torch

from engine.probes import JacobianProbe, layer_jacobians, sample_times
from engine.probes.jacobian import JACOBIAN_TOP
from tests.test_probes import context, make, make_batch, manual_tanh_rnn

CELLS = ("rnn_tanh", "rnn_relu", "gru", "lstm")


def fused_states(model, x, layers):
    """Oracle inputs, from the fused modules alone: per layer the input sequence (1, L, D) and the
    state after each step, [(h, c) or h] with shapes (1, 1, H)."""
    z = model.embed(x) if model.embed is not None else x
    per_layer = []
    for layer in range(layers):
        cell = model.cells[layer]
        y, states, state = [], [], None
        for t in range(z.shape[1]):  # one step at a time, so every intermediate state is at hand
            out, state = cell(z[:, t : t + 1], state)
            y.append(out)
            states.append(state)
        per_layer.append((z, states))
        z = model.norms[layer](torch.cat(y, 1))
    return per_layer


def autograd_jacobian(cell, kind, z_t, prev):
    """d s_t / d s_{t-1} by torch.autograd.functional.jacobian of one fused step; s = h or (h, c)."""
    H = cell.hidden_size
    if kind == "lstm":
        s0 = torch.cat([prev[0].reshape(-1), prev[1].reshape(-1)])

        def step(s):
            _, (h, c) = cell(z_t, (s[:H].view(1, 1, H), s[H:].view(1, 1, H)))
            return torch.cat([h.reshape(-1), c.reshape(-1)])
    else:
        s0 = prev.reshape(-1)

        def step(s):
            return cell(z_t, s.view(1, 1, H))[1].reshape(-1)

    return torch.autograd.functional.jacobian(step, s0)


def zero_state(cell, kind):
    h = torch.zeros(1, 1, cell.hidden_size, dtype=torch.float64)
    return (h, h.clone()) if kind == "lstm" else h


@pytest.mark.parametrize("lengths", [None, [7, 4, 2]])
@pytest.mark.parametrize("cell", CELLS)
def test_layer_jacobians_equal_autograd_of_one_fused_step(cell, lengths):
    model = make(cell, H=5, layers=2).double()
    model.eval()
    batch = make_batch(B=3, T=7, lengths=lengths)
    k = 3
    got = layer_jacobians(model, batch.x, batch.lengths, k)
    times = sample_times(batch.lengths, 3, 7, k)
    n = 10 if cell == "lstm" else 5
    assert [J.shape for J in got] == [(3, k, n, n)] * 2
    for b in range(3):
        L = 7 if lengths is None else lengths[b]
        assert times[b].tolist() == [int(np.ceil(L * j / k)) - 1 for j in (1, 2, 3)]  # the last one: t = L - 1
        with torch.no_grad():
            per_layer = fused_states(model, batch.x[b : b + 1, :L], 2)
        for layer, (z, states) in enumerate(per_layer):
            for j, t in enumerate(times[b].tolist()):
                prev = states[t - 1] if t > 0 else zero_state(model.cells[layer], cell)
                want = autograd_jacobian(model.cells[layer], cell, z[:, t : t + 1].detach(), prev)
                torch.testing.assert_close(got[layer][b, j], want, rtol=1e-9, atol=1e-12)


def test_tanh_jacobian_is_diag_one_minus_h_squared_times_w_h():
    model = make("rnn_tanh", H=6, layers=1).double()
    batch = make_batch(B=2, T=9)
    (J,) = layer_jacobians(model, batch.x, None, 3)
    with torch.no_grad():
        _, hs = manual_tanh_rnn(model, batch.x)  # hs[0][t] (B, H), written out by hand
    W = model.cells[0].weight_hh_l0.detach()
    for j, t in enumerate(sample_times(None, 2, 9, 3)[0].tolist()):
        for b in range(2):
            want = torch.diag(1 - hs[0][t][b] ** 2) @ W
            torch.testing.assert_close(J[b, j], want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_probe_series_are_the_spectra_of_the_sampled_jacobians(cell):
    model = make(cell, H=6, layers=2).double()
    batch = make_batch(B=6, T=8, lengths=[8, 8, 3, 5, 8, 2])
    probe = JacobianProbe(sequences=4, times=3)
    res = probe.after_backward(context(model, batch))
    Js = layer_jacobians(model, batch.x[:4], batch.lengths[:4], 3)  # the probe's first 4 sequences
    for layer, J in enumerate(Js):
        mats = J.flatten(0, 1).numpy()  # (12, n, n)
        sv = np.stack([np.linalg.svd(m, compute_uv=False) for m in mats])  # (12, n) descending
        top = sv[:, :JACOBIAN_TOP].mean(0)
        # through J^T J, a singular value is resolved to about sqrt(eps) sigma_max (1.5e-8 in float64):
        # exact zeros (ReLU's dead rows) come out near 1e-8
        np.testing.assert_allclose(res[f"jacobian/sv/l{layer}"], top, rtol=1e-8, atol=1e-7)
        assert res[f"jacobian/sigma_max/l{layer}"] == pytest.approx(sv[:, 0].mean(), rel=1e-8)
        rho = np.abs(np.linalg.eigvals(mats.mean(0))).max()
        assert res[f"jacobian/radius/l{layer}"] == pytest.approx(rho, rel=1e-8)
    assert model.training  # the probe's eval() is undone


def test_lstm_gradient_flows_through_the_cell_state_where_w_h_says_it_vanishes():
    """With W_h = 0 every W_h block has sigma_max 0 (Pascanu's vanilla bound would say: vanishes),
    yet with the forget gate open the LSTM's state Jacobian keeps a singular value near 1: dc_t/dc_{t-1} = diag(f)."""
    model = make("lstm", H=6, layers=1).double()
    with torch.no_grad():
        model.cells[0].weight_hh_l0.zero_()
        model.cells[0].bias_hh_l0[6:12] = 20.0  # forget-gate bias: f = sigmoid(20 + ...) ~ 1
    res = JacobianProbe().after_backward(context(model, make_batch(B=4, T=10)))
    assert res["jacobian/sigma_max/l0"] > 0.999 and res["jacobian/radius/l0"] == pytest.approx(1.0, abs=1e-6)
    tanh = make("rnn_tanh", H=6, layers=1).double()
    with torch.no_grad():
        tanh.cells[0].weight_hh_l0.zero_()
    assert JacobianProbe().after_backward(context(tanh, make_batch(B=4, T=10)))["jacobian/sigma_max/l0"] == 0.0


def test_tanh_radius_is_that_of_diag_mean_slope_times_w_h():
    """The reach chart's prediction uses rho of the mean Jacobian; for a tanh RNN that is
    rho(diag(mean over the samples of 1 - h_t^2) W_h), computed here by hand with numpy."""
    model = make("rnn_tanh", H=7, layers=1).double()
    batch = make_batch(B=5, T=12)
    res = JacobianProbe(sequences=4, times=3).after_backward(context(model, batch))
    with torch.no_grad():
        _, hs = manual_tanh_rnn(model, batch.x)
    slopes = [1 - hs[0][t][b].numpy() ** 2 for b in range(4) for t in sample_times(None, 4, 12, 3)[b].tolist()]
    W = model.cells[0].weight_hh_l0.detach().numpy()
    rho = np.abs(np.linalg.eigvals(np.diag(np.mean(slopes, axis=0)) @ W)).max()
    assert res["jacobian/radius/l0"] == pytest.approx(rho, rel=1e-10)
