"""Split probes and text samples off the training thread: the same values as inline, at the same steps, in step order.

Oracles: each split probe's inline measurement (after_backward) taken before the step changes
anything, and a whole run with its analyses inline (ProbeRunner(offload=False)).
"""

import dataclasses
import threading
import time

import numpy as np
import pytest
import torch

from engine.config import RunConfig
from engine.diagnosis import STEP_MS
from engine.optim import clip_gradients
from engine.probes import PROBES, ProbeContext, SpectrumProbe, SplitProbe
from engine.probes import worker as probe_worker
from engine.probes.runner import ProbeRunner
from engine.probes.worker import ProbeError, ProbeWorker
from engine.sampling import SAMPLE_CHARS, sample_text
from engine.series import find
from engine.store import RunStore
from engine.trainer import Trainer

torch.set_num_threads(1)
TINY = dict(hidden_size=12, embed_dim=6, seq_len=10, batch_size=4, eval_every=8, eval_batches=1, sample_every=0)
SPLIT = [p for p in PROBES if issubclass(p, SplitProbe)]


def started(cfg: RunConfig, store: RunStore, offload: bool) -> Trainer:
    trainer = Trainer(cfg, store, store.create_run(cfg.to_dict()))
    trainer.start()
    trainer.probes = ProbeRunner(cfg, offload=offload)
    return trainer


def probe_step(trainer: Trainer) -> ProbeContext:
    """One forward and backward of the trainer's model, as a probe step sees it."""
    batch = next(trainer.batches)
    trainer.model.train()
    out, hiddens = trainer.model(batch.x, batch.lengths)
    trainer.optimizer.zero_grad(set_to_none=True)
    trainer.task.loss(out, batch).backward()
    return ProbeContext(model=trainer.model, task=trainer.task, batch=batch, out=out, hiddens=hiddens,
                        step=trainer.step_index, cfg=trainer.cfg)


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and a
    for k in a:
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]), err_msg=k)


@pytest.mark.parametrize("cell", ["lstm", "rnn_relu"])
def test_a_capture_analysed_after_the_update_equals_the_probe_inline_before_it(cell):
    """Clipping and the update change weights and gradients in place: captures must not see that."""
    store = RunStore()
    cfg = RunConfig(cell=cell, num_layers=2, lr=0.5, clip_value=1e-3, **TINY)  # a big update, a clip that fires
    trainer = started(cfg, store, offload=True)
    ctx = probe_step(trainer)
    probes, inline_probes = [P() for P in SPLIT], [P() for P in SPLIT]
    inline = [p.after_backward(ctx) for p in inline_probes]
    captured = [p.capture(ctx) for p in probes]
    _, _, fired = clip_gradients(trainer.model.parameters(), "norm", cfg.clip_value)
    trainer.optimizer.step()
    assert fired
    inline += [p.after_step(ctx) for p in inline_probes]  # the weights' norms after the update
    worker = ProbeWorker()
    worker.submit(ctx.step, [(p, p.complete(ctx, c)) for p, c in zip(probes, captured)])
    [(step, measured)] = worker.collect(wait=True, timeout=30)
    assert step == ctx.step
    merged = {}
    for m in inline:
        merged.update(m)
    assert any(k.startswith("weight_norm/") for k in merged) and any(k.startswith("reach/") for k in merged)
    assert_same(measured, merged)
    trainer.conclude(None)


def test_captures_hold_only_tensors_on_the_models_device():
    """No host values in a capture: taking one never waits for the device (the GPU rule)."""
    store = RunStore()
    cfg = RunConfig(cell="lstm", **TINY)
    trainer = started(cfg, store, offload=True)
    ctx = probe_step(trainer)
    for P in SPLIT:
        captured = P().capture(ctx)
        leaves = list(_leaves(captured))
        assert leaves, P.__name__
        for leaf in leaves:
            assert isinstance(leaf, torch.Tensor | str), f"{P.__name__} captured a {type(leaf).__name__}"
            if isinstance(leaf, torch.Tensor):
                assert leaf.device == next(trainer.model.parameters()).device and not leaf.requires_grad
    trainer.conclude(None)


def _leaves(x):
    if dataclasses.is_dataclass(x):  # a data.Batch cut to a few sequences
        x = {f.name: getattr(x, f.name) for f in dataclasses.fields(x)}
    if isinstance(x, dict):
        for v in x.values():
            yield from _leaves(v)
    elif isinstance(x, list | tuple):
        for v in x:
            yield from _leaves(v)
    elif x is not None:
        yield x


