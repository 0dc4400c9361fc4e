"""watch(): hooks only on probe steps and none after close, what each model kind cannot give and why,
clear errors, pause and stop through the store, and how a run ends.

Run: .venv/bin/pytest tests/test_watch_lifecycle.py
"""

import copy
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as module_hooks

from engine import watch
from engine.store import RunStore
from engine.watch import StopRequested

ROOT = Path(__file__).resolve().parents[1]
V, E, H, B, T = 7, 4, 6, 3, 5


class Net(nn.Module):
    """Embedding -> the given recurrent module(s) in turn -> linear head."""

    def __init__(self, *rnns, out=H):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.rnns = nn.ModuleList(rnns)
        self.head = nn.Linear(out, V)

    def forward(self, x):
        z = self.emb(x)
        for rnn in self.rnns:
            z = rnn(z)[0]
        return self.head(z)


def loop(model, rec, steps, on_forward=None):
    """A plain loop calling the recorder; on_forward(step) runs just before each forward pass."""
    opt = rec.optimizer
    for s in range(steps):
        x = torch.randint(0, V, (B, T))
        if on_forward:
            on_forward(s)
        loss = F.cross_entropy(model(x).reshape(-1, V), x.reshape(-1))
        opt.zero_grad()
        loss.backward()
        rec.after_backward(loss)
        opt.step()
        rec.after_step()


@pytest.fixture
def store(tmp_path):
    s = RunStore(tmp_path / "runs.sqlite")
    yield s
    s.close()


def hooks(model: nn.Module) -> int:
    """Forward, pre-forward and backward hooks on any module of the model, and process-wide ones."""
    on_modules = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())
    return on_modules + len(module_hooks._global_forward_hooks) + len(module_hooks._global_forward_pre_hooks)


def test_hooks_only_on_probe_steps_and_none_after_close(store):
    torch.manual_seed(0)
    model = Net(nn.LSTM(E, H, batch_first=True))
    rec = watch(model, torch.optim.SGD(model.parameters(), 0.1), store=store, probe_every=4, probe_budget=1.0)
    seen, on_model = [], []

    def before_forward(step):
        seen.append(hooks(model))
        on_model.append(sum(len(m._forward_hooks) for m in model.modules()))
        best = copy.deepcopy(model)  # a best-model copy between steps: no hook of ours travels with it
        best(torch.randint(0, V, (B, T))).sum().backward()  # and its calls are not the watched module's

    loop(model, rec, 10, on_forward=before_forward)
    assert seen == [1, 0, 0, 0, 1, 0, 0, 0, 1, 0]  # attached for steps 0, 4, 8 only
    assert on_model == [0] * 10  # never in the model's own hook dicts
    assert hooks(model) == 0 and not rec.capture.attached  # removed at after_backward
    rec.close()
    assert hooks(model) == 0 and store.run(rec.run_id).status == "done"
    store.flush()
    assert store.scalars(rec.run_id, "reach/steps/l0")[0].tolist() == [0, 4, 8]  # the copies' calls not counted


def test_an_error_mid_step_ends_the_run_failed_with_no_hook_left(store):
    model = Net(nn.GRU(E, H, batch_first=True))
    with pytest.raises(ZeroDivisionError):
        with watch(model, torch.optim.SGD(model.parameters(), 0.1), store=store) as rec:
            model(torch.randint(0, V, (B, T)))  # step 0 is a probe step: its hooks fire here
            assert hooks(model) == 1
            raise ZeroDivisionError("mid-step")
    assert hooks(model) == 0
    info = store.run(rec.run_id)
    assert info.status == "failed" and "ZeroDivisionError" in info.message
    assert "Traceback" in next(e for e in store.events(rec.run_id) if e.kind == "error").data["traceback"]


@pytest.mark.parametrize("rnn,out,gap,measured,missing", [
    (nn.LSTM(E, H, batch_first=True, bidirectional=True), 2 * H, "reach/rnns.0",
     ["spectrum/radius/l0/i", "spectrum/radius/l1/i", "hidden/saturation/l1"], ["reach/sum/l0"]),
    (nn.LSTM(E, H, batch_first=True, proj_size=3, num_layers=2), 3, "spectrum/rnns.0",
     ["reach/last/l0", "reach/last/l1", "hidden/saturation/l0"], ["spectrum/radius/l0/i"]),
    (nn.GRU(E, H, batch_first=True, num_layers=2, dropout=0.5), H, "reach/rnns.0",
     ["spectrum/radius/l1/z", "hidden/saturation/l1"], ["reach/sum/l1", "hidden/saturation/l0"]),
])
def test_what_a_model_kind_cannot_give_is_recorded_with_why(store, rnn, out, gap, measured, missing):
    model = Net(rnn, out=out)
    with watch(model, torch.optim.SGD(model.parameters(), 0.1), store=store, probe_budget=1.0) as rec:
        loop(model, rec, 1)
    store.flush()
    info, names = store.run(rec.run_id), set(store.series_names(rec.run_id))
    assert {"output", gap} <= set(info.summary["unmeasured"])
    assert set(measured) <= names and not set(missing) & names
    notes = [e for e in store.events(rec.run_id) if e.kind == "diagnosis"]
    assert {e.data["rule"] for e in notes} == {f"not-measured/{k}" for k in info.summary["unmeasured"]}
    assert all(e.data["explanation"] and e.data["fix"] == {} for e in notes)


