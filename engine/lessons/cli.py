"""`python -m engine lesson`: list the lessons, or run one headless and print its verdict.

    python -m engine lesson --list                      # each lesson, its class-size time and measured rate
    python -m engine lesson early-spike                 # class size (<= 60 s on two idle cores), seed 0
    python -m engine lesson early-spike --seed 11 --size full

The runs land in the CLI's store ($RNNLAB_STORE, default ~/.rnnlab/runs.sqlite) as one
group, so the dashboard can open them afterwards. Exit status 0 whether or not the
phenomenon showed (that is information, not failure); 2 for an unknown lesson.
"""

from __future__ import annotations

import math
import sys
import time

from engine.jobs import JobManager
from engine.lessons import DEFAULT_SIZE, LESSONS, SIZES, check_lesson, get_lesson, lesson_configs, start_lesson
from engine.lessons.references import based_on
from engine.store import RunStore

PROGRESS_EVERY = 0.5  # seconds between progress-line updates


def add_lesson_options(parser) -> None:
    """The `lesson` sub-command's arguments (engine/__main__.py builds the sub-parser)."""
    parser.add_argument("name", nargs="?", help="the lesson's id; --list shows them")
    parser.add_argument("--list", action="store_true", help="list the lessons, their class-size time and rate")
    parser.add_argument("--size", choices=SIZES, default=DEFAULT_SIZE,
                        help="small: the science tests' size; class: <= 60 s on two idle cores; full: as first measured")
    parser.add_argument("--seed", type=int, default=None, help="seed of every run (default: the lesson's, 0)")


def run_lesson_command(args) -> int:
    """Dispatch `lesson [NAME] [--list] [--size S] [--seed N]`."""
    if args.list or not args.name:
        print_list(sys.stdout)
        return 0 if args.list else 2
    if args.name not in LESSONS:
        print(f"error: no lesson {args.name!r}. Lessons:", file=sys.stderr)
        print_list(sys.stderr)
        return 2
    return run_lesson(args.name, size=args.size, seed=args.seed)


def print_list(out) -> None:
    width = max(len(name) for name in LESSONS)
    for lesson in LESSONS.values():
        print(f"{lesson.id:{width}}  {lesson.title}: about {lesson.class_seconds:.0f} s at class size", file=out)
        print(f"{'':{width}}  {lesson.question}", file=out)
        print(f"{'':{width}}  {lesson.rate}", file=out)
        print(f"{'':{width}}  {based_on(lesson.reference)}", file=out)


def run_lesson(lesson_id: str, size: str = DEFAULT_SIZE, seed: int | None = None) -> int:
    """Run one lesson's group to the end, showing progress, then print the verdict and figures."""
    lesson = get_lesson(lesson_id)
    base, variants = lesson_configs(lesson_id, size, seed)
    store = RunStore()
    jobs = JobManager(store)
    print(f"{lesson.title}\n{lesson.question}\n", file=sys.stderr)
    print(f"{size} size, seed {base.seed}; runs: {', '.join(variants)}; {base.max_steps} steps each; "
          f"store {store.path}", file=sys.stderr)
    group_id, run_ids = start_lesson(lesson_id, jobs, size=size, seed=seed)
    try:
        wait_with_progress(jobs, store, run_ids, base.max_steps)
    except KeyboardInterrupt:
        print("\nstopping...", file=sys.stderr)
        jobs.shutdown()
        store.close()
        return 130
    jobs.shutdown()
    print_verdict(lesson, store, run_ids, group_id)
    store.close()
    return 0


def wait_with_progress(jobs, store, run_ids, total: int) -> None:
    """A progress line on stderr with the step of the slowest run, until every run has ended."""
    t0 = time.perf_counter()
    while not jobs.wait(run_ids, timeout=PROGRESS_EVERY):
        step = min(store.run(r).step for r in run_ids)
        done = int(30 * step / total)
        sys.stderr.write(f"\r[{'#' * done}{'.' * (30 - done)}] step {step}/{total} (slowest run), "
                         f"{time.perf_counter() - t0:.0f} s")
        sys.stderr.flush()
    sys.stderr.write(f"\r[{'#' * 30}] done in {time.perf_counter() - t0:.0f} s{' ' * 30}\n")


def print_verdict(lesson, store, run_ids, group_id: str) -> None:
    for r in run_ids:
        info = store.run(r)
        note = f" ({info.message})" if info.message else ""
        print(f"  {info.label:24} {info.id}  {info.status}{note}")
    verdict = check_lesson(lesson.id, store, run_ids)
    print(f"\nWhat to see: {lesson.what_to_see}\n")
    print(f"Showed: {'yes' if verdict.showed else 'no'}. {verdict.summary}\n")
    width = max((len(k) for k in verdict.figures), default=0)
    for name, value in verdict.figures.items():
        print(f"  {name:{width}}  {format_figure(value)}")
    print(f"\n{lesson.rate}")
    print(f"group {group_id}: open it in the dashboard's Compare view.")


def format_figure(x: float) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "n/a"
    return f"{x:.4g}"
