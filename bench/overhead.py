"""What the engine's instruments cost, against a plain PyTorch loop measured in the same run.

    python bench/overhead.py [--steps 600] [--cells rnn_tanh,gru,lstm] [--no-dashboard] [--repo PATH]

Lines: each cell at the engine's defaults (H 128, T 64, B 32, probes every 10 steps within 3 %
of the time), and "dashboard": the dashboard's default run (app/controls.py UI_DEFAULT: LSTM
128, its probe budget, evaluation every 50 steps, a text sample every 100). For each, the
engine's Trainer (probes, store writes, evaluation, samples) and a plain loop (forward, loss,
backward, clip, step, the same evaluation; bench/plain.py) train the same model from the same
seed on the same batches, interleaved in blocks of 50 steps after 100 steps of warm-up each, so
a busy machine slows both alike. Before each plain block the engine's worker threads finish
what they were given (their time is the engine's, counted in its CPU figure, not the plain
loop's wall time).

Prints per line: the throughput ratio plain / engine (the median over block pairs; targets:
>= 0.97 for the engine defaults, >= 0.95 for the dashboard); the same ratio in CPU time of the
training thread (what the wall-time ratio comes to on an idle machine, where the worker threads
have a core of their own; it holds up far better than wall time on a busy machine); the CPU time
per step of the whole process (worker threads included) against the plain loop's; the share of step time spent in
store writes (target < 1 %), how often a spectrum was recorded (dashboard target: every 10
steps or more often), and the load average. Last, the time to read a 100,000-step series for
display (target < 50 ms). --repo measures another checkout with this bench (e.g. the code
before a change).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

from timing import load, median_ratio, timed, use_checkout  # bench/ is on sys.path when run as a script

ROOT = use_checkout()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from plain import PlainLoop  # noqa: E402

from engine.config import RunConfig  # noqa: E402
from engine.store import RunStore  # noqa: E402
from engine.trainer import Trainer  # noqa: E402

BLOCK = 50  # steps per turn before switching between the engine and the plain loop
WARMUP = 100  # steps each side trains before timing starts
STORE_METHODS = ("add_scalars", "add_array", "add_event", "add_text", "set_step")
SPECTRUM_PREFIX = "spectrum/radius/"  # a bench reads stores of several versions: by prefix, not declaration


def dashboard_config() -> RunConfig:
    """The dashboard's default run, as the checkout declares it."""
    from app.controls import UI_DEFAULT  # imports streamlit; only for this line

    return UI_DEFAULT


def time_store_calls(store: RunStore) -> dict:
    """Wrap the store's write methods to add up the time the training thread spends in them."""
    spent = {"seconds": 0.0}
    for name in STORE_METHODS:
        method = getattr(store, name)

        def timed_call(*args, _method=method, **kwargs):
            t0 = time.perf_counter()
            try:
                return _method(*args, **kwargs)
            finally:
                spent["seconds"] += time.perf_counter() - t0

        setattr(store, name, timed_call)
    return spent


def settle(trainer: Trainer) -> None:
    """Wait until the trainer's worker threads (probe analyses, samples), where it has them, are idle."""
    workers = [getattr(trainer.probes, "worker", None), getattr(getattr(trainer, "sampler", None), "worker", None)]
    for worker in [w for w in workers if w is not None]:
        while worker.busy():
            time.sleep(0.0005)


def compare(name: str, cfg: RunConfig, steps: int, folder: Path) -> dict:
    """Interleaved blocks of the engine and the plain loop on `cfg`; the figures of one line."""
    cfg = dataclasses.replace(cfg, max_steps=WARMUP + steps + 1, seed=0)
    store = RunStore(folder / f"{name}.sqlite")
    spent = time_store_calls(store)
    trainer = Trainer(cfg, store, store.create_run(cfg.to_dict()))
    trainer.start()
    plain = PlainLoop(cfg)
    for _ in range(WARMUP):  # steady state: the first probes run before their cost is known
        trainer.step()
        plain.step()
    settle(trainer)
    spent["seconds"] = 0.0
    engine_wall, plain_wall, engine_cpu, plain_cpu, engine_thread, plain_thread = [], [], [], [], [], []
    for _ in range(steps // BLOCK):
        t0, c0, h0 = time.perf_counter(), time.process_time(), time.thread_time()
        for _ in range(BLOCK):
            trainer.step()
        engine_wall.append(time.perf_counter() - t0)
        engine_thread.append(time.thread_time() - h0)
        settle(trainer)
        engine_cpu.append(time.process_time() - c0)
        t0, c0, h0 = time.perf_counter(), time.process_time(), time.thread_time()
        for _ in range(BLOCK):
            plain.step()
        plain_wall.append(time.perf_counter() - t0)
        plain_thread.append(time.thread_time() - h0)
        plain_cpu.append(time.process_time() - c0)
    trainer.finish()
    run_id = trainer.run_id
    spectra = [n for n in store.series_names(run_id) if n.startswith(SPECTRUM_PREFIX)]
    taken = store.scalars(run_id, spectra[0])[0] if spectra else np.array([])
    timed_steps = taken[(taken >= WARMUP) & (taken < WARMUP + steps)]
    store.close()
    return {
        "name": name,
        "ratio": median_ratio(plain_wall, engine_wall),
        "ratio_total": sum(plain_wall) / sum(engine_wall),
        "cpu_ratio": sum(engine_cpu) / sum(plain_cpu),
        "thread_ratio": median_ratio(plain_thread, engine_thread),
        "engine_ms": 1e3 * sum(engine_wall) / steps,
        "plain_ms": 1e3 * sum(plain_wall) / steps,
        "store_share": spent["seconds"] / sum(engine_wall),
        "spectrum_every": steps / len(timed_steps) if len(timed_steps) else float("inf"),
        "heavy_every": trainer.probes.heavy_budget.interval,
    }


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


def report(r: dict, target: float) -> str:
    return (f"{r['name']:9} throughput ratio {r['ratio']:.3f} (target >= {target:.2f}; all blocks {r['ratio_total']:.3f})"
            f"  engine {r['engine_ms']:.1f} ms/step, plain {r['plain_ms']:.1f};  training-thread CPU ratio"
            f" {r['thread_ratio']:.3f};  process CPU per step engine/plain {r['cpu_ratio']:.2f};  store writes {100 * r['store_share']:.2f} % (target < 1 %);"
            f"  spectrum every {r['spectrum_every']:.1f} steps, heavy probes every {r['heavy_every']};  {load()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="timed steps per side and line (a multiple of 50)")
    parser.add_argument("--cells", default="rnn_tanh,gru,lstm", help="engine-default lines ('' for none)")
    parser.add_argument("--no-dashboard", action="store_true", help="leave out the dashboard line")
    parser.add_argument("--repo", default=str(ROOT), help="the checkout to measure (default: this one)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"checkout {ROOT}; {load()}")
    print(f"engine vs plain PyTorch loop, interleaved in blocks of {BLOCK}, {args.steps} steps each after {WARMUP}")
    lines = [(cell, RunConfig(cell=cell), 0.97) for cell in args.cells.split(",") if cell]
    if not args.no_dashboard:
        lines.append(("dashboard", dashboard_config(), 0.95))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, cfg, target in lines:
            print(report(compare(name, cfg, args.steps, folder), target), flush=True)
        ms, points = read_time(folder)
        print(f"read 100,000-step series for display: {ms:.1f} ms, {points} points (target < 50 ms); {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
