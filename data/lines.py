"""Variable-length lines of a corpus, for the packing lesson: pack, pad and mask, or pad naively.

The corpus is split on newlines; lines of 5..seq_len characters are kept, longer ones are
dropped (truncating would pile lines up at exactly seq_len and hide the natural spread of
lengths). The last 10% of the kept lines are validation. A line of L characters gives
x = line[:-1], y = line[1:], length L - 1. A batch is padded with PAD to its longest line
(no sorting or bucketing, so the padding waste is what a random order gives):

    x (B, Tmax) int64, PAD past each length;  y (B, Tmax) int64, PAD past each length;
    lengths (B,) int64, real input positions.

Ids: 0 = UNK, then the training lines' characters, then PAD = output_size - 1. PAD is an
output class too, because naive padding asks the model to predict it; every mode keeps the
same output size so their runs share weights at init.

Loss by cfg.variable_length: "packed" and "padded_masked" average the cross-entropy over
real positions only; "padded_naive" averages it over every position with pads as targets,
the flattering loss of the lesson. `real_loss` (a metric) is always the real-position loss.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

from data.batch import Batch
from data.errors import DataError
from data.task import Task, chunks, first, num_batches, shuffled
from data.vocab import CharVocab, unigram_ppl

MIN_CHARS = 5  # shorter lines are dropped
VAL_SHARE = 0.1
MIN_LINES = 20  # fewer kept lines than this cannot make both splits
MODES = ("packed", "padded_masked", "padded_naive")


class LinesTask(Task):
    """Next-character prediction on whole lines of different lengths."""

    name = "lines"
    loss_kind = "ce"

    def __init__(self, text: str, seq_len: int, mode: str = "packed", seed: int = 0, source: str = "text"):
        if mode not in MODES:
            raise DataError("variable_length", f"{mode!r} is not one of {', '.join(MODES)}.")
        lines = [s.rstrip("\r") for s in text.split("\n")]
        lines = [s for s in lines if MIN_CHARS <= len(s) <= seq_len]
        if len(lines) < MIN_LINES:
            raise DataError(
                source,
                f"has {len(lines)} lines of {MIN_CHARS}..{seq_len} characters; the lines task needs "
                f"at least {MIN_LINES}; use a text with more lines or a larger seq_len.",
            )
        split = int(len(lines) * (1 - VAL_SHARE))
        self.mode, self.seed, self.seq_len = mode, seed, seq_len
        self.chars = CharVocab.from_text("".join(lines[:split]), pad=True)
        self.vocab = self.chars.chars
        self.pad_id = self.chars.pad_id
        self.input_vocab = self.output_size = len(self.chars)
        self.train_lines = self.encode_lines(lines[:split])
        self.val_lines = self.encode_lines(lines[split:])

    def encode_lines(self, lines: list[str]) -> list[torch.Tensor]:
        """Each line as a (L,) int64 tensor (encoded in one pass, then split)."""
        ids = torch.from_numpy(self.chars.encode("".join(lines)))
        return list(ids.split([len(s) for s in lines]))

    # ---- batches ---------------------------------------------------------------------
    def batches_per_epoch(self, batch_size: int) -> int:
        """Batches to visit every training line once."""
        return num_batches(len(self.train_lines), batch_size)

    def train_batches(self, epoch: int, batch_size: int) -> Iterator[Batch]:
        """Every training line once, shuffled by seed + epoch."""
        for idx in chunks(shuffled(len(self.train_lines), self.seed, epoch), batch_size):
            yield self.pad([self.train_lines[i] for i in idx.tolist()])

    def val_batches(self, batch_size: int, max_batches: int = 0) -> list[Batch]:
        """The validation lines in corpus order."""
        n = len(self.val_lines)
        batches = [self.pad(self.val_lines[i : i + batch_size]) for i in range(0, n, batch_size)]
        return first(batches, max_batches)

    def pad(self, lines: list[torch.Tensor]) -> Batch:
        """A padded batch of encoded lines: x, y (B, Tmax) and lengths (B,)."""
        lengths = torch.tensor([len(s) - 1 for s in lines])  # (B,)
        x = pad_sequence([s[:-1] for s in lines], batch_first=True, padding_value=self.pad_id)  # (B, Tmax)
        y = pad_sequence([s[1:] for s in lines], batch_first=True, padding_value=self.pad_id)  # (B, Tmax)
        return Batch(x, y, lengths)

    # ---- loss and metrics ------------------------------------------------------------
    def loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Real positions only (packed, padded_masked) or every position, pads included (padded_naive)."""
        if self.mode == "padded_naive":
            return F.cross_entropy(out.reshape(-1, out.shape[-1]), batch.y.reshape(-1))
        return self.real_loss(out, batch)

    def real_loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Mean cross-entropy over real positions (pad targets ignored)."""
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), batch.y.reshape(-1), ignore_index=self.pad_id)

    def last_loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Cross-entropy at each line's last real position, mean over the batch."""
        last = batch.lengths.to(out.device) - 1  # (B,)
        rows = torch.arange(out.shape[0], device=out.device)
        return F.cross_entropy(out[rows, last], batch.y[rows, last])

    @torch.no_grad()
    def metrics(self, out: torch.Tensor, batch: Batch) -> dict[str, float]:
        """real_loss, acc on real positions, pad_share (share of the batch that is padding)."""
        real = batch.y != self.pad_id  # (B, Tmax)
        hit = (out.argmax(-1) == batch.y) & real
        return {
            "real_loss": self.real_loss(out, batch).item(),
            "acc": (hit.sum() / real.sum()).item(),
            "pad_share": 1.0 - real.float().mean().item(),
        }

    def baselines(self) -> dict[str, float]:
        """uniform_ppl (= output_size, UNK and PAD counted), uniform_loss, unigram_ppl of the target characters."""
        train = torch.cat([s[1:] for s in self.train_lines]).numpy()
        val = torch.cat([s[1:] for s in self.val_lines]).numpy()
        return {
            "uniform_ppl": float(self.output_size),
            "uniform_loss": math.log(self.output_size),
            "unigram_ppl": unigram_ppl(train, val, self.output_size),
        }

    # ---- text ------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Ids of the characters of `text` (UNK = 0 for unseen ones)."""
        return self.chars.encode(text).tolist()

    def decode(self, ids) -> str:
        """The characters of `ids`, pads left out."""
        return self.chars.decode(ids)
