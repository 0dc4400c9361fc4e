"""Trainer: the step loop of one run, top to bottom, writing every measurement to the store.

    trainer = Trainer(cfg, store, run_id)
    status = run_to_end(trainer)   # start, step until done, finish: 'done', 'stopped', 'diverged' or 'failed'

or, stepping by hand (the JobManager steps a group's trainers in turn):

    trainer.start()            # seed, data, model, optimiser, probes; on_fit_start
    while trainer.step():      # one batch: forward, backward, probes, clip, update, records
        pass
    trainer.conclude(None)     # or conclude(error): decides the final status, finishes, never raises

Step numbering: the value recorded at step s describes the model after s updates, so the
training loss at step 0 is the loss of the untouched initial model (ln|V| with a zeroed
head) and an evaluation made after update s is recorded at step s + 1.

A NaN or Inf loss or gradient norm ends the run as `diverged` at that step; everything
recorded before it stays in the store. An observer may also end it as `diverged` through
`declare_diverged(reason)` (the diagnosis does, for a loss that stays far above its baseline,
when cfg.stop_on_divergence is set), after the step's records are written.

Validation (engine/evaluation.py): every evaluation reads an evenly spread sample of the
validation split (`val/*`); every `full_eval_every` evaluations and at the end of the run the
whole split as well (`val_full/*`). States a fork can start from are kept while the run trains
(engine/store/checkpoints.py): after 16, 32, 64... updates, and where a diagnosis asks for one.

The run's status lives here (`Trainer.status`, written through to the store by `set_status`),
and `conclude` is the one place that decides how a run ended, for the JobManager, the CLI and
any other caller.
"""

from __future__ import annotations

import functools
import logging
import math
import random
import time
import traceback
from collections import deque

import numpy as np
import torch

from data.cache import shared_task
from engine import resume
from engine.cadence import EvalCadence
from engine.controls import RunControls
from engine.evaluation import FULL_LOSS, FULL_PPL, VAL_BPC, VAL_LOSS, VAL_METRIC, VAL_PPL, Validation, WholeSplitLater
from engine.init import initialise
from engine.models import RecurrentLM
from engine.observer import Observer
from engine.optim import (
    GRAD_CLIPPED,
    GRAD_NORM,
    GRAD_NORM_CLIPPED,
    LR,
    LrSchedule,
    build_optimizer,
    clip_gradients,
    set_lr,
)
from engine.probes import ProbeContext
from engine.probes.runner import ProbeRunner
from engine.probes.worker import ProbeError
from engine.sampling import Sampler
from engine.series import Series
from engine.store import StoreError
from engine.store.checkpoints import FIRST as FIRST_SNAPSHOT
from engine.store.checkpoints import keep_snapshot, save_checkpoint
from engine.threads import GLOBAL_RNG

log = logging.getLogger(__name__)
RECENT = 20  # batches behind "the recent training loss" (status lines, progress bar, final summary)

# what the trainer records (the schedule, clipping and probes declare theirs beside their code)
LOSS = Series("train/loss", "scalar", "training loss of the step's batch, measured before its update")
PPL = Series("train/ppl", "scalar", "exp(train/loss): per-batch perplexity (classification tasks)")
EPOCH = Series("epoch", "scalar", "epochs completed, fractional")
TRAIN_METRIC = Series("train/{metric}", "scalar", "a task metric of the step's batch (acc, hr@10, real_loss...)")
WINDOW = Series("window/{metric}", "scalar", "mean of train/loss or a train metric over the batches since the previous evaluation")
SERIES = (LOSS, PPL, EPOCH, TRAIN_METRIC, WINDOW)  # validation's own: engine/evaluation.py
__all__ = ["LOSS", "PPL", "EPOCH", "TRAIN_METRIC", "WINDOW", "VAL_LOSS", "VAL_PPL", "VAL_BPC", "VAL_METRIC",
           "Diverged", "Stopped", "Trainer", "run_to_end"]


class Diverged(Exception):
    """The run diverged: its loss or gradient norm stopped being finite, or (finite=True) a rule said so."""

    def __init__(self, message: str, finite: bool = False):
        super().__init__(message)
        self.finite = finite  # True: the numbers are finite but far off (declare_diverged)


class Stopped(Exception):
    """The run was stopped from outside (a scheduler, Ctrl-C) at a step; the message says why."""


def pick_device(name: str) -> torch.device:
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


