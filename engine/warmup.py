"""Warm-up: pay the process's one-time costs before the first Start instead of after it.

    warm_up_in_background()   # the JobManager calls it when it is built (the dashboard: at its first page)

The first run of a process paid, between the Start click and its first point: the import of
torch._dynamo that torch.optim makes when the first optimiser is built (seconds: most of the
first run's start), the first calls of the recurrent kernels, autograd and LAPACK, and the
default task's corpus and vocabulary. warm_up() trains the default model one probed step on
the default data, once per process, so all of that is done (and the task is in data/cache.py)
before anyone clicks.
"""

from __future__ import annotations

import functools
import logging
import threading

from data.cache import shared_task
from engine.config import RunConfig
from engine.init import initialise
from engine.models import RecurrentLM
from engine.optim import build_optimizer
from engine.probes import ProbeContext, default_probes
from engine.threads import GLOBAL_RNG, use_threads

log = logging.getLogger(__name__)
DEFAULT = RunConfig()  # the engine's and the dashboard's default model and data
_once = threading.Lock()  # a second caller waits for the first warm-up instead of doing its own


def warm_up(cfg: RunConfig = DEFAULT) -> None:
    """One probed training step of `cfg`'s model on its data, thrown away; once per process and config."""
    with _once:
        _warm_up(cfg)


@functools.cache
def _warm_up(cfg: RunConfig) -> None:
    use_threads(1)
    task = shared_task(cfg)
    with GLOBAL_RNG:  # its init draws from torch's global generator: never between a run's seeding and its init
        model = RecurrentLM(cfg, task)
        initialise(model, cfg)
    optimizer = build_optimizer(model, cfg)  # imports torch._dynamo
    batch = next(iter(task.train_batches(0, cfg.batch_size)))
    out, hiddens = model(batch.x, batch.lengths)
    task.loss(out, batch).backward()
    ctx = ProbeContext(model=model, task=task, batch=batch, out=out, hiddens=hiddens, step=0, cfg=cfg)
    for probe in default_probes(cfg):  # the reach probe's unrolled backward, LAPACK's eig and svd
        probe.after_backward(ctx)
    optimizer.step()


def warm_up_in_background(cfg: RunConfig = DEFAULT) -> threading.Thread:
    """warm_up(cfg) on a daemon thread; a failure is logged (the first run then pays as before)."""

    def run():
        try:
            warm_up(cfg)
        except Exception:
            log.exception("warm-up failed")

    thread = threading.Thread(target=run, name="rnnlab-warmup", daemon=True)
    thread.start()
    return thread

