"""The tasks built in this process, kept for the next run that asks for the same data.

    task = shared_task(cfg)      # make_task(cfg), or the same object built earlier for equal data fields

Tasks are immutable once built (their batches are fresh tensors or read-only views, their
epoch orders come from seed + epoch; tests/test_data_cache.py checks that a trained task is
unchanged), so runs with the same data can share one: every run of a group, every Start of
the default settings, a fork. A text task of the embedded corpus costs about 0.1 s to build
(0.3 s with the corpus read), a large uploaded file seconds. A corpus read from a file is
keyed by its path, size and modification time, so an edited file is read again.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from data import make_task
from data.corpora import DOWNLOADS, MAX_FILE_BYTES
from data.task import Task

MAX_TASKS = 4  # tasks kept, least recently used dropped first
MAX_CACHED_FILE = MAX_FILE_BYTES // 8  # a text file larger than this (64 MiB) is built afresh each time

_lock = threading.Lock()
_tasks: OrderedDict[tuple, Task] = OrderedDict()


def task_key(cfg) -> tuple | None:
    """What make_task(cfg) depends on: the task's own fields (and its corpus file's stamp); None: do not keep it."""
    t = cfg.task
    if t in ("text", "lines"):
        corpus = corpus_key(cfg.corpus)
        if corpus is None:
            return None
        fields = (cfg.seq_len, cfg.seed) if t == "text" else (cfg.seq_len, cfg.variable_length, cfg.seed)
        return (t, corpus, *fields)
    if t in ("adding", "copy"):
        return (t, cfg.seq_len, cfg.seed)
    if t == "next_item":
        return (t, cfg.num_items, cfg.train_sequences, cfg.seed)
    return None  # an unknown task: make_task raises its DataError


def corpus_key(corpus: str) -> tuple | None:
    """A corpus name as it is (pydoc, downloads), a file as (path, size, mtime); None for a missing or large file."""
    if corpus == "pydoc" or corpus in DOWNLOADS:
        return (corpus,)
    try:
        st = os.stat(os.path.expanduser(corpus))
    except OSError:
        return None  # make_task names the problem
    if st.st_size > MAX_CACHED_FILE:
        return None
    return (os.path.realpath(os.path.expanduser(corpus)), st.st_size, st.st_mtime_ns)


def shared_task(cfg) -> Task:
    """The task of cfg, built once per distinct data (raises DataError as make_task does)."""
    key = task_key(cfg)
    if key is None:
        return make_task(cfg)
    with _lock:
        task = _tasks.get(key)
        if task is not None:
            _tasks.move_to_end(key)
            return task
    task = make_task(cfg)  # outside the lock: a slow corpus must not hold up other runs' tasks
    with _lock:
        _tasks[key] = task
        _tasks.move_to_end(key)
        while len(_tasks) > MAX_TASKS:
            _tasks.popitem(last=False)
    return task


def forget_tasks() -> None:
    """Drop every kept task (tests; a process that wants its memory back)."""
    with _lock:
        _tasks.clear()
