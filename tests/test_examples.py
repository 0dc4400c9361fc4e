"""examples/: the plain char-LSTM script runs on its own, and the watched one is the same script plus
lines marked `# RNN Lab`, recording a run the store holds step for step.

Run: .venv/bin/pytest tests/test_examples.py
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

from engine.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
PLAIN, WATCHED = ROOT / "examples" / "char_lstm.py", ROOT / "examples" / "char_lstm_watched.py"


def code_lines(path: Path) -> list[str]:
    """The script's lines after its module docstring."""
    text = path.read_text()
    end = ast.parse(text).body[0].end_lineno
    return text.splitlines()[end:]


def test_the_watched_example_is_the_plain_one_plus_marked_lines():
    plain, watched = code_lines(PLAIN), code_lines(WATCHED)
    added = list(watched)
    for line in plain:  # every plain line is there, in order
        added = added[added.index(line) + 1 :] if line in added else None
        assert added is not None, f"missing from the watched example: {line!r}"
    extra = [w for w in watched if w not in plain]
    assert all(w.endswith("# RNN Lab") for w in extra if w.strip()), extra
    assert len([w for w in extra if w.strip()]) == 5  # import, watch(), after_backward, after_step, close
    assert len(plain) <= 50 and len(watched) <= 60


def run(args: list[str], store: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RNNLAB_STORE": str(store), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_the_plain_example_runs_without_rnn_lab(tmp_path):
    done = run([str(PLAIN), "3"], tmp_path / "runs.sqlite")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("step 0  loss 4.")  # ln |V| at the start: |V| about 90 characters
    assert not (tmp_path / "runs.sqlite").exists()


def test_the_watched_example_records_a_few_dozen_steps(tmp_path):
    done = run(["-m", "examples.char_lstm_watched", "30"], tmp_path / "runs.sqlite")
    assert done.returncode == 0, done.stderr
    with RunStore(tmp_path / "runs.sqlite") as store:
        (info,) = store.runs()
        assert (info.label, info.status, info.step) == ("char lstm (example)", "done", 30)
        assert info.config["max_steps"] == 30 and info.summary["source"] == "watch"
        steps, losses = store.scalars(info.id, "train/loss")
        assert steps.tolist() == list(range(30)) and abs(losses[0] - 4.624) < 1e-3  # the printed first loss
        names = set(store.series_names(info.id))
        assert {"grad/norm", "grad/norm_clipped", "lr", "spectrum/eig/l0/f", "reach/last/l0",
                "hidden/saturation/l0", "grad_hist/lstm.weight_hh_l0"} <= names
