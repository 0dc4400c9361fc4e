"""watch(): a plain PyTorch loop recorded into the store, checked against oracles computed beside it.

Loss and gradient norms against what the loop itself computed (clip_grad_norm_'s return), W_h
spectra against numpy per gate, gradient reach against autograd through nn.LSTMCell stepped by
hand, and no hook left on the model. Run: .venv/bin/pytest tests/test_watch.py
"""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from engine import watch
from engine.probes import REACH_SEQUENCES
from engine.store import RunStore
from engine.watch import is_watched
from engine.watch.cells import unroll

V, E, H, B, T = 11, 6, 8, 5, 9  # vocab, embedding, hidden, batch, sequence length


class CharLSTM(nn.Module):
    """Embedding -> nn.LSTM (num_layers) -> linear head; packed batches when lengths are given."""

    def __init__(self, layers=1, cell=nn.LSTM, **kw):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.rnn = cell(E, H, num_layers=layers, batch_first=True, **kw)
        self.head = nn.Linear(H * (2 if kw.get("bidirectional") else 1), V)

    def forward(self, x, lengths=None):
        z = self.emb(x)  # (B, T, E)
        if lengths is None:
            return self.head(self.rnn(z)[0])
        packed = pack_padded_sequence(z, lengths, batch_first=True, enforce_sorted=False)
        return self.head(pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=x.shape[1])[0])


def batch(step: int):
    g = torch.Generator().manual_seed(step)
    x = torch.randint(0, V, (B, T), generator=g)
    return x, torch.roll(x, -1, dims=1)  # predict the next token


@pytest.fixture
def store(tmp_path):
    s = RunStore(tmp_path / "runs.sqlite")
    yield s
    s.close()


def train(model, store, steps=12, clip=0.3, **watch_args):
    """A plain loop with clipping and a schedule; returns the recorder and what the loop saw itself."""
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    seen = {"loss": [], "norm": [], "lr": [], "w_hh": []}
    with watch(model, opt, name="test lstm", config={"lr": 0.5}, store=store, **watch_args) as rec:
        for s in range(steps):
            x, y = batch(s)
            loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            rec.after_backward(loss)
            seen["norm"].append(float(nn.utils.clip_grad_norm_(model.parameters(), clip)))
            seen["loss"].append(loss.item())
            seen["lr"].append(opt.param_groups[0]["lr"])
            seen["w_hh"].append(model.rnn.weight_hh_l0.detach().clone())  # before this step's update
            opt.step()
            sched.step()
            rec.after_step()
    store.flush()
    return rec, seen


def test_loss_lr_and_gradient_norms_equal_what_the_loop_computed(store):
    torch.manual_seed(0)
    rec, seen = train(CharLSTM(), store)
    values = lambda name: store.scalars(rec.run_id, name)[1]  # noqa: E731
    assert list(store.scalars(rec.run_id, "train/loss")[0]) == list(range(12))
    assert values("train/loss").tolist() == seen["loss"]  # the same float32 values, exactly
    assert values("grad/norm").tolist() == seen["norm"]  # clip_grad_norm_'s own return
    assert values("lr").tolist() == seen["lr"] == [0.5] * 4 + [0.25] * 4 + [0.125] * 4
    norms = np.array(seen["norm"])
    np.testing.assert_allclose(values("grad/norm_clipped"), np.minimum(norms, 0.3), rtol=1e-5)
    assert values("grad/clipped").tolist() == (norms > 0.3).astype(float).tolist()
    np.testing.assert_allclose(values("train/ppl"), np.exp(seen["loss"]), rtol=1e-12)
    info = store.run(rec.run_id)
    assert info.status == "done" and info.label == "test lstm" and info.config == {"lr": 0.5} and is_watched(info)
    assert info.step == 12 and info.summary["layers"][0]["module"] == "rnn"
    assert list(info.summary["unmeasured"]) == ["output"]  # nothing failed, nothing else missing


