"""RecurrentLM: fused forward against the hand-stepped forward, packing against one sequence at a time."""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from engine.config import RunConfig
from engine.models import GATES, RecurrentLM

torch.set_num_threads(1)
CELLS = ("rnn_tanh", "rnn_relu", "gru", "lstm")
B, T, H, V = 3, 7, 6, 5


def fake_task(vocab=V, dim=None, out=4):
    """The duck type the model reads from a data.Task."""
    return SimpleNamespace(input_vocab=vocab, input_dim=dim, output_size=out, loss_kind="ce")


def make(cell, layers=2, **kw):
    torch.manual_seed(0)
    cfg = RunConfig(cell=cell, hidden_size=H, embed_dim=4, num_layers=layers, **kw)
    return RecurrentLM(cfg, fake_task()).eval()


def tokens(seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, V, (B, T), generator=g)


LENGTHS = torch.tensor([7, 3, 5])


@pytest.mark.parametrize("cell", CELLS)
def test_shapes(cell):
    out, hiddens = make(cell)(tokens())
    assert out.shape == (B, T, 4)
    assert [h.shape for h in hiddens] == [(B, T, H)] * 2


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_unrolled_equals_fused(cell, lengths):
    model = make(cell, layer_norm=True)
    x = tokens()
    out, hiddens = model(x, lengths)
    out_u, states = model.forward_unrolled(x, lengths)
    torch.testing.assert_close(out_u, out, atol=1e-5, rtol=0)
    for layer in range(2):
        h_u = torch.stack(states.h[layer], dim=1)  # (B, T, H), frozen past each length
        for b in range(B):
            n = T if lengths is None else int(lengths[b])
            torch.testing.assert_close(h_u[b, :n], hiddens[layer][b, :n], atol=1e-5, rtol=0)
            assert torch.all(h_u[b, n:] == h_u[b, n - 1])  # state kept after the end
            assert torch.all(hiddens[layer][b, n:] == 0)  # fused path: zeros after the end
    assert (states.c is not None) == (cell == "lstm")
    assert states[0] is states.h[0] and states.cell_states is states.c


@pytest.mark.parametrize("cell", CELLS)
def test_packed_equals_each_sequence_alone(cell):
    model = make(cell)
    x = tokens()
    out, hiddens = model(x, LENGTHS)
    for b in range(B):
        n = int(LENGTHS[b])
        out_b, hid_b = model(x[b : b + 1, :n])
        torch.testing.assert_close(out[b, :n], out_b[0], atol=1e-6, rtol=0)
        torch.testing.assert_close(hiddens[1][b, :n], hid_b[1][0], atol=1e-6, rtol=0)


def test_lstm_unrolled_equals_manual_gate_math():
    """The LSTM step written out from PyTorch's documented equations, one layer, no embedding."""
    torch.manual_seed(0)
    cfg = RunConfig(cell="lstm", hidden_size=H, num_layers=1)
    model = RecurrentLM(cfg, fake_task(vocab=None, dim=2))
    x = torch.randn(B, T, 2)
    cell = model.cells[0]
    Wi, Wh, b = cell.weight_ih_l0, cell.weight_hh_l0, cell.bias_ih_l0 + cell.bias_hh_l0
    h = c = torch.zeros(B, H)
    for t in range(T):
        a = x[:, t] @ Wi.T + h @ Wh.T + b
        i, f, g, o = a[:, :H].sigmoid(), a[:, H : 2 * H].sigmoid(), a[:, 2 * H : 3 * H].tanh(), a[:, 3 * H :].sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
    _, states = model.forward_unrolled(x)
    torch.testing.assert_close(states.h[0][-1], h, atol=1e-6, rtol=0)
    torch.testing.assert_close(states.c[0][-1], c, atol=1e-6, rtol=0)
    torch.testing.assert_close(model(x)[0][:, -1], model.head(h), atol=1e-6, rtol=0)


@pytest.mark.parametrize("cell", CELLS)
def test_recurrent_weights_split_per_gate(cell):
    model = make(cell, layers=1)
    w = model.recurrent_weights(0)
    assert tuple(w) == GATES[cell]
    full = model.cells[0].weight_hh_l0
    for k, g in enumerate(GATES[cell]):
        assert w[g].shape == (H, H) and not w[g].requires_grad
        assert torch.equal(w[g], full[k * H : (k + 1) * H])
    w[GATES[cell][0]].add_(1.0)  # a copy: the model is untouched
    assert torch.equal(model.cells[0].weight_hh_l0, full)
    assert model.input_weights(0)[GATES[cell][0]].shape == (H, 4)


def test_vector_input_and_stateful_forward():
    torch.manual_seed(0)
    model = RecurrentLM(RunConfig(cell="gru", hidden_size=H, num_layers=2), fake_task(vocab=None, dim=2, out=1))
    assert model.embed is None and model.cells[0].input_size == 2
    x = torch.randn(B, T, 2)
    out, _ = model(x)
    out1, state = model.forward_with_state(x[:, :4])
    out2, _ = model.forward_with_state(x[:, 4:], state)
    torch.testing.assert_close(torch.cat([out1, out2], 1), out, atol=1e-6, rtol=0)


def test_dropout_only_in_training():
    model = make("lstm", dropout=0.5)
    x = tokens()
    torch.testing.assert_close(model(x)[0], model(x)[0])  # eval: deterministic
    model.train()
    assert not torch.allclose(model(x)[0], model(x)[0])


def test_unrolled_gradients_reach_the_parameters():
    model = make("gru")
    out, states = model.forward_unrolled(tokens())
    loss = F.cross_entropy(out.reshape(-1, 4), torch.zeros(B * T, dtype=torch.long))
    grads = torch.autograd.grad(loss, [model.cells[0].weight_hh_l0] + states.h[0])
    assert all(g is not None for g in grads) and grads[0].abs().sum() > 0


@pytest.mark.parametrize("mode", ["padded_masked", "padded_naive"])
def test_padded_modes_run_through_the_pads_and_agree_on_real_positions(mode):
    lengths, x = LENGTHS, tokens()
    packed = make("gru", layers=1)
    padded = make("gru", layers=1, task="lines", variable_length=mode)
    padded.load_state_dict(packed.state_dict())
    out_p, (h_p,) = packed(x, lengths)
    out_d, (h_d,) = padded(x, lengths)
    real = torch.arange(x.shape[1])[None, :] < lengths[:, None]  # (B, T)
    torch.testing.assert_close(out_d[real], out_p[real])  # one-way RNN: pads come after, change nothing
    assert (h_p[~real] == 0).all()  # packing never runs the cell over a pad
    assert (h_d[~real] != 0).any()  # padding does
