"""Batch: the tensors of one batch (inputs, targets, optional real lengths)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Batch:
    """One batch: x (B, T) int64 ids or (B, T, D) float32, y targets, lengths (B,) int64 or None."""

    x: torch.Tensor
    y: torch.Tensor
    lengths: torch.Tensor | None = None  # None: every sequence has length T

    def to(self, device: torch.device | str) -> Batch:
        """A copy with every tensor on `device` (pack_padded_sequence wants `lengths.cpu()`)."""
        lengths = None if self.lengths is None else self.lengths.to(device)
        return Batch(self.x.to(device), self.y.to(device), lengths)
