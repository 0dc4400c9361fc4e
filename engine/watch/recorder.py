"""Recorder: a user's own PyTorch loop, recorded into the run store with the engine's probes.

    from engine import watch
    rec = watch(model, optimizer, name="my lstm", config={"lr": 3e-3})   # engine/watch/__init__.py
    for x, y in batches:
        loss = loss_fn(model(x), y)
        optimizer.zero_grad(); loss.backward()
        rec.after_backward(loss)       # gradients exist, not yet clipped or stepped
        clip_grad_norm_(model.parameters(), 1.0); optimizer.step()
        rec.after_step()               # the step is recorded; a pause from the dashboard waits here
    rec.close()                        # or: with watch(...) as rec: ...

Every step records what the engine records (docs/contracts.md): train/loss, train/ppl
(loss_kind 'ce'), lr (the optimizer's first group), grad/norm over
every parameter of the model (before your clipping, at after_backward), grad/norm_clipped (at
after_step, before the optimizer zeroes the gradients: after your clipping), grad/clipped and
time/step_ms. On probe steps, within the engine's probe budget: gradient histograms and weight
norms (the engine's own probe classes), W_h spectra, hidden-state saturation and gradient reach
(measure.py). Step s describes the model after s updates, as in an engine run.

The run is marked as recorded by watch (summary 'source'), so the dashboard shows it beside
engine runs, offers Pause and Stop (remote.py) and no fork or live edits. What this model
cannot give is recorded in summary['unmeasured'] and as one 'diagnosis' event per finding, which
the Live page lists. rec.log({...}) and rec.log_text(...) add your own scalars (val/loss...) and
text samples at the current step.
"""

from __future__ import annotations

import atexit
import math
import sys
import time
import traceback
from collections import deque

import numpy as np
import torch
from torch import nn

from engine import trainer
from engine.diagnosis import STEP_MS
from engine.optim import GRAD_CLIPPED, GRAD_NORM, GRAD_NORM_CLIPPED, LR
from engine.probes import GradHistogramProbe, ProbeContext, WeightProbe
from engine.probes.runner import INTERVAL
from engine.store import RunStore
from engine.trainer import RECENT
from engine.watch import SOURCE, measure
from engine.watch.capture import Capture
from engine.watch.layers import find_layers, static_gaps
from engine.watch.records import Gradients, final_figures, safe_exp, with_val_companions
from engine.watch.remote import Remote, StopRequested
from engine.watch.schedule import Schedule
from engine.watch.settings import Settings


