"""The plain numbers of a watched run: gradient norms as clip_grad_norm_ gives them, perplexity,
the val/* companions of a logged validation loss, and the run's final figures."""

from __future__ import annotations

import math

import numpy as np
import torch

from engine import trainer


class Gradients:
    """The model's trainable parameters, fixed at watch(), and the global norm of their gradients."""

    def __init__(self, params: list[torch.Tensor]):
        self.params = params  # once: iterating a model's modules costs ~0.1 ms a step
        self.one_kind = len({(p.device, p.dtype) for p in params}) == 1  # one foreach group, see norm()

    def present(self) -> list[torch.Tensor]:
        """The gradients that exist now."""
        return [p.grad for p in self.params if p.grad is not None]

    def norm(self, grads: list[torch.Tensor]) -> float:
        """The global 2-norm, as clip_grad_norm_ computes and returns it.

        With one device and dtype, get_total_norm is _foreach_norm, a stack and a vector norm;
        called directly they give the same value in 40 % of the time (its grad-mode wrapper and
        grouping cost more than the norms of a small model). Otherwise get_total_norm itself.
        """
        if self.one_kind:
            try:
                return float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))))
            except RuntimeError:  # e.g. sparse gradients: the general path below
                pass
        return float(torch.nn.utils.get_total_norm(grads))


def safe_exp(x: float) -> float:
    """exp(x); inf past float range, NaN for NaN."""
    return math.inf if x > 700 else math.exp(x)


def with_val_companions(values: dict, loss_kind: str) -> dict:
    """Logged scalars as floats, plus val/ppl and val/bpc beside a val/loss of a 'ce' run (as the Trainer's)."""
    values = {k: float(v) for k, v in values.items()}
    val = values.get(trainer.VAL_LOSS.name)
    if val is not None and loss_kind == "ce":
        values[trainer.VAL_PPL.name] = safe_exp(val)
        values[trainer.VAL_BPC.name] = val / math.log(2)
    return values


def final_figures(store, run_id: str, recent) -> dict:
    """As the Trainer's summary['final']: the last val/loss and val/ppl, the mean loss of the recent batches."""
    final = {}
    for series in (trainer.VAL_LOSS, trainer.VAL_PPL):
        _, values = store.scalars(run_id, series.name)
        if len(values):
            final[series.name] = float(values[-1])
    if recent:
        final[trainer.LOSS.name] = float(np.mean(recent))
    return final
