"""AppTest: the Lessons page: cards for the engine's lessons, one click runs a lesson, the verdict after."""

import math
from dataclasses import dataclass, field

from app_testkit import TINY, app, engine, figures, fresh_engine, no_exceptions, texts, wait_done

from engine import lessons
from engine.config import RunConfig

__all__ = ["fresh_engine"]


@dataclass(frozen=True)
class FakeLesson:
    id: str = "tiny-clip"
    title: str = "Clipping, tiny"
    question: str = "What does clipping do to a tiny LSTM?"
    reference: str = "000"
    base: RunConfig = field(default_factory=lambda: RunConfig.from_dict(TINY))
    variants: dict = field(default_factory=lambda: {"no clipping": {"clip": "none"}, "clip 1": {"clip": "norm"}})
    charts: tuple = ("perplexity", "grad_norm", "spectrum")
    what_to_see: str = "The clipped run's gradient norm stays under 1."
    explanation: str = "Clipping rescales the gradient when its norm passes the threshold."
    reference_run: str = "clip 1"
    class_seconds: float = math.nan  # not measured
    based_on: str = "based on reference 000"
    rate: str = ""
    class_note: str = ""


@dataclass
class FakeVerdict:
    showed: bool
    summary: str
    figures: dict


def fake_lessons(monkeypatch, fakes: dict):
    """Only these lessons, started and checked by stand-ins (the real catalogue is tested on its own)."""
    monkeypatch.setattr(lessons, "LESSONS", fakes)
    monkeypatch.setattr(lessons, "start_lesson", lambda lesson_id, jobs, **kw: jobs.submit_group(
        fakes[lesson_id].base, fakes[lesson_id].variants, lesson=lesson_id))
    monkeypatch.setattr(lessons, "check_lesson", lambda lesson_id, store, run_ids: FakeVerdict(
        True, "clipping fired 12 times", {"clips": 12.0}))


def open_lessons():
    at = app().run()
    at.switch_page("screens/lessons.py").run()
    no_exceptions(at)
    return at


def test_a_lesson_runs_shows_its_charts_and_explanation_then_the_verdict(monkeypatch):
    fake_lessons(monkeypatch, {"tiny-clip": FakeLesson()})
    at = open_lessons()
    assert "Clipping, tiny" in texts(at.markdown) and "What does clipping do" in texts(at.markdown)
    at.button(key="lesson-run-tiny-clip").click().run()
    no_exceptions(at)
    run_ids = at.session_state["runs"]
    assert len(run_ids) == 2 and {engine().store.run(r).lesson for r in run_ids} == {"tiny-clip"}
    assert "Clipping rescales the gradient" in texts(at.markdown)

    wait_done(run_ids)
    at.run()
    no_exceptions(at)
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert titles[:2] == ["Perplexity", "Gradient norm"] and titles[2].startswith("Spectrum of")
    assert "It showed." in texts(at.success) and "clipping fired 12 times" in texts(at.success)
    assert at.dataframe[0].value["figure"].tolist() == ["clips"]

    at.button(key="lesson-back").click().run()
    assert at.button(key="lesson-run-tiny-clip")  # back to the cards


def test_the_engines_lessons_render_as_cards():
    at = open_lessons()
    for lesson in lessons.LESSONS.values():
        assert lesson.title in texts(at.markdown)
        assert at.button(key=f"lesson-run-{lesson.id}")
