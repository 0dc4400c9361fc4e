"""DataError: a corpus or file that cannot be used, with what to do about it."""

from __future__ import annotations


class DataError(ValueError):
    """Data that cannot be used: names the file or corpus (`source`) and says what to do (`reason`)."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason
