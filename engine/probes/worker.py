"""ProbeWorker: one run's split-probe analyses, on a thread beside the training thread.

    worker = ProbeWorker()
    worker.submit(step, [(probe, captured), ...])   # training thread: returns at once
    for step, measured in worker.collect():         # training thread: finished analyses, in step order
        record(step, measured)
    worker.collect(wait=True)                        # ... after waiting for every submitted one
    worker.collect(timed=True)                       # (step, measured, [seconds per submitted item])
    worker.busy()                                    # an analysis is queued or running

The training thread captures (copies weights, keeps references to hidden states, engine/probes/
base.py SplitProbe) and the worker analyses them in the order they were submitted, so each
series' records keep increasing steps (the store's summaries expect that). The thread starts
on the first submit and ends after IDLE_SECONDS without work, so a run that is never concluded
leaves no thread behind for long.

Thread, not process (measured by bench/offload.py, see README): torch's linear algebra releases
the GIL, so the worker computes on the other core while the training thread trains; a process
would pay a torch import (seconds, hundreds of MB) and a pickle of every capture, and could not
take CUDA tensors without a copy to the host on the training thread. The worker uses one intra-op
thread: its analyses are small matrices that more threads do not speed up.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque

from engine.threads import use_threads

log = logging.getLogger(__name__)
IDLE_SECONDS = 5.0  # the thread ends after this long without work; the next submit starts another


class ProbeError(RuntimeError):
    """A split probe's analysis raised on the worker; the message holds its traceback."""


class ProbeWorker:
    """Analyses one run's captures on a background thread, in submission order."""

    def __init__(self, name: str = "rnnlab-probes"):
        self.name = name
        self._cond = threading.Condition()
        self._todo: deque = deque()  # (step, [(probe, captured)]) waiting for the thread
        self._done: deque = deque()  # (step, measured, error, seconds per item) in submission order
        self._pending = 0  # submitted and not yet in _done
        self._thread: threading.Thread | None = None

    def submit(self, step: int, work: list) -> None:
        """Queue [(probe, captured)] taken at `step`; their results come back together from collect()."""
        with self._cond:
            self._todo.append((step, work))
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def busy(self) -> bool:
        """True while a submitted analysis has not finished."""
        with self._cond:
            return self._pending > 0

    def collect(self, wait: bool = False, timeout: float | None = None, timed: bool = False) -> list[tuple]:
        """The finished analyses [(step, measured)] in step order, taken; wait=True: every submitted one.

        timed=True: [(step, measured, seconds)], seconds the time each submitted item's analysis took.

        Raises ProbeError for the first analysis that raised (after the ones before it are returned
        by the next call: nothing is lost in front of it).
        """
        with self._cond:
            if wait:
                self._cond.wait_for(lambda: self._pending == 0, timeout)
            taken = []
            while self._done:
                step, measured, error, seconds = self._done[0]
                if error is not None:
                    if taken:
                        break  # hand over what came before it first
                    self._done.popleft()
                    raise ProbeError(f"probe analysis of step {step} failed:\n{error}")
                taken.append((step, measured, seconds) if timed else (step, measured))
                self._done.popleft()
            return taken

    def _loop(self) -> None:
        use_threads(1)
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: self._todo, IDLE_SECONDS):
                    self._thread = None  # idle: end; submit starts a new thread (both under the lock)
                    return
                step, work = self._todo.popleft()
            measured, error, seconds = analyse(work)
            with self._cond:
                self._done.append((step, measured, error, seconds))
                self._pending -= 1
                self._cond.notify_all()


def analyse(work: list) -> tuple[dict, str | None, list[float]]:
    """Every (probe, captured) of one step -> (their measurements merged, the traceback of a failure or None,
    the seconds each took)."""
    measured: dict = {}
    seconds = []
    try:
        for probe, captured in work:
            t0 = time.perf_counter()
            measured.update(probe.analyse(captured))
            seconds.append(time.perf_counter() - t0)
    except Exception as err:  # handed to the training thread, which fails the run as an inline probe would
        return measured, "".join(traceback.format_exception(err)), seconds
    return measured, None, seconds
