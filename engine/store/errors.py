"""StoreError: the run store cannot be opened or written; names the file and says what to do."""

from __future__ import annotations


class StoreError(RuntimeError):
    """A store file that is corrupt, read-only or full, or whose commit failed."""

    def __init__(self, path, problem: str, todo: str):
        super().__init__(f"run store {path}: {problem}. {todo}")
        self.path, self.problem, self.todo = str(path), problem, todo


def explain(path, error: Exception) -> StoreError:
    """The StoreError for a sqlite3 error on `path`, with the remedy that fits it."""
    text = str(error)
    if "readonly" in text or "read-only" in text:
        todo = "Make the file and its folder writable, or set RNNLAB_STORE to a writable file."
    elif "disk is full" in text or "no space" in text.lower():
        todo = "Free disk space (the records since the last commit are lost), or set RNNLAB_STORE to a file on another disk."
    elif "not a database" in text or "malformed" in text:
        todo = "It is not a readable RNN Lab store: move it aside (it is kept as it is) and a fresh one is made, or set RNNLAB_STORE to another file."
    else:
        todo = "Check the file and its folder, or set RNNLAB_STORE to another file."
    return StoreError(path, text, todo)
