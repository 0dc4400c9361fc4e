"""How far a sweep has got, counted from its runs in the store: "12 of 36 done, 3 stopped early".

The store is the one source of truth, so the command line's progress bar and the dashboard's
Sweep page count the same rows the same way, whichever process or machine trains the runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.store import ACTIVE, RunInfo

EARLY_STOP_PREFIX = "stopped by the scheduler"  # the message of a run the scheduler ended early


def stopped_early(info: RunInfo) -> bool:
    """Whether the sweep's scheduler (ASHA) ended this run before its last step."""
    return info.status == "stopped" and (info.message or "").startswith(EARLY_STOP_PREFIX)


@dataclass(frozen=True)
class SweepProgress:
    """Counts of a sweep's runs by how they stand."""

    total: int
    ended: int  # in a final status, whichever
    stopped_early: int
    diverged: int
    failed: int  # failed or interrupted: something went wrong outside the training itself
    running: int  # running or paused
    queued: int

    @classmethod
    def of(cls, infos: list[RunInfo]) -> SweepProgress:
        status = [i.status for i in infos]
        return cls(
            total=len(infos),
            ended=sum(s not in ACTIVE for s in status),
            stopped_early=sum(stopped_early(i) for i in infos),
            diverged=status.count("diverged"),
            failed=status.count("failed") + status.count("interrupted"),
            running=status.count("running") + status.count("paused"),
            queued=status.count("queued"),
        )

    @property
    def finished(self) -> bool:
        return self.ended == self.total

    def text(self) -> str:
        """'12 of 36 done, 3 stopped early, 1 diverged; 2 running'."""
        parts = [f"{self.ended} of {self.total} done"]
        parts += [f"{n} {what}" for n, what in ((self.stopped_early, "stopped early"), (self.diverged, "diverged"),
                                                (self.failed, "failed")) if n]
        text = ", ".join(parts)
        if self.running:
            text += f"; {self.running} running"
        return text
