"""Checkpoints beside the run store: the weights and optimiser state a fork continues from.

One file per run, `<store folder>/checkpoints/<run_id>.pt`, written when a run ends. A store
object that lives elsewhere than its file (a Ray worker's RemoteStore) saves through its own
`save_checkpoint(run_id, snapshot)`, so the file still lands beside the store.
"""

from __future__ import annotations

from pathlib import Path

import torch


def checkpoint_path(store, run_id: str) -> Path:
    return Path(store.path).parent / "checkpoints" / f"{run_id}.pt"


def save_checkpoint(store, run_id: str, snapshot: dict) -> Path:
    """Write the snapshot atomically (temp file, then rename), so a crash never leaves half a file."""
    remote = getattr(store, "save_checkpoint", None)
    if remote is not None:
        return remote(run_id, snapshot)
    path = checkpoint_path(store, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(snapshot, tmp)
    tmp.replace(path)
    return path


def load_checkpoint(store, run_id: str) -> dict:
    """The run's last checkpoint; FileNotFoundError says which run has none."""
    path = checkpoint_path(store, run_id)
    if not path.exists():
        raise FileNotFoundError(f"run {run_id} has no checkpoint at {path}: only finished or stopped runs can be forked")
    return torch.load(path, map_location="cpu", weights_only=False)
