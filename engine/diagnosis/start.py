"""The first steps: perplexity above the uniform baseline |V|, the early spike."""

from __future__ import annotations

import math

from engine.diagnosis.base import Rule, lr_fix, words
from engine.optim import LR

# one noisy batch in the first updates is not a finding, so look from step 5 on, at the perplexity
# of the recent batches' mean loss, and only 5 % above |V| (a random head starts within a percent
# or two of |V|)
PPL_AFTER_STEPS = 5
PPL_MARGIN = 1.05
# the warmup suggested: the spike built up over the `s` updates before the rule fired; a linear
# warmup of WARMUP_PER_STEP * s steps gives each of those updates at most a tenth of the peak lr
# (the early-spike lesson: a tenth of the lr stays below |V|, and it fires at about step 5)
WARMUP_PER_STEP = 10
# with a warmup already in place, the lr in force when perplexity crossed |V| was too large: a third of it
LR_SHARE = 3
# plain SGD steps in proportion to the gradient, so a warmup only delays the same overshoot: a tenth of
# the lr in force, as a warmup would give the first updates (the exploding lesson: "lower the learning rate")
SGD_LR_SHARE = 10


class PerplexityAboveUniform(Rule):
    """The recent batches' training perplexity is above |V|: worse than guessing uniformly."""

    id, title = "ppl_above_uniform", "Perplexity above the uniform baseline |V|"

    def __init__(self):
        super().__init__()
        self.uniform: float | None = None  # |V|, read from the task once

    def on_step_end(self, trainer, step, scalars):
        if self.fired_at is not None or step < PPL_AFTER_STEPS or trainer.task.loss_kind != "ce":
            return
        if self.uniform is None:
            base = trainer.task.baselines()
            self.uniform = base.get("uniform_ppl") or math.exp(base.get("uniform_loss", math.inf))
        ppl, uniform = math.exp(min(trainer.recent_loss(), 700.0)), self.uniform
        if ppl > PPL_MARGIN * uniform:
            cfg = trainer.cfg
            warmup = min(WARMUP_PER_STEP * (step + 1), max(1, cfg.max_steps // 2))
            if cfg.optimizer == "sgd":
                fix = {"lr": lr_fix(cfg, scalars[LR.name], SGD_LR_SHARE)}
                label = f"rerun with {words(fix)} (a tenth of the lr in force: SGD's step grows with the gradient)"
            elif cfg.warmup_steps < warmup:
                fix = {"warmup_steps": warmup}
                label = (f"rerun with the learning rate warmed up over {warmup} steps (10x the {step + 1} updates "
                         f"the spike took)")
            else:
                fix = {"lr": lr_fix(cfg, scalars[LR.name], LR_SHARE)}
                label = f"rerun with {words(fix)} (a third of the lr in force at step {step})"
            self.fire(trainer, step, f"perplexity {ppl:.4g} is above |V| = {uniform:.4g} at step {step}",
                      "A model that guessed every token uniformly would score |V|. Above it, the first updates have "
                      "made the output confidently wrong: the step is too large for the untrained model, and the "
                      "logits grew before they learned which tokens to favour. A fix reruns from step 0 with the "
                      "same seed and data, so the first updates are the ones that change.",
                      fix, label, apply="rerun")
