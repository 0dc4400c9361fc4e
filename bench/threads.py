"""What a second intra-op thread gives one run: plain-loop steps with 1 and 2 torch threads, by model size.

    python bench/threads.py [--steps 200] [--sizes 128x32,256x64,512x64]

For each hidden_size x batch_size (an LSTM, T 64), one plain loop (bench/plain.py) trains
in interleaved blocks of 20 steps with torch.set_num_threads(1) and (2); prints the median
ms per step of each and the speed-up. engine/threads.py gives a run spare cores only above
MIN_PARALLEL_WORK (hidden x batch); this is the measurement behind that threshold.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time

from timing import load, use_checkout  # bench/ is on sys.path when run as a script

ROOT = use_checkout()

import torch  # noqa: E402
from plain import PlainLoop  # noqa: E402

from engine.config import RunConfig  # noqa: E402

BLOCK = 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="timed steps per thread count and size")
    parser.add_argument("--sizes", default="128x32,256x64,512x64", help="hidden x batch, comma-separated")
    args = parser.parse_args()
    print(f"one LSTM run, T 64, plain loop; {load()}")
    for size in args.sizes.split(","):
        h, b = (int(v) for v in size.split("x"))
        cfg = dataclasses.replace(RunConfig(), hidden_size=h, batch_size=b, eval_every=10**6)
        loop = PlainLoop(cfg)
        per = {1: [], 2: []}
        for k in (1, 2):  # warm-up of each count
            torch.set_num_threads(k)
            for _ in range(5):
                loop.step()
        for _ in range(args.steps // BLOCK):
            for k in (1, 2):
                torch.set_num_threads(k)
                t0 = time.perf_counter()
                for _ in range(BLOCK):
                    loop.step()
                per[k].append((time.perf_counter() - t0) / BLOCK)
        one, two = (1e3 * statistics.median(per[k]) for k in (1, 2))
        print(f"hidden {h:4} batch {b:3} (work {h * b:6}): 1 thread {one:.1f} ms/step, 2 threads {two:.1f} ms/step, "
              f"speed-up {one / two:.2f};  {load()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
