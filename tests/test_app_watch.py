"""AppTest: a loop recorded with engine.watch in a second process shows on the dashboard while it
trains, and the dashboard's Pause, Resume and Stop reach it through the store.

Run: .venv/bin/pytest tests/test_app_watch.py
"""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from app_testkit import app, engine, figures, fresh_engine, no_exceptions, texts

from engine import tb_export

__all__ = ["fresh_engine"]

ROOT = Path(__file__).resolve().parents[1]
LOOP = """
import time, torch
from torch import nn
from engine import watch

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.rnn, self.head = nn.Embedding(9, 4), nn.LSTM(4, 8, batch_first=True), nn.Linear(8, 9)
    def forward(self, x):
        return self.head(self.rnn(self.emb(x))[0])

torch.manual_seed(0)
model = Net()
opt = torch.optim.Adam(model.parameters(), 1e-2)
with watch(model, opt, name="my own loop", config={"lr": 1e-2, "max_steps": 5000}, probe_every=5) as rec:
    print(rec.run_id, flush=True)
    for step in range(5000):
        x = torch.randint(0, 9, (4, 12))
        loss = nn.functional.cross_entropy(model(x).reshape(-1, 9), x.reshape(-1))
        opt.zero_grad(); loss.backward()
        rec.after_backward(loss)
        nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
        rec.after_step()
        time.sleep(0.01)
print("after the with block", flush=True)
"""


def wait_for(what, fn, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_loop_watched_in_another_process_shows_live_and_obeys_pause_and_stop():
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(LOOP)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        run_id = proc.stdout.readline().strip()
        store = engine().store
        wait_for("steps", lambda: store.run(run_id).step >= 10)

        at = app({"runs": [run_id]}).run()
        no_exceptions(at)
        assert "my own loop" in texts(at.markdown) and "running · step" in texts(at.markdown)
        assert "your own loop (watch)" in texts(at.caption)
        drawn = {f["layout"]["title"]["text"]: len(f["data"]) for f in figures(at)}
        assert drawn and all(drawn.values()), drawn  # every training chart has data already
        assert "Not measured for this model" in texts(at.markdown)  # the logits note, said plainly

        at.button(key=f"ctl-pause-{run_id}").click().run()
        wait_for("paused", lambda: store.run(run_id).status == "paused")
        paused_at = store.run(run_id).step
        at.run()
        assert "paused" in texts(at.markdown)
        at.button(key=f"ctl-resume-{run_id}").click().run()
        wait_for("resumed", lambda: store.run(run_id).step > paused_at + 3)
        at.run()
        at.button(key=f"ctl-stop-{run_id}").click().run()
        assert proc.wait(timeout=60) == 0
        assert proc.stdout.read().strip() == "after the with block"  # the loop ended its `with` quietly
        info = store.run(run_id)
        assert info.status == "stopped" and info.message == "stopped from the dashboard"
    finally:
        proc.kill()
        proc.wait()


def test_runs_page_offers_the_tensorboard_zip(monkeypatch):
    store = engine().store
    run_id = store.create_run({"lr": 0.1}, label="external", status="running")
    store.set_summary(run_id, {"source": "watch"})
    store.add_scalars(run_id, 0, {"train/loss": 2.0})
    store.set_status(run_id, "done")
    at = app({"runs": [run_id]}).run()
    at.switch_page("screens/runs.py").run()
    no_exceptions(at)
    button = at.get("download_button")
    labels = {b.proto.label for b in button}
    assert {"CSV", "Parquet", "TensorBoard"} <= labels
    (tb,) = [b for b in button if b.proto.label == "TensorBoard"]
    assert not tb.proto.disabled and "tensorboard --logdir" in tb.proto.help

    monkeypatch.setattr(tb_export, "writer_installed", lambda: False)  # a base install, without tensorboardX
    at.run()
    no_exceptions(at)
    (tb,) = [b for b in at.get("download_button") if b.proto.label == "TensorBoard"]
    assert tb.proto.disabled and "pip install -r requirements-tensorboard.txt" in tb.proto.help
