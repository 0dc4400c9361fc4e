"""Every lesson's runs, trained once per test session at the lesson's small size, for every test that judges them.

Running all lessons costs minutes on two busy cores, so the runs are shared: a test module that
needs them imports the fixture (pytest finds it by name once imported) and asks for it:

    from lesson_runs import lesson_runs  # noqa: F401  (the fixture; tests/ is on the path)

    @pytest.mark.science
    def test_something(lesson_runs):
        store = lesson_runs.store
        run_id = lesson_runs.runs["early-spike"]["no warmup"]

The runs go through a JobManager on a store of their own (not the per-test store of
conftest.py), so they get exactly the observers a dashboard run gets. `start_lesson` is called
with `size="small"` when it takes a size, else `small=True` (the lessons' sizes are being renamed).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import pytest

from engine.jobs import JobManager
from engine.lessons import LESSONS, start_lesson
from engine.store import RunStore

TIMEOUT = 3600  # seconds for all lessons together, on a loaded machine


@dataclass
class LessonRuns:
    """The finished small runs of every lesson: {lesson id: {variant label: run id}} in one store."""

    store: RunStore
    runs: dict[str, dict[str, str]]


def small_kwargs() -> dict:
    """How start_lesson asks for the small size, whichever spelling it has."""
    return {"size": "small"} if "size" in inspect.signature(start_lesson).parameters else {"small": True}


def run_all_lessons(store: RunStore, lesson_ids=None) -> LessonRuns:
    """Submit every lesson (small) as its group, wait for all of them, and map labels to run ids."""
    jobs = JobManager(store)
    try:
        runs = {}
        for lesson_id in lesson_ids or LESSONS:
            _, run_ids = start_lesson(lesson_id, jobs, **small_kwargs())
            runs[lesson_id] = {store.run(r).label: r for r in run_ids}
        every = [r for labels in runs.values() for r in labels.values()]
        if not jobs.wait(every, timeout=TIMEOUT):
            raise TimeoutError(f"the lessons' runs did not finish within {TIMEOUT} s")
    finally:
        jobs.shutdown()
    store.flush()
    return LessonRuns(store, runs)


@pytest.fixture(scope="session")
def lesson_runs(tmp_path_factory) -> LessonRuns:
    """Every lesson's small runs, trained once per session."""
    return run_all_lessons(RunStore(tmp_path_factory.mktemp("lessons") / "runs.sqlite"))
