"""Checkpoints beside the run store: the states a fork continues from.

    <store folder>/checkpoints/<run_id>.pt                 the run's last state, written when it ends
    <store folder>/checkpoints/<run_id>/<step>-<why>.pt    states kept while it trains, pruned as it goes

A state is the Trainer's `snapshot()` dict (weights, optimiser, schedule, step, config). While
a run trains, states are kept for two reasons (`why`):

- `log`: after 16, 32, 64, ... updates (log-spaced, so a fork can go back to any order of
  magnitude of the run's age); only the newest KEEP["log"] are kept.
- `rule`: at the step where a diagnosis whose fix is a fork fired, so the fork starts exactly
  there; only the newest KEEP["rule"] are kept.

The bound is per run: at most KEEP["log"] + KEEP["rule"] files (plus the last state), and
never more than MAX_BYTES_PER_RUN on disk (the oldest go first). Nothing is kept in memory: a
state is copied, written and dropped within the step. Deleting a run deletes its files. A store
without a file of its own (a Ray worker's RemoteStore) keeps no states while training; its last
state goes through the store's own `save_checkpoint(run_id, snapshot)`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import torch

FIRST = 16  # the first log-spaced state: earlier ones are the initial transient, cheap to rerun
KEEP = {"log": 4, "rule": 3}  # newest states kept per run, by why (rule: one per rule whose fix is a fork)
MAX_BYTES_PER_RUN = 64 * 2**20  # a run's kept states together; measured: 1.2 MB for the default LSTM with Adam
_NAME = re.compile(r"(\d+)-(log|rule)\.pt\Z")


def checkpoint_path(store, run_id: str) -> Path:
    """The file of the run's last state."""
    return Path(store.path).parent / "checkpoints" / f"{run_id}.pt"


def snapshot_dir(store, run_id: str) -> Path:
    """The folder of the states kept while the run trained."""
    return Path(store.path).parent / "checkpoints" / run_id


def save_checkpoint(store, run_id: str, snapshot: dict) -> Path:
    """Write the run's last state atomically (temp file, then rename), so a crash never leaves half a file."""
    remote = getattr(store, "save_checkpoint", None)
    if remote is not None:
        return remote(run_id, snapshot)
    return _write(checkpoint_path(store, run_id), snapshot)


def load_checkpoint(store, run_id: str) -> dict:
    """The run's last state; FileNotFoundError says which run has none."""
    path = checkpoint_path(store, run_id)
    if not path.exists():
        raise FileNotFoundError(f"run {run_id} has no checkpoint at {path}: only finished or stopped runs can be forked")
    return _read(path)


def keep_snapshot(store, run_id: str, snapshot: dict, why: str) -> Path | None:
    """Keep a state of a training run (why: 'log' or 'rule'), then prune; None for a store without a file."""
    if why not in KEEP:
        raise ValueError(f"why must be one of {', '.join(KEEP)}, not {why!r}")
    if getattr(store, "path", None) is None:
        return None
    path = _write(snapshot_dir(store, run_id) / f"{int(snapshot['step'])}-{why}.pt", snapshot)
    prune(store, run_id)
    return path


def kept(store, run_id: str) -> dict[int, Path]:
    """{step: file} of every state a fork of the run can start from, the last state included."""
    if getattr(store, "path", None) is None:
        return {}
    found = {}
    folder = snapshot_dir(store, run_id)
    if folder.is_dir():
        for path in folder.iterdir():
            m = _NAME.match(path.name)
            if m:
                found[int(m.group(1))] = path
    last = checkpoint_path(store, run_id)
    if last.exists():
        found[store.run(run_id).step] = last  # a run's step in the store is its last state's step
    return dict(sorted(found.items()))


def load_snapshot(store, run_id: str, step: int) -> dict:
    """The kept state at `step`, or the nearest before it; ValueError lists the steps there are."""
    steps = [s for s in kept(store, run_id) if s <= step]
    if not steps:
        have = ", ".join(f"{s:,}" for s in kept(store, run_id)) or "none"
        raise ValueError(f"run {run_id} has no kept state at or before step {step:,} (kept: {have})")
    return _read(kept(store, run_id)[steps[-1]])


def prune(store, run_id: str) -> None:
    """Drop the oldest states beyond KEEP of each kind, then the oldest while over MAX_BYTES_PER_RUN."""
    folder = snapshot_dir(store, run_id)
    files = sorted((int(m.group(1)), m.group(2), p) for p in folder.iterdir() if (m := _NAME.match(p.name)))
    keep = []
    for why, n in KEEP.items():
        mine = [f for f in files if f[1] == why]
        keep += mine[-n:]
    for f in files:
        if f not in keep:
            f[2].unlink(missing_ok=True)
    keep.sort()
    while len(keep) > 1 and sum(f[2].stat().st_size for f in keep) > MAX_BYTES_PER_RUN:
        keep.pop(0)[2].unlink(missing_ok=True)


def delete_checkpoints(store, run_id: str) -> None:
    """Remove every state kept for the run (with the run itself)."""
    if getattr(store, "path", None) is None:
        return
    checkpoint_path(store, run_id).unlink(missing_ok=True)
    shutil.rmtree(snapshot_dir(store, run_id), ignore_errors=True)


def _write(path: Path, snapshot: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(snapshot, tmp)
    tmp.replace(path)
    return path


def _read(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)
