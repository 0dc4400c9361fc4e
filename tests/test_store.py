"""RunStore: round trips, min/max downsampling against a NumPy oracle, concurrency, crash recovery.

Run: .venv/bin/pytest tests/test_store.py
"""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.store import RunStore
from engine.store.summary import bucket_width

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path):
    s = RunStore(tmp_path / "runs.sqlite")
    yield s
    s.close()


def oracle(steps, values, since, max_points):
    """Direct NumPy bucket min/max: per bucket `step // W` its min, max and first NaN, plus both ends."""
    keep = steps > since if since is not None else np.ones(len(steps), bool)
    s, v = steps[keep], values[keep]
    if max_points is None or len(s) <= max_points:
        return s, v
    width, _ = bucket_width(s[0], s[-1], max_points)
    b = s // width
    pick = {0, len(s) - 1}
    for idx in np.split(np.arange(len(s)), np.flatnonzero(np.diff(b)) + 1):
        part = v[idx]
        nan = np.isnan(part)
        if nan.any():
            pick.add(idx[nan.argmax()])
        if not nan.all():
            pick.update((idx[np.nanargmin(part)], idx[np.nanargmax(part)]))
    i = np.array(sorted(pick))
    return s[i], v[i]


def spiky_walk(n, seed=0, gaps=False):
    """A random walk with an Inf, a -Inf, a NaN and a run of NaN; steps regular or with gaps."""
    rng = np.random.default_rng(seed)
    steps = np.cumsum(rng.integers(1, 5, n)) if gaps else np.arange(n)
    values = rng.standard_normal(n).cumsum()
    values[n // 3] = np.inf
    values[n // 2] = -np.inf
    values[2 * n // 3] = np.nan
    values[n - 40 : n - 30] = np.nan
    values[n // 5 : n // 5 + 3] = values[n // 5 - 1]  # ties: the earliest step must win
    return steps.astype(np.int64), values


def write(store, run_id, name, steps, values):
    for s, v in zip(steps, values):
        store.add_scalars(run_id, int(s), {name: v})
    store.flush()


def assert_same(got, want):
    assert np.array_equal(got[0], want[0])
    assert got[0].dtype == np.int64 and got[1].dtype == np.float64
    np.testing.assert_array_equal(got[1], want[1])  # NaN equals NaN here


def test_round_trip(store):
    run_id = store.create_run({"cell": "gru", "lr": 1e-3}, label="a", group_id="g1", lesson="l1")
    assert run_id.startswith("r-") and len(run_id) == len("r-20261122-ab12")
    values = {"train/loss": 2.5, "lr": np.float32(0.001), "grad/norm": float("inf"), "bad": float("nan")}
    store.add_scalars(run_id, 0, values)
    store.add_scalars(run_id, 1, {"train/loss": 2.25})
    eig = np.arange(8, dtype=np.float32).reshape(4, 2)
    store.add_array(run_id, 5, "spectrum/eig/l0/h", eig)
    store.add_array(run_id, 6, "spectrum/eig/l0/h", eig * 2)
    store.add_array(run_id, 5, "c", np.array([1 + 2j, 3 - 4j], dtype=np.complex64))
    store.add_array(run_id, 5, "b", np.array([[True, False]]))
    store.add_event(run_id, 3, "eval", "val loss 2.1", {"val/loss": np.float64(2.1), "k": [1, 2]})
    store.add_text(run_id, 4, "the cat")
    store.set_step(run_id, 7)
    store.flush()

    steps, v = store.scalars(run_id, "train/loss")
    assert steps.tolist() == [0, 1] and v.tolist() == [2.5, 2.25]
    assert store.scalars(run_id, "lr")[1][0] == np.float32(0.001)
    assert store.scalars(run_id, "grad/norm")[1][0] == np.inf
    assert np.isnan(store.scalars(run_id, "bad")[1][0])
    assert len(store.scalars(run_id, "no/such")[0]) == 0

    steps, arrays = store.arrays(run_id, "spectrum/eig/l0/h")
    assert steps.tolist() == [5, 6]
    np.testing.assert_array_equal(arrays[1], eig * 2)
    assert arrays[0].dtype == np.float32 and arrays[0].shape == (4, 2)
    assert store.latest_array(run_id, "spectrum/eig/l0/h")[0] == 6
    np.testing.assert_array_equal(store.latest_array(run_id, "c")[1], [1 + 2j, 3 - 4j])
    assert store.latest_array(run_id, "b")[1].dtype == bool
    assert store.latest_array(run_id, "none") is None

    (event,) = store.events(run_id)
    assert (event.step, event.kind, event.message, event.data) == (
        3,
        "eval",
        "val loss 2.1",
        {"val/loss": 2.1, "k": [1, 2]},
    )
    assert store.texts(run_id) == [(4, "the cat")]
    assert store.series_names(run_id) == sorted(["train/loss", "lr", "grad/norm", "bad", "spectrum/eig/l0/h", "c", "b"])
    assert store.series_names(run_id, kind="array") == ["b", "c", "spectrum/eig/l0/h"]

    store.set_status(run_id, "done", "finished")
    store.set_summary(run_id, {"val/loss": 2.0})
    info = store.run(run_id)
    assert (info.status, info.message, info.step, info.summary) == ("done", "finished", 7, {"val/loss": 2.0})
    assert (info.config, info.label, info.group_id, info.lesson) == ({"cell": "gru", "lr": 1e-3}, "a", "g1", "l1")
    assert info.pid == os.getpid()

    second = store.create_run({}, group_id="g1", parent=run_id, fork_step=5)
    assert [r.id for r in store.runs()] == [second, run_id]  # newest first
    assert [r.id for r in store.group_runs("g1")] == [run_id, second]  # creation order
    assert store.run(second).fork_step == 5
    with pytest.raises(ValueError, match="status"):
        store.set_status(run_id, "exploded")


def test_records_wait_for_the_batch(tmp_path):
    """add_scalars only queues: nothing reaches SQLite until the interval passes or flush()."""
    with RunStore(tmp_path / "s.sqlite", commit_every=30) as store:
        run_id = store.create_run({})
        commits = store.stats()["commits"]
        store.add_scalars(run_id, 0, {"x": 1.0})
        assert store.stats()["commits"] == commits and len(store.scalars(run_id, "x")[0]) == 0
        store.flush()
        assert store.scalars(run_id, "x")[1].tolist() == [1.0]
    with RunStore(tmp_path / "t.sqlite", commit_every=0.05) as store:
        run_id = store.create_run({})
        store.add_scalars(run_id, 0, {"x": 1.0})
        deadline = time.time() + 5
        while len(store.scalars(run_id, "x")[0]) == 0 and time.time() < deadline:
            time.sleep(0.01)
        assert len(store.scalars(run_id, "x")[0]) == 1  # committed by the writer alone


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """One store with a regular and a gappy series, each written in two flushed halves."""
    store = RunStore(tmp_path_factory.mktemp("ds") / "runs.sqlite")
    run_id = store.create_run({})
    data = {"walk": spiky_walk(20000), "gappy": spiky_walk(12000, seed=1, gaps=True)}
    yield store, run_id, data
    store.close()


@pytest.mark.parametrize("name", ["walk", "gappy"])
def test_downsample_equals_numpy_oracle(series, name):
    store, run_id, data = series
    steps, values = data[name]
    cut = len(steps) * 2 // 3 + 5  # an odd place: partial buckets at every level
    for upto in (cut, len(steps)):
        done = len(store.scalars(run_id, name)[0])
        write(store, run_id, name, steps[done:upto], values[done:upto])
        s, v = steps[:upto], values[:upto]
        for since in (None, 0, 777, int(s[len(s) // 2])):
            for m in (None, 10, 50, 300, 1000, 5000, 10**6):
                got = store.scalars(run_id, name, since=since, max_points=m)
                assert_same(got, oracle(s, v, since, m))
                if m is not None and since is None and len(s) > m:
                    assert s[np.nanargmin(v)] in got[0] and s[np.nanargmax(v)] in got[0]  # global -Inf and Inf
                    assert m // 8 <= len(got[0]) <= m + np.isnan(got[1]).sum()


def mean_oracle(steps, values, got_steps):
    """Direct NumPy: the mean of the non-NaN values in (previous returned step, this returned step]."""
    out, prev = [], -1
    for s in got_steps:
        part = values[(steps > prev) & (steps <= s)]
        part = part[~np.isnan(part)]
        out.append(part.mean() if len(part) else np.nan)
        prev = s
    return np.array(out)


@pytest.mark.parametrize("name", ["walk", "gappy"])
def test_bucket_means_equal_numpy_means(series, name):
    store, run_id, data = series
    steps, values = data[name]
    if len(store.scalars(run_id, name)[0]) < len(steps):
        write(store, run_id, name, steps, values)  # order-independent: the test above may not have run
    values = np.where(np.isinf(values), 0.0, values)  # Inf makes a bucket's mean Inf: checked below
    ok = RunStore(store.path.parent / "means.sqlite")
    run = ok.create_run({})
    write(ok, run, name, steps, values)
    for m in (50, 300, 1000):
        got_steps, got = ok.scalars(run, name, max_points=m, means=True)
        assert 0 < len(got_steps) <= m + 1 and np.all(np.diff(got_steps) > 0) and got_steps[-1] == steps[-1]
        np.testing.assert_allclose(got, mean_oracle(steps, values, got_steps), rtol=1e-9, atol=1e-9)
    small = ok.scalars(run, name, max_points=10**6, means=True)  # everything fits: the raw points
    assert_same(small, (steps, values))
    ok.close()
    inf_steps, inf_means = store.scalars(run_id, name, max_points=300, means=True)
    hit = np.searchsorted(inf_steps, steps[np.isposinf(data[name][1])][0])
    assert np.isposinf(inf_means[hit])  # a bucket holding +Inf has mean +Inf: a spike is not averaged away


def test_a_version_1_store_is_upgraded_with_its_summaries(tmp_path):
    """A store written before bucket means existed gets the new columns and rebuilt summaries, once."""
    path = tmp_path / "old.sqlite"
    store = RunStore(path)
    run_id = store.create_run({})
    steps, values = np.arange(5000), np.cos(np.arange(5000) / 50.0)
    write(store, run_id, "train/loss", steps, values)
    store.close()
    con = sqlite3.connect(path)  # as version 1 left it: summary rows without sums
    con.execute("ALTER TABLE summary DROP COLUMN valued")
    con.execute("ALTER TABLE summary DROP COLUMN total")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    store = RunStore(path)
    got_steps, got = store.scalars(run_id, "train/loss", max_points=100, means=True)
    assert len(got_steps) <= 101
    np.testing.assert_allclose(got, mean_oracle(steps, values, got_steps))
    assert_same(store.scalars(run_id, "train/loss", max_points=100), oracle(steps, values, None, 100))
    store.close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 2
    con.close()


def test_inf_spike_and_nan_survive(store):
    run_id = store.create_run({})
    v = np.sin(np.arange(30000) / 100.0)
    v[12345], v[23456] = np.inf, np.nan
    write(store, run_id, "loss", np.arange(30000), v)
    steps, values = store.scalars(run_id, "loss", max_points=200)
    assert len(steps) <= 201
    assert values[steps == 12345][0] == np.inf
    assert np.isnan(values[steps == 23456][0])
    assert steps[0] == 0 and steps[-1] == 29999
    finite = np.isfinite(v)
    assert {int(np.argmin(np.where(finite, v, 9))), int(np.argmax(np.where(finite, v, -9)))} <= set(steps.tolist())


def test_sparse_range_returns_every_point(store):
    """A series with few points over a long span comes back whole."""
    run_id = store.create_run({})
    steps = np.arange(0, 100000, 500)
    write(store, run_id, "val/loss", steps, np.linspace(3, 1, len(steps)))
    assert len(store.scalars(run_id, "val/loss", max_points=250)[0]) == 200


def test_since_reads_exactly_the_new_points(store):
    run_id = store.create_run({})
    write(store, run_id, "x", range(100), np.arange(100.0))
    steps, _ = store.scalars(run_id, "x")
    write(store, run_id, "x", range(100, 150), np.arange(100.0, 150.0))
    new_steps, new_values = store.scalars(run_id, "x", since=int(steps[-1]))
    assert new_steps.tolist() == list(range(100, 150)) and new_values.tolist() == list(range(100, 150))
    assert len(store.scalars(run_id, "x", since=149)[0]) == 0
    store.add_array(run_id, 10, "a", np.zeros(2))
    store.add_array(run_id, 20, "a", np.ones(2))
    store.add_event(run_id, 10, "eval", "a")
    store.add_event(run_id, 20, "eval", "b")
    store.add_text(run_id, 10, "a")
    store.add_text(run_id, 20, "b")
    store.flush()
    assert store.arrays(run_id, "a", since=10)[0].tolist() == [20]
    assert [e.message for e in store.events(run_id, since=10)] == ["b"]
    assert store.texts(run_id, since=10) == [(20, "b")]


def test_rewritten_and_resumed_series_stay_exact(tmp_path):
    """A step written again, or a series continued by another store, rebuilds the summary."""
    path = tmp_path / "r.sqlite"
    steps, values = spiky_walk(6000, seed=3)
    with RunStore(path) as first:
        run_id = first.create_run({})
        write(first, run_id, "x", steps[:3000], values[:3000])
    with RunStore(path) as second:
        write(second, run_id, "x", steps[3000:], values[3000:])
        values[1500] = 1e9  # rewrite an old step with a new maximum
        write(second, run_id, "x", [1500], [1e9])
        for m in (40, 300):
            assert_same(second.scalars(run_id, "x", max_points=m), oracle(steps, values, None, m))


def test_arrays_thinned_evenly_keeping_the_newest(store):
    run_id = store.create_run({})
    for step in range(0, 500, 10):
        store.add_array(run_id, step, "h", np.full(3, step, dtype=np.int16))
    store.flush()
    steps, arrays = store.arrays(run_id, "h", max_items=7)
    assert len(steps) == 7 and steps[0] == 0 and steps[-1] == 490
    assert np.ptp(np.diff(steps)) <= 10  # evenly spaced
    assert [a[0] for a in arrays] == steps.tolist()
    assert store.arrays(run_id, "h", max_items=1)[0].tolist() == [490]


def test_concurrent_writer_and_readers(tmp_path):
    store = RunStore(tmp_path / "c.sqlite", commit_every=0.02)
    run_id = store.create_run({}, status="running")
    n, errors, done = 3000, [], threading.Event()

    def train():
        for step in range(n):
            store.add_scalars(run_id, step, {"a": step * 0.5, "b": -step})
            if step % 300 == 0:
                time.sleep(0.01)
        store.flush()
        done.set()

    def watch(max_points):
        try:
            seen = -1
            while not done.is_set():
                steps, values = store.scalars(run_id, "a", since=None if max_points else seen, max_points=max_points)
                assert np.all(np.diff(steps) > 0) and np.array_equal(values, steps * 0.5)
                if not max_points and len(steps):
                    assert steps[0] == seen + 1  # appended reads neither skip nor repeat a step
                    seen = int(steps[-1])
        except Exception as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=train)] + [threading.Thread(target=watch, args=(m,)) for m in (None, 100, 20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[0]
    assert len(store.scalars(run_id, "b")[0]) == n
    store.close()


def _child(code: str, path: Path, **kw) -> subprocess.Popen:
    """A second Python process using RunStore on the same file."""
    script = "import os, signal, sys\nfrom engine.store import RunStore\nstore = RunStore(sys.argv[1])\n" + code
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", script, str(path)], cwd=ROOT, env=env, text=True, **kw)


def test_sigkilled_process_keeps_committed_records_and_is_recovered(store):
    code = """
run_id = store.create_run({"cell": "lstm"}, status="running")
for step in range(200):
    store.add_scalars(run_id, step, {"loss": 1.0 / (step + 1)})
store.add_event(run_id, 199, "eval", "ok")
store.set_step(run_id, 199)
store.flush()
print(run_id, flush=True)
for step in range(200, 230):
    store.add_scalars(run_id, step, {"loss": 0.0})
os.kill(os.getpid(), signal.SIGKILL)
"""
    child = _child(code, store.path, stdout=subprocess.PIPE)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    run_id = out.strip()
    steps, values = store.scalars(run_id, "loss")
    assert steps[:200].tolist() == list(range(200))
    np.testing.assert_array_equal(values[:200], 1.0 / (np.arange(200) + 1))
    assert store.run(run_id).status == "running"
    assert store.recover() == [run_id]
    info = store.run(run_id)
    assert info.status == "interrupted" and "gone" in info.message
    assert [e.kind for e in store.events(run_id)] == ["eval", "interrupted"]
    assert store.recover() == []


def test_live_process_run_is_not_recovered(store):
    code = """
run_id = store.create_run({}, status="running")
store.flush()
print(run_id, flush=True)
sys.stdin.read()  # until the parent closes our stdin
store.add_scalars(run_id, 1, {"x": 1.0})  # no flush: committed at exit by atexit
"""
    child = _child(code, store.path, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    run_id = child.stdout.readline().strip()
    assert store.recover() == []
    assert store.run(run_id).status == "running"
    child.stdin.close()
    assert child.wait(60) == 0
    assert store.scalars(run_id, "x")[1].tolist() == [1.0]
    assert store.recover() == [run_id]  # its process has ended without finishing it


def test_stale_heartbeat_is_recovered(tmp_path):
    path = tmp_path / "h.sqlite"
    with RunStore(path) as owner:
        stale, fresh, done = (owner.create_run({}, status="running") for _ in range(3))
        owner.set_status(done, "done")
    with sqlite3.connect(path) as con:  # pretend another machine ran them
        con.execute("UPDATE runs SET host = 'elsewhere', heartbeat = ? WHERE id = ?", (time.time() - 120, stale))
        con.execute("UPDATE runs SET host = 'elsewhere', heartbeat = ? WHERE id = ?", (time.time(), fresh))
        con.execute("UPDATE runs SET host = 'elsewhere', heartbeat = 0 WHERE id = ?", (done,))
    with RunStore(path) as store:
        assert store.recover() == [stale]
        assert store.run(fresh).status == "running" and store.run(done).status == "done"


def test_export_csv_and_parquet_read_back_equal(store, tmp_path):
    run_id = store.create_run({"cell": "gru", "lr": 0.3}, label="gru · lr 0.3")
    write(store, run_id, "b/loss", range(5), [1.0, np.nan, np.inf, -2.5, 1e-300])
    write(store, run_id, "a/lr", range(3), [0.1, 0.2, 0.3])
    want = pd.DataFrame(
        {
            "run": [run_id] * 8,
            "step": [0, 1, 2, 0, 1, 2, 3, 4],
            "name": ["a/lr"] * 3 + ["b/loss"] * 5,
            "value": [0.1, 0.2, 0.3, 1.0, np.nan, np.inf, -2.5, 1e-300],
        }
    )
    got_csv = pd.read_csv(store.export(run_id, tmp_path / "out" / "run.csv", fmt="csv"), comment="#")
    got_parquet = pd.read_parquet(store.export(run_id, tmp_path / "run.parquet", fmt="parquet"))
    pd.testing.assert_frame_equal(got_csv, want, check_dtype=False)
    pd.testing.assert_frame_equal(got_parquet, want, check_dtype=False)
    assert got_parquet["step"].dtype == np.int64
    with pytest.raises(ValueError, match="unknown export format 'xlsx'"):
        store.export(run_id, tmp_path / "run.xlsx", fmt="xlsx")
    with pytest.raises(ValueError, match="unknown table shape 'tall'"):
        store.export(run_id, tmp_path / "run.csv", shape="tall")


def test_exports_carry_the_run_id_and_settings(store, tmp_path):
    import json

    import pyarrow.parquet as pq

    config = {"cell": "gru", "lr": 0.3, "hidden_size": 64}
    run_id = store.create_run(config, label="gru 64 · lr 0.3")
    write(store, run_id, "train/loss", range(3), [3.0, 2.0, 1.0])
    for shape in ("long", "wide"):
        path = store.export(run_id, tmp_path / f"{shape}.csv", shape=shape)
        meta = {}
        for text in path.read_text().splitlines():
            if text.startswith("# "):
                key, _, value = text[2:].partition(": ")
                meta[key] = value
        assert meta["run"] == run_id and meta["label"] == "gru 64 · lr 0.3" and json.loads(meta["settings"]) == config
        parquet = store.export(run_id, tmp_path / f"{shape}.parquet", fmt="parquet", shape=shape)
        described = json.loads(pq.read_schema(parquet).metadata[b"rnnlab"])
        assert described["run"] == run_id and described["settings"] == config and described["status"] == "queued"
        assert set(pd.read_parquet(parquet)["run"]) == {run_id}


def test_wide_export_is_the_long_table_pivoted(store, tmp_path):
    """One row per step, one column per series, empty where a series has no value at that step."""
    run_id = store.create_run({})
    write(store, run_id, "train/loss", range(6), [6.0, 5.0, np.nan, 3.0, np.inf, 1.0])
    write(store, run_id, "val/loss", [0, 3, 5], [6.5, 3.5, 1.5])
    write(store, run_id, "lr", range(0, 6, 2), [0.1, 0.2, 0.3])
    long = pd.read_csv(store.export(run_id, tmp_path / "long.csv"), comment="#")
    want = long.pivot(index="step", columns="name", values="value").reset_index()  # the oracle: pandas' pivot
    want.columns.name = None
    want.insert(0, "run", run_id)
    for fmt in ("csv", "parquet"):
        path = store.export(run_id, tmp_path / f"wide.{fmt}", fmt=fmt, shape="wide")
        got = pd.read_csv(path, comment="#") if fmt == "csv" else pd.read_parquet(path)
        assert list(got.columns) == ["run", "step", "lr", "train/loss", "val/loss"]
        pd.testing.assert_frame_equal(got, want[got.columns], check_dtype=False)
    assert np.isnan(got.loc[got.step == 1, "val/loss"]).all() and got.loc[got.step == 4, "train/loss"].item() == np.inf


def test_rename_and_short_ids(store):
    a, b = store.create_run({}), store.create_run({})
    assert store.rename(a, "  lstm 128 · lr 0.3 ") == "lstm 128 · lr 0.3"
    assert store.run(a).label == "lstm 128 · lr 0.3" and store.run(b).label is None
    for bad, why in (("   ", "cannot be empty"), ("x" * 81, "at most 80")):
        with pytest.raises(ValueError, match=f"label: .*{why}"):
            store.rename(a, bad)
    assert store.run(a).label == "lstm 128 · lr 0.3"  # a refused name changes nothing
    assert store.resolve(a) == a and store.resolve(a[-4:]) == a and store.resolve(b[-4:]) == b
    with pytest.raises(KeyError, match="no run 'zz%_'"):
        store.resolve("zz%_")  # LIKE's wildcards are taken literally
    with sqlite3.connect(store.path) as con:  # two runs that share their last four characters
        con.execute("UPDATE runs SET id = ? WHERE id = ?", ("r-20260101-beef", a))
        con.execute("UPDATE runs SET id = ? WHERE id = ?", ("r-20260102-beef", b))
    with pytest.raises(ValueError, match="'beef' matches 2 runs: r-20260102-beef, r-20260101-beef"):
        store.resolve("beef")
    assert store.resolve("2-beef") == "r-20260102-beef"


def test_unknown_run_raises_key_error(store):
    with pytest.raises(KeyError, match="no run 'r-nope'"):
        store.run("r-nope")
    with pytest.raises(KeyError):
        store.scalars("r-nope", "x")
    with pytest.raises(KeyError):
        store.add_scalars("r-nope", 0, {"x": 1.0})


def test_delete_removes_every_row(store):
    keep, gone = store.create_run({}), store.create_run({})
    for run_id in (keep, gone):
        write(store, run_id, "x", range(5000), np.arange(5000.0))
        store.add_array(run_id, 1, "a", np.zeros(3))
        store.add_event(run_id, 1, "eval", "e")
        store.add_text(run_id, 1, "t")
    store.flush()
    store.delete_run(gone)
    with pytest.raises(KeyError):
        store.run(gone)
    with sqlite3.connect(store.path) as con:
        for table in ("scalars", "summary", "series", "arrays", "events", "texts"):
            runs = {r[0] for r in con.execute(f"SELECT DISTINCT run FROM {table}")}
            assert len(runs) == 1, table  # only the kept run's rows remain
    assert len(store.scalars(keep, "x")[0]) == 5000 and [r.id for r in store.runs()] == [keep]


def test_default_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_STORE", str(tmp_path / "deep" / "er" / "runs.sqlite"))
    with RunStore() as store:
        assert store.path == tmp_path / "deep" / "er" / "runs.sqlite" and store.path.exists()
        with sqlite3.connect(store.path) as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
