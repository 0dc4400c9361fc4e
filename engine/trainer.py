"""Trainer: the step loop of one run, top to bottom, writing every measurement to the store.

    trainer = Trainer(cfg, store, run_id)
    trainer.start()            # on_fit_start: seed, data, model, optimiser, probes
    while trainer.step():      # one batch: forward, backward, probes, clip, update, records
        pass
    trainer.finish()           # final evaluation, checkpoint, status

Step numbering: the value recorded at step s describes the model after s updates, so the
training loss at step 0 is the loss of the untouched initial model (ln|V| with a zeroed
head) and an evaluation made after update s is recorded at step s + 1.

A NaN or Inf loss or gradient norm ends the run as `diverged` at that step; everything
recorded before it stays in the store. The JobManager runs this in a worker thread.
"""

from __future__ import annotations

import copy
import math
import random

import numpy as np
import torch

from data import make_task
from engine.cadence import EvalCadence
from engine.store.checkpoints import save_checkpoint
from engine.controls import RunControls
from engine.init import initialise
from engine.models import RecurrentLM
from engine.optim import LrSchedule, build_optimizer, clip_gradients, set_lr
from engine.probe_runner import ProbeRunner
from engine.probes import ProbeContext
from engine.sampling import sample_text

EMA_BETA = 0.98  # smoothing of the per-batch loss; debiased, so early values are not dragged to 0
SAMPLE_CHARS = 200  # about 50 ms for an LSTM on the CPU: sampled every sample_every steps


class Diverged(Exception):
    """The loss or the gradient norm stopped being a finite number."""


def pick_device(name: str) -> torch.device:
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


