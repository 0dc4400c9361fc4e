"""`python -m engine sweep`: a grid of settings trained on Ray, landing in the store as one group.

    python -m engine sweep --grid lr=1e-3,3e-3,1e-2 --grid clip_value=0.25,1,4 --seeds 0-2
    python -m engine sweep --set cell=rnn_tanh --grid lr=1e-3,1e-2 --asha --address auto

Without --address a local Ray is started (all CPUs, or --cpus) and stopped at the end; with
--address auto|HOST:PORT the runs go to an existing cluster. The group id is printed on
stdout; the progress bar and the outcome go to stderr.
"""

from __future__ import annotations

import math
import sys

from engine.config import ConfigError, RunConfig, format_value
from engine.distributed import RayMissing
from engine.distributed.grid import expand, group_id, parse_grid, parse_seeds
from engine.distributed.progress import SweepProgress
from engine.distributed.runtime import RECORDS
from engine.store import default_path
from engine.trainer import VAL_LOSS


def add_sweep_command(sub) -> None:
    """Add the `sweep` subcommand to the engine's argument parser."""
    p = sub.add_parser("sweep", help="train a grid of settings on Ray (one group of runs)")
    p.add_argument("--grid", action="append", default=[], required=True, metavar="FIELD=V1,V2,...",
                   help="a setting and the values to try (repeatable): every combination is one run")
    p.add_argument("--seeds", help="seeds of every combination: 0-2 or 0,3,5 (default: the base seed)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="a setting shared by every run")
    p.add_argument("--steps", type=int, help="shorthand for --set max_steps=N")
    p.add_argument("--name", help="the sweep's name; its group id is sweep-NAME (default: date and time)")
    p.add_argument("--asha", action="store_true", help="stop runs early whose validation loss falls behind (ASHA)")
    p.add_argument("--asha-grace", type=int, default=1, metavar="N", help="evaluations before ASHA may stop a run")
    p.add_argument("--asha-reduction", type=float, default=3.0, metavar="F", help="ASHA keeps the best 1/F at each rung")
    p.add_argument("--address", help="an existing Ray cluster: auto or HOST:PORT (default: a local Ray for this sweep)")
    p.add_argument("--cpus", type=int, help="CPUs of the local Ray (default: all); one run trains per CPU")
    p.add_argument("--records", choices=RECORDS, default="auto",
                   help="direct: workers write the store file (one host); actor: through one writer on this host")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args) -> int:
    from engine.distributed.sweep import Asha, Sweep, run_sweep  # imports nothing of Ray until it runs

    base = base_config(args.set, args.steps)
    runs = expand(base, parse_grid(args.grid), parse_seeds(args.seeds) if args.seeds else None)
    asha = Asha(args.asha_grace, args.asha_reduction) if args.asha else None
    if args.cpus is not None and (args.cpus < 1 or args.address):
        raise ValueError("--cpus: give a whole number >= 1, and only for a local Ray (without --address)")
    sweep = Sweep(group=group_id(args.name), runs=runs, asha=asha)
    where = f"the cluster at {args.address}" if args.address else "a local Ray"
    print(f"sweep {sweep.group}: {len(runs)} runs on {where}" + (", ASHA early stopping" if asha else "")
          + f"; store {default_path()}", file=sys.stderr)
    bar = SweepBar(quiet=args.quiet)
    try:
        outcome = run_sweep(sweep, default_path(), address=args.address, num_cpus=args.cpus, records=args.records,
                            on_progress=bar.update)
    except (RayMissing, ConnectionError) as err:
        print(f"\nerror: {err}", file=sys.stderr)
        return 2
    print(f"\n{outcome.progress.text()}; records {outcome.records}, {len(outcome.nodes)} node(s)", file=sys.stderr)
    for run_id, error in outcome.errors.items():
        print(f"  {run_id} failed: {error}", file=sys.stderr)
    best = best_run(outcome.run_ids)
    if best:
        print(f"best: {best}", file=sys.stderr)
    print(sweep.group)
    return 0 if outcome.progress.failed == 0 else 1


def base_config(pairs: list[str], steps: int | None) -> RunConfig:
    """The settings every run shares, from FIELD=VALUE strings; unknown fields and bad values raise."""
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(name or pair, "expected FIELD=VALUE, e.g. --set cell=gru")
        values[name.strip()] = value
    if steps is not None:
        values["max_steps"] = str(steps)
    return RunConfig.from_dict(values)


def best_run(run_ids: list[str]) -> str | None:
    """'label: validation loss 1.23' of the run with the lowest final validation loss."""
    from engine.store import RunStore

    with RunStore(default_path()) as store:
        finals = [(store.run(r).summary.get("final", {}).get(VAL_LOSS.name, math.inf), store.run(r).label) for r in run_ids]
    loss, label = min(finals, key=lambda f: f[0] if math.isfinite(f[0]) else math.inf)
    return f"{label}: validation loss {format_value(round(loss, 4))}" if math.isfinite(loss) else None


class SweepBar:
    """A one-line progress bar on stderr: '[####......] 12 of 36 done, 3 stopped early; 2 running'."""

    def __init__(self, quiet: bool = False, width: int = 30):
        self.quiet, self.width = quiet, width
        self.shown = ""

    def update(self, progress: SweepProgress) -> None:
        if self.quiet or not progress.total:
            return
        done = int(self.width * progress.ended / progress.total)
        line = f"\r[{'#' * done}{'.' * (self.width - done)}] {progress.text()}"
        if line != self.shown:
            sys.stderr.write(line.ljust(len(self.shown)))
            sys.stderr.flush()
            self.shown = line