class Trainer:
    """Trains one RunConfig, recording into `store` under `run_id`."""

    def __init__(self, cfg, store, run_id: str, controls: RunControls | None = None,
                 observers: list[Observer] = (), resume: dict | None = None, task=None):
        self.cfg = cfg  # a RunConfig is valid by construction
        self.store = store
        self.run_id = run_id
        self.controls = controls or RunControls()
        self.observers = list(observers)
        self.resume = resume  # a snapshot dict from a parent run, for forks
        self.step_index = 0
        self.step_started = 0.0  # time.perf_counter() at the start of the current step (its own clock, per run)
        self.first_step = 0  # the step this trainer starts at (set by start: a fork's is its parent's)
        self.status = "queued"
        self.message: str | None = None  # why the run ended, when it did not simply finish
        self.resting = False  # held, with everything up to this step committed (see held)
        # built by start(); None until then (a run can end before it starts)
        self.task = task  # built by preflight (engine/preflight.py) when given, else by start()
        self.device = self.model = self.optimizer = self.schedule = None
        self.probes = self.eval_cadence = self.batches = None
        self.sampler: Sampler | None = None  # text samples off the training thread, made at the first one
        self.clip_mode, self.clip_value = cfg.clip, cfg.clip_value
        self.bpe, self.epoch = 1, 0
        self.validation: Validation | None = None
        self.whole_split: WholeSplitLater | None = None  # val_full/* off this thread, when the sample is not the split
        self.evals = 0  # evaluations made (full_eval_every counts them)
        self.full_at: int | None = None  # step of the last whole-split evaluation
        self.recent: deque[float] = deque(maxlen=RECENT)  # the last batches' training losses
        self.window: dict[str, list[float]] = {}
        self.next_snapshot = FIRST_SNAPSHOT  # the next log-spaced step whose state is kept
        self.snapshot_wanted = False  # an observer asked to keep this step's state
        self.divergence: str | None = None  # why an observer declared the run diverged
        self.ended_by: BaseException | None = None  # what ended the loop (conclude's argument)

    def set_status(self, status: str, message: str | None = None) -> None:
        """The run's status, in the store (committed at once) and then here: whoever sees it here can read it there."""
        self.store.set_status(self.run_id, status, message)
        self.status = status

    # ---- on_fit_start ----------------------------------------------------------------
    def start(self) -> None:
        """Seed everything from cfg.seed, build task, model, optimiser, schedule and probes."""
        cfg = self.cfg
        self.device = pick_device(cfg.device)
        self.task = self.task or shared_task(cfg)
        with GLOBAL_RNG:  # another run (or the warm-up) drawing in between would change this run's init
            torch.manual_seed(cfg.seed)
            np.random.seed(cfg.seed % 2**32)
            random.seed(cfg.seed)
            self.model = RecurrentLM(cfg, self.task)
            initialise(self.model, cfg)
        self.model.to(self.device)
        self.optimizer = build_optimizer(self.model, cfg)
        self.schedule = LrSchedule(cfg)
        self.probes = ProbeRunner(cfg)
        self.bpe = self.task.batches_per_epoch(cfg.batch_size)
        self.eval_cadence = EvalCadence(cfg.eval_every, self.bpe)
        self.validation = Validation(self.task, cfg, self.device)
        self.whole_split = None if self.validation.covers_split else WholeSplitLater(self.validation)
        if self.resume is not None:
            resume.restore(self, self.resume)
        self.first_step = self.step_index  # 0, or a fork's step
        self.epoch = self.step_index // self.bpe
        self.batches = self._epoch_batches(self.epoch, skip=self.step_index % self.bpe)
        self.next_snapshot = resume.next_log_step(self.step_index)
        self.store.set_summary(self.run_id, {"baselines": self.task.baselines(), "loss_kind": self.task.loss_kind,
                                             "batches_per_epoch": self.bpe, "device": str(self.device),
                                             "parameters": sum(p.numel() for p in self.model.parameters()),
                                             "validation": {**self.validation.sizes(), "full_every": cfg.full_eval_every,
                                                            "unit": "characters" if self.task.name in ("text", "lines")
                                                            else "sequences"}})
        self.set_status("running")
        for observer in self.observers:
            observer.on_fit_start(self)

    # ---- one step --------------------------------------------------------------------
    def step(self) -> bool:
        """Train on one batch; False once the run has reached max_steps or was stopped."""
        if self.controls.stop.is_set() or self.step_index >= self.cfg.max_steps:
            return False
        self.step_started = time.perf_counter()
        self.apply_controls()
        s = self.step_index
        self.probes.begin(s)
        batch = self._next_batch()
        lr = self.schedule.lr_at(s)
        set_lr(self.optimizer, lr)

        if not self.model.training:  # only after an evaluation: train() walks every module (0.5 % of a step)
            self.model.train()
        out, hiddens = self.model(batch.x, batch.lengths)  # (B, T, O), per layer (B, T, H)
        loss = self.task.loss(out, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        ctx = ProbeContext(model=self.model, task=self.task, batch=batch, out=out, hiddens=hiddens, cfg=self.cfg, step=s)
        self.probes.after_backward(ctx)
        norm, norm_after, fired = clip_gradients(self.model.parameters(), self.clip_mode, self.clip_value)
        loss_value = loss.item()
        record = {LOSS.name: loss_value, LR.name: lr, GRAD_NORM.name: norm, GRAD_NORM_CLIPPED.name: norm_after,
                  GRAD_CLIPPED.name: float(fired), EPOCH.name: s / self.bpe}
        if not (math.isfinite(loss_value) and math.isfinite(norm)):
            self.store.add_scalars(self.run_id, s, record)
            raise Diverged(f"loss {loss_value:.4g}, gradient norm {norm:.4g} at step {s}")
        self.optimizer.step()
        self._record_probes(s, self.probes.after_step(ctx))
        self._record_off_thread()  # results of earlier steps made off this thread, at the steps they were taken

        task_metrics = bool(self.probes.due) or self.task.metrics_every_step
        record.update(self._train_metrics(loss_value, out, batch, task_metrics))
        self.store.add_scalars(self.run_id, s, record)
        self.store.set_step(self.run_id, s + 1)
        if s == self.first_step:
            self.store.flush()  # the first point of a run is on its chart at the next refresh, not after a commit interval
        self.step_index = s + 1
        for observer in self.observers:
            observer.on_step_end(self, s, record)
        last = self.step_index == self.cfg.max_steps
        if self.eval_cadence.due(s) or last:
            self.evaluate(final=last)
        if self.cfg.sample_every and self.step_index % self.cfg.sample_every == 0:
            self._sample()
        if self.snapshot_wanted or self.step_index >= self.next_snapshot:
            self._keep_state()
        if self.divergence is not None:
            raise Diverged(self.divergence, finite=True)
        return self.step_index < self.cfg.max_steps

    # ---- evaluation ------------------------------------------------------------------
    def evaluate(self, final: bool = False) -> dict[str, float]:
        """Validation at the current step (the sample; the whole split when due or final); feeds the plateau schedule."""
        step = self.step_index
        self.evals += 1
        every = self.cfg.full_eval_every
        full = final or (every > 0 and self.evals % every == 0) or self.validation.covers_split
        later = full and not final and self.whole_split is not None  # the last one inline: the summary reads it
        values = self.validation.measure(self.model, full=full and not later)
        if later:
            self.whole_split.request(self.model, step)
        if full:
            self.full_at = step
        loss = values[VAL_LOSS.name]
        values.update({WINDOW.at(metric=k): float(np.mean(v)) for k, v in self.window.items() if v})
        self.window = {}
        for event in self.schedule.on_eval(step, loss):
            self.store.add_event(self.run_id, step, event["kind"], event["message"], event["data"])
        if self.cfg.schedule == "plateau":
            values.update(self.schedule.state())
        self.store.add_scalars(self.run_id, step, values)
        self.store.add_event(self.run_id, step, "eval", f"validation loss {loss:.4f}")
        for observer in self.observers:
            observer.on_eval(self, step, values)
        if self.cfg.sample_every == 0:
            self._sample()
        return values

    def _final_full_evaluation(self) -> None:
        """val_full/* at the last step of a run whose last evaluation did not read the whole split."""
        self.full_at = self.step_index
        self.store.add_scalars(self.run_id, self.step_index, self.validation.measure(self.model, full=True, sample=False))

    # ---- pause, between steps ---------------------------------------------------------
    def held(self) -> bool:
        """True while the run is paused; applies pending requests (a fork's snapshot) meanwhile.

        A step granted while paused (`controls.add_steps`) lets one step through without leaving
        the pause: the status stays `paused` and no resumed/paused events are written. When the
        run comes to rest (paused, or its granted steps taken) the store is flushed, so a chart
        shows every step at its next read rather than after the writer's next commit (up to
        half a second later).
        """
        controls = self.controls
        paused = controls.pause.is_set() and not controls.stop.is_set()
        if paused and self.status != "paused":
            self.store.add_event(self.run_id, self.step_index, "paused", "paused")
            self.set_status("paused")  # commits everything recorded before it, the event too
        elif not paused and self.status == "paused":
            self.store.add_event(self.run_id, self.step_index, "resumed", "resumed")
            self.set_status("running")
        if not paused:
            self.resting = False
            return False
        if controls.steps_left():  # only this thread spends steps: the peek holds until the take
            self.resting = False  # cleared before the grant is spent, so at_rest() never sees neither
            controls.take_step()
            return False
        edited = self.apply_controls()
        if not self.resting or edited:  # just paused, the last granted step taken, or edited while paused:
            self._record_off_thread(wait=True)  # commit before saying so; a paused run shows every probe,
            # validation and sample it took, and an edit made while paused shows at once
            self.store.flush()
            self.resting = True
        return True

    def at_rest(self) -> bool:
        """Paused, with every granted step taken and committed to the store (what a Step click waits for)."""
        return self.resting and self.controls.steps_left() == 0

    # ---- the end ---------------------------------------------------------------------
    def conclude(self, error: BaseException | None = None) -> str:
        """End the run: decide its final status from how its loop ended, record why, finish. Never raises.

        No error: 'stopped' if a stop was asked for, else 'done'. Diverged: 'diverged'. Stopped or
        KeyboardInterrupt: 'stopped'. A store that stopped taking records: 'failed', saying which
        steps are stored. Anything else: 'failed', with the traceback in an event. The status and
        message are kept in `status` and `message` even when the store can take nothing more.
        """
        status, message, event = "done", None, None
        self.ended_by = error
        if error is None and self.controls.stop.is_set():
            status = "stopped"
        elif isinstance(error, Diverged):
            status, message = "diverged", str(error)
            event = ("diverged", message, None)
        elif isinstance(error, Stopped | KeyboardInterrupt):
            status, message = "stopped", str(error) or "stopped by Ctrl-C"
            event = ("stopped", message, None)
        elif isinstance(error, StoreError):
            status, message = "failed", f"{error} Steps before {self._stored_step()} are stored; none after."
        elif error is not None:
            status, message = "failed", f"{type(error).__name__}: {error}"
            event = ("error", message, {"traceback": _trace(error)})
        self.message = message
        try:
            if event is not None:
                self.store.add_event(self.run_id, self.step_index, *event)
            self.finish(status, message)
        except Exception as err:  # the store failed meanwhile: the status must still land where it can
            log.error("run %s ended %s, but its summary could not be written: %s", self.run_id, status, err)
            self.status = status
            try:
                self.store.set_status(self.run_id, status, message)
            except Exception:  # nothing can be written: crash recovery will mark the run interrupted
                log.error("run %s: its final status could not be stored either", self.run_id)
        return status

    def _stored_step(self) -> int:
        """The run's step as the store has it: every step before it is committed."""
        try:
            return self.store.run(self.run_id).step
        except Exception:
            return 0

    def finish(self, status: str = "done", message: str | None = None) -> None:
        """Write the final summary and checkpoint, set the final status, flush the store."""
        trained = self.model is not None and status in ("done", "stopped")
        if trained and self.cfg.sample_every and self.step_index % self.cfg.sample_every:
            self._sample()  # a last sample, unless one was just taken
        self._record_final_analyses()
        if trained and self.step_index > 0 and self.full_at != self.step_index:
            self._final_full_evaluation()  # a stopped run: its end is measured on the whole split too
        self.store.flush()  # reads below see only committed rows
        summary = self.store.run(self.run_id).summary
        last = {k: self.store.scalars(self.run_id, k) for k in (VAL_LOSS.name, VAL_PPL.name, FULL_LOSS.name,
                                                                 FULL_PPL.name)}
        summary["final"] = {k: float(v[1][-1]) for k, v in last.items() if len(v[1])}
        if self.recent:  # the training loss as the last RECENT batches measured it, not a lagging average
            summary["final"][LOSS.name] = self.recent_loss()
            summary["final_train_batches"] = len(self.recent)
        self.store.set_summary(self.run_id, summary)
        if trained:
            save_checkpoint(self.store, self.run_id, self.snapshot())
        for observer in self.observers:
            observer.on_fit_end(self, status)
        self.set_status(status, message)
        self.store.flush()

    # ---- snapshots for forks (engine/resume.py) --------------------------------------
    def snapshot(self) -> dict:
        """A detached copy of everything needed to continue this run elsewhere."""
        return resume.snapshot(self)

    def keep_snapshot_here(self) -> int:
        """Ask for this step's state to be kept for a fork (written at the end of the step); -> its step."""
        self.snapshot_wanted = True
        return self.step_index

    def declare_diverged(self, reason: str) -> None:
        """End the run as `diverged` once this step's records are written (for observers; the run keeps its history)."""
        self.divergence = reason

    def _keep_state(self) -> None:
        why = "rule" if self.snapshot_wanted else "log"
        self.snapshot_wanted = False
        self.next_snapshot = resume.next_log_step(self.step_index)
        keep_snapshot(self.store, self.run_id, self.snapshot(), why)

    def recent_loss(self) -> float:
        """Mean training loss of the last RECENT batches (NaN before the first)."""
        return float(np.mean(self.recent)) if self.recent else math.nan

    # ---- helpers ---------------------------------------------------------------------
    def apply_controls(self) -> bool:
        """Apply pending live edits (lr, clipping) and hand over requested snapshots, at this step;
        True when an edit was applied (and recorded as an event)."""
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
        return lr is not None or clip is not None

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
        self.recent.append(loss_value)
        values = {}
        if self.task.loss_kind == "ce":
            values[PPL.name] = _safe_exp(loss_value)
        metrics = {}
        if with_task_metrics:
            with torch.no_grad():
                metrics = self.task.metrics(out.detach(), batch)
            values.update({TRAIN_METRIC.at(metric=k): v for k, v in metrics.items()})
        for k, v in {"loss": loss_value, **metrics}.items():  # averaged over the window at the next evaluation
            self.window.setdefault(k, []).append(v)
        return values

    def _record_probes(self, step: int, measured: dict) -> None:
        if not measured:
            return
        for observer in self.observers:
            observer.on_probe(self, step, measured)
        scalars = {}
        for name, value in measured.items():
            if isinstance(value, np.ndarray):
                self.store.add_array(self.run_id, step, name, value)
            else:
                scalars[name] = float(value)
        self.store.add_scalars(self.run_id, step, scalars)

    def _off_thread(self) -> list:
        """(what collects results made off this thread, how one is recorded) for each this run has:
        the probe analyses, the whole-split validations, the text samples."""
        sources = [(self.probes, self._record_probes),
                   (self.whole_split, functools.partial(self.store.add_scalars, self.run_id)),
                   (self.sampler, functools.partial(self.store.add_text, self.run_id))]
        return [(source, record) for source, record in sources if source is not None]

    def _record_off_thread(self, wait: bool = False) -> None:
        """Record what the workers have finished, at the steps it was taken (wait: everything asked for);
        ProbeError if one failed."""
        for source, record in self._off_thread():
            for step, found in source.collect(wait=wait):
                record(step, found)

    def _record_final_analyses(self) -> None:
        """At the end: the workers' last results; a failed one (of NaN weights, say) is logged, not raised."""
        for source, record in self._off_thread():
            while True:
                try:
                    found = source.collect(wait=True)
                except ProbeError as err:  # the ones after it are still to collect
                    log.warning("run %s: %s", self.run_id, err)
                    continue
                if not found:
                    break
                for step, measured in found:
                    record(step, measured)

    def _sample(self) -> None:
        """Ask for a text sample of the model as it is now; generated off this thread (engine/sampling.py)."""
        if getattr(self.task, "vocab", None) and self.task.name == "text":
            if self.sampler is None:
                self.sampler = Sampler(self.task)
            self.sampler.request(self.model, self.step_index, seed=self.cfg.seed + self.step_index)


def run_to_end(trainer: Trainer, on_step=None) -> str:
    """Start the run, step it to its end, and conclude it; returns the final status.

    `on_step(trainer)` is called after every step (a progress bar). Ctrl-C ends the run as
    'stopped' with its records kept; any other exception as 'failed' (or 'diverged').
    """
    error = None
    try:
        trainer.start()
        while trainer.step():
            if on_step is not None:
                on_step(trainer)
    except (Exception, KeyboardInterrupt) as err:
        error = err
    return trainer.conclude(error)


def _trace(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


def _safe_exp(x: float) -> float:
    return math.exp(x) if x < 700 else math.inf
