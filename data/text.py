"""Character language modelling on one text: predict each next character.

The last 10% of the text is the validation split; the vocabulary is the training split's
characters with id 0 = UNK (validation characters outside it map to UNK). Training windows
of seq_len + 1 characters start every seq_len characters, so windows share only their edge
character: every training character is a target exactly once per epoch. x = window[:-1],
y = window[1:]. Each epoch visits every window once, in an order fixed by seed + epoch.

Baselines: `uniform_ppl` = output_size = |V| counting UNK (a zeroed head's first loss is
exactly ln(uniform_ppl)); `uniform_loss` = ln of it; `unigram_ppl` = see vocab.unigram_ppl
(train character counts, evaluated on the validation split).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from data.batch import Batch
from data.errors import DataError
from data.task import Task, chunks, first, num_batches, shuffled
from data.vocab import CharVocab, unigram_ppl

VAL_SHARE = 0.1  # the last 10% of the text is held out


class TextTask(Task):
    """Next-character prediction on windows of a text."""

    # an argmax over every position of (B, T, V) costs about 3 % of a training step (measured),
    # so per-character accuracy is measured on probe steps only
    metrics_every_step = False

    name = "text"
    loss_kind = "ce"

    def __init__(self, text: str, seq_len: int, seed: int = 0, source: str = "text"):
        split = int(len(text) * (1 - VAL_SHARE))
        train_text, val_text = text[:split], text[split:]
        need = math.ceil((seq_len + 1) / VAL_SHARE) + 1
        if len(val_text) < seq_len + 1 or len(train_text) < seq_len + 1:
            raise DataError(
                source,
                f"has {len(text):,} characters; at seq_len={seq_len} the text task needs at "
                f"least {need:,} (10% is held out); use a longer text or a shorter seq_len.",
            )
        self.seq_len, self.seed, self.source = seq_len, seed, source
        self.chars = CharVocab.from_text(train_text)
        self.vocab = self.chars.chars
        self.input_vocab = self.output_size = len(self.chars)
        self.train_ids = self.chars.encode(train_text)  # (N_train,) int64
        self.val_ids = self.chars.encode(val_text)  # (N_val,) int64, UNK where unseen
        self.train_windows = windows(self.train_ids, seq_len)  # (W, T + 1)
        self.val_windows = windows(self.val_ids, seq_len)  # (W_val, T + 1)

    # ---- batches ---------------------------------------------------------------------
    def batches_per_epoch(self, batch_size: int) -> int:
        """Batches to visit every training window once."""
        return num_batches(len(self.train_windows), batch_size)

    def train_batches(self, epoch: int, batch_size: int) -> Iterator[Batch]:
        """Every training window once, shuffled by seed + epoch."""
        for idx in chunks(shuffled(len(self.train_windows), self.seed, epoch), batch_size):
            yield window_batch(self.train_windows[idx])

    def val_batches(self, batch_size: int, max_batches: int = 0) -> list[Batch]:
        """The validation windows in text order."""
        order = torch.arange(len(self.val_windows))
        return first([window_batch(self.val_windows[i]) for i in chunks(order, batch_size)], max_batches)

    # ---- loss and metrics ------------------------------------------------------------
    def loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Mean cross-entropy over every position."""
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), batch.y.reshape(-1))

    def last_loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Cross-entropy at the last position T-1 alone, mean over the batch."""
        return F.cross_entropy(out[:, -1], batch.y[:, -1])

    @torch.no_grad()
    def metrics(self, out: torch.Tensor, batch: Batch) -> dict[str, float]:
        """acc: share of characters whose top-1 prediction is right."""
        return {"acc": (out.argmax(-1) == batch.y).float().mean().item()}

    def baselines(self) -> dict[str, float]:
        """uniform_ppl (= output_size, UNK counted), uniform_loss, unigram_ppl."""
        return {
            "uniform_ppl": float(self.output_size),
            "uniform_loss": math.log(self.output_size),
            "unigram_ppl": unigram_ppl(self.train_ids, self.val_ids, self.output_size),
        }

    # ---- text ------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Ids of the characters of `text` (UNK = 0 for unseen ones)."""
        return self.chars.encode(text).tolist()

    def decode(self, ids) -> str:
        """The characters of `ids`."""
        return self.chars.decode(ids)


def windows(ids: np.ndarray, seq_len: int) -> torch.Tensor:
    """(W, seq_len + 1) windows starting every seq_len ids (a view, no copy)."""
    return torch.from_numpy(ids).unfold(0, seq_len + 1, seq_len)


def window_batch(w: torch.Tensor) -> Batch:
    """x = w[:, :-1], y = w[:, 1:], both (B, T) int64."""
    return Batch(w[:, :-1].contiguous(), w[:, 1:].contiguous())
