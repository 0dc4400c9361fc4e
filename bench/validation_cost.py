"""What a validation point costs: the spread sample and the whole split, against a training step.

    python bench/validation_cost.py [--corpus pydoc] [--corpus ../shared/data/tinyshakespeare.txt] [--repeat 5]

For each corpus, the dashboard's default run (LSTM 128, seq_len 64, batch 32) is built and trained
for a few steps; then the median wall time of a training step, of an evaluation on the default
sample (eval_batches 8 spread over the split) and of a whole-split evaluation is printed, with the
whole split in training steps and its share of the time between two evaluations when it comes
every full_eval_every evaluations (eval_every 50, the dashboard's default).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import timed  # noqa: E402  (bench/ is on sys.path when run as a script)

from engine.config import RunConfig  # noqa: E402
from engine.store import RunStore  # noqa: E402
from engine.trainer import Trainer  # noqa: E402

EVAL_EVERY = 50  # the dashboard's default (app/controls.py UI_DEFAULT)


def measure(corpus: str, repeat: int) -> None:
    cfg = RunConfig(corpus=corpus, max_steps=10_000, probe_every=0, sample_every=0, eval_every=10_000)
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "runs.sqlite")
        trainer = Trainer(cfg, store, store.create_run(cfg.to_dict()))
        trainer.start()
        for _ in range(20):  # past the first, slower steps
            trainer.step()
        v = trainer.validation
        step_ms = timed(trainer.step, 5 * repeat)
        sample_ms = timed(lambda: v.measure(trainer.model), repeat)
        full_ms = timed(lambda: v.measure(trainer.model, full=True, sample=False), repeat)
        sizes = v.sizes()
        trainer.conclude(None)
        store.close()
    per = step_ms * EVAL_EVERY * cfg.full_eval_every  # training time between two whole-split points
    print(f"{corpus}: validation split {sizes['split']['targets']:,} characters in {sizes['split']['batches']} batches")
    print(f"  training step        {step_ms:8.1f} ms")
    print(f"  sample ({sizes['sample']['batches']} batches)   {sample_ms:8.1f} ms")
    print(f"  whole split          {full_ms:8.1f} ms = {full_ms / step_ms:.1f} training steps; every "
          f"{cfg.full_eval_every} evaluations of {EVAL_EVERY} steps: {100 * full_ms / per:.1f} % of training time")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", action="append", help="pydoc, or a path to a UTF-8 text (repeatable)")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(1)  # as the JobManager runs every run
    for corpus in args.corpus or ["pydoc"]:
        measure(corpus, args.repeat)


if __name__ == "__main__":
    main()
