"""Helpers for the sweep and Ray tests: tiny runs, a local Ray, and a run's records as plain data.

`records(store, run_id)` is the oracle the Ray tests compare against: every scalar series
(but wall-clock times), every array, event and text sample, and how the run ended, as plain
Python values, so two runs of one config can be compared exactly wherever they trained.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from engine.config import RunConfig

# one thread, as the JobManager and every Ray worker set: on shared cores torch's default threads
# spin against each other (measured: a 30-step tiny run took 34 s with 2 threads, 1 s with one)
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
# a GRU that trains 30 steps in well under a second, evaluating every 10
TINY = RunConfig(cell="gru", hidden_size=12, embed_dim=8, seq_len=16, batch_size=8, max_steps=30, eval_every=10,
                 eval_batches=1, probe_every=10, probe_budget=1.0, sample_every=0)
TIMED = ("time/",)  # wall-clock series: they differ between any two runs


def records(store, run_id: str) -> dict:
    """Everything a run recorded, except wall-clock times, as comparable plain data."""
    info = store.run(run_id)
    scalars = {}
    for name in store.series_names(run_id, "scalar"):
        if not name.startswith(TIMED):
            steps, values = store.scalars(run_id, name)
            scalars[name] = (steps.tolist(), np.nan_to_num(values, nan=-1.0).tolist())
    arrays = {}
    for name in store.series_names(run_id, "array"):
        steps, items = store.arrays(run_id, name)
        arrays[name] = (steps.tolist(), [a.tolist() for a in items])
    events = [(e.step, e.kind, e.message, e.data) for e in store.events(run_id)]
    return {"status": info.status, "step": info.step, "message": info.message, "final": info.summary.get("final"),
            "scalars": scalars, "arrays": arrays, "events": events, "texts": store.texts(run_id)}


def store_openers(path: Path) -> set[int]:
    """Pids of this machine's processes that hold the store file (or its WAL) open right now."""
    names = {str(path), f"{path}-wal", f"{path}-shm"}
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in names for fd in (proc / "fd").iterdir()):
                pids.add(int(proc.name))
        except OSError:  # gone, or not ours to read
            continue
    return pids


def fill_sweep(store, group: str, grid: dict[str, list], seeds: list[int], outcome) -> list[str]:
    """Store a sweep's runs as if it had run: `outcome(cfg) -> (status, val_ppl or None)` says how each ended.

    The runs carry what the Sweep page reads (config, status, summary: final values and baselines)
    and no series: a page test needs no training.
    """
    from engine.distributed.grid import expand

    ids = []
    for label, cfg in expand(TINY, grid, seeds):
        status, ppl = outcome(cfg)
        run_id = store.create_run(cfg.to_dict(), label=label, group_id=group)
        final = {} if ppl is None else {"val/ppl": ppl, "val/loss": float(np.log(ppl))}
        store.set_summary(run_id, {"final": final, "baselines": {"uniform_loss": float(np.log(100)), "uniform_ppl": 100},
                                   "loss_kind": "ce"})
        message = "stopped by the scheduler at step 10: ASHA" if status == "stopped" else None
        store.set_status(run_id, status, message)
        ids.append(run_id)
    return ids
