"""AppTest: a link per lesson. /lessons?lesson=<id> opens that lesson's page before it runs, &run=1 starts
it exactly once, cards name their reference and time and give the link; presenter mode shows the verdict
as a large banner."""

import math
from dataclasses import dataclass, field

from app_testkit import app, engine, fresh_engine, no_exceptions, texts, url_values, wait_done
from test_app_lessons import FakeLesson, FakeVerdict

from app import lessons_view
from engine import lessons

__all__ = ["fresh_engine"]


@dataclass(frozen=True)
class TimedLesson(FakeLesson):
    """A lesson as the lessons package now describes it: a measured time and a titled reference."""

    class_seconds: float = 42.4
    based_on: str = "based on reference 000: Why Perplexity Rises at the Start of RNN Training"
    variants: dict = field(default_factory=lambda: {"no clipping": {"clip": "none"}, "clip 1": {"clip": "norm"}})


def fake(monkeypatch, lesson) -> list[dict]:
    """Only `lesson`, started by a stand-in that records how it was asked; returns that record."""
    asked = []

    def start(lesson_id, jobs, **kw):
        asked.append(kw)
        return jobs.submit_group(lesson.base, lesson.variants, lesson=lesson_id)

    monkeypatch.setattr(lessons, "LESSONS", {lesson.id: lesson})
    monkeypatch.setattr(lessons, "start_lesson", start)
    monkeypatch.setattr(lessons, "check_lesson", lambda lesson_id, store, run_ids: FakeVerdict(
        True, "clipping fired 12 times", {"clips": 12.0}))
    return asked


def lessons_page(query: dict):
    at = app(query).run()
    at.switch_page("screens/lessons.py").run()
    no_exceptions(at)
    return at


def test_a_lesson_link_opens_its_page_before_it_runs(monkeypatch):
    asked = fake(monkeypatch, FakeLesson())
    at = lessons_page({"lesson": "tiny-clip"})
    shown = texts(at.markdown)
    assert "What does clipping do to a tiny LSTM?" in shown and "What to look for" in shown
    assert at.button(key="lesson-page-run-tiny-clip").label == "Run this lesson"
    assert engine().store.runs() == [] and asked == []
    assert url_values(at, "lesson") == ["tiny-clip"]
    assert not at.get("plotly_chart")

    at.button(key="lesson-page-run-tiny-clip").click().run()
    run_ids = at.session_state["runs"]
    assert len(run_ids) == 2 and {engine().store.run(r).lesson for r in run_ids} == {"tiny-clip"}
    wait_done(run_ids)
    at.button(key="lesson-back").click().run()
    assert at.button(key="lesson-run-tiny-clip") and "lesson" not in at.query_params


def test_run_1_starts_the_lesson_once_at_the_size_asked(monkeypatch):
    asked = fake(monkeypatch, FakeLesson())
    at = lessons_page({"lesson": "tiny-clip", "run": "1", "size": "small"})
    run_ids = at.session_state["runs"]
    assert len(run_ids) == 2 and len(asked) == 1
    assert asked[0] in ({"size": "small"}, {"small": True})  # the lessons package with sizes, or before them
    assert "run" not in at.query_params and url_values(at, "runs") == run_ids
    at.run()
    at.run()
    assert len(engine().store.runs()) == 2 and len(asked) == 1  # a rerun (or a reload of this URL) starts nothing
    wait_done(run_ids)


def test_an_unknown_lesson_or_size_is_said_and_the_cards_shown(monkeypatch):
    fake(monkeypatch, FakeLesson())
    at = lessons_page({"lesson": "no-such-lesson"})
    assert "There is no lesson `no-such-lesson`" in texts(at.warning)
    assert at.button(key="lesson-run-tiny-clip")
    at = lessons_page({"lesson": "tiny-clip", "size": "huge"})
    assert "Ignored `size=huge`" in texts(at.warning)


def test_cards_name_the_reference_the_time_and_give_the_link(monkeypatch):
    fake(monkeypatch, TimedLesson())
    at = lessons_page({})
    caption = texts(at.caption)
    assert "based on reference 000: Why Perplexity Rises at the Start of RNN Training" in caption
    assert "about 42 s" in caption
    links = [c.value for c in at.code]
    assert any(v.endswith("lessons?lesson=tiny-clip") for v in links)
    assert any(v.endswith("lessons?lesson=tiny-clip&run=1") for v in links)
    full = [b for b in at.button if b.key == "lesson-full-tiny-clip"]
    assert len(full) == 1


def test_a_lesson_without_a_measured_time_says_none():
    assert lessons_view.expected(TimedLesson(class_seconds=math.nan)) == ""
    assert lessons_view.expected(TimedLesson()) == "about 42 s at class size on two idle cores"


def test_presenter_lesson_shows_the_question_first_and_the_verdict_as_a_banner(monkeypatch):
    fake(monkeypatch, FakeLesson())
    at = lessons_page({"lesson": "tiny-clip", "run": "1", "present": "1"})
    assert len(at.sidebar.children) == 0
    wait_done(at.session_state["runs"])
    at.run()
    no_exceptions(at)
    html = [m.value for m in at.markdown if "rnnlab-verdict" in m.value]
    assert len(html) == 1 and "font-size:32px" in html[0] and "It showed." in html[0]
    order = [m.value for m in at.markdown]
    banner = next(i for i, v in enumerate(order) if "rnnlab-verdict" in v)
    question = next(i for i, v in enumerate(order) if "What does clipping do" in v)
    numbers = next(i for i, v in enumerate(order) if "rnnlab-numbers" in v)
    assert question < banner < numbers  # the question on top, the verdict under it, then numbers and charts
    assert at.query_params["present"] == "1" and at.query_params["lesson"] == "tiny-clip"
