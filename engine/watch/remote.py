"""Pause and stop from the dashboard, for a loop the dashboard does not run.

The dashboard (another process) leaves a request in the store (`RunStore.request`); the recorder
reads it in after_step at most once every POLL_SECONDS, one indexed SQLite read, so a fast
loop pays for it about once a second. A pause blocks inside after_step until resume or stop;
a stop ends the run as 'stopped' and raises StopRequested, which `with watch(...)` swallows at
the end of its block (fastai's way: cancellation by a typed exception, not a flag).
"""

from __future__ import annotations

import time

POLL_SECONDS = 1.0  # between two reads of the store's request while training
PAUSED_POLL_SECONDS = 0.25  # while paused: a resume shows within a quarter second


class StopRequested(Exception):
    """The run was stopped from the dashboard; `with watch(...)` ends its block quietly on it."""


class Remote:
    """Reads the run's pending request from the store, rarely; notes pauses as events."""

    def __init__(self, store, run_id: str):
        self.store, self.run_id = store, run_id
        self._next_poll = time.monotonic() + POLL_SECONDS
        self.paused = False

    def poll(self) -> str | None:
        """'pause', 'resume', 'stop' or None; reads the store only once a poll interval has passed."""
        now = time.monotonic()
        if now < self._next_poll:
            return None
        self._next_poll = now + POLL_SECONDS
        return self.store.pending_request(self.run_id)

    def hold(self, step: int) -> str:
        """Block while paused (status 'paused', events 'paused' and 'resumed'); 'resume' or 'stop'."""
        self.store.set_status(self.run_id, "paused")
        self.store.add_event(self.run_id, step, "paused", "paused from the dashboard")
        self.paused = True
        while (action := self.store.pending_request(self.run_id)) == "pause":
            time.sleep(PAUSED_POLL_SECONDS)
        self.paused = False
        if action != "stop":
            self.store.set_status(self.run_id, "running")
            self.store.add_event(self.run_id, step, "resumed", "resumed from the dashboard")
        return action or "resume"
