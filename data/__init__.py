"""Data for RNN Lab: corpora and tasks behind one interface (see docs/contracts.md, data/).

    from data import make_task
    task = make_task(cfg)                  # cfg: anything with RunConfig's attributes
    for batch in task.train_batches(epoch=0, batch_size=32): ...

Tasks: text (characters of a corpus), adding, copy (memory), next_item, lines (variable
length). Imports torch and numpy, never engine/ or app/.
"""

from __future__ import annotations

from data.adding import AddingTask
from data.batch import Batch
from data.copy_memory import CopyTask
from data.corpora import CORPORA, load_corpus, validate_text_bytes
from data.errors import DataError
from data.lines import LinesTask
from data.next_item import NextItemTask
from data.task import Task
from data.text import TextTask

__all__ = [
    "CORPORA",
    "AddingTask",
    "Batch",
    "CopyTask",
    "DataError",
    "LinesTask",
    "NextItemTask",
    "Task",
    "TextTask",
    "load_corpus",
    "make_task",
    "validate_text_bytes",
]


def make_task(cfg) -> Task:
    """The task named by cfg.task, built from the config's data fields and seed."""
    if cfg.task == "text":
        return TextTask(load_corpus(cfg.corpus), cfg.seq_len, cfg.seed, source=cfg.corpus)
    if cfg.task == "lines":
        return LinesTask(load_corpus(cfg.corpus), cfg.seq_len, cfg.variable_length, cfg.seed, source=cfg.corpus)
    if cfg.task == "adding":
        return AddingTask(cfg.seq_len, cfg.seed)
    if cfg.task == "copy":
        return CopyTask(cfg.seq_len, cfg.seed)
    if cfg.task == "next_item":
        return NextItemTask(cfg.num_items, cfg.train_sequences, cfg.seed)
    raise DataError(str(cfg.task), "unknown task; choose text, adding, copy, next_item or lines.")
