"""Owners: which visitor started which run, kept in a JSON file beside the store.

Read by app/ownership.py on a shared server (RNNLAB_MODE=shared). One per dashboard process, in
the Engine (app/resources.py); every session of the process reads and writes the same one.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path


class Owners:
    """Run id -> the visitor who started it, kept in a JSON file beside the store (thread-safe)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # none yet, or unreadable: runs without an owner are read-only
            data = {}
        self._owners: dict[str, str] = data if isinstance(data, dict) else {}

    def owner(self, run_id: str) -> str | None:
        with self._lock:
            return self._owners.get(run_id)

    def claim(self, run_ids, visitor_id: str) -> None:
        """Record `visitor_id` as the owner of these (new) runs."""
        with self._lock:
            self._owners.update({r: visitor_id for r in run_ids})
            self._save()

    def forget(self, run_ids) -> None:
        """Drop deleted runs."""
        with self._lock:
            for r in run_ids:
                self._owners.pop(r, None)
            self._save()

    def _save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".part")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self._owners), encoding="utf-8")
            tmp.replace(self.path)  # whole file or nothing
        except OSError:  # kept in memory for this process; the store's own problems are reported elsewhere
            pass