class Trainer:
    """Trains one RunConfig, recording into `store` under `run_id`."""

    def __init__(self, cfg, store, run_id: str, controls: RunControls | None = None, observers=(), resume=None):
        self.cfg = cfg.validate()
        self.store = store
        self.run_id = run_id
        self.controls = controls or RunControls()
        # objects with any of on_step_end(trainer, step, scalars), on_probe(trainer, step, measured),
        # on_eval(trainer, step, values), on_fit_end(trainer, status): diagnosis rules, for one
        self.observers = list(observers)
        self.resume = resume  # a snapshot dict from a parent run, for forks
        self.step_index = 0
        self.status = "queued"

    # ---- on_fit_start ----------------------------------------------------------------
    def start(self) -> None:
        """Seed everything from cfg.seed, build task, model, optimiser, schedule and probes."""
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        random.seed(cfg.seed)
        self.device = pick_device(cfg.device)
        self.task = make_task(cfg)
        self.model = RecurrentLM(cfg, self.task)
        initialise(self.model, cfg)
        self.model.to(self.device)
        self.optimizer = build_optimizer(self.model, cfg)
        self.schedule = LrSchedule(cfg)
        self.clip_mode, self.clip_value = cfg.clip, cfg.clip_value
        self.probes = ProbeRunner(cfg)
        self.bpe = self.task.batches_per_epoch(cfg.batch_size)
        self.eval_cadence = EvalCadence(cfg.eval_every, self.bpe)
        self.val_batches = [b.to(self.device) for b in self.task.val_batches(cfg.batch_size, cfg.eval_batches)]
        self.loss_ema = 0.0
        self.window: dict[str, list[float]] = {}
        if self.resume is not None:
            self._load_snapshot(self.resume)
        self.epoch = self.step_index // self.bpe
        self.batches = self._epoch_batches(self.epoch, skip=self.step_index % self.bpe)
        self.store.set_summary(self.run_id, {"baselines": self.task.baselines(), "loss_kind": self.task.loss_kind,
                                             "batches_per_epoch": self.bpe, "device": str(self.device),
                                             "parameters": sum(p.numel() for p in self.model.parameters())})
        self.status = "running"
        self.store.set_status(self.run_id, "running")

    # ---- one step --------------------------------------------------------------------
    def step(self) -> bool:
        """Train on one batch; False once the run has reached max_steps or was stopped."""
        if self.controls.stop.is_set() or self.step_index >= self.cfg.max_steps:
            return False
        self._apply_controls()
        s = self.step_index
        self.probes.begin(s)
        batch = self._next_batch()
        lr = self.schedule.lr_at(s)
        set_lr(self.optimizer, lr)

        self.model.train()
        out, hiddens = self.model(batch.x, batch.lengths)  # (B, T, O), per layer (B, T, H)
        loss = self.task.loss(out, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        ctx = ProbeContext(model=self.model, task=self.task, batch=batch, out=out, hiddens=hiddens, cfg=self.cfg, step=s)
        self.probes.after_backward(ctx)
        norm, norm_after, fired = clip_gradients(self.model.parameters(), self.clip_mode, self.clip_value)
        loss_value = loss.item()
        record = {"train/loss": loss_value, "lr": lr, "grad/norm": norm, "grad/norm_clipped": norm_after,
                  "grad/clipped": float(fired), "epoch": s / self.bpe}
        if not (math.isfinite(loss_value) and math.isfinite(norm)):
            self.store.add_scalars(self.run_id, s, record)
            raise Diverged(f"loss {loss_value:.4g}, gradient norm {norm:.4g} at step {s}")
        self.optimizer.step()
        self._record_probes(s, self.probes.after_step(ctx))

        task_metrics = bool(self.probes.due) or self.task.metrics_every_step
        record.update(self._train_metrics(loss_value, out, batch, task_metrics))
        self.store.add_scalars(self.run_id, s, record)
        self.store.set_step(self.run_id, s + 1)
        self.step_index = s + 1
        for observer in self.observers:
            observer.on_step_end(self, s, record)
        if self.eval_cadence.due(s) or self.step_index == self.cfg.max_steps:
            self.evaluate()
        if self.cfg.sample_every and self.step_index % self.cfg.sample_every == 0:
            self._sample()
        return self.step_index < self.cfg.max_steps

    # ---- evaluation ------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Validation loss and metrics at the current step; feeds the plateau schedule."""
        step = self.step_index
        self.model.eval()
        total, metrics, n = 0.0, {}, 0
        for batch in self.val_batches:
            out, _ = self.model(batch.x, batch.lengths)
            total += self.task.loss(out, batch).item()
            for k, v in self.task.metrics(out, batch).items():
                metrics[k] = metrics.get(k, 0.0) + v
            n += 1
        n = max(n, 1)
        values = {"val/loss": total / n, **{f"val/{k}": v / n for k, v in metrics.items()}}
        if self.task.loss_kind == "ce":
            values["val/ppl"] = _safe_exp(values["val/loss"])
            values["val/bpc"] = values["val/loss"] / math.log(2)
        values.update({f"window/{k}": float(np.mean(v)) for k, v in self.window.items() if v})
        self.window = {}
        for event in self.schedule.on_eval(step, values["val/loss"]):
            self.store.add_event(self.run_id, step, event["kind"], event["message"], event["data"])
        if self.cfg.schedule == "plateau":
            values.update(self.schedule.state())
        self.store.add_scalars(self.run_id, step, values)
        self.store.add_event(self.run_id, step, "eval", f"validation loss {values['val/loss']:.4f}")
        for observer in self.observers:
            getattr(observer, "on_eval", lambda *a: None)(self, step, values)
        if self.cfg.sample_every == 0:
            self._sample()
        return values

    # ---- on_fit_end ------------------------------------------------------------------
    def finish(self, status: str = "done", message: str | None = None) -> None:
        """Write the final summary and checkpoint, set the final status, flush the store."""
        if status in ("done", "stopped") and hasattr(self, "model") and self.cfg.sample_every:
            if self.step_index % self.cfg.sample_every:  # a last sample, unless one was just taken
                self._sample()
        self.store.flush()  # reads below see only committed rows
        summary = self.store.run(self.run_id).summary
        last = {k: self.store.scalars(self.run_id, k) for k in ("val/loss", "val/ppl", "train/loss_ema")}
        summary["final"] = {k: float(v[1][-1]) for k, v in last.items() if len(v[1])}
        self.store.set_summary(self.run_id, summary)
        if status in ("done", "stopped") and hasattr(self, "model"):
            save_checkpoint(self.store, self.run_id, self.snapshot())
        for observer in self.observers:
            getattr(observer, "on_fit_end", lambda *a: None)(self, status)
        self.status = status
        self.store.set_status(self.run_id, status, message)
        self.store.flush()

    # ---- snapshots for forks ---------------------------------------------------------
    def snapshot(self) -> dict:
        """A detached copy of everything needed to continue this run elsewhere."""
        return {"model": copy.deepcopy(self.model.state_dict()), "optimizer": copy.deepcopy(self.optimizer.state_dict()),
                "step": self.step_index, "loss_ema": self.loss_ema, "schedule": copy.copy(vars(self.schedule)),
                "config": self.cfg.to_dict(), "run_id": self.run_id}

    def _load_snapshot(self, snap: dict) -> None:
        self.model.load_state_dict(snap["model"])
        self.optimizer.load_state_dict(snap["optimizer"])
        schedule_state = {k: v for k, v in snap["schedule"].items() if k != "cfg"}
        vars(self.schedule).update(schedule_state)
        if self.cfg.lr != snap["config"]["lr"]:
            self.schedule.set_peak(self.cfg.lr)  # a fork that changes lr starts from the new peak
        self.step_index = snap["step"]
        self.loss_ema = snap["loss_ema"]

    def smoothed_loss(self, n: int | None = None) -> float:
        """The debiased EMA of the training loss after n steps (default: those taken)."""
        n = max(n or self.step_index, 1)
        return self.loss_ema / (1 - EMA_BETA**n)

    # ---- helpers ---------------------------------------------------------------------
    def _apply_controls(self) -> None:
        lr, clip, snapshots = self.controls.take()
        s = self.step_index
        if lr is not None:
            self.schedule.set_peak(lr)
            self.store.add_event(self.run_id, s, "lr_change", f"lr set to {lr:.3g}", {"lr": lr})
        if clip is not None:
            self.clip_mode, self.clip_value = clip
            self.store.add_event(self.run_id, s, "clip_change", f"clipping set to {clip[0]} {clip[1]:g}",
                                 {"mode": clip[0], "value": clip[1]})
        for future in snapshots:
            future.set_result(self.snapshot())

    def _epoch_batches(self, epoch: int, skip: int = 0):
        batches = iter(self.task.train_batches(epoch, self.cfg.batch_size))
        for _ in range(skip):
            next(batches, None)
        return batches

    def _next_batch(self):
        batch = next(self.batches, None)
        if batch is None:  # the epoch is over: the next one is reshuffled by seed + epoch
            self.epoch += 1
            self.batches = self._epoch_batches(self.epoch)
            self.store.add_event(self.run_id, self.step_index, "epoch", f"epoch {self.epoch + 1} starts",
                                 {"epoch": self.epoch})
            batch = next(self.batches)
        return batch.to(self.device)

    def _train_metrics(self, loss_value: float, out, batch, with_task_metrics: bool) -> dict[str, float]:
        self.loss_ema = EMA_BETA * self.loss_ema + (1 - EMA_BETA) * loss_value
        ema = self.smoothed_loss(self.step_index + 1)
        values = {"train/loss_ema": ema}
        if self.task.loss_kind == "ce":
            values["train/ppl"] = _safe_exp(loss_value)
            values["train/ppl_ema"] = _safe_exp(ema)
        if with_task_metrics:
            with torch.no_grad():
                values.update({f"train/{k}": v for k, v in self.task.metrics(out.detach(), batch).items()})
        for k, v in values.items():
            if k.startswith("train/") and not k.endswith("_ema") and k != "train/ppl":
                self.window.setdefault(k.removeprefix("train/"), []).append(v)
        self.window.setdefault("loss", []).append(loss_value)
        return values

    def _record_probes(self, step: int, measured: dict) -> None:
        if not measured:
            return
        for observer in self.observers:
            getattr(observer, "on_probe", lambda *a: None)(self, step, measured)
        scalars = {}
        for name, value in measured.items():
            if isinstance(value, np.ndarray):
                self.store.add_array(self.run_id, step, name, value)
            else:
                scalars[name] = float(value)
        self.store.add_scalars(self.run_id, step, scalars)

    def _sample(self) -> None:
        if getattr(self.task, "vocab", None) and self.task.name == "text":
            text = sample_text(self.model, self.task, SAMPLE_CHARS, seed=self.cfg.seed + self.step_index, device=self.device)
            self.store.add_text(self.run_id, self.step_index, text)


def _safe_exp(x: float) -> float:
    return math.exp(x) if x < 700 else math.inf
