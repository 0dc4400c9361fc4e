"""The baseline every bench compares against: a plain PyTorch loop, what a person would write.

Same model, init, optimiser, batches and evaluation cadence as the engine's run of the same
config, and nothing else: no probes, no store, no samples. Imported by bench/overhead.py and
bench/compare.py after timing.use_checkout() has chosen the checkout.
"""

from __future__ import annotations

import torch

from data import make_task
from engine.init import initialise
from engine.models import RecurrentLM
from engine.optim import build_optimizer


class PlainLoop:
    """forward, loss, backward, clip, step; the same evaluation every eval_every steps."""

    def __init__(self, cfg, task=None):
        self.cfg = cfg
        self.task = task or make_task(cfg)
        torch.manual_seed(cfg.seed)
        self.model = RecurrentLM(cfg, self.task)
        initialise(self.model, cfg)
        self.opt = build_optimizer(self.model, cfg)
        self.val = self.task.val_batches(cfg.batch_size, cfg.eval_batches)
        self.epoch, self.step_index = 0, 0
        self.batches = iter(self.task.train_batches(0, cfg.batch_size))

    def step(self) -> None:
        batch = next(self.batches, None)
        if batch is None:
            self.epoch += 1
            self.batches = iter(self.task.train_batches(self.epoch, self.cfg.batch_size))
            batch = next(self.batches)
        out, _ = self.model(batch.x, batch.lengths)
        loss = self.task.loss(out, batch)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip_value)
        self.opt.step()
        loss.item()
        self.step_index += 1
        if self.cfg.eval_every >= 1 and self.step_index % int(self.cfg.eval_every) == 0:
            self.evaluate()

    @torch.no_grad()
    def evaluate(self) -> None:
        self.model.eval()
        for b in self.val:
            self.task.loss(self.model(b.x, b.lengths)[0], b).item()
        self.model.train()
