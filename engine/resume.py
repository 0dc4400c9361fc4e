"""A run's state as a fork needs it: taking it from a Trainer, and starting another Trainer from it.

    snap = snapshot(trainer)     # detached copies: weights, optimiser, schedule, step, recent losses, config
    restore(trainer, snap)       # in Trainer.start(), after the model and optimiser are built
    next_log_step(100)           # 128: the next step whose state is kept (FIRST, 2 FIRST, 4 FIRST, ...)

A fork continues with its own config: the optimiser's state carries over when the optimiser is
the same kind (its hyperparameters, weight decay say, come from the new config), and a change
to the learning rate or the schedule restarts the schedule from the new peak.
"""

from __future__ import annotations

import copy

from engine.optim import build_optimizer
from engine.store.checkpoints import FIRST

SCHEDULE_FIELDS = ("lr", "schedule", "step_every", "gamma", "plateau_patience", "plateau_factor", "plateau_cooldown",
                   "plateau_threshold")  # a fork changing one of these restarts the schedule at the peak lr


def snapshot(trainer) -> dict:
    """A detached copy of everything needed to continue the trainer's run elsewhere."""
    return {"model": copy.deepcopy(trainer.model.state_dict()),
            "optimizer": copy.deepcopy(trainer.optimizer.state_dict()),
            "step": trainer.step_index, "recent": list(trainer.recent), "schedule": trainer.schedule.state_dict(),
            "window": {k: list(v) for k, v in trainer.window.items()}, "evals": trainer.evals,
            "config": trainer.cfg.to_dict(), "run_id": trainer.run_id}


def restore(trainer, snap: dict) -> None:
    """Continue `trainer` (built, not yet stepped) from `snap`, under the trainer's own config."""
    cfg, parent = trainer.cfg, snap["config"]
    trainer.model.load_state_dict(snap["model"])
    if parent.get("optimizer") == cfg.optimizer:  # another optimiser starts with a fresh state
        trainer.optimizer.load_state_dict(snap["optimizer"])
        fresh = build_optimizer(trainer.model, cfg).param_groups[0]  # this config's hyperparameters
        for group in trainer.optimizer.param_groups:
            group.update({k: v for k, v in fresh.items() if k != "params"})
    trainer.schedule.load_state_dict(snap["schedule"])
    if any(getattr(cfg, k) != parent.get(k) for k in SCHEDULE_FIELDS):
        trainer.schedule.set_peak(cfg.lr)  # a fork that changes the schedule starts it again from the peak
    trainer.step_index = snap["step"]
    trainer.recent.extend(snap.get("recent", ()))
    trainer.window = {k: list(v) for k, v in snap.get("window", {}).items()}
    trainer.evals = snap.get("evals", 0)


def next_log_step(step: int) -> int:
    """The first log-spaced step (FIRST, twice that, ...) after `step`."""
    k = FIRST
    while k <= step:
        k *= 2
    return k
