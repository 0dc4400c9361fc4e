"""Lessons: one-click controlled comparisons that reproduce a documented training phenomenon.

    from engine.lessons import LESSONS, start_lesson, check_lesson
    group_id, run_ids = start_lesson("early-spike", jobs, size="class", seed=11)   # jobs: a JobManager
    jobs.wait(run_ids)
    verdict = check_lesson("early-spike", jobs.store, run_ids)       # from the stored series only
    print(verdict.showed, verdict.summary, verdict.figures)

For a lesson card: `lesson.class_seconds` (measured seconds to the verdict at class size),
`lesson.rate` (how often the verdict showed, on which seeds and sizes) and `lesson.based_on`
("based on reference 000: <title>", titles in engine/lessons/references.py).

A lesson is data (engine/lessons/catalogue.py): a question, a base config, variants that
differ from it in named settings, the charts to watch, an explanation in our words, and a
checker (engine/lessons/criteria.py, verdicts.py). Every checker has a per-run criterion, e.g. "perplexity
rose above |V|", and says for which variants it must hold and for which it must not; the
verdict shows when every variant behaves as the lesson says and the comparisons across runs
that the lesson's text claims hold too, and its figures are what the checker measured.
Every lesson comes in three sizes (SIZES): "small" for the science tests (fast; the small
runs must still show the phenomenon), "class" for a classroom (its verdict within a minute on
two idle cores; the default), and "full", the size the lesson's figures were first measured at.
"""

from __future__ import annotations

from engine.lessons.catalogue import LESSONS, SIZES, Lesson
from engine.lessons.criteria import Finding, Verdict
from engine.lessons.readers import runs_by_label
from engine.lessons.references import REFERENCES
from engine.trainer import LOSS

__all__ = ["DEFAULT_SIZE", "LESSONS", "REFERENCES", "SIZES", "Finding", "Lesson", "Verdict", "check_lesson",
           "lesson_configs", "start_lesson"]
DEFAULT_SIZE = "class"  # what the dashboard and the CLI run unless asked for another size


def get_lesson(lesson_id: str) -> Lesson:
    """The lesson by id; KeyError naming the known ids."""
    if lesson_id not in LESSONS:
        raise KeyError(f"no lesson {lesson_id!r}; lessons: {', '.join(LESSONS)}")
    return LESSONS[lesson_id]


def lesson_configs(lesson_id: str, size: str = DEFAULT_SIZE, seed: int | None = None):
    """-> (base RunConfig, {label: overrides}) as start_lesson submits them at this size."""
    if size not in SIZES:
        raise ValueError(f"no lesson size {size!r}; sizes: {', '.join(SIZES)}")
    lesson = get_lesson(lesson_id)
    base = lesson.base.replace(**lesson.sizes.get(size, {}))
    if seed is not None:
        base = base.replace(seed=seed)
    extra = lesson.size_variants.get(size, {})
    variants = {label: {**overrides, **extra.get(label, {})} for label, overrides in lesson.variants.items()}
    return base, variants


def start_lesson(lesson_id: str, jobs, size: str = DEFAULT_SIZE, seed: int | None = None) -> tuple[str, list[str]]:
    """Submit the lesson's runs at this size as one group in lockstep; -> (group_id, run_ids)."""
    base, variants = lesson_configs(lesson_id, size, seed)
    return jobs.submit_group(base, variants, lesson=lesson_id)


def check_lesson(lesson_id: str, store, run_ids) -> Verdict:
    """Did the phenomenon show in these (finished) runs? Reads only the store."""
    lesson = get_lesson(lesson_id)
    runs = runs_by_label(store, run_ids)
    missing = [label for label in lesson.variants if label not in runs]
    empty = [label for label, rid in runs.items() if not len(store.scalars(rid, LOSS.name)[0])]
    if missing or empty:
        return Verdict(False, f"Not enough data to judge: no runs for {', '.join(missing + empty)}.", {})
    try:
        return lesson.check(store, runs, lesson.expect)
    except (IndexError, KeyError, ValueError) as err:  # a run stopped before the series the check needs
        return Verdict(False, f"Not enough data to judge ({type(err).__name__}: {err}); did every run finish?", {})