class Recorder:
    """Records one run of a user's loop; made by watch()."""

    def __init__(self, model: nn.Module, optimizer, settings: Settings, store: RunStore | None = None):
        self.model, self.optimizer, self.settings = model, optimizer, settings
        self.own_store = store is None
        self.store = RunStore() if store is None else store
        self.gradients = Gradients([p for p in model.parameters() if p.requires_grad])
        self.layers = find_layers(model)
        self.capture = Capture(measure.fused_modules(self.layers))
        self.schedule = Schedule(settings.probe_every, settings.probe_budget)
        # the engine's own probe classes where they only read model.named_parameters()
        self.grad_hist, self.weights = GradHistogramProbe(), WeightProbe()
        self.step = 0
        self.closed = False
        self.status = "running"
        self.summary: dict = {}
        self._pending: dict | None = None  # this step's records between after_backward and after_step
        self._measured: dict = {}
        self.recent: deque[float] = deque(maxlen=RECENT)  # the last batches' losses, for the final summary
        self._gaps: dict[str, str] = {}
        self._probed = False  # light probes ran at this step's after_backward (the weights' "before")
        self._create_run()
        self.remote = Remote(self.store, self.run_id)
        self._begin_step()
        atexit.register(self._at_exit)

    # ---- the two moments of a step ----------------------------------------------------------

    def after_backward(self, loss) -> None:
        """Call after loss.backward(), before clipping and optimizer.step(): records the loss and raw gradients."""
        self._check_open("after_backward")
        if self._pending is not None:
            raise RuntimeError(f"after_backward() was called twice at step {self.step} without after_step(): "
                               "call rec.after_step() after optimizer.step()")
        grads = self.gradients.present()
        if not grads:
            raise ValueError("after_backward(loss) found no gradients on the model's parameters: call it after "
                             "loss.backward() and before optimizer.zero_grad()")
        value = loss.item() if torch.is_tensor(loss) else float(loss)
        norm = self.gradients.norm(grads)
        lr = float(self.optimizer.param_groups[0]["lr"])  # before the step: a scheduler steps after it
        self._pending = {trainer.LOSS.name: value, LR.name: lr, GRAD_NORM.name: norm}
        self._measured = {}
        finite = math.isfinite(value) and math.isfinite(norm)
        if not finite:
            self._diverged(value, norm)
        elif self.schedule.any:
            self._probe_after_backward()
        self._probed = finite and self.schedule.light
        self.capture.remove()  # hooks live for one probe step only

    def after_step(self) -> None:
        """Call after optimizer.step() (before zeroing gradients): records the step; may pause or stop it here."""
        self._check_open("after_step")
        if self._pending is None:
            raise RuntimeError(f"after_step() at step {self.step} without after_backward(loss): call "
                               "rec.after_backward(loss) after loss.backward()")
        record = self._step_record(self._pending)
        if self._probed:
            self._timed(False, "weight norms", lambda: self._measured.update(self.weights.after_step(self._context())))
        record[STEP_MS.name] = 1e3 * self.schedule.step_done()
        self._write(record, self._measured)
        self._pending, self._measured = None, {}
        self.step += 1
        self.store.set_step(self.run_id, self.step)
        self._obey(self.remote.poll())
        self._begin_step()

    # ---- extras -------------------------------------------------------------------------------

    def log(self, values: dict) -> None:
        """Record your own scalars at the current step, e.g. {'val/loss': 1.23} (adds val/ppl, val/bpc for 'ce')."""
        self._check_open("log")
        self.store.add_scalars(self.run_id, self.step, with_val_companions(values, self.settings.loss_kind))

    def log_text(self, text: str) -> None:
        """Record a text sample at the current step (the Live page's 'Text & events' shows it)."""
        self._check_open("log_text")
        self.store.add_text(self.run_id, self.step, text)

    # ---- the end --------------------------------------------------------------------------------

    def close(self, status: str | None = None, message: str | None = None) -> None:
        """End the run ('done', or 'diverged' after a NaN/Inf) and remove every hook; idempotent."""
        if self.closed:
            return
        self.closed = True
        self.capture.remove()
        atexit.unregister(self._at_exit)
        self.status = status or ("diverged" if self.status == "diverged" else "done")
        self.store.flush()  # _final reads what log() recorded
        final = final_figures(self.store, self.run_id, self.recent)
        self.summary.update(final=final, final_train_batches=len(self.recent), steps=self.step)
        self.store.set_summary(self.run_id, self.summary)
        self.store.set_status(self.run_id, self.status, message)
        self.store.flush()
        if self.own_store:
            self.store.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, kind, error, tb) -> bool:
        """Close the run: 'done', 'stopped' (from the dashboard or Ctrl-C) or 'failed' with the traceback."""
        if kind is None or self.closed:
            self.close()
        elif issubclass(kind, KeyboardInterrupt):
            self.close("stopped", "stopped by Ctrl-C")
        else:
            self.store.add_event(self.run_id, self.step, "error", f"{kind.__name__}: {error}",
                                 {"traceback": "".join(traceback.format_exception(kind, error, tb))})
            self.close("failed", f"{kind.__name__}: {error}")
        return kind is not None and issubclass(kind, StopRequested)

    def _at_exit(self) -> None:
        """The script ended without close(): 'failed' if an exception killed it, 'stopped' on Ctrl-C, else 'done'."""
        error = getattr(sys, "last_value", None)  # set when an uncaught exception ended the script
        if isinstance(error, KeyboardInterrupt):
            self.close("stopped", "stopped by Ctrl-C")
        elif error is not None and not isinstance(error, StopRequested):
            self.close("failed", f"the script ended with {type(error).__name__}: {error}")
        else:
            self.close(None, "the script ended without rec.close()")

    # ---- helpers ----------------------------------------------------------------------------------

    def _create_run(self) -> None:
        """The run, marked as watched, with what this model's structure rules out."""
        s = self.settings
        self.run_id = self.store.create_run(s.config, label=s.name, status="running")
        self.summary = {
            "source": SOURCE, "loss_kind": s.loss_kind, "baselines": {}, "script": sys.argv[0] or None,
            "parameters": sum(p.numel() for p in self.model.parameters()), "device": _device(self.model),
            "probe_every": s.probe_every, "probe_budget": s.probe_budget,
            "layers": [la.describe() for la in self.layers], "unmeasured": {},
        }
        self.store.set_summary(self.run_id, self.summary)
        self._note(static_gaps(self.layers))

    def _begin_step(self) -> None:
        """Decide the coming step's probes and hook the modules for it when saturation or reach is due."""
        self.schedule.decide(self.step)
        if self.schedule.any and self.capture.modules:
            self.capture.attach(grads=self.schedule.heavy)

    def _probe_after_backward(self) -> None:
        ctx = self._context()
        if self.schedule.light:
            self._timed(False, "gradient histograms", lambda: self._measured.update(self.grad_hist.after_backward(ctx)))
            self._timed(False, "weight norms", lambda: self._measured.update(self.weights.after_backward(ctx)))
            self._timed(False, "saturation", lambda: self._add_measured(*measure.saturation(self.layers, self.capture)))
        if self.schedule.heavy:
            self._timed(True, "W_h spectra", lambda: self._measured.update(measure.spectra(self.layers)))
            self._timed(True, "gradient reach", lambda: self._add_measured(*measure.reach(self.layers, self.capture)))
            self._measured[INTERVAL.name] = float(self.schedule.heavy_interval)
        for module_id, why in self.capture.failures.items():
            name = next(la.path for la in self.layers if id(la.module) == module_id)
            self._note({f"capture/{name}": f"Saturation and gradient reach are not measured for {name}: its "
                                           f"forward call could not be read ({why})."})

    def _add_measured(self, values: dict, gaps: dict) -> None:
        self._measured.update(values)
        self._note(gaps)

    def _timed(self, heavy: bool, what: str, fn) -> None:
        """Run one measurement, count its time against its tier; a failure is said, not raised into the loop."""
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as err:
            self._note({f"failed/{what}": f"{what.capitalize()} could not be measured on this model "
                                          f"({type(err).__name__}: {err}); the run goes on without it."})
        self.schedule.add(heavy, time.perf_counter() - t0)

    def _context(self) -> ProbeContext:
        """What the engine's parameter probes read: only the model (and the step)."""
        return ProbeContext(model=self.model, task=None, batch=None, out=None, hiddens=[], step=self.step, cfg=None)

    def _step_record(self, pending: dict) -> dict:
        """The step's scalars: loss and perplexity, lr, gradient norms before and after clipping."""
        record = dict(pending)
        grads = self.gradients.present()
        if grads:
            after = self.gradients.norm(grads)
            record[GRAD_NORM_CLIPPED.name] = after
            record[GRAD_CLIPPED.name] = float(after < pending[GRAD_NORM.name])
        else:
            self._note({GRAD_NORM_CLIPPED.name: "The gradient norm after clipping is not measured: the gradients were "
                                             "gone at rec.after_step(). Call it before optimizer.zero_grad()."})
        loss = pending[trainer.LOSS.name]
        self.recent.append(loss)
        if self.settings.loss_kind == "ce":
            record[trainer.PPL.name] = safe_exp(loss)
        return record

    def _write(self, record: dict, measured: dict) -> None:
        scalars = dict(record)
        for key, value in measured.items():
            if isinstance(value, np.ndarray):
                self.store.add_array(self.run_id, self.step, key, value)
            else:
                scalars[key] = float(value)
        self.store.add_scalars(self.run_id, self.step, scalars)

    def _obey(self, action: str | None) -> None:
        if action == "pause":
            action = self.remote.hold(self.step)
            self.schedule.resume_clock()
        if action == "stop":
            self.store.add_event(self.run_id, self.step, "stopped", "stopped from the dashboard")
            self.close("stopped", "stopped from the dashboard")
            raise StopRequested(f"run {self.run_id} was stopped from the dashboard at step {self.step}")

    def _diverged(self, loss: float, norm: float) -> None:
        """A NaN or Inf: recorded once as an event; the run ends 'diverged'. No probes on such a step."""
        if self.status != "diverged":
            self.status = "diverged"
            self.store.add_event(self.run_id, self.step, "diverged",
                                 f"loss {loss:.4g}, gradient norm {norm:.4g} at step {self.step}")

    def _note(self, gaps: dict) -> None:
        """Record what is not measured, once per finding: in the summary and as a 'diagnosis' event."""
        new = {k: v for k, v in gaps.items() if k not in self._gaps}
        if not new:
            return
        self._gaps.update(new)
        self.summary["unmeasured"] = dict(self._gaps)
        self.store.set_summary(self.run_id, self.summary)
        for key, why in new.items():
            self.store.add_event(self.run_id, self.step, "diagnosis", why, {
                "rule": f"not-measured/{key}", "title": "Not measured for this model",
                "explanation": why, "fix": {}})

    def _check_open(self, what: str) -> None:
        if self.closed:
            raise RuntimeError(f"{what}(): the recorder of run {self.run_id} is closed ({self.status}); "
                               "start a new run with watch(...)")


def _device(model: nn.Module) -> str:
    p = next(model.parameters(), None)
    return "cpu" if p is None else str(p.device)
