"""A training process killed with SIGKILL loses nothing that was committed."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.store import RunStore

ROOT = Path(__file__).resolve().parents[1]


def test_sigkill_keeps_committed_records_and_marks_interrupted(tmp_path):
    env = {**os.environ, "RNNLAB_STORE": str(tmp_path / "runs.sqlite"), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "engine", "train", "--quiet", "--steps", "100000",
           "--set", "cell=rnn_tanh", "--set", "hidden_size=16", "--set", "seq_len=16", "--set", "batch_size=4"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    store = RunStore(tmp_path / "runs.sqlite")
    try:
        deadline = time.monotonic() + 60
        seen = 0
        while time.monotonic() < deadline:
            runs = store.runs()
            if runs and runs[0].status == "running" and len(store.scalars(runs[0].id, "train/loss")[0]) >= 50:
                seen = len(store.scalars(runs[0].id, "train/loss")[0])
                break
            time.sleep(0.2)
        assert seen >= 50, proc.stderr.read1().decode() if proc.poll() is not None else "no progress in 60 s"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    fresh = RunStore(tmp_path / "runs.sqlite")
    run_id = fresh.runs()[0].id
    assert fresh.run(run_id).status == "running"  # nobody has looked yet
    assert run_id in fresh.recover()
    assert fresh.run(run_id).status == "interrupted"
    steps, loss = fresh.scalars(run_id, "train/loss")
    assert len(steps) >= seen and list(steps) == list(range(len(steps)))  # committed, in order, no gaps
