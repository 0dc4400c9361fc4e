"""Probes against oracles: numpy eigvals and histograms, hand-written loops, direct autograd."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.nn.modules import module as nn_module

from engine.config import RunConfig
from engine.models import RecurrentLM
from engine.probes import (
    GRAD_HIST_EDGES,
    REACH_SEQUENCES,
    GradHistogramProbe,
    GradientReachProbe,
    HiddenProbe,
    OutputProbe,
    ProbeContext,
    SpectrumProbe,
    WeightProbe,
    default_probes,
    reach_series,
)

torch.set_num_threads(1)
V, N_OUT = 5, 4


def real_mask(batch, T):
    if batch.lengths is None:
        return torch.ones(batch.x.shape[0], T, dtype=torch.bool)
    return torch.arange(T)[None, :] < batch.lengths[:, None]


def ce_loss(out, batch):
    """Mean cross-entropy over real positions."""
    B, T, _ = out.shape
    ce = F.cross_entropy(out.reshape(B * T, -1), batch.y.reshape(-1), reduction="none").view(B, T)
    m = real_mask(batch, T)
    return (ce * m).sum() / m.sum()


def ce_last(out, batch):
    """Cross-entropy at each sequence's last real position, mean over the batch."""
    B, T, _ = out.shape
    idx = torch.full((B,), T - 1) if batch.lengths is None else batch.lengths - 1
    rows = torch.arange(B)
    return F.cross_entropy(out[rows, idx], batch.y[rows, idx])


TASK = SimpleNamespace(
    input_vocab=V, input_dim=None, output_size=N_OUT, loss_kind="ce", loss=ce_loss, last_loss=ce_last
)


def make(cell="lstm", H=6, layers=2, seed=0, **kw):
    torch.manual_seed(seed)
    return RecurrentLM(RunConfig(cell=cell, hidden_size=H, embed_dim=3, num_layers=layers, **kw), TASK)


def make_batch(B=3, T=7, lengths=None, seed=1):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randint(0, V, (B, T), generator=g), torch.randint(0, N_OUT, (B, T), generator=g)
    return SimpleNamespace(x=x, y=y, lengths=None if lengths is None else torch.tensor(lengths))


def context(model, batch, step=0):
    """A training forward and backward, as the trainer does it on a probe step."""
    model.train()
    out, hiddens = model(batch.x, batch.lengths)
    model.zero_grad(set_to_none=True)
    TASK.loss(out, batch).backward()
    return ProbeContext(model=model, task=TASK, batch=batch, out=out, hiddens=hiddens, step=step, cfg=None)


# ---- spectrum ---------------------------------------------------------------------------


def test_spectrum_equals_numpy_of_each_gate_block():
    model = make("lstm", H=8)
    res = SpectrumProbe().after_backward(context(model, make_batch()))
    for layer in range(2):
        full = model.cells[layer].weight_hh_l0.detach().double().numpy()
        for k, g in enumerate("ifgo"):
            w = full[k * 8 : (k + 1) * 8]
            eig, sv = np.linalg.eigvals(w), np.linalg.svd(w, compute_uv=False)
            got = res[f"spectrum/eig/l{layer}/{g}"]
            # the same eigenvalues, in whatever order LAPACK returns them
            np.testing.assert_allclose(np.sort_complex(got[:, 0] + 1j * got[:, 1]), np.sort_complex(eig), atol=1e-12)
            np.testing.assert_allclose(res[f"spectrum/sv/l{layer}/{g}"], sv, rtol=1e-10)
            assert res[f"spectrum/radius/l{layer}/{g}"] == pytest.approx(np.abs(eig).max(), rel=1e-10)
            assert res[f"spectrum/sigma_max/l{layer}/{g}"] == pytest.approx(sv[0], rel=1e-10)


