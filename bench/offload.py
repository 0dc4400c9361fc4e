"""Where a probe's analysis should run: inline, on a worker thread, or in a worker process.

    python bench/offload.py [--steps 600] [--every 10]

An LSTM 128 (the engine's defaults, no probes of its own) trains on this thread with one
intra-op thread; every `--every` steps the spectrum of W_h (four 128 x 128 gate blocks:
eigenvalues and singular values, the heaviest split probe) is measured
  inline   on the training thread, as before the probe worker existed,
  thread   by engine/probes/worker.py's worker thread (the training thread copies W_h),
  process  by a worker process (spawned once; the training thread copies W_h to NumPy and
           pickles it through a pipe), the alternative to a thread.
A worker takes a new copy only when it has finished the last one (as the ProbeRunner does).
Modes alternate in blocks of 50 steps. Prints the training thread's ms per step for each mode
(median over blocks), the spectra measured per 100 steps, the capture-to-result latency, and
what starting the process costs. On an idle 2-core machine the worker has a core to itself.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

from timing import load, use_checkout  # bench/ is on sys.path when run as a script

ROOT = use_checkout()

import torch  # noqa: E402

from engine.config import RunConfig  # noqa: E402
from engine.probes import ProbeContext, SpectrumProbe  # noqa: E402
from engine.probes.worker import ProbeWorker  # noqa: E402
from engine.store import RunStore  # noqa: E402
from engine.trainer import Trainer  # noqa: E402

BLOCK = 50


def process_main(conn, root: str) -> None:
    """The worker process: receive {(layer, gate): ndarray}, send back the spectra."""
    sys.path.insert(0, root)
    import torch as t

    from engine.probes.spectra import spectrum as spec

    t.set_num_threads(1)
    conn.send("ready")
    while True:
        item = conn.recv()
        if item is None:
            return
        step, blocks = item
        out = {}
        for (layer, gate), w in blocks.items():
            out.update(spec(t.from_numpy(w), layer, gate))
        conn.send((step, out))


class ProcessWorker:
    """A spawned process that analyses W_h copies sent through a pipe."""

    def __init__(self):
        t0 = time.perf_counter()
        ctx = mp.get_context("spawn")  # fork would copy a process with threads (writer, workers) mid-flight
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=process_main, args=(child, str(ROOT)), daemon=True)
        self.proc.start()
        assert self.conn.recv() == "ready"
        self.start_seconds = time.perf_counter() - t0
        self.pending = 0

    def submit(self, step: int, blocks: dict) -> None:
        self.conn.send((step, {k: w.cpu().double().numpy() for k, w in blocks.items()}))
        self.pending += 1

    def busy(self) -> bool:
        while self.pending and self.conn.poll():
            self.conn.recv()
            self.pending -= 1
        return self.pending > 0

    def close(self) -> None:
        self.conn.send(None)
        self.proc.join(10)


class Mode:
    """One way of measuring the spectrum every `every` steps; counts what it measured and when."""

    def __init__(self, name: str, every: int):
        self.name, self.every, self.next_due = name, every, 0
        self.probe = SpectrumProbe()
        self.worker = ProbeWorker() if name == "thread" else ProcessWorker() if name == "process" else None
        self.measured, self.latency, self.sent = 0, [], {}

    def after_step(self, trainer: Trainer, step: int) -> None:
        self._collect()
        if step < self.next_due or (self.worker is not None and self.worker.busy()):
            return
        self.next_due = step + self.every
        ctx = ProbeContext(model=trainer.model, task=None, batch=None, out=None, hiddens=[], step=step, cfg=None)
        if self.worker is None:
            self.probe.after_backward(ctx)
            self.measured += 1
            return
        self.sent[step] = time.perf_counter()
        captured = self.probe.capture(ctx)
        if self.name == "thread":
            self.worker.submit(step, [(self.probe, captured)])
        else:
            self.worker.submit(step, captured)

    def _collect(self) -> None:
        if self.name == "thread":
            done = [s for s, _ in self.worker.collect()]
        elif self.name == "process":
            before = self.worker.pending
            self.worker.busy()
            done = sorted(self.sent)[: before - self.worker.pending]
        else:
            return
        for s in done:
            self.latency.append(time.perf_counter() - self.sent.pop(s))
            self.measured += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="timed steps per mode (a multiple of 50)")
    parser.add_argument("--every", type=int, default=10, help="steps between spectra")
    parser.add_argument("--repo", default=str(ROOT), help="the checkout to measure (default: this one)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = RunConfig(probe_every=0, max_steps=10**7, sample_every=10**6, eval_every=10**6)
    store = RunStore(Path(__import__("tempfile").mkdtemp()) / "offload.sqlite")
    trainer = Trainer(cfg, store, store.create_run(cfg.to_dict()))
    trainer.start()
    modes = [Mode(n, args.every) for n in ("inline", "thread", "process")]
    print(f"LSTM 128, spectrum of W_h every {args.every} steps; process start {modes[2].worker.start_seconds:.2f} s; "
          f"{load()}")
    for mode in modes:  # warm-up: first calls of each path
        for _ in range(20):
            trainer.step()
            mode.after_step(trainer, trainer.step_index)
    times = {m.name: [] for m in modes}
    counts = {m.name: 0 for m in modes}
    for _ in range(args.steps // BLOCK):
        for mode in modes:
            measured = mode.measured
            t0 = time.perf_counter()
            for _ in range(BLOCK):
                trainer.step()
                mode.after_step(trainer, trainer.step_index)
            times[mode.name].append((time.perf_counter() - t0) / BLOCK)
            counts[mode.name] += mode.measured - measured
    for mode in modes:
        ms = 1e3 * statistics.median(times[mode.name])
        lat = f", capture to result {1e3 * statistics.median(mode.latency):.0f} ms" if mode.latency else ""
        print(f"{mode.name:8} training thread {ms:.1f} ms/step; spectra per 100 steps "
              f"{100 * counts[mode.name] / args.steps:.1f}{lat}")
    modes[2].worker.close()
    trainer.finish()
    store.close()
    print(load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
