"""Lockstep: a group's runs stepped side by side on the cores, one round (one step each) at a time.

    lockstep = Lockstep(size=3)
    results = lockstep.round(trainers, step, threads=1)  # step(t) for each, in parallel; returns when all have
    lockstep.close()

A round is a barrier: it returns only when every run of it has taken its step, so the group
still stands at one step between rounds, where pause, resume and Step are decided for all
of them at once (engine/jobs.py). The job's own thread steps the first run and helper threads
the others; each sets its torch intra-op threads (engine/threads.py) before stepping.

Runs step in turn instead (on the job's thread, one after another) when stepping them side by
side would change what they compute: dropout draws its masks from torch's one global generator,
so two runs drawing at once would take each other's numbers in an order that varies; and runs
on a GPU share one device queue, where parallel host threads gain nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from engine.threads import use_threads


def side_by_side(trainers) -> bool:
    """Whether these runs may step in parallel threads and compute exactly what they would in turn."""
    return len(trainers) > 1 and all(t.cfg.dropout == 0 and str(t.device) == "cpu" for t in trainers)


class Lockstep:
    """Steps up to `size` runs at once: the calling thread and size - 1 helper threads."""

    def __init__(self, size: int, name: str = "rnnlab-lockstep"):
        self._pool = ThreadPoolExecutor(max_workers=size - 1, thread_name_prefix=name) if size > 1 else None

    def round(self, trainers: list, step: Callable, threads: int = 1) -> list:
        """step(trainer) for every trainer, each on its own thread with `threads` intra-op threads; their results in order.

        `step` must not raise (the JobManager's catches everything into the run's end).
        """
        if self._pool is None or not side_by_side(trainers):
            use_threads(threads)
            return [step(t) for t in trainers]
        futures = [self._pool.submit(_step_with, step, t, threads) for t in trainers[1:]]
        first = _step_with(step, trainers[0], threads)
        return [first, *(f.result() for f in futures)]  # the barrier: every run has stepped

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def _step_with(step: Callable, trainer, threads: int):
    use_threads(threads)
    return step(trainer)