def test_chained_modules_record_the_summed_reach_of_the_first_and_say_why_not_the_last(store):
    model = Net(nn.RNN(E, H, batch_first=True), nn.LSTM(H, H, batch_first=True))
    with watch(model, torch.optim.SGD(model.parameters(), 0.1), store=store) as rec:
        loop(model, rec, 1)
    store.flush()
    names = set(store.series_names(rec.run_id))
    assert {"reach/sum/l0", "reach/last/l1", "reach/sum/l1", "reach/cell/l1"} <= names
    assert "reach/last/l0" not in names
    assert "another recurrent module runs after it" in store.run(rec.run_id).summary["unmeasured"]["reach/last/rnns.0"]


def test_a_module_called_once_per_time_step_gets_no_reach_and_says_why(store):
    class Stepper(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.head = nn.GRU(E, H, batch_first=True), nn.Linear(H, V)

        def forward(self, z):
            h, outs = None, []
            for t in range(z.shape[1]):  # one call per time step, as a decoder does
                y, h = self.rnn(z[:, t : t + 1], h)
                outs.append(self.head(y))
            return torch.cat(outs, dim=1)

    model = Stepper()
    with watch(model, torch.optim.SGD(model.parameters(), 0.1), store=store) as rec:
        z = torch.randn(B, T, E)
        loss = model(z).pow(2).mean()
        loss.backward()
        rec.after_backward(loss)
        rec.after_step()
    store.flush()
    assert "called 5 times in one step" in store.run(rec.run_id).summary["unmeasured"]["reach/rnn"]
    assert "hidden/saturation/l0" in store.series_names(rec.run_id)  # over every call's states


def test_a_module_whose_call_cannot_be_read_is_said_and_the_loop_goes_on(store):
    class OutputOnly(nn.LSTM):  # a subclass that drops the state from its result
        def forward(self, x, hx=None):
            return super().forward(x, hx)[0], None, None

    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.rnn, self.head = nn.Embedding(V, E), OutputOnly(E, H, batch_first=True), nn.Linear(H, V)

        def forward(self, x):
            return self.head(self.rnn(self.emb(x))[0])

    model = Wrapper()
    with watch(model, torch.optim.SGD(model.parameters(), 0.1), store=store) as rec:
        loop(model, rec, 2)
    store.flush()
    info = store.run(rec.run_id)
    assert info.status == "done" and "its forward returned a tuple" in info.summary["unmeasured"]["capture/rnn"]
    assert "spectrum/radius/l0/i" in store.series_names(rec.run_id)  # from the weights, as ever


def test_a_model_without_recurrent_modules_still_records_loss_and_gradients(store):
    model = nn.Sequential(nn.Embedding(V, E), nn.Linear(E, V))
    with watch(model, torch.optim.SGD(model.parameters(), 0.1), store=store) as rec:
        loop(model, rec, 2)
    store.flush()
    names = set(store.series_names(rec.run_id))
    assert {"train/loss", "grad/norm", "grad_hist/0.weight"} <= names and not any(n.startswith("spectrum") for n in names)
    assert "recurrent" in store.run(rec.run_id).summary["unmeasured"]


def test_bad_input_gets_a_clear_error(store):
    model = Net(nn.RNN(E, H, batch_first=True))
    opt = torch.optim.SGD(model.parameters(), 0.1)
    with pytest.raises(TypeError, match="model=.*torch.nn.Module"):
        watch("my model", opt, store=store)
    with pytest.raises(TypeError, match="optimizer=.*param_groups"):
        watch(model, model.parameters(), store=store)
    with pytest.raises(ValueError, match="loss_kind='nll'.*ce, mse, other"):
        watch(model, opt, store=store, loss_kind="nll")
    with pytest.raises(ValueError, match="probe_budget=0.*0, 1"):
        watch(model, opt, store=store, probe_budget=0)
    rec = watch(model, opt, store=store)
    with pytest.raises(RuntimeError, match="after_step.*without after_backward"):
        rec.after_step()
    with pytest.raises(ValueError, match="found no gradients.*after loss.backward"):
        rec.after_backward(torch.tensor(1.0))
    rec.close()
    with pytest.raises(RuntimeError, match="closed.*watch"):
        rec.after_backward(torch.tensor(1.0))


def test_a_nan_loss_ends_the_run_diverged_with_earlier_records_kept(store):
    model = Net(nn.RNN(E, H, batch_first=True))
    with watch(model, torch.optim.SGD(model.parameters(), 0.1), store=store) as rec:
        loop(model, rec, 2)
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        rec.after_backward(torch.tensor(float("nan")))
        rec.after_step()
    store.flush()
    steps, losses = store.scalars(rec.run_id, "train/loss")
    assert steps.tolist() == [0, 1, 2] and losses[2] != losses[2]
    assert store.run(rec.run_id).status == "diverged"
    assert [e.step for e in store.events(rec.run_id) if e.kind == "diverged"] == [2]


# ---- pause and stop from the dashboard (another RunStore on the same file) ---------------------


def wait_for(fn, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_pause_resume_and_stop_requested_through_the_store(tmp_path):
    path = tmp_path / "runs.sqlite"
    model = Net(nn.LSTM(E, H, batch_first=True))
    rec = watch(model, torch.optim.SGD(model.parameters(), 0.1), store=RunStore(path), probe_every=0)
    after_the_block = threading.Event()

    def train():
        with rec:
            loop(model, rec, 10**6)
        after_the_block.set()  # a stop ends the `with` block quietly: code after it runs

    worker = threading.Thread(target=train, daemon=True)
    worker.start()
    dashboard = RunStore(path)
    try:
        wait_for(lambda: dashboard.run(rec.run_id).step > 3)
        dashboard.request(rec.run_id, "pause")
        wait_for(lambda: dashboard.run(rec.run_id).status == "paused")
        step = dashboard.run(rec.run_id).step
        time.sleep(0.5)
        assert dashboard.run(rec.run_id).step == step  # held in after_step
        dashboard.request(rec.run_id, "resume")
        wait_for(lambda: dashboard.run(rec.run_id).step > step + 3)
        dashboard.request(rec.run_id, "stop")
        worker.join(20)
        assert after_the_block.is_set()
        info = dashboard.run(rec.run_id)
        assert info.status == "stopped" and info.message == "stopped from the dashboard"
        kinds = [e.kind for e in dashboard.events(rec.run_id)]
        assert kinds.index("paused") < kinds.index("resumed") < kinds.index("stopped")
    finally:
        dashboard.close()


def test_stop_outside_a_with_block_raises_stop_requested(store):
    model = Net(nn.RNN(E, H, batch_first=True))
    rec = watch(model, torch.optim.SGD(model.parameters(), 0.1), store=store, probe_every=0)
    store.request(rec.run_id, "stop")
    rec.remote._next_poll = 0.0  # read the request at this step, not a second from now
    with pytest.raises(StopRequested):
        loop(model, rec, 3)
    assert store.run(rec.run_id).status == "stopped" and hooks(model) == 0


def test_requests_table_is_added_to_an_existing_store_and_goes_with_its_run(tmp_path):
    path = tmp_path / "old.sqlite"
    RunStore(path).close()
    with sqlite3.connect(path) as con:
        con.execute("DROP TABLE requests")  # a store file written before the table existed
    store = RunStore(path)
    run_id = store.create_run({}, status="running")
    assert store.pending_request(run_id) is None
    store.request(run_id, "pause")
    store.request(run_id, "resume")
    assert store.pending_request(run_id) == "resume"
    with pytest.raises(ValueError, match="'halt'.*pause, resume, stop"):
        store.request(run_id, "halt")
    store.delete_run(run_id)
    store.close()
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 0


# ---- a script that ends without close() ---------------------------------------------------------

SCRIPT = """
import sys, torch
from torch import nn
from torch.nn.modules import module as module_hooks
from engine import watch
model = nn.Sequential(nn.Embedding(5, 4), nn.RNN(4, 4, batch_first=True))
opt = torch.optim.SGD(model.parameters(), 0.1)
rec = watch(model, opt, name=sys.argv[1])
for s in range(3):
    loss = model(torch.randint(0, 5, (2, 4)))[0].pow(2).mean()
    loss.backward(); rec.after_backward(loss); opt.step(); rec.after_step()
if sys.argv[1] == "crash":
    raise KeyError("boom")
"""


@pytest.mark.slow
def test_a_script_that_ends_without_close_finishes_its_run(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RNNLAB_STORE": str(tmp_path / "runs.sqlite")}
    for name in ("ok", "crash"):
        subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT), name], env=env, cwd=tmp_path,
                       capture_output=True, timeout=120)
    with RunStore(tmp_path / "runs.sqlite") as store:
        runs = {r.label: r for r in store.runs()}
    assert (runs["ok"].status, runs["ok"].step) == ("done", 3)
    assert runs["ok"].message == "the script ended without rec.close()"
    assert runs["crash"].status == "failed" and "KeyError" in runs["crash"].message
