"""The command line: train, list, show, export, rename, short ids, and clear errors for bad settings."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd

from engine.__main__ import main
from engine.store import RunStore

TINY = ["--set", "cell=gru", "--set", "hidden_size=16", "--set", "seq_len=16", "--set", "batch_size=4",
        "--set", "eval_every=10", "--quiet"]


def test_train_then_list_show_and_export(tmp_path, capsys):
    assert main(["train", *TINY, "--steps", "20", "--label", "tiny"]) == 0
    run_id = capsys.readouterr().out.strip().splitlines()[-1]
    info = RunStore().run(run_id)
    assert info.status == "done" and info.step == 20 and info.label == "tiny"
    assert info.config["cell"] == "gru"

    assert main(["runs"]) == 0
    listing = capsys.readouterr().out
    assert run_id in listing and "cell=gru" in listing

    assert main(["show", run_id]) == 0
    assert "status done" in capsys.readouterr().out

    for fmt in ("csv", "parquet"):
        out = tmp_path / f"run.{fmt}"
        assert main(["export", run_id, "--format", fmt, "--out", str(out)]) == 0
        table = pd.read_csv(out, comment="#") if fmt == "csv" else pd.read_parquet(out)
        losses = table[table["name"] == "train/loss"].sort_values("step")
        stored = RunStore().scalars(run_id, "train/loss")[1]
        assert list(losses["value"].round(9)) == list(stored.round(9))


def test_bad_settings_name_the_field(capsys):
    assert main(["train", "--set", "lr=fast"]) == 2
    assert "lr" in capsys.readouterr().err
    assert main(["train", "--set", "hidden=12"]) == 2
    assert "hidden" in capsys.readouterr().err
    assert main(["train", "--set", "lr"]) == 2
    assert "FIELD=VALUE" in capsys.readouterr().err
    assert RunStore().runs() == []  # nothing was started


def test_unknown_run_is_a_clear_error(capsys):
    assert main(["show", "r-nope"]) == 2
    assert "r-nope" in capsys.readouterr().err


def test_diverging_run_exits_nonzero_and_keeps_history(capsys):
    code = main(["train", "--quiet", "--steps", "50", "--set", "cell=rnn_relu", "--set", "optimizer=sgd",
                 "--set", "lr=1000", "--set", "clip=none", "--set", "hidden_size=16", "--set", "seq_len=16"])
    assert code == 1
    run = RunStore().runs()[0]
    assert run.status == "diverged" and len(RunStore().scalars(run.id, "train/loss")[0]) >= 1


def test_short_ids_name_show_export_and_rename_a_run(tmp_path, capsys):
    assert main(["train", *TINY, "--steps", "12", "--set", "lr=0.01"]) == 0
    run_id = capsys.readouterr().out.strip().splitlines()[-1]
    store = RunStore()
    # the settings that differ from the defaults, in declaration order; how it is watched (steps, eval_every) left out
    assert store.run(run_id).label == "gru 16 · seq_len 16 · batch_size 4 · lr 0.01"
    short = run_id[-4:]  # what the dashboard shows beside a name
    assert main(["show", short]) == 0
    assert f"run {run_id}" in capsys.readouterr().out
    assert main(["rename", short, "gru, small lr"]) == 0
    assert store.run(run_id).label == "gru, small lr"
    out = tmp_path / "wide.csv"
    assert main(["export", short, "--wide", "--out", str(out)]) == 0
    wide = pd.read_csv(out, comment="#")
    # steps 0..11 trained; the last evaluation, after update 12, is recorded at step 12
    assert list(wide["step"]) == list(range(13)) and set(wide["run"]) == {run_id}
    assert wide["val/loss"].notna().iloc[-1] and wide["train/loss"].isna().iloc[-1]
    trained = wide.dropna(subset=["train/loss"])
    assert list(trained["train/loss"].round(9)) == list(store.scalars(run_id, "train/loss")[1].round(9))
    assert main(["rename", short, "  "]) == 2
    assert "label:" in capsys.readouterr().err


def test_an_ambiguous_short_id_is_refused_naming_the_candidates(capsys):
    store = RunStore()
    a, b = store.create_run({}), store.create_run({})
    with sqlite3.connect(store.path) as con:
        con.execute("UPDATE runs SET id = 'r-20260101-ab12' WHERE id = ?", (a,))
        con.execute("UPDATE runs SET id = 'r-20260102-ab12' WHERE id = ?", (b,))
    assert main(["show", "ab12"]) == 2
    err = capsys.readouterr().err
    assert "matches 2 runs" in err and "r-20260101-ab12" in err and "r-20260102-ab12" in err
    assert main(["show", "1-ab12"]) == 0 and "run r-20260101-ab12" in capsys.readouterr().out


def test_show_all_lists_every_event(capsys):
    store = RunStore()
    run_id = store.create_run({})
    store.add_event(run_id, 1, "lr_change", "lr set to 0.01", {"lr": 0.01})
    for step in range(2, 40):
        store.add_event(run_id, step, "eval", f"validation loss {5 - step / 10:.4f}")
    store.add_event(run_id, 40, "clip_change", "clipping set to norm 5", {"mode": "norm", "value": 5.0})
    for step in range(41, 61):
        store.add_event(run_id, step, "diagnosis", f"rule {step}")
    store.flush()
    assert main(["show", run_id]) == 0
    recent = capsys.readouterr().out
    assert "lr set to 0.01" not in recent and "rule 60" in recent and "--all lists every one" in recent
    assert main(["show", run_id, "--all"]) == 0
    every = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  step")]
    assert len(every) == 60 and "lr set to 0.01" in every[0] and "clipping set to norm 5" in every[39]


def test_runs_into_a_closed_pipe_ends_without_a_traceback(tmp_path):
    """`python -m engine runs | head -1`: the reader goes away before the listing is written."""
    store = RunStore()
    for _ in range(3):
        store.create_run({})
    store.close()
    read, write = os.pipe()
    os.close(read)  # every write now fails with EPIPE, as after `head` has exited
    proc = subprocess.run([sys.executable, "-m", "engine", "runs"], stdout=write, stderr=subprocess.PIPE,
                          cwd=Path(__file__).resolve().parents[1], env=os.environ, timeout=120)
    os.close(write)
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr and b"Error" not in proc.stderr, proc.stderr
