"""The dashboard's read cache (app/series.py) against the store it reads: same data, bounded size."""

import numpy as np

from app import series
from app.series import SeriesCache
from engine.store import RunStore


def write(store, run_id, lo, hi):
    for s in range(lo, hi):
        store.add_scalars(run_id, s, {"train/loss": np.sin(s / 50) + (10.0 if s == 1234 else 0.0)})
        if s % 10 == 0:
            store.add_array(run_id, s, "grad_hist/w", np.full(4, s))
        if s % 500 == 0:
            store.add_event(run_id, s, "epoch", f"epoch at {s}")
    store.set_step(run_id, hi)
    store.flush()


def test_incremental_reads_match_the_store_and_stay_small(tmp_path):
    with RunStore(tmp_path / "runs.sqlite") as store:
        run_id = store.create_run({"cell": "lstm"}, status="running")
        cache = SeriesCache(store)
        seen = 0
        for hi in range(200, 5001, 200):  # a run growing between refreshes
            write(store, run_id, seen, hi)
            seen = hi
            info = store.run(run_id)
            x, y = cache.scalar(info, "train/loss")
            assert len(x) <= series.BODY_POINTS + series.TAIL_POINTS + 8
            assert x[0] == 0 and x[-1] == hi - 1 and np.all(np.diff(x) > 0)
            full_x, full_y = store.scalars(run_id, "train/loss")
            assert np.allclose(y, full_y[np.searchsorted(full_x, x)])  # every point is a stored point
            if hi > 1234:
                assert y.max() > 9  # the spike (+10 at step 1234) survives every downsampling
            steps, arrays = cache.arrays(info, "grad_hist/w", 50)
            assert steps[-1] == hi - 10 and len(steps) <= 100 and arrays[-1][0] == hi - 10
            events = cache.events(info)
            assert [e.step for e in events] == list(range(0, hi, 500))


def test_unchanged_run_is_not_read_again(tmp_path, monkeypatch):
    with RunStore(tmp_path / "runs.sqlite") as store:
        run_id = store.create_run({"cell": "lstm"}, status="done")
        write(store, run_id, 0, 300)
        cache = SeriesCache(store)
        info = store.run(run_id)
        first = cache.scalar(info, "train/loss")
        monkeypatch.setattr(store, "scalars", lambda *a, **k: (_ for _ in ()).throw(AssertionError("read again")))
        again = cache.scalar(store.run(run_id), "train/loss")
        assert again[0] is first[0]
