"""Initialisers, checked with numpy's eigenvalues and singular values as the oracle."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from engine.config import RunConfig
from engine.init import initialise
from engine.models import RecurrentLM

torch.set_num_threads(1)


def build(cell="rnn_tanh", H=16, layers=1, seed=0, **kw):
    torch.manual_seed(seed)
    cfg = RunConfig(cell=cell, hidden_size=H, num_layers=layers, embed_dim=4, **kw)
    task = SimpleNamespace(input_vocab=7, input_dim=None, output_size=7, loss_kind="ce")
    model = RecurrentLM(cfg, task)
    initialise(model, cfg)
    return model


def blocks(model, layer=0):
    """{gate: (H, H) float64 numpy} of W_h."""
    return {g: w.double().numpy() for g, w in model.recurrent_weights(layer).items()}


def radius(w):
    return np.abs(np.linalg.eigvals(w)).max()


@pytest.mark.parametrize("seed", [0, 1])
def test_default_radius_near_one_over_root_three(seed):
    w = blocks(build(H=128, seed=seed))["h"]
    assert 0.45 <= radius(w) <= 0.75  # theory 1/sqrt(3) = 0.577; measured 0.57-0.61


def test_xavier_radius_near_one():
    for w in blocks(build("gru", H=64, init="xavier")).values():
        assert 0.85 <= radius(w) <= 1.25
        assert abs(w).max() <= math.sqrt(6 / (2 * 64)) + 1e-7  # xavier_uniform bound


@pytest.mark.parametrize("cell", ["rnn_tanh", "gru", "lstm"])
def test_orthogonal_every_eigenvalue_on_unit_circle(cell):
    model = build(cell, layers=2, init="orthogonal")
    for layer in range(2):
        for w in blocks(model, layer).values():
            np.testing.assert_allclose(np.abs(np.linalg.eigvals(w)), 1.0, atol=1e-5)
            np.testing.assert_allclose(w.T @ w, np.eye(16), atol=1e-5)


def test_identity_is_exactly_identity_with_zero_biases():
    model = build("rnn_relu", init="identity")
    assert torch.equal(model.cells[0].weight_hh_l0, torch.eye(16))
    assert torch.all(model.cells[0].bias_hh_l0 == 0) and torch.all(model.cells[0].bias_ih_l0 == 0)
    scaled = build("rnn_relu", init="identity", spectral_radius=0.5)
    assert torch.equal(scaled.cells[0].weight_hh_l0, 0.5 * torch.eye(16))


@pytest.mark.parametrize("rho", [0.5, 1.0, 1.7])
@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm"])
def test_spectral_radius_is_the_asked_value(cell, rho):
    model = build(cell, H=32, layers=2, init="spectral", spectral_radius=rho)
    for layer in range(2):
        for w in blocks(model, layer).values():
            assert abs(radius(w) - rho) <= 1e-5 * max(rho, 1)


def test_input_init_std():
    model = build(H=64, input_init_std=0.1, layers=2)
    w = model.cells[1].weight_ih_l0.detach()  # (64, 64): enough samples for the std to sit near 0.1
    assert 0.09 < float(w.std()) < 0.11 and abs(float(w.mean())) < 0.01


def test_forget_bias_sum():
    model = build("lstm", H=8, forget_bias=1.0, layers=2)
    for cell in model.cells:
        b = (cell.bias_ih_l0 + cell.bias_hh_l0).detach()
        assert torch.all(b[8:16] == 1.0)
        assert not torch.all(b[:8] == 1.0)  # other gates keep PyTorch's biases


def test_zero_head_gives_uniform_output_and_ln_v_loss():
    model = build(H=8, zero_head=True)
    out, _ = model(torch.randint(0, 7, (2, 5)))
    probs = torch.softmax(out, -1)
    torch.testing.assert_close(probs, torch.full_like(probs, 1 / 7), atol=0, rtol=1e-6)
    loss = torch.nn.functional.cross_entropy(out.reshape(-1, 7), torch.zeros(10, dtype=torch.long))
    assert abs(loss.item() - math.log(7)) < 1e-6


def test_same_seed_same_weights():
    a, b = build("gru", init="spectral", spectral_radius=0.9), build("gru", init="spectral", spectral_radius=0.9)
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert torch.equal(p, q), n