@pytest.mark.parametrize("cell", ["gru", "rnn_tanh"])
def test_a_run_with_probes_off_thread_records_what_inline_probes_record(cell, tmp_path):
    """Same config and seed, analyses on the worker or inline: every probe series equal, step for step."""
    cfg = RunConfig(cell=cell, max_steps=25, probe_every=3, probe_budget=1.0, **TINY)
    stores, ids = {}, {}
    for offload in (True, False):
        store = stores[offload] = RunStore(tmp_path / f"offload-{offload}.sqlite")
        trainer = started(cfg, store, offload)
        ids[offload] = trainer.run_id
        while True:
            more = trainer.step()
            if offload:  # let each analysis finish before the next step, so the cadence is the configured one
                _wait_idle(trainer.probes.worker)
            if not more:
                break
        assert trainer.conclude(None) == "done"
    off_id, in_id = ids[True], ids[False]
    names = stores[False].series_names(in_id)
    assert names == stores[True].series_names(off_id)
    probe_series = [n for n in names if any(s.matches(n) for P in SPLIT for s in P.series)]
    assert len(probe_series) >= 4
    for name in names:
        if find(name).kind == "scalar":
            a, b = stores[True].scalars(off_id, name), stores[False].scalars(in_id, name)
            np.testing.assert_array_equal(a[0], b[0], err_msg=name)
            if not STEP_MS.matches(name):  # wall time differs; everything measured must not
                np.testing.assert_array_equal(a[1], b[1], err_msg=name)
        else:
            (sa, va), (sb, vb) = stores[True].arrays(off_id, name), stores[False].arrays(in_id, name)
            np.testing.assert_array_equal(sa, sb, err_msg=name)
            for x, y in zip(va, vb):
                np.testing.assert_array_equal(x, y, err_msg=name)
    radius = SpectrumProbe.RADIUS.at(layer=0, gate="r" if cell == "gru" else "h")
    assert list(stores[True].scalars(off_id, radius)[0]) == list(range(0, 25, 3))


def _wait_idle(worker: ProbeWorker, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while worker.busy():
        assert time.monotonic() < deadline, "the probe worker did not finish"
        time.sleep(0.001)


class SlowProbe(SplitProbe):
    """Analysis takes `delay(step)` seconds and returns the step it was given."""

    def __init__(self, delay):
        self.delay = delay

    def analyse(self, captured):
        time.sleep(self.delay(captured))
        return {"step": float(captured)}


class FailingProbe(SplitProbe):
    def analyse(self, captured):
        if captured == 2:
            raise np.linalg.LinAlgError("non-finite input")
        return {"step": float(captured)}


def test_results_come_back_in_step_order_however_long_each_took():
    worker = ProbeWorker()
    probe = SlowProbe(lambda s: 0.02 * (5 - s))  # the first takes longest
    for s in range(5):
        worker.submit(s * 10, [(probe, s)])
    got = worker.collect(wait=True, timeout=30)
    assert [s for s, _ in got] == [0, 10, 20, 30, 40]
    assert [m["step"] for _, m in got] == [0, 1, 2, 3, 4]
    assert not worker.busy() and worker.collect() == []


def test_a_failed_analysis_is_raised_after_the_ones_before_it():
    worker = ProbeWorker()
    for s in range(4):
        worker.submit(s, [(FailingProbe(), s)])
    assert [s for s, _ in worker.collect(wait=True, timeout=30)] == [0, 1]
    with pytest.raises(ProbeError, match="(?s)step 2.*non-finite input"):
        worker.collect()
    assert [s for s, _ in worker.collect()] == [3]


def test_the_worker_thread_ends_when_idle_and_a_new_submit_starts_another(monkeypatch):
    monkeypatch.setattr(probe_worker, "IDLE_SECONDS", 0.05)
    worker = ProbeWorker(name="rnnlab-probes-idle-test")
    worker.submit(0, [(SlowProbe(lambda s: 0), 0)])
    assert [s for s, _ in worker.collect(wait=True, timeout=30)] == [0]
    deadline = time.monotonic() + 10
    while any(t.name == "rnnlab-probes-idle-test" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the idle worker thread did not end"
        time.sleep(0.01)
    worker.submit(1, [(SlowProbe(lambda s: 0), 1)])
    assert [s for s, _ in worker.collect(wait=True, timeout=30)] == [1]


def test_the_budget_counts_the_capture_not_the_analysis(monkeypatch):
    """A 50 ms analysis on the worker leaves the light tier's measured cost at the capture's."""
    slow = SlowProbe(lambda s: 0.05)
    slow.capture = lambda ctx: ctx.step
    monkeypatch.setattr("engine.probes.runner.default_probes", lambda cfg: [slow])
    cfg = RunConfig(probe_every=2, probe_budget=0.03)
    runner = ProbeRunner(cfg)
    ctx = ProbeContext(model=None, task=None, batch=None, out=None, hiddens=[], step=0, cfg=cfg)
    due = []
    for s in range(12):
        ctx.step = s
        runner.begin(s)
        due.append(bool(runner.due))
        runner.after_backward(ctx)
        runner.after_step(ctx)
        time.sleep(0.002)
    got = runner.collect(wait=True)
    assert [s for s, _ in got] == [s for s in range(12) if due[s]]
    assert [m["step"] for _, m in got] == [float(s) for s, _ in got]
    assert runner.light_budget.probe_time.value < 0.005  # the capture, not the 50 ms analysis
    # while the worker analyses (50 ms), the light tier waits instead of queueing more
    assert sum(due) < 6


def test_a_sample_made_off_thread_is_the_text_of_the_weights_at_its_step():
    cfg = RunConfig(cell="lstm", max_steps=12, probe_every=0, **{**TINY, "sample_every": 4})
    store = RunStore()
    trainer = Trainer(cfg, store, store.create_run(cfg.to_dict()))
    trainer.start()
    inline = {}
    while True:
        more = trainer.step()
        if trainer.step_index % 4 == 0:  # the oracle: the same sample, made here from the weights now
            inline[trainer.step_index] = sample_text(trainer.model, trainer.task, SAMPLE_CHARS,
                                                     seed=cfg.seed + trainer.step_index, device="cpu")
        if not more:
            break
    assert trainer.conclude(None) == "done"
    stored = dict(store.texts(trainer.run_id))
    assert stored == inline and len(stored) == 3 and all(len(t) > 100 for t in stored.values())
