"""watch()'s arguments, checked once: each bad one raises naming the argument and what to pass instead."""

from __future__ import annotations

import json
from dataclasses import dataclass

from torch import nn

from engine.config import RunConfig

LOSS_KINDS = ("ce", "mse", "other")  # 'ce': cross-entropy in nats, so perplexity exp(loss) is recorded


@dataclass(frozen=True)
class Settings:
    """What watch() was asked for, after checking."""

    name: str
    config: dict  # the user's own settings, stored as the run's config (JSON)
    loss_kind: str
    probe_every: int
    probe_budget: float


def check_arguments(model, optimizer, name, config, loss_kind, probe_every, probe_budget) -> Settings:
    """Settings from watch()'s arguments; TypeError or ValueError naming the first bad one."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"watch(model=...): expected a torch.nn.Module, got {type(model).__name__}")
    if not hasattr(optimizer, "param_groups"):
        raise TypeError(f"watch(optimizer=...): expected a torch.optim.Optimizer (with param_groups), "
                        f"got {type(optimizer).__name__}")
    if next(model.parameters(), None) is None:
        raise ValueError("watch(model=...): the model has no parameters to watch")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"watch(name=...): expected a string, got {type(name).__name__}")
    if loss_kind not in LOSS_KINDS:
        raise ValueError(f"watch(loss_kind={loss_kind!r}): use one of {', '.join(LOSS_KINDS)} "
                         "('ce' for a cross-entropy loss in nats, which also records perplexity)")
    defaults = RunConfig()
    every = defaults.probe_every if probe_every is None else probe_every
    budget = defaults.probe_budget if probe_budget is None else probe_budget
    if not isinstance(every, int) or every < 0:
        raise ValueError(f"watch(probe_every={probe_every!r}): use a whole number of steps >= 0 (0: never probe)")
    if not isinstance(budget, int | float) or not 0 < budget <= 1:
        raise ValueError(f"watch(probe_budget={probe_budget!r}): use a share of the time in (0, 1], e.g. 0.03")
    return Settings(name or type(model).__name__, check_config(config), loss_kind, every, float(budget))


def check_config(config) -> dict:
    """The user's config as a JSON-able dict (values JSON cannot hold are kept as their text)."""
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise TypeError(f"watch(config=...): expected a dict of your settings, got {type(config).__name__}")
    return json.loads(json.dumps(config, default=str))
