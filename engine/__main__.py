"""Command line: train, list, show and export runs, headless.

    python -m engine train --set cell=lstm --set lr=0.003 --steps 500
    python -m engine fields                    # every setting, its default, range and help
    python -m engine runs
    python -m engine show RUN --all            # RUN: a run id, or its end as the dashboard shows it ('ab12')
    python -m engine export RUN --format csv --wide --out run.csv
    python -m engine export RUN --format tensorboard --out DIR   # then: tensorboard --logdir DIR
    python -m engine rename RUN "lstm, long warmup"
    python -m engine lesson --list | python -m engine lesson NAME
    python -m engine sweep --grid lr=1e-3,1e-2 --grid clip_value=0.25,1,4 --seeds 0-2   # on Ray

Runs land in the same store the dashboard reads ($RNNLAB_STORE, default ~/.rnnlab/runs.sqlite).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import torch

from engine.config import FIELDS, ConfigError, RunConfig, format_value
from engine.diagnosis import observers_for
from engine.distributed.cli import add_sweep_command
from engine.lessons.cli import add_lesson_options, run_lesson_command
from engine.naming import run_name
from engine.preflight import preflight
from engine.series import declared
from engine.store import RunStore, StoreError
from engine.tb_export import export_tensorboard
from engine.trainer import RECENT, Trainer, run_to_end
from engine.watch import is_watched

RUN_HELP = "a run id, or its last characters as the dashboard shows them (e.g. ab12)"
SHOWN_EVENTS = 15  # events `show` lists without --all (evaluations left out)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # `... | head` stopped reading: end quietly, as other commands do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except ConfigError as err:
        print(f"error: setting {err}", file=sys.stderr)
        return 2
    except StoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (KeyError, FileNotFoundError, ValueError, ImportError) as err:  # DataError is a ValueError
        print(f"error: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engine", description="RNN Lab engine, headless.")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train one run and record it in the store")
    train.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                       help="a setting (repeatable); `python -m engine fields` lists them")
    train.add_argument("--steps", type=int, help="shorthand for --set max_steps=N")
    train.add_argument("--label", help="a name for the run (default: cell, size and the settings you changed)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    sub.add_parser("fields", help="list every setting").set_defaults(func=cmd_fields)
    series = sub.add_parser("series", help="list every recorded series: name, kind, meaning")
    series.add_argument("--markdown", action="store_true", help="as the table in docs/contracts.md")
    series.set_defaults(func=cmd_series)
    sub.add_parser("runs", help="list stored runs").set_defaults(func=cmd_runs)

    show = sub.add_parser("show", help="one run: settings, status, final metrics, events")
    show.add_argument("run", help=RUN_HELP)
    show.add_argument("--all", action="store_true",
                      help=f"every event (evaluations, lr and clip changes, diagnoses), not only the last {SHOWN_EVENTS}")
    show.set_defaults(func=cmd_show)

    export = sub.add_parser("export", help="write a run's scalar series as a table with its id and settings, "
                                           "or all of it for TensorBoard")
    export.add_argument("run", help=RUN_HELP)
    export.add_argument("--format", choices=("csv", "parquet", "tensorboard"), default="csv")
    export.add_argument("--wide", action="store_true",
                        help="csv, parquet: one row per step and one column per series (default: long, one row per value)")
    export.add_argument("--out", help="output file (default RUN.csv or RUN.parquet); tensorboard: a folder "
                                      "(default tensorboard/), the run goes in a subfolder")
    export.set_defaults(func=cmd_export)

    rename = sub.add_parser("rename", help="give a run a new name")
    rename.add_argument("run", help=RUN_HELP)
    rename.add_argument("name")
    rename.set_defaults(func=cmd_rename)

    lesson = sub.add_parser("lesson", help="run a lesson headless and print its verdict")
    add_lesson_options(lesson)
    lesson.set_defaults(func=cmd_lesson)
    add_sweep_command(sub)
    return p


def config_from_args(pairs: list[str], steps: int | None = None) -> RunConfig:
    """RunConfig from FIELD=VALUE strings; unknown fields and bad values raise ConfigError."""
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(name or pair, "expected FIELD=VALUE, e.g. --set lr=0.003")
        values[name.strip()] = value
    if steps is not None:
        values["max_steps"] = str(steps)
    return RunConfig.from_dict(values)


def cmd_train(args) -> int:
    cfg = config_from_args(args.set, args.steps)
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    task = preflight(cfg)  # opens the corpus and checks the memory: a bad one leaves no run behind
    store = RunStore()
    store.recover()
    run_id = store.create_run(cfg.to_dict(), label=args.label or run_name(cfg))
    trainer = Trainer(cfg, store, run_id, task=task, observers=observers_for(cfg))  # the diagnoses a dashboard run gets
    print(f"run {run_id}: {cfg.cell} on {cfg.task}" + (f" ({cfg.corpus})" if cfg.task in ("text", "lines") else "")
          + f", {cfg.max_steps} steps; store {store.path}", file=sys.stderr)
    bar = ProgressBar(cfg.max_steps, quiet=args.quiet)
    status = run_to_end(trainer, on_step=bar.update)
    bar.update(trainer, final=True)
    message = trainer.message
    print(f"\n{status}: {_final_line(store, run_id)}" + (f" ({message})" if message else ""), file=sys.stderr)
    for e in store.events(run_id):
        if e.kind == "diagnosis":
            fix = f"; try: {e.data['fix_label']}" if e.data.get("fix_label") else ""
            print(f"diagnosis at step {e.step:,}: {e.data.get('title', '')}: {e.message}{fix}", file=sys.stderr)
    print(run_id)
    store.close()
    return 0 if status in ("done", "stopped") else 1


class ProgressBar:
    """A one-line progress bar on stderr: step, loss, perplexity, steps per second."""

    def __init__(self, total: int, quiet: bool = False, width: int = 30):
        self.total, self.quiet, self.width = total, quiet, width
        self.t0 = time.perf_counter()
        self.last = 0.0

    def update(self, trainer, final: bool = False) -> None:
        now = time.perf_counter()
        if self.quiet or trainer.task is None or (not final and now - self.last < 0.2):
            return
        self.last = now
        step = trainer.step_index
        done = int(self.width * step / self.total)
        loss = trainer.recent_loss()  # the last RECENT batches: a moving average would lag the early fall
        ppl = f" ppl {math.exp(loss):7.2f}" if trainer.task.loss_kind == "ce" and loss < 50 else ""
        rate = step / max(now - self.t0, 1e-9)
        sys.stderr.write(f"\r[{'#' * done}{'.' * (self.width - done)}] {step}/{self.total} loss {loss:.4f} (last {RECENT} batches){ppl} "
                         f"{rate:.1f} steps/s")
        sys.stderr.flush()


def _final_line(store: RunStore, run_id: str) -> str:
    final = store.run(run_id).summary.get("final", {})
    return ", ".join(f"{k} {v:.4g}" for k, v in final.items()) or "no evaluation recorded"


def cmd_fields(args) -> int:
    for f in FIELDS:
        allowed = "|".join(f.choices) if f.choices else (f"{f.min:g}..{f.max:g}" if f.min is not None else f.type.__name__)
        print(f"{f.name:18} {format_value(f.default):10} {allowed:32} {f.help}")
    return 0


def cmd_series(args) -> int:
    if args.markdown:
        print("| series | kind | what it is |\n|---|---|---|")
    for s in declared():
        print(f"| `{s.name}` | {s.kind} | {s.doc} |" if args.markdown else f"{s.name:34} {s.kind:7} {s.doc}")
    return 0


def cmd_runs(args) -> int:
    store = RunStore()
    store.recover()
    runs = store.runs()
    if not runs:
        print("no runs yet: python -m engine train")
        return 0
    print(f"{'run':18} {'status':11} {'step':>7}  {'label':24} settings")
    for r in runs:
        settings = " ".join(f"{k}={format_value(v)}" for k, v in settings_of(r).items())
        print(f"{r.id:18} {r.status:11} {r.step:>7}  {(r.label or '')[:24]:24} {settings}")
    return 0


def cmd_show(args) -> int:
    store = RunStore()
    r = store.run(store.resolve(args.run))
    created = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created))
    print(f"run {r.id}  ({r.label or 'no name'})  status {r.status}  step {r.step}  created {created}")
    if r.message:
        print(f"message: {r.message}")
    print("settings (non-default):", json.dumps(settings_of(r), default=str))
    print("summary:", json.dumps(r.summary, default=float))
    events = store.events(r.id)
    shown = events if args.all else [e for e in events if e.kind != "eval"][-SHOWN_EVENTS:]
    print(f"events: {len(events)}" + ("" if args.all or len(shown) == len(events) else
                                       f", the last {len(shown)} besides evaluations shown (--all lists every one)"))
    for e in shown:
        print(f"  step {e.step:>6}  {e.kind:12} {e.message}")
    texts = store.texts(r.id)
    if texts:
        print(f"last sample (step {texts[-1][0]}):\n{texts[-1][1]}")
    return 0


def settings_of(info) -> dict:
    """An engine run's non-default settings; a watched run's (or another version's) config as stored."""
    if is_watched(info):
        return {"watch": info.summary.get("script") or "your loop", **info.config}
    try:
        return RunConfig.from_dict(info.config).diff()
    except (ConfigError, TypeError):
        return dict(info.config)


def cmd_export(args) -> int:
    store = RunStore()
    run_id = store.resolve(args.run)  # a clear KeyError for an unknown run, ValueError for an ambiguous one
    if args.format == "tensorboard":
        folder = export_tensorboard(store, run_id, args.out or "tensorboard")
        print(f"{folder}\nview it: tensorboard --logdir {folder.parent}")
        return 0
    out = args.out or f"{run_id}.{args.format}"
    store.export(run_id, out, args.format, shape="wide" if args.wide else "long")
    print(out)
    return 0


def cmd_rename(args) -> int:
    store = RunStore()
    run_id = store.resolve(args.run)
    print(f"{run_id}: {store.rename(run_id, args.name)}")
    return 0


def cmd_lesson(args) -> int:
    return run_lesson_command(args)


if __name__ == "__main__":
    sys.exit(main())
