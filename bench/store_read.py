"""Benchmark RunStore: the cost of writing per training step, and downsampled vs raw reads.

    .venv/bin/python bench/store_read.py [--steps 100000] [--points 1000]

1. Writes `steps` steps of 10 scalars through the buffered API into a temporary store and
   reports the time a training thread spends inside add_scalars/set_step, and the time the
   writer thread spends committing, each per step and as a share of a 10 ms step (100 steps/s).
2. Paced: a CPU-bound fake step of ~10 ms, timed with and without the store writing, so the
   share includes what the writer thread takes from the step (GIL, cores).
3. Reads one series of `steps` steps down to `points` points, repeated, against reading every
   raw row.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import timed  # noqa: E402  (bench/ is on sys.path when run as a script)

from engine.store import RunStore  # noqa: E402

NAMES = ["train/loss", "train/ppl", "lr"]  # what the trainer records every step
NAMES += ["grad/norm", "grad/norm_clipped", "grad/clipped", "epoch", "train/acc"]
STEP_S = 0.010  # a step at 100 steps/s


def write_series(store: RunStore, run_id: str, steps: int) -> float:
    """Write `steps` steps of 10 scalars; return seconds spent inside the store calls."""
    rng = np.random.default_rng(0)
    loss = 5 + rng.standard_normal(steps).cumsum() * 0.01
    loss[steps // 3] = np.inf  # a spike a chart must show
    inside = 0.0
    for step in range(steps):
        x = float(loss[step])
        values = {name: x + i for i, name in enumerate(NAMES)}
        t0 = time.perf_counter()
        store.add_scalars(run_id, step, values)
        store.set_step(run_id, step)
        inside += time.perf_counter() - t0
    return inside


def fake_step(work: np.ndarray, reps: int) -> None:
    """CPU work standing in for forward/backward: small matmuls and Python glue."""
    for _ in range(reps):
        work = np.tanh(work @ work * 0.01)
        _ = [float(v) for v in work[0, :10]]


def paced(store: RunStore | None, run_id: str | None, n: int, reps: int) -> list[float]:
    """Step times (s) of n fake steps, each followed by its 10 scalars when a store is given."""
    work = np.random.default_rng(1).standard_normal((64, 64))
    times = []
    for step in range(n):
        t0 = time.perf_counter()
        fake_step(work, reps)
        if store is not None:
            store.add_scalars(run_id, step, {name: 0.5 * step + i for i, name in enumerate(NAMES)})
            store.set_step(run_id, step)
        times.append(time.perf_counter() - t0)
    return times


def calibrate() -> int:
    """Repetitions of the fake step's inner work that take about STEP_S."""
    work = np.random.default_rng(1).standard_normal((64, 64))
    fake_step(work, 50)  # warm up
    t0 = time.perf_counter()
    fake_step(work, 200)
    return max(1, round(200 * STEP_S / (time.perf_counter() - t0)))




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--points", type=int, default=1000)
    args = ap.parse_args()
    n, m = args.steps, args.points

    with tempfile.TemporaryDirectory() as tmp, RunStore(Path(tmp) / "bench.sqlite") as store:
        run_id = store.create_run({"bench": True}, status="running")
        t0 = time.perf_counter()
        inside = write_series(store, run_id, n)
        store.flush()
        wall = time.perf_counter() - t0
        st = store.stats()
        per_step_us, writer_us = inside / n * 1e6, st["seconds"] / n * 1e6
        print(f"store write {n} steps x {len(NAMES)} scalars: {wall:.1f} s wall, {st['commits']} commits")
        print(
            f"store write, training thread: {per_step_us:.1f} us/step = {per_step_us / (STEP_S * 1e6):.2%} of a 10 ms step (target < 1 %)"
        )
        print(
            f"store write, writer thread:   {writer_us:.1f} us/step = {writer_us / (STEP_S * 1e6):.2%} of a 10 ms step, on its own thread"
        )

        reps = calibrate()
        paced_id = store.create_run({"bench": "paced"}, status="running")
        base, with_store = [], []
        for _ in range(5):  # interleaved blocks so drift in a shared machine hits both alike
            base += paced(None, None, 100, reps)
            with_store += paced(store, paced_id, 100, reps)
        b, w = statistics.median(base), statistics.median(with_store)
        print(
            f"store write, paced: median step {w * 1e3:.2f} ms with the store writing vs {b * 1e3:.2f} ms without"
            f" = {(w - b) / b:+.2%} (noise on a shared machine is about +-1 %)"
        )

        read_ds = timed(lambda: store.scalars(run_id, "train/loss", max_points=m), 30)
        read_raw = timed(lambda: store.scalars(run_id, "train/loss"), 5)
        steps, values = store.scalars(run_id, "train/loss", max_points=m)
        tail = timed(lambda: store.scalars(run_id, "train/loss", since=n - 100), 30)
        print(f"store read {n // 1000}k->{m} points: {read_ds:.1f} ms (target < 50 ms), {len(steps)} points returned")
        print(f"store read {n // 1000}k raw rows: {read_raw:.1f} ms, {read_raw / read_ds:.0f}x the downsampled read")
        print(f"store read last 100 steps (since=): {tail:.2f} ms; Inf spike kept: {bool(np.isinf(values).any())}")


if __name__ == "__main__":
    main()
