"""RunControls: the thread-safe mailbox between a running trainer and the outside.

The dashboard and the CLI never touch a live model. They post requests here (stop, pause,
a new lr or clipping, a snapshot for a fork, a few steps while paused) and the worker applies
them between two steps, so every change lands at a well-defined step and is recorded as an event.

Stepping while paused: `add_steps(n)` grants n steps; `Trainer.held()` spends one per step
and holds again when none are left, so "Step 10" trains exactly ten batches. Resuming
drops what is left (a run that trains on needs no grant).
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
    _steps: int = 0  # steps granted while paused and not yet taken

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

    def add_steps(self, n: int) -> None:
        """Grant `n` more steps to a paused run (ValueError unless n >= 1)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"steps: {n!r} is not a whole number >= 1; step a paused run by 1 or more batches")
        with self._lock:
            self._steps += n

    def take_step(self) -> bool:
        """Spend one granted step; False when none is left."""
        with self._lock:
            if self._steps <= 0:
                return False
            self._steps -= 1
            return True

    def steps_left(self) -> int:
        """Granted steps not yet taken."""
        with self._lock:
            return self._steps

    def drop_steps(self) -> None:
        """Forget the steps not yet taken (on resume or stop)."""
        with self._lock:
            self._steps = 0