def test_spectrum_equals_numpy_eigvals_of_weight_hh_per_gate(store):
    torch.manual_seed(1)
    rec, seen = train(CharLSTM(), store, probe_every=3, probe_budget=1.0)
    for k, gate in enumerate("ifgo"):  # PyTorch stacks LSTM gate rows as i, f, g, o
        steps, eigs = store.arrays(rec.run_id, f"spectrum/eig/l0/{gate}")
        _, svs = store.arrays(rec.run_id, f"spectrum/sv/l0/{gate}")
        assert steps.tolist() == [0, 3, 6, 9]
        for s, eig, sv in zip(steps, eigs, svs):
            w = seen["w_hh"][s][k * H : (k + 1) * H].double().numpy()  # (H, H) block of this gate
            assert_same_roots(eig[:, 0] + 1j * eig[:, 1], np.linalg.eigvals(w))
            np.testing.assert_allclose(sv, np.linalg.svd(w, compute_uv=False), rtol=1e-10, atol=1e-12)
        radius = store.scalars(rec.run_id, f"spectrum/radius/l0/{gate}")[1]
        expected = [np.abs(np.linalg.eigvals(seen["w_hh"][s][k * H : (k + 1) * H].double().numpy())).max() for s in steps]
        np.testing.assert_allclose(radius, expected, rtol=1e-10)


def assert_same_roots(a: np.ndarray, b: np.ndarray) -> None:
    """Equal as multisets of complex numbers (solvers order eigenvalues differently)."""
    assert len(a) == len(b)
    left = list(b)
    for z in a:
        i = int(np.argmin([abs(z - w) for w in left]))
        assert abs(z - left.pop(i)) < 1e-8


# ---- gradient reach against autograd through nn.LSTMCell -----------------------------------------


def cell_oracle(model: CharLSTM, x, y, lengths=None, b=B):
    """Per layer ||dL/dh_t||, ||dL_last/dh_t||, ||dL_last/dc_t|| through nn.LSTMCell copies of each layer.

    Each of the first b sequences is stepped by hand over its own real length only (no pads,
    no masks), so every h_t and c_t is the cell's own output. L is the training loss (mean
    cross-entropy over all real positions of the batch), L_last its part at each sequence's
    last position (same normalisation). Norms are right-aligned on each sequence's end, as
    the reach series are: (T,) per layer, for h (sum), h (last) and c (last).
    """
    lengths = torch.full((B,), T) if lengths is None else lengths
    cells = [lstm_cell(model.rnn, k) for k in range(model.rnn.num_layers)]
    z = model.emb(x).detach()  # (B, T, E)
    n_real = int(lengths.sum())
    total = torch.zeros(())
    rows = {"sum": [], "last": [], "cell": []}  # per sequence: per layer (n, H)
    for j in range(B):
        n = int(lengths[j])
        hs, cs, logits = unroll_cells(cells, model.head, z[j : j + 1, :n])
        ce = F.cross_entropy(logits, y[j, :n], reduction="none")  # (n,)
        total = total + ce.sum().detach() / n_real
        if j >= b:
            continue
        flat = [h for layer in hs for h in layer]
        g_sum = torch.autograd.grad(ce.sum() / n_real, flat, retain_graph=True)
        g_last = torch.autograd.grad(ce[-1] / n_real, flat + [c for layer in cs for c in layer])
        L = len(cells)
        rows["sum"].append(per_layer(g_sum, L))
        rows["last"].append(per_layer(g_last[: L * n], L))
        rows["cell"].append(per_layer(g_last[L * n :], L))
    return total, {k: right_aligned_norms(v) for k, v in rows.items()}


def lstm_cell(rnn: nn.LSTM, k: int) -> nn.LSTMCell:
    """An nn.LSTMCell holding a copy of layer k's weights."""
    cell = nn.LSTMCell(rnn.weight_ih_l0.shape[1] if k == 0 else rnn.hidden_size, rnn.hidden_size)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(cell, name).data.copy_(getattr(rnn, f"{name}_l{k}").data)
    return cell


def unroll_cells(cells, head, z):
    """z (1, n, E) -> per layer lists of h_t, c_t (1, H), and the logits (n, V)."""
    hs, cs = [[] for _ in cells], [[] for _ in cells]
    state = [(torch.zeros(1, H), torch.zeros(1, H)) for _ in cells]
    outs = []
    for t in range(z.shape[1]):
        inp = z[:, t]
        for k, cell in enumerate(cells):
            state[k] = cell(inp, state[k])
            hs[k].append(state[k][0])
            cs[k].append(state[k][1])
            inp = state[k][0]
        outs.append(head(inp))
    return hs, cs, torch.cat(outs)


def per_layer(grads, L: int) -> list[torch.Tensor]:
    """A flat tuple of L * n gradients (1, H), layer by layer -> per layer (n, H)."""
    n = len(grads) // L
    return [torch.cat(grads[k * n : (k + 1) * n]) for k in range(L)]


