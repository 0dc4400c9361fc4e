"""Validation numbers that mean what they say (issue 8 item 8): the whole split at the end of every run and
every few evaluations, equal to a plain computation over every validation character; a spread sample
between them; sizes stated in the run's summary."""

import copy
import math
import threading

import pytest
import torch
import torch.nn.functional as F

from engine.config import RunConfig
from engine.evaluation import FULL_LOSS, FULL_PPL, VAL_LOSS, Validation, spread
from engine.observer import Observer
from engine.store import RunStore
from engine.trainer import Trainer, run_to_end

TINY = RunConfig(cell="lstm", hidden_size=24, embed_dim=8, seq_len=16, batch_size=8, eval_every=10, eval_batches=3,
                 full_eval_every=2, probe_every=0, sample_every=0, max_steps=45)


def trained(cfg):
    store = RunStore()
    run_id = store.create_run(cfg.to_dict())
    trainer = Trainer(cfg, store, run_id)
    status = run_to_end(trainer)
    store.flush()
    return store, run_id, trainer, status


def test_spread_picks_batches_across_the_split():
    assert spread(23, 8) == [0, 2, 5, 8, 11, 14, 17, 20]
    assert spread(5, 0) == spread(5, 9) == [0, 1, 2, 3, 4]
    assert spread(10, 1) == [0]


def test_whole_split_loss_equals_a_plain_loop_over_every_validation_character():
    store, run_id, trainer, _ = trained(TINY)
    windows = trainer.task.val_windows  # (W, T + 1): every validation character is a target once
    with torch.no_grad():
        trainer.model.eval()
        out, _ = trainer.model(windows[:, :-1])  # (W, T, V)
        oracle = F.cross_entropy(out.reshape(-1, out.shape[-1]), windows[:, 1:].reshape(-1)).item()
    steps, full = store.scalars(run_id, FULL_LOSS.name)
    assert steps[-1] == TINY.max_steps and full[-1] == pytest.approx(oracle, rel=1e-5)
    assert store.run(run_id).summary["final"][FULL_PPL.name] == pytest.approx(math.exp(oracle), rel=1e-5)


def test_whole_split_points_come_every_few_evaluations_and_at_the_end():
    store, run_id, _, _ = trained(TINY)
    assert list(store.scalars(run_id, VAL_LOSS.name)[0]) == [10, 20, 30, 40, 45]
    assert list(store.scalars(run_id, FULL_LOSS.name)[0]) == [20, 40, 45]  # every 2nd evaluation, and the last
    whole = trained(TINY.replace(eval_batches=0))  # the sample is the whole split: every point is a whole-split point
    assert list(whole[0].scalars(whole[1], FULL_LOSS.name)[0]) == [10, 20, 30, 40, 45]


def test_whole_split_points_between_are_measured_off_the_training_thread_on_the_weights_of_their_step(monkeypatch):
    """The training thread copies the weights and goes on; the worker's value is the oracle's on that step's model."""
    threads = []  # (thread name, full) of every measure call
    measure = Validation.measure

    def spy(self, model, full=False, sample=True):
        threads.append((threading.current_thread().name, full))
        return measure(self, model, full=full, sample=sample)

    monkeypatch.setattr(Validation, "measure", spy)

    class KeepWeights(Observer):  # the model at each evaluation, to measure afterwards as a plain loop would
        kept = {}

        def on_eval(self, trainer, step, values):
            self.kept[step] = copy.deepcopy(trainer.model.state_dict())

    store = RunStore()
    run_id = store.create_run(TINY.to_dict())
    trainer = Trainer(TINY, store, run_id, observers=[KeepWeights()])
    assert run_to_end(trainer) == "done"
    store.flush()
    steps, full = store.scalars(run_id, FULL_LOSS.name)
    assert list(steps) == [20, 40, 45]
    windows = trainer.task.val_windows  # (W, T + 1)
    for step, value in zip(steps, full):
        trainer.model.load_state_dict(KeepWeights.kept[step])
        with torch.no_grad():
            out, _ = trainer.model.eval()(windows[:, :-1])  # (W, T, V)
            oracle = F.cross_entropy(out.reshape(-1, out.shape[-1]), windows[:, 1:].reshape(-1)).item()
        assert value == pytest.approx(oracle, rel=1e-5), step
    main = threading.main_thread().name
    # two on the worker, the last inline (the worker's second may still run when the last starts: no order)
    assert sorted(name for name, full in threads if full) == sorted(["rnnlab-validation", "rnnlab-validation", main])


def test_a_stopped_run_ends_with_a_whole_split_point():
    store = RunStore()
    cfg = TINY.replace(max_steps=1000, full_eval_every=0)
    run_id = store.create_run(cfg.to_dict())
    trainer = Trainer(cfg, store, run_id)
    trainer.start()
    for _ in range(13):
        trainer.step()
    trainer.controls.stop.set()
    assert trainer.conclude(None) == "stopped"
    assert list(store.scalars(run_id, FULL_LOSS.name)[0]) == [13]


def test_the_sample_is_spread_and_its_size_is_in_the_summary():
    store, run_id, trainer, _ = trained(TINY.replace(max_steps=10))
    batches = trainer.task.val_batches(TINY.batch_size, 0)
    n, windows = len(batches), len(trainer.task.val_windows)
    picked = [batches[i] for i in spread(n, 3)]
    assert n > 3 and all(torch.equal(a.x, b.x) for a, b in zip(trainer.validation.sample, picked))
    sizes = store.run(run_id).summary["validation"]
    assert sizes["split"] == {"batches": n, "sequences": windows, "targets": windows * TINY.seq_len}
    assert sizes["sample"] == {"batches": 3, "sequences": 3 * TINY.batch_size, "targets": 3 * TINY.batch_size * 16}
    assert sizes["full_every"] == 2 and sizes["unit"] == "characters"


def test_the_sample_point_equals_the_mean_over_its_own_batches():
    store, run_id, trainer, _ = trained(TINY.replace(max_steps=10))
    batches = trainer.task.val_batches(TINY.batch_size, 0)
    with torch.no_grad():
        trainer.model.eval()
        picked = [batches[i] for i in spread(len(batches), 3)]
        losses = [trainer.task.loss(trainer.model(b.x)[0], b).item() for b in picked]
    oracle = sum(losses) / len(losses)  # equal batches: every window has seq_len targets
    assert store.scalars(run_id, VAL_LOSS.name)[1][-1] == pytest.approx(oracle, rel=1e-6)


def test_lines_points_weigh_every_real_token_once():
    """Variable-length lines: batch means weighted by their real tokens give the token mean, however batched."""
    cfg = RunConfig(task="lines", cell="gru", hidden_size=16, embed_dim=8, seq_len=40, batch_size=16, max_steps=3,
                    eval_every=3, eval_batches=0, probe_every=0, sample_every=0)
    store, run_id, trainer, _ = trained(cfg)
    total, count = 0.0, 0
    with torch.no_grad():
        for b in trainer.task.val_batches(7, 0):  # another batching of the same lines
            out, _ = trainer.model(b.x, b.lengths)
            n = int(b.lengths.sum())
            total, count = total + trainer.task.loss(out, b).item() * n, count + n
    assert store.scalars(run_id, FULL_LOSS.name)[1][-1] == pytest.approx(total / count, rel=1e-5)
