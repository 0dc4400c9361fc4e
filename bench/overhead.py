"""What the engine's instruments cost, against a plain PyTorch loop measured in the same run.

    python bench/overhead.py [--steps 400] [--cells rnn_tanh,gru,lstm]

For each cell, the engine's Trainer (default probes, store writes, evaluation, samples) and
a plain loop (forward, loss, backward, clip, step, the same evaluation) train the same
model from the same seed on the same batches. They run interleaved in blocks, so a busy
machine slows both alike. Prints throughput ratios (target >= 0.95), the share of step time
spent writing the store (target < 1 %), and the time to read a 100,000-step series for
display (target < 50 ms).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import timed  # noqa: E402  (bench/ is on sys.path when run as a script)

from data import make_task  # noqa: E402
from engine.config import RunConfig  # noqa: E402
from engine.init import initialise  # noqa: E402
from engine.models import RecurrentLM  # noqa: E402
from engine.optim import build_optimizer  # noqa: E402
from engine.store import RunStore  # noqa: E402
from engine.trainer import Trainer  # noqa: E402

BLOCK = 50  # steps per turn before switching between the engine and the plain loop
WARMUP = 100  # steps each side trains before timing starts
STORE_METHODS = ("add_scalars", "add_array", "add_event", "add_text", "set_step")


class PlainLoop:
    """The baseline: what a person would write without any instruments."""

    def __init__(self, cfg: RunConfig):
        torch.manual_seed(cfg.seed)
        self.cfg = cfg
        self.task = make_task(cfg)
        self.model = RecurrentLM(cfg, self.task)
        initialise(self.model, cfg)
        self.opt = build_optimizer(self.model, cfg)
        self.val = self.task.val_batches(cfg.batch_size, cfg.eval_batches)
        self.bpe = self.task.batches_per_epoch(cfg.batch_size)
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
        if self.step_index % int(self.cfg.eval_every) == 0:
            self.evaluate()

    @torch.no_grad()
    def evaluate(self) -> None:
        self.model.eval()
        for b in self.val:
            self.task.loss(self.model(b.x, b.lengths)[0], b).item()
        self.model.train()


def time_store_calls(store: RunStore) -> dict:
    """Wrap the store's write methods to add up the time the training thread spends in them."""
    spent = {"seconds": 0.0}
    for name in STORE_METHODS:
        method = getattr(store, name)

        def timed(*args, _method=method, **kwargs):
            t0 = time.perf_counter()
            try:
                return _method(*args, **kwargs)
            finally:
                spent["seconds"] += time.perf_counter() - t0

        setattr(store, name, timed)
    return spent


def compare(cell: str, steps: int, folder: Path) -> dict:
    cfg = RunConfig(cell=cell, max_steps=WARMUP + steps + 1, seed=0)  # the defaults: H 128, T 64, B 32, probes every 10
    store = RunStore(folder / f"{cell}.sqlite")
    spent = time_store_calls(store)
    trainer = Trainer(cfg, store, store.create_run(cfg.to_dict()))
    trainer.start()
    plain = PlainLoop(cfg)
    for _ in range(WARMUP):  # steady state: the first probes run before their cost is known
        trainer.step()
        plain.step()
    spent["seconds"] = 0.0
    commits_before = store.stats()["seconds"]
    engine_s = plain_s = 0.0
    for _ in range(steps // BLOCK):
        t0 = time.perf_counter()
        for _ in range(BLOCK):
            trainer.step()
        engine_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(BLOCK):
            plain.step()
        plain_s += time.perf_counter() - t0
    store.flush()
    commits = store.stats()["seconds"] - commits_before
    trainer.finish()
    store.close()
    return {"cell": cell, "ratio": plain_s / engine_s, "engine_ms": 1e3 * engine_s / steps,
            "plain_ms": 1e3 * plain_s / steps, "store_share": spent["seconds"] / engine_s,
            "commit_share": commits / engine_s, "interval": trainer.probes.heavy_budget.interval}


def read_time(folder: Path, n_steps: int = 100_000) -> tuple[float, int]:
    """Median time to read a 100,000-step series downsampled for a chart."""
    store = RunStore(folder / "long.sqlite")
    run_id = store.create_run(RunConfig().to_dict())
    rng = np.random.default_rng(0)
    loss = np.cumsum(rng.normal(0, 0.01, n_steps)) + 4
    for s in range(n_steps):
        store.add_scalars(run_id, s, {"train/loss": float(loss[s]), "lr": 1e-3, "grad/norm": 1.0})
    store.flush()
    ms = timed(lambda: store.scalars(run_id, "train/loss", max_points=1000), repeat=20)
    steps, _ = store.scalars(run_id, "train/loss", max_points=1000)
    store.close()
    return ms, len(steps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="steps per side and cell (a multiple of 50)")
    parser.add_argument("--cells", default="rnn_tanh,gru,lstm")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"engine vs plain PyTorch loop, interleaved in blocks of {BLOCK}, {args.steps} steps each after {WARMUP} "
              f"(H 128, T 64, B 32, default probes and evaluation)")
        for cell in args.cells.split(","):
            r = compare(cell, args.steps, folder)
            print(f"{r['cell']:9} throughput ratio {r['ratio']:.3f} (target >= 0.95)  engine {r['engine_ms']:.1f} ms/step,"
                  f" plain {r['plain_ms']:.1f} ms/step;  store writes {100 * r['store_share']:.2f} % of step time"
                  f" (target < 1 %), background commits {100 * r['commit_share']:.2f} %;"
                  f" heavy probes every {r['interval']} steps")
        ms, points = read_time(folder)
        print(f"read 100,000-step series for display: {ms:.1f} ms, {points} points (target < 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
