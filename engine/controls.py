"""RunControls: the thread-safe mailbox between a running trainer and the outside.

The dashboard and the CLI never touch a live model. They post requests here (stop, pause,
a new lr or clipping, a snapshot for a fork) and the worker applies them between two
steps, so every change lands at a well-defined step and is recorded as an event.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass, field


@dataclass
class RunControls:
    """Requests waiting for the trainer's next step boundary."""

    stop: threading.Event = field(default_factory=threading.Event)
    pause: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _lr: float | None = None
    _clip: tuple[str, float] | None = None
    _snapshots: list[Future] = field(default_factory=list)

    def set_lr(self, lr: float) -> None:
        with self._lock:
            self._lr = float(lr)

    def set_clip(self, mode: str, value: float) -> None:
        with self._lock:
            self._clip = (mode, float(value))

    def request_snapshot(self) -> Future:
        """A future the worker fulfils with a copy of the run's state at its next step."""
        future: Future = Future()
        with self._lock:
            self._snapshots.append(future)
        return future

    def pending(self) -> tuple[float | None, tuple[str, float] | None]:
        """The lr and clipping posted and not yet applied (None where nothing waits), left in place."""
        with self._lock:
            return self._lr, self._clip

    def take(self) -> tuple[float | None, tuple[str, float] | None, list[Future]]:
        """Pending lr, clipping and snapshot requests, clearing them."""
        with self._lock:
            taken = (self._lr, self._clip, self._snapshots)
            self._lr, self._clip, self._snapshots = None, None, []
        return taken
