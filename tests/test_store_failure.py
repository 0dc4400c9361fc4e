"""A store that fails stops the run and says so: nothing is reported trained that is not stored,
and a corrupt or unwritable store file gets a message that names it and says what to do."""

import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.config import RunConfig
from engine.store import RunStore, StoreError
from engine.store.errors import explain
from engine.store.writer import Writer
from engine.trainer import LOSS, Trainer, run_to_end

ROOT = Path(__file__).resolve().parents[1]
TINY = RunConfig(cell="gru", hidden_size=8, embed_dim=4, seq_len=12, batch_size=4, max_steps=5000, eval_every=1000,
                 eval_batches=1, probe_every=0, sample_every=0)
FAIL_FROM = 40  # the first step whose records the "disk" refuses


def test_a_failed_commit_ends_the_run_failed_with_every_committed_step_readable(tmp_path, monkeypatch):
    stage = Writer._stage_scalars

    def full_disk(self, con, pending, num, step, pairs):
        if step >= FAIL_FROM:
            raise sqlite3.OperationalError("database or disk is full")
        stage(self, con, pending, num, step, pairs)

    monkeypatch.setattr(Writer, "_stage_scalars", full_disk)
    store = RunStore(tmp_path / "runs.sqlite", commit_every=0.05)
    run_id = store.create_run(TINY.to_dict())
    trainer = Trainer(TINY, store, run_id)
    assert run_to_end(trainer) == "failed"
    info = store.run(run_id)
    assert info.status == "failed" and str(store.path) in info.message and "Free disk space" in info.message
    assert trainer.message == info.message
    steps, _ = store.scalars(run_id, LOSS.name)
    # every step before the reported one is there, none after: the failed batch is rolled back whole
    assert info.step <= FAIL_FROM and np.array_equal(steps, np.arange(info.step))
    assert f"Steps before {info.step} are stored" in info.message
    assert trainer.step_index < TINY.max_steps  # the run stopped; it did not train on without its records
    with pytest.raises(StoreError):
        store.add_scalars(run_id, 9999, {LOSS.name: 1.0})  # refused, not dropped with a log line
    store.close()


def test_a_corrupt_store_file_is_named_and_kept(tmp_path):
    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"this is not a database\n" * 200)
    with pytest.raises(StoreError) as err:
        RunStore(path)
    assert str(path) in str(err.value) and "move it aside" in str(err.value)
    assert path.read_bytes().startswith(b"this is not a database")  # nothing was overwritten


def test_the_cli_says_which_store_is_broken_without_a_traceback(tmp_path):
    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"garbage" * 1000)
    out = subprocess.run([sys.executable, "-m", "engine", "runs"], cwd=ROOT, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "RNNLAB_STORE": str(path), "HOME": str(tmp_path)})
    assert out.returncode == 2
    assert str(path) in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("message,remedy", [
    ("attempt to write a readonly database", "writable"),
    ("database or disk is full", "Free disk space"),
    ("file is not a database", "move it aside"),
])
def test_each_sqlite_failure_gets_its_remedy(message, remedy):
    err = explain("/data/runs.sqlite", sqlite3.OperationalError(message))
    assert "/data/runs.sqlite" in str(err) and remedy in str(err)
