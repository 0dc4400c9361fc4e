"""The command line: train, list, show, export, and clear errors for bad settings."""

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
        table = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
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
