"""CharVocab: characters <-> ids, with id 0 = UNK and an optional PAD id at the end.

    v = CharVocab.from_text(train_text)          # ids: 0 UNK, 1.. the sorted characters
    v.encode("hello")                            # numpy int64 ids; unseen characters -> 0
    v.decode([8, 5, 12, 12, 15])

Also the unigram baseline shared by the text and lines tasks.
"""

from __future__ import annotations

import math

import numpy as np

UNK_ID = 0
UNK_CHAR = "\ufffd"  # how UNK shows in decoded text
PAD_CHAR = "\u2400"  # how PAD shows in `vocab` (decode leaves pads out)
UNIGRAM_ADD = 1e-3  # add-tiny smoothing of the unigram baseline's counts


def code_points(text: str) -> np.ndarray:
    """The Unicode code points of `text`, (N,) uint32, without a Python loop."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


class CharVocab:
    """Character vocabulary of a training text: 0 = UNK, then its characters in code-point order."""

    def __init__(self, chars: np.ndarray, pad: bool = False):
        self.codes = np.unique(chars).astype(np.uint32)  # sorted code points of the known characters
        self.chars = [UNK_CHAR] + [chr(c) for c in self.codes]  # index = id
        self.pad_id = len(self.chars) if pad else None
        if pad:
            self.chars.append(PAD_CHAR)

    @classmethod
    def from_text(cls, text: str, pad: bool = False) -> CharVocab:
        """The vocabulary of the characters in `text`."""
        return cls(code_points(text), pad)

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """(N,) int64 ids of the characters of `text`; characters outside the vocabulary -> UNK (0)."""
        cp = code_points(text)
        pos = np.searchsorted(self.codes, cp)  # where each code point would sit among the known ones
        pos = np.minimum(pos, max(len(self.codes) - 1, 0))
        known = self.codes[pos] == cp if len(self.codes) else np.zeros(len(cp), bool)
        return np.where(known, pos + 1, UNK_ID).astype(np.int64)

    def decode(self, ids) -> str:
        """The text of `ids` (ints, list or tensor); pads are left out, UNK shows as U+FFFD."""
        ids = [int(i) for i in ids]
        return "".join(self.chars[i] for i in ids if i != self.pad_id)


def unigram_ppl(train_ids: np.ndarray, val_ids: np.ndarray, size: int) -> float:
    """exp of the cross-entropy of val_ids under train_ids' smoothed unigram distribution.

    p(c) = (count_train(c) + UNIGRAM_ADD) / (N_train + UNIGRAM_ADD * size), over all `size`
    output ids (UNK and PAD included, so an UNK in the validation text costs a finite penalty).
    """
    counts = np.bincount(train_ids, minlength=size).astype(np.float64) + UNIGRAM_ADD
    logp = np.log(counts / counts.sum())
    return math.exp(-float(logp[val_ids].mean()))
