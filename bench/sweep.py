"""An 8-run sweep on a local Ray against the same 8 runs on the JobManager alone, side by side.

    python bench/sweep.py [--steps 400] [--cpus 2] [--repeat 1]

The 8 runs (lr x clip_value, a GRU on the text task) train once on the JobManager (one thread
per run, `--cpus` at a time) and once as a sweep on a local Ray with `--cpus` CPUs (one worker
process per run at a time), in turns when --repeat > 1, so a busy machine slows both alike.
Prints each side's wall time and aggregate steps per second, their ratio (target >= 0.9), and
where Ray's overhead goes:
- starting Ray itself (once per `python -m engine sweep`; not in the sweep's wall time),
- the sweep's start-up: Tune, placement groups and worker processes importing torch, until
  the first run trains,
- the steady state: the mean step time inside the runs (`time/step_ms`), threads vs processes,
- the tail: from the last run ending to the sweep returning (workers concluding, Tune's exit).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import RunConfig  # noqa: E402
from engine.distributed.grid import expand, group_id, parse_grid  # noqa: E402
from engine.jobs import JobManager  # noqa: E402
from engine.store import RunStore  # noqa: E402

GRID = ["lr=1e-3,2e-3,3e-3,5e-3", "clip_value=0.5,2"]  # 8 runs


def base_config(steps: int) -> RunConfig:
    # evaluation and probes as a dashboard run has them: the work both sides do is the real one
    return RunConfig(cell="gru", hidden_size=64, seq_len=64, batch_size=32, max_steps=steps, eval_every=100,
                     sample_every=0)


def mean_step_ms(store: RunStore, run_ids: list[str]) -> float:
    """The median over runs of each run's mean step time (its own thread or process)."""
    return statistics.median(float(np.mean(store.scalars(r, "time/step_ms")[1])) for r in run_ids)


def on_job_manager(runs, path: Path, cpus: int) -> dict:
    """Submit the 8 runs one by one (each its own job, `cpus` at a time) and time them to the last."""
    store = RunStore(path)
    jobs = JobManager(store, max_workers=cpus)
    t0 = time.perf_counter()
    ids = [jobs.submit(cfg, label=label) for label, cfg in runs]
    jobs.wait(ids)
    wall = time.perf_counter() - t0
    jobs.shutdown()
    store.flush()
    out = {"wall": wall, "step_ms": mean_step_ms(store, ids), "steps": sum(store.run(r).step for r in ids)}
    store.close()
    return out


def on_ray(runs, path: Path, cpus: int) -> dict:
    """The same runs as one sweep on a local Ray that is already up (its start is timed apart)."""
    from engine.distributed.sweep import Sweep, run_sweep

    first_running, last_ended = [], []

    def watch(progress):
        now = time.perf_counter()
        if progress.running and not first_running:
            first_running.append(now)
        if progress.finished and not last_ended:
            last_ended.append(now)

    t0 = time.perf_counter()
    outcome = run_sweep(Sweep(group_id(), runs), path, records="direct", on_progress=watch)
    wall = time.perf_counter() - t0
    with RunStore(path) as store:
        ids = outcome.run_ids
        out = {"wall": wall, "step_ms": mean_step_ms(store, ids), "steps": sum(store.run(r).step for r in ids),
               "startup": (first_running or [t0])[0] - t0, "tail": t0 + wall - (last_ended or [t0 + wall])[0]}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=400, help="steps of each run")
    p.add_argument("--cpus", type=int, default=os.cpu_count(), help="runs at once on either side")
    p.add_argument("--repeat", type=int, default=1, help="turns of each side (medians are printed)")
    args = p.parse_args()
    torch.set_num_threads(1)
    runs = expand(base_config(args.steps), parse_grid(GRID))
    import ray

    from engine.distributed.runtime import start_local

    t = time.perf_counter()
    ray_temp = start_local(num_cpus=args.cpus)
    ray_start = time.perf_counter() - t
    tmp = Path(tempfile.mkdtemp(prefix="rnnlab-bench-sweep-"))
    results = {"jobs": [], "ray": []}
    try:
        for turn in range(args.repeat):
            results["jobs"].append(on_job_manager(runs, tmp / f"jobs-{turn}.sqlite", args.cpus))
            results["ray"].append(on_ray(runs, tmp / f"ray-{turn}.sqlite", args.cpus))
    finally:
        ray.shutdown()
        shutil.rmtree(ray_temp, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, ray_start, len(runs), args)
    return 0


def report(results: dict, ray_start: float, n: int, args) -> None:
    med = {side: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for side, rs in results.items()}
    jobs, ray = med["jobs"], med["ray"]
    rate = {side: m["steps"] / m["wall"] for side, m in med.items()}
    print(f"{n} runs x {args.steps} steps (GRU, hidden 64, T 64, batch 32), {args.cpus} at a time; "
          f"medians of {args.repeat} turn(s)")
    print(f"  JobManager alone : wall {jobs['wall']:6.1f} s  aggregate {rate['jobs']:6.1f} steps/s  "
          f"step {jobs['step_ms']:5.1f} ms (threads of one process)")
    print(f"  sweep on Ray     : wall {ray['wall']:6.1f} s  aggregate {rate['ray']:6.1f} steps/s  "
          f"step {ray['step_ms']:5.1f} ms (one worker process per run)")
    print(f"  ratio Ray / JobManager: {rate['ray'] / rate['jobs']:.2f}   (target >= 0.9)")
    print("  where Ray's time goes:")
    print(f"    starting Ray            {ray_start:5.1f} s  (once per command; not in the wall above)")
    print(f"    until the first run trains {ray['startup']:5.1f} s  (Tune, placement groups, workers importing torch)")
    print(f"    after the last run ends {ray['tail']:5.1f} s  (workers concluding, Tune returning)")
    print(f"    steady state: step time {ray['step_ms'] / jobs['step_ms']:.2f} x the JobManager's")


if __name__ == "__main__":
    sys.exit(main())
