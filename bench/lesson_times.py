"""Seconds to verdict for every lesson at class size: the classroom's promise is at most 60 s.

    python bench/lesson_times.py [--size class] [--seed 0] [--lessons early-spike,packing]

Runs each lesson as the dashboard and the CLI do (one JobManager, the group stepped in one
thread, one torch thread) into a temporary store, and prints per lesson: wall seconds from
submit to the verdict, the process's CPU seconds over the same span (robust to a busy
machine, where wall time is not), whether the verdict showed, and the 1-minute load average
before and after. Run it on a machine as quiet as you can get and report the load with the
figures: on two shared cores a neighbour's work doubles the wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.jobs import JobManager  # noqa: E402
from engine.lessons import LESSONS, SIZES, check_lesson, start_lesson  # noqa: E402
from engine.store import RunStore  # noqa: E402

CLASS_LIMIT_S = 60  # issue 9: every lesson to its verdict within a minute on two idle cores


def time_lesson(lesson_id: str, size: str, seed: int, folder: str) -> dict:
    """One lesson to its verdict in a fresh store; -> wall and CPU seconds, verdict, load."""
    store = RunStore(os.path.join(folder, f"{lesson_id}.sqlite"))
    jobs = JobManager(store, max_workers=1)
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    _, run_ids = start_lesson(lesson_id, jobs, size=size, seed=seed)
    jobs.wait(run_ids)
    verdict = check_lesson(lesson_id, store, run_ids)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    jobs.shutdown()
    store.close()
    return {"wall": wall, "cpu": cpu, "showed": verdict.showed, "load": (load, os.getloadavg()[0])}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=SIZES, default="class")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lessons", default=",".join(LESSONS), help="comma-separated lesson ids")
    args = p.parse_args(argv)
    print(f"{'lesson':22} {'wall s':>7} {'cpu s':>7} {'stored':>7}  showed  load before/after  ({args.size} size, "
          f"seed {args.seed}, {os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as folder:
        for lesson_id in args.lessons.split(","):
            r = time_lesson(lesson_id, args.size, args.seed, folder)
            flag = "" if r["wall"] <= CLASS_LIMIT_S or args.size != "class" else f"  over {CLASS_LIMIT_S} s"
            print(f"{lesson_id:22} {r['wall']:7.1f} {r['cpu']:7.1f} {LESSONS[lesson_id].class_seconds:7.0f}  "
                  f"{'yes' if r['showed'] else 'no':6}  {r['load'][0]:.2f} / {r['load'][1]:.2f}{flag}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
