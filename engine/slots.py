"""Slots: how many jobs train at once, and who trains next. Used by the JobManager (engine/jobs.py).

A job holds a slot while it trains. A job whose runs are all paused gives its slot up, so a
paused run never keeps queued work waiting (two paused runs used to leave a third `queued` for
ever). When it is resumed (or stepped) it asks for a slot back and waits for the next free one,
ahead of jobs that have never started: it was there first, and its model is already in memory.

    slots = Slots(capacity=2)
    slots.take(job_id)        # a new job may start: True while no returning job waits for the slot
    slots.release(job_id)     # paused: the slot is free for others
    slots.reclaim(job_id)     # wants to train again: True once it holds a slot, else it waits in line
    slots.withdraw(job_id)    # paused again while waiting: out of the line
    slots.leave(job_id)       # ended: gone from every list
"""

from __future__ import annotations

import threading


class Slots:
    """At most `capacity` jobs hold a slot; paused jobs coming back go before new ones."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._returning: list[str] = []  # paused jobs that want to train again, first come first served

    def take(self, job_id: str) -> bool:
        """A slot for a job that has not started yet; False when none is free for it."""
        with self._lock:
            if len(self._held) + len(self._returning) >= self.capacity:
                return False
            self._held.add(job_id)
            return True

    def holds(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._held

    def release(self, job_id: str) -> None:
        """The job gives its slot up (all its runs are paused)."""
        with self._lock:
            self._held.discard(job_id)

    def reclaim(self, job_id: str) -> bool:
        """A released job wants to train again: True once it holds a slot; else it keeps its place in line."""
        with self._lock:
            if job_id in self._held:
                return True
            if job_id not in self._returning:
                self._returning.append(job_id)
            if self._returning.index(job_id) < self.capacity - len(self._held):
                self._returning.remove(job_id)
                self._held.add(job_id)
                return True
            return False

    def withdraw(self, job_id: str) -> None:
        """A job waiting in line was paused again: it no longer waits."""
        with self._lock:
            if job_id in self._returning:
                self._returning.remove(job_id)

    def leave(self, job_id: str) -> None:
        """The job has ended."""
        with self._lock:
            self._held.discard(job_id)
            if job_id in self._returning:
                self._returning.remove(job_id)

    def waiting(self) -> list[str]:
        """Jobs waiting to come back, in order."""
        with self._lock:
            return list(self._returning)