def test_spectrum_of_a_known_matrix():
    """0.8 times a rotation by theta: eigenvalues 0.8 e^{+-i theta}, singular values 0.8."""
    model = make("rnn_tanh", H=2, layers=1)
    th = 0.3
    with torch.no_grad():
        model.cells[0].weight_hh_l0.copy_(
            0.8 * torch.tensor([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
        )
    res = SpectrumProbe().after_backward(context(model, make_batch()))
    eig = res["spectrum/eig/l0/h"]
    np.testing.assert_allclose(sorted(eig[:, 1]), [-0.8 * math.sin(th), 0.8 * math.sin(th)], atol=1e-6)
    np.testing.assert_allclose(eig[:, 0], 0.8 * math.cos(th), atol=1e-6)
    np.testing.assert_allclose(res["spectrum/sv/l0/h"], 0.8, atol=1e-6)
    assert res["spectrum/radius/l0/h"] == pytest.approx(0.8, abs=1e-6)


# ---- gradient histogram -----------------------------------------------------------------


def test_grad_histogram_equals_numpy_histogram():
    model = make("gru", H=8)
    ctx = context(model, make_batch())
    with torch.no_grad():
        model.head.bias.grad[:2] = 0.0  # zeros go to the first bin
        model.head.weight.grad.mul_(1e-12)  # below the first edge: first bin too
    res = GradHistogramProbe().after_backward(ctx)
    assert set(res) == {f"grad_hist/{n}" for n, _ in model.named_parameters()}
    for n, p in model.named_parameters():
        v = np.log10(
            np.abs(p.grad.double().numpy().ravel()) + 0.0,
            where=p.grad.numpy().ravel() != 0,
            out=np.full(p.numel(), -np.inf),
        )
        want, _ = np.histogram(np.clip(v, GRAD_HIST_EDGES[0], GRAD_HIST_EDGES[-1]), GRAD_HIST_EDGES)
        np.testing.assert_array_equal(res[f"grad_hist/{n}"], want, err_msg=n)
        assert res[f"grad_hist/{n}"].sum() == p.numel()
    assert res["grad_hist/head.bias"][0] >= 2 and res["grad_hist/head.weight"][0] > 0


def test_grad_histogram_large_values_go_to_last_bin():
    model = make("rnn_tanh", H=4, layers=1)
    ctx = context(model, make_batch())
    model.head.bias.grad = torch.tensor([1e3, 100.0, float("nan"), 0.5])
    counts = GradHistogramProbe().after_backward(ctx)["grad_hist/head.bias"]
    assert counts[-1] == 3 and counts.sum() == 4  # 1e3 and NaN above, 100 = 10^2 on the last edge


# ---- gradient reach ---------------------------------------------------------------------


def manual_tanh_rnn(model, x):
    """Oracle: the tanh RNN written out step by step; -> out (B, T, N_OUT), hs[layer][t] (B, H)."""
    z = model.embed(x)
    hs = []
    for cell in model.cells:
        Wi, Wh, bi, bh = cell.weight_ih_l0, cell.weight_hh_l0, cell.bias_ih_l0, cell.bias_hh_l0
        h, layer = torch.zeros(x.shape[0], Wh.shape[0], dtype=z.dtype), []
        for t in range(x.shape[1]):
            h = torch.tanh(z[:, t] @ Wi.T + bi + h @ Wh.T + bh)
            layer.append(h)
        hs.append(layer)
        z = torch.stack(layer, 1)
    return model.head(z), hs


def oracle_norms(loss, hs):
    grads = torch.autograd.grad(loss, hs, retain_graph=True)
    return np.array([float(g.norm()) for g in grads])


@pytest.mark.parametrize("B", [3, 20])  # 20: the probe keeps the first REACH_SEQUENCES
def test_reach_equals_direct_autograd_per_timestep(B):
    model = make("rnn_tanh", H=5, layers=2).double()
    batch = make_batch(B=B, T=6)
    res = GradientReachProbe().after_backward(context(model, batch))
    sub = SimpleNamespace(x=batch.x[:REACH_SEQUENCES], y=batch.y[:REACH_SEQUENCES], lengths=None)
    out, hs = manual_tanh_rnn(model, sub.x)
    for layer in range(2):
        np.testing.assert_allclose(res[f"reach/last/l{layer}"], oracle_norms(ce_last(out, sub), hs[layer]), rtol=1e-6)
        np.testing.assert_allclose(res[f"reach/sum/l{layer}"], oracle_norms(ce_loss(out, sub), hs[layer]), rtol=1e-6)
        last = res[f"reach/last/l{layer}"]
        assert res[f"reach/ratio/l{layer}"] == pytest.approx(last[0] / last[-1], rel=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_reach_equals_gradient_wrt_a_restarted_fused_cell(cell):
    """Oracle with PyTorch's fused kernel: dL_T/dh_t is the gradient w.r.t. the initial state of the rest."""
    model = make(cell, H=5, layers=1).double()
    batch = make_batch(B=3, T=6)
    res = GradientReachProbe().after_backward(context(model, batch))
    model.eval()
    z = model.embed(batch.x)
    for t in range(5):  # t < T-1: h_t reaches L_T only through the recurrence
        _, state = model.cells[0](z[:, : t + 1])
        state = tuple(s.detach().requires_grad_() for s in state) if cell == "lstm" else state.detach().requires_grad_()
        y, _ = model.cells[0](z[:, t + 1 :], state)
        rest = SimpleNamespace(y=batch.y[:, t + 1 :], lengths=None)
        grads = torch.autograd.grad(ce_last(model.readout(y), rest), state if cell == "lstm" else [state])
        assert res["reach/last/l0"][t] == pytest.approx(float(grads[0].norm()), rel=1e-6)
        if cell == "lstm":  # total dL/dc_t: also through h_t = o_t tanh(c_t), with o_t fixed
            h_t, c_t = (s.detach() for s in state)
            c0 = c_t.clone().requires_grad_()
            y, _ = model.cells[0](z[:, t + 1 :], (h_t / torch.tanh(c_t) * torch.tanh(c0), c0))
            (grad_c,) = torch.autograd.grad(ce_last(model.readout(y), rest), [c0])
            assert res["reach/cell/l0"][t] == pytest.approx(float(grad_c.norm()), rel=1e-6)


def test_reach_with_lengths_equals_each_sequence_alone_right_aligned():
    """Oracle: each sequence run alone to its length by the manual loop, its end placed at t = T."""
    model = make("rnn_tanh", H=5).double()
    lengths, T = [7, 4, 2], 7
    batch = make_batch(B=3, T=T, lengths=lengths)
    res = GradientReachProbe().after_backward(context(model, batch))
    n_real = sum(lengths)
    for layer in range(2):
        last, summed = np.zeros(T), np.zeros(T)
        for b, n in enumerate(lengths):
            out, hs = manual_tanh_rnn(model, batch.x[b : b + 1, :n])
            ce = F.cross_entropy(out[0], batch.y[b, :n], reduction="none")  # (n,)
            g_last = oracle_norms(ce[-1] / 3, hs[layer])  # batch mean over 3 sequences
            g_sum = oracle_norms(ce.sum() / n_real, hs[layer])  # mean over all real positions
            last[T - n :] += g_last**2
            summed[T - n :] += g_sum**2
        np.testing.assert_allclose(res[f"reach/last/l{layer}"], np.sqrt(last), rtol=1e-6)
        np.testing.assert_allclose(res[f"reach/sum/l{layer}"], np.sqrt(summed), rtol=1e-6)


def test_reach_series_ratio_and_steps():
    last = 0.5 ** np.arange(9)[::-1]  # norm halves with every step back from T
    res = reach_series(last, last, 0)
    assert res["reach/ratio/l0"] == pytest.approx(0.5**8)
    assert res["reach/steps/l0"] == 6  # 0.5^6 = 0.016 >= 1e-2 > 0.5^7
    assert reach_series(np.ones(5), np.ones(5), 0)["reach/steps/l0"] == 4  # reaches all the way back
    zero = reach_series(np.zeros(5), np.zeros(5), 1)
    assert zero["reach/ratio/l1"] == 0.0 and zero["reach/steps/l1"] == 0.0


# ---- activations and outputs ------------------------------------------------------------


def test_hidden_saturation_and_dead_units_on_real_positions():
    batch = make_batch(B=2, T=3, lengths=[3, 1])
    h = torch.tensor(
        [[[1.0, 0.0, 0.995], [0.5, 0.0, -1.0], [0.0, 0.0, 0.2]], [[0.0, 0.0, 0.1], [9.0, 9.0, 9.0], [9.0, 9.0, 9.0]]]
    )  # (B=2, T=3, H=3); row 1 past length 1
    ctx = ProbeContext(model=make("rnn_relu"), task=TASK, batch=batch, out=None, hiddens=[h], step=0, cfg=None)
    assert HiddenProbe().after_backward(ctx) == {"hidden/dead/l0": pytest.approx(1 / 3)}  # unit 1 only
    ctx.model = make("rnn_tanh")
    # real positions: 4 rows x 3 units; |h| > 0.99 at 1.0, 0.995, -1.0
    assert HiddenProbe().after_backward(ctx) == {"hidden/saturation/l0": pytest.approx(3 / 12)}


def test_output_logit_scale_and_entropy():
    model = make("gru", H=4, layers=1)
    ctx = context(model, make_batch())
    res = OutputProbe().after_backward(ctx)
    z = ctx.out.detach().double().numpy().reshape(-1, N_OUT)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    assert res["output/logit_scale"] == pytest.approx(z.std(ddof=1), rel=1e-5)
    assert res["output/entropy"] == pytest.approx(-(p * np.log(p)).sum(1).mean(), rel=1e-5)
    ctx.out = torch.zeros(2, 3, N_OUT)  # uniform: entropy ln N_OUT
    assert OutputProbe().after_backward(ctx)["output/entropy"] == pytest.approx(math.log(N_OUT), rel=1e-6)
    assert OutputProbe().after_backward(SimpleNamespace(task=SimpleNamespace(loss_kind="mse"))) == {}


# ---- weights ----------------------------------------------------------------------------


def test_weight_norms_and_update_ratio_of_an_sgd_step():
    model = make("lstm", H=4).double()  # float64: dW is tiny beside W
    with torch.no_grad():
        model.head.bias.zero_()  # ||W|| = 0: no ratio for it, not inf
    ctx = context(model, make_batch())
    probe = WeightProbe()
    probe.after_backward(ctx)
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    res = probe.after_step(ctx)
    for n, p in model.named_parameters():
        assert res[f"weight_norm/{n}"] == pytest.approx(float(p.detach().norm()), rel=1e-6)
        if n != "head.bias":
            assert res[f"update_ratio/{n}"] == pytest.approx(0.1 * float(grads[n].norm() / before[n].norm()), rel=1e-4)
    assert "update_ratio/head.bias" not in res
    total = math.sqrt(sum(float(g.norm()) ** 2 for g in grads.values())) * 0.1
    assert res["update_ratio"] == pytest.approx(
        total / math.sqrt(sum(float(w.norm()) ** 2 for w in before.values())), rel=1e-4
    )
    assert probe.before is None  # nothing kept between probe steps


# ---- all probes together ----------------------------------------------------------------


def run_all(model, batch, probes):
    ctx = context(model, batch)
    res = {}
    for p in probes:
        res.update(p.after_backward(ctx))
    torch.optim.SGD(model.parameters(), lr=0.01).step()
    for p in probes:
        res.update(p.after_step(ctx))
    return ctx, res


@pytest.mark.parametrize("cell", ["lstm", "rnn_relu"])
def test_default_probes_give_the_contract_names(cell):
    cfg = RunConfig(cell=cell, num_layers=2)
    model = make(cell)
    _, res = run_all(model, make_batch(lengths=[7, 5, 2]), default_probes(cfg))
    gates = model.gates
    want = {
        f"spectrum/{k}/l{layer}/{g}" for k in ("eig", "sv", "radius", "sigma_max") for layer in (0, 1) for g in gates
    }
    want |= {f"reach/{k}/l{layer}" for k in ("last", "sum", "ratio", "steps") for layer in (0, 1)}
    want |= {f"jacobian/{k}/l{layer}" for k in ("sv", "sigma_max", "radius") for layer in (0, 1)}
    want |= {f"hidden/{'dead' if cell == 'rnn_relu' else 'saturation'}/l{layer}" for layer in (0, 1)}
    want |= {"output/logit_scale", "output/entropy", "update_ratio"}
    for n, _ in model.named_parameters():
        want |= {f"grad_hist/{n}", f"weight_norm/{n}", f"update_ratio/{n}"}
    if cell == "lstm":
        want |= {"reach/cell/l0", "reach/cell/l1"}
    assert set(res) == want
    for name, v in res.items():
        assert isinstance(v, (float, np.ndarray)), name
        assert not isinstance(v, np.ndarray) or v.dtype != object
    assert res["reach/last/l0"].shape == (7,) and res["spectrum/eig/l0/" + gates[0]].shape == (6, 2)
    assert default_probes(RunConfig(probe_every=0)) == []


def test_probes_leave_no_hooks_no_retained_grads_and_touch_no_grad():
    model = make("lstm", dropout=0.3)
    batch = make_batch(B=4)
    ctx = context(model, batch)
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    rng = torch.get_rng_state()
    probes = default_probes(RunConfig())
    for p in probes:
        p.after_backward(ctx)
    for p in probes:
        p.after_step(ctx)
    assert model.training  # the reach probe's eval() is undone
    assert torch.equal(torch.get_rng_state(), rng)  # probes draw no random numbers: same run with or without
    for n, p in model.named_parameters():
        assert torch.equal(p.grad, grads[n]), n  # autograd.grad never accumulates into .grad
        assert not p.retains_grad and not p._backward_hooks
    for m in model.modules():
        for hooks in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"):
            assert not getattr(m, hooks), (m, hooks)
    for hooks in (
        "_global_forward_hooks",
        "_global_forward_pre_hooks",
        "_global_backward_hooks",
        "_global_backward_pre_hooks",
    ):
        assert not getattr(nn_module, hooks)
    assert not any(t.retains_grad for t in [ctx.out, *ctx.hiddens])
    for p in probes:  # no tensor (or graph) kept by a probe after its step
        assert not any(torch.is_tensor(v) or (isinstance(v, dict) and v) for v in vars(p).values()), p


def test_first_sequences_cuts_every_per_sequence_field_of_a_dataclass():
    from dataclasses import dataclass

    from engine.probes import first_sequences

    @dataclass
    class Batch:
        x: torch.Tensor
        y: torch.Tensor
        lengths: torch.Tensor | None = None
        note: str = "kept"

    b = Batch(torch.zeros(5, 3), torch.arange(5), torch.tensor([3, 2, 3, 1, 3]))
    cut = first_sequences(b, 2)
    assert isinstance(cut, Batch) and cut.x.shape == (2, 3) and cut.y.tolist() == [0, 1]
    assert cut.lengths.tolist() == [3, 2] and cut.note == "kept"