def right_aligned_norms(per_sequence) -> list[np.ndarray]:
    """[sequence][layer] (n, H) -> per layer (T,): Frobenius norm over sequences and units, ends aligned at T."""
    out = []
    for k in range(len(per_sequence[0])):
        g = torch.zeros(len(per_sequence), T, H)
        for j, seq in enumerate(per_sequence):
            g[j, T - seq[k].shape[0] :] = seq[k]
        out.append(g.norm(dim=(0, 2)).double().numpy())
    return out


@pytest.mark.parametrize("layers,packed", [(1, False), (2, False), (2, True)])
def test_reach_equals_autograd_through_the_recurrence(store, layers, packed):
    torch.manual_seed(2)
    model = CharLSTM(layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = batch(0)
    lengths = torch.tensor([9, 4, 7, 9, 2]) if packed else None
    with watch(model, opt, store=store, probe_budget=1.0) as rec:  # step 0 is always fully probed
        logits = model(x, lengths)
        real = torch.ones(B, T, dtype=torch.bool) if lengths is None else torch.arange(T)[None, :] < lengths[:, None]
        loss = F.cross_entropy(logits[real], y[real])
        loss.backward()
        rec.after_backward(loss)
        before = copy.deepcopy(model)  # the weights of the forward pass, for the oracle
        opt.step()
        rec.after_step()
    store.flush()
    oracle_loss, expected = cell_oracle(before, x, y, lengths, b=min(B, REACH_SEQUENCES))
    torch.testing.assert_close(oracle_loss, loss.detach())
    for k in range(layers):
        for what in ("sum", "last", "cell"):
            steps, (got,) = store.arrays(rec.run_id, f"reach/{what}/l{k}")
            assert steps.tolist() == [0]
            np.testing.assert_allclose(got, expected[what][k], rtol=1e-4, atol=1e-9, err_msg=f"reach/{what}/l{k}")


@pytest.mark.parametrize("module", [
    nn.RNN(E, H, num_layers=2, batch_first=True), nn.RNN(E, H, nonlinearity="relu", bias=False),
    nn.GRU(E, H, num_layers=2), nn.LSTM(E, H, num_layers=2, batch_first=True), nn.LSTM(E, H, proj_size=3, num_layers=2),
], ids=["rnn_tanh", "rnn_relu_nobias", "gru", "lstm", "lstm_proj"])
def test_unrolled_rerun_reproduces_the_fused_module(module):
    torch.manual_seed(3)
    x = torch.randn(B, T, E)  # batch first, as the capture hands it over
    lengths = torch.tensor([9, 3, 6, 9, 1])
    h0 = torch.randn(module.num_layers, B, module.proj_size or H)
    c0 = torch.randn(module.num_layers, B, H) if isinstance(module, nn.LSTM) else None
    fused_x = x if module.batch_first else x.transpose(0, 1)
    y, state = module(fused_x, h0 if c0 is None else (h0, c0))
    run = unroll(module, x, h0, c0)
    torch.testing.assert_close(run.y, y if module.batch_first else y.transpose(0, 1))
    h_n, c_n = run.final()
    torch.testing.assert_close(h_n, state[0] if c0 is not None else state)
    packed = pack_padded_sequence(fused_x, lengths, batch_first=module.batch_first, enforce_sorted=False)
    y, state = module(packed, h0 if c0 is None else (h0, c0))
    run = unroll(module, x, h0, c0, lengths)
    torch.testing.assert_close(run.y, pad_packed_sequence(y, batch_first=True, total_length=T)[0])
    torch.testing.assert_close(run.final()[0], state[0] if c0 is not None else state)


def test_own_scalars_and_texts_at_the_current_step_and_the_final_summary(store):
    torch.manual_seed(4)
    model = CharLSTM()
    with watch(model, torch.optim.SGD(model.parameters(), 0.1), store=store, probe_every=0) as rec:
        x, y = batch(0)
        loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
        loss.backward()
        rec.after_backward(loss)
        rec.after_step()
        rec.log({"val/loss": 2.0, "val/acc": 0.25})  # after update 0: recorded at step 1, as the engine's evaluations
        rec.log_text("a sample")
    store.flush()
    assert store.scalars(rec.run_id, "val/ppl")[1].tolist() == [pytest.approx(np.exp(2.0))]
    assert store.scalars(rec.run_id, "val/bpc")[0].tolist() == [1]
    assert store.texts(rec.run_id) == [(1, "a sample")]
    final = store.run(rec.run_id).summary["final"]
    assert final == {"val/loss": 2.0, "val/ppl": pytest.approx(np.exp(2.0)), "train/loss": loss.item()}
