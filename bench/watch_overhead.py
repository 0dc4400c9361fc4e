"""What `engine.watch` costs a plain PyTorch loop: the same LSTM loop with and without it, in one run.

    python bench/watch_overhead.py [--steps 600] [--budget 0.03]

Two copies of one char-LSTM (H 128, T 64, B 32, the pydoc corpus's characters) train from the
same initial weights on the same batches: one in a plain loop (forward, loss, backward, clip,
step, loss.item()), one in the same loop with rec.after_backward(loss) and rec.after_step()
recording into a temporary store at the default probe budget. They run interleaved in short
blocks, in the order watched-plain-plain-watched, so a busy machine slows both alike. Prints the
throughput ratio (target >= 0.95); the share of the watched loop's time spent inside the two
calls, which a shared machine's noise does not blur; the probe intervals the budget settled on;
and the machine's load while it ran.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data import load_corpus  # noqa: E402
from engine import watch  # noqa: E402
from engine.store import RunStore  # noqa: E402

BLOCK = 10  # steps per turn: short, so bursts of load from other processes hit both sides
WARMUP = 100  # steps each side trains before timing starts: the first probes run before their cost is known
H, T, B = 128, 64, 32  # hidden units, sequence length, batch size (the engine bench's defaults)


class CharLSTM(nn.Module):
    def __init__(self, V: int):
        super().__init__()
        self.embed, self.lstm, self.head = nn.Embedding(V, 64), nn.LSTM(64, H, batch_first=True), nn.Linear(H, V)

    def forward(self, x):  # (B, T) -> (B, T, V)
        return self.head(self.lstm(self.embed(x))[0])


class Loop:
    """One side: a model, its optimiser and, when watched, its recorder."""

    def __init__(self, model: nn.Module, rec_store: RunStore | None, budget: float):
        self.model = model
        self.opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        self.rec = None if rec_store is None else watch(model, self.opt, name="bench", store=rec_store,
                                                        probe_budget=budget)
        self.inside = 0.0  # seconds spent in rec.after_backward and rec.after_step

    def step(self, x, y) -> None:
        V = self.model.head.out_features
        loss = F.cross_entropy(self.model(x).reshape(-1, V), y.reshape(-1))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        t0 = time.perf_counter()
        if self.rec:
            self.rec.after_backward(loss)
        t1 = time.perf_counter()
        nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        t2 = time.perf_counter()
        if self.rec:
            self.rec.after_step()
        self.inside += (t1 - t0) + (time.perf_counter() - t2)
        loss.item()


def batches(data: torch.Tensor, n: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """n random (x, y) windows of the corpus, y shifted by one."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        i = torch.randint(0, len(data) - T - 1, (B,), generator=g).tolist()
        out.append((torch.stack([data[j : j + T] for j in i]), torch.stack([data[j + 1 : j + T + 1] for j in i])))
    return out


def run(steps: int, budget: float, folder: Path) -> dict:
    text = load_corpus("pydoc")[:200_000]
    chars = sorted(set(text))
    ids = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([ids[c] for c in text])
    torch.manual_seed(0)
    model = CharLSTM(len(chars))
    store = RunStore(folder / "bench.sqlite")
    plain, watched = Loop(copy.deepcopy(model), None, budget), Loop(model, store, budget)
    work = batches(data, WARMUP + steps)
    for x, y in work[:WARMUP]:
        plain.step(x, y)
        watched.step(x, y)
    times = {"plain": 0.0, "watched": 0.0}
    load0, watched.inside = os.getloadavg()[0], 0.0
    for i, start in enumerate(range(WARMUP, WARMUP + steps, BLOCK)):
        order = (("watched", watched), ("plain", plain))
        for name, side in order if i % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            for x, y in work[start : start + BLOCK]:
                side.step(x, y)
            times[name] += time.perf_counter() - t0
    store.flush()
    schedule, commits = watched.rec.schedule, store.stats()["seconds"]
    watched.rec.close()
    store.close()
    return {"ratio": times["plain"] / times["watched"], "inside": watched.inside / times["watched"],
            "commits": commits / times["watched"],
            "plain_ms": 1e3 * times["plain"] / steps,
            "watched_ms": 1e3 * times["watched"] / steps, "heavy": schedule.heavy_budget.interval,
            "light": schedule.light_budget.interval, "load": (load0, os.getloadavg()[0])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="timed steps per side (a multiple of 10)")
    parser.add_argument("--budget", type=float, default=0.03, help="probe_budget (RunConfig's default 0.03)")
    parser.add_argument("--repeat", type=int, default=3, help="independent runs; the median ratio is the figure")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"watch vs plain PyTorch loop, LSTM H {H}, T {T}, B {B}, interleaved in blocks of {BLOCK}, "
          f"{args.steps} steps each after {WARMUP}, probe_budget {args.budget:g}")
    ratios = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            r = run(args.steps, args.budget, Path(tmp))
        ratios.append(r["ratio"])
        print(f"throughput ratio {r['ratio']:.3f}; inside the watch calls {100 * r['inside']:.2f} % and store "
              f"commits (background) {100 * r['commits']:.2f} % of the watched loop's time; watched "
              f"{r['watched_ms']:.1f} ms/step, plain {r['plain_ms']:.1f}; light probes every {r['light']} steps, "
              f"heavy every {r['heavy']}; load average {r['load'][0]:.1f} -> {r['load'][1]:.1f} on {os.cpu_count()} cores")
    print(f"median throughput ratio {statistics.median(ratios):.3f} over {args.repeat} runs (target >= 0.95)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
