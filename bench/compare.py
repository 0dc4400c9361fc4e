"""A lockstep group of 3 runs against the same 3 runs trained one after another as plain loops.

    python bench/compare.py [--steps 400] [--rounds 3] [--modes side-by-side,in-turn,in-turn-2-threads] [--repo PATH]

The group is the dashboard's Compare: JobManager.submit_group on the dashboard's defaults
(app/controls.py UI_DEFAULT: LSTM 128, its probes, evaluation and samples) with three learning
rates, timed from submit until all three are done. The baseline trains the same three configs
with bench/plain.py's loop (no probes, no store), one after another on one thread, as someone
without the engine would. Rounds alternate group and plain; the figure is the median over rounds
of the aggregate steps/s ratio group / plain (target >= 1.3 on 2 cores: the group may use both).

Modes (this checkout only; --repo measures another checkout's own group stepping):
  side-by-side        the runs of a round step in parallel threads, one intra-op thread each (default)
  in-turn             the runs step one after another on the group's thread, one intra-op thread
  in-turn-2-threads   one after another, each step with two intra-op threads (torch's parallel ops)
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from timing import load, use_checkout  # bench/ is on sys.path when run as a script

ROOT = use_checkout()

import torch  # noqa: E402
from plain import PlainLoop  # noqa: E402

from data import make_task  # noqa: E402
from engine import jobs  # noqa: E402
from engine.store import RunStore  # noqa: E402

LRS = (1e-3, 3e-3, 1e-2)


def dashboard_config():
    from app.controls import UI_DEFAULT  # imports streamlit

    return UI_DEFAULT


@contextmanager
def mode(name: str):
    """Patch this checkout's group stepping into `name` for the duration."""
    if name == "side-by-side":
        yield
        return
    from engine import lockstep

    saved = lockstep.side_by_side, jobs.intra_op_threads
    lockstep.side_by_side = lambda trainers: False
    if name == "in-turn-2-threads":
        jobs.intra_op_threads = lambda *args, **kwargs: 2
    try:
        yield
    finally:
        lockstep.side_by_side, jobs.intra_op_threads = saved


def time_group(cfg, steps: int, folder: Path, i: int) -> float:
    """Seconds from submit to the last of the three runs done."""
    store = RunStore(folder / f"group{i}.sqlite")
    manager = jobs.JobManager(store, max_workers=2)
    try:
        from engine.warmup import warm_up  # the dashboard warms up at its first page, long before a click

        warm_up()
    except ImportError:  # a checkout without a warm-up
        pass
    variants = {f"lr {lr:g}": {"lr": lr} for lr in LRS}
    t0 = time.perf_counter()
    _, runs = manager.submit_group(dataclasses.replace(cfg, max_steps=steps), variants)
    assert manager.wait(runs, timeout=3600)
    seconds = time.perf_counter() - t0
    assert all(store.run(r).status == "done" for r in runs), [store.run(r).message for r in runs]
    manager.shutdown()
    store.close()
    return seconds


def time_plain(cfg, steps: int, task) -> float:
    """Seconds to train the three configs one after another as plain loops."""
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    for lr in LRS:
        loop = PlainLoop(dataclasses.replace(cfg, lr=lr, max_steps=steps), task)
        for _ in range(steps):
            loop.step()
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="steps per run")
    parser.add_argument("--rounds", type=int, default=3, help="group/plain pairs (the median is reported)")
    parser.add_argument("--modes", default="side-by-side", help="comma-separated, see above")
    parser.add_argument("--repo", default=str(ROOT), help="the checkout to measure (default: this one)")
    args = parser.parse_args()
    cfg = dashboard_config()
    task = make_task(cfg)
    print(f"checkout {ROOT}; 3 runs x {args.steps} steps, dashboard defaults, lr {', '.join(map(str, LRS))}; {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        time_plain(cfg, 20, task)  # warm-up: first calls, imports
        for name in args.modes.split(","):
            ratios, group_s, plain_s = [], [], []
            with mode(name):
                for i in range(args.rounds):
                    g = time_group(cfg, args.steps, folder, i)
                    p = time_plain(cfg, args.steps, task)
                    group_s.append(g)
                    plain_s.append(p)
                    ratios.append(p / g)
            n = 3 * args.steps
            print(f"{name:18} aggregate steps/s ratio group / plain {statistics.median(ratios):.2f} (target >= 1.3;"
                  f" rounds {', '.join(f'{r:.2f}' for r in ratios)});  group {n / statistics.median(group_s):.1f}"
                  f" steps/s, plain one after another {n / statistics.median(plain_s):.1f} steps/s;  {load()}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
