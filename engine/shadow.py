"""ShadowModel: a worker thread's own copy of a run's model, loaded with weights taken at a step.

    shadow = ShadowModel()
    weights = shadow.take(model)        # training thread: detached clones, on the model's device, no sync
    twin = shadow.load(weights)         # worker thread: the copy, holding the weights of that step
    shadow.take(model, weights)         # clones already taken (ProbeContext.weights: once a step for all probes)

Work that reads a model but not its graph (a text sample, the whole-split validation) runs on a
worker (engine/probes/worker.py) from the weights as they were at the step it was asked for,
while the training thread goes on changing its own model in place. The copy is made once per
run by deepcopy (a new model would draw its initial weights from the global generator and change
the run's random stream); each request then costs only the clone of the weights (0.02 ms for an
LSTM 128).
"""

from __future__ import annotations

import copy

import torch


class ShadowModel:
    """One worker's copy of a model: `take` on the training thread, `load` on the worker."""

    def __init__(self):
        self.model = None  # made by the first take(), then touched only by the worker

    def take(self, model, weights: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Training thread: the model's weights as they are now, cloned (nothing later changes them), or `weights`."""
        if self.model is None:
            self.model = copy.deepcopy(model)
        return cloned_weights(model) if weights is None else weights

    def load(self, weights: dict[str, torch.Tensor]):
        """Worker: the copy, with `weights` loaded (in eval mode: the caller's forward passes only read)."""
        self.model.load_state_dict(weights)
        return self.model.eval()


@torch.no_grad()
def cloned_weights(model) -> dict[str, torch.Tensor]:
    """Every tensor of the model's state, detached and cloned on its device (a queued copy: no sync).

    A module's extra state (get_extra_state, in a model from engine.watch) is kept as it is.
    """
    return {k: v.detach().clone() if torch.is_tensor(v) else v for k, v in model.state_dict().items()}
