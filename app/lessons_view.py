"""The Lessons page's cards, and starting a lesson at a size.

Each card says what the lesson asks and shows, which reference it is based on (with the
reference's title), how long it takes at class size and how often its verdict showed, and
offers Run (class size), full size, its own page (before it runs) and a link to that page:
`/lessons?lesson=<id>`, with `&run=1` to start it at once.
"""

from __future__ import annotations

import math

import streamlit as st

from app import ownership, state
from app.safe_text import text
from engine import lessons

ERROR_KEY = "_lesson_error"


def sizes() -> tuple[str, ...]:
    """The sizes a lesson can run at."""
    return tuple(lessons.SIZES)


def class_size() -> str:
    """The size a classroom gets unless it asks for another."""
    return lessons.DEFAULT_SIZE


def expected(lesson) -> str:
    """'about 40 s at class size on two idle cores', or '' when the lesson has no measured time."""
    if not math.isfinite(lesson.class_seconds):
        return ""
    return f"about {lesson.class_seconds:.0f} s at class size on two idle cores" + (
        " (the full size: a shorter run does not show it)" if lesson.class_note else "")


def start(eng, lesson_id: str, size: str) -> list[str]:
    """Submit the lesson's group at this size; -> run ids (raises what the lesson's config raises)."""
    _, run_ids = lessons.start_lesson(lesson_id, eng.jobs, size=size)
    return run_ids


def run(eng, lesson_id: str, size: str, page: str | None = "lessons") -> None:
    """Callback: start the lesson and show its page with its runs (switching to `page` when given)."""
    try:
        run_ids = start(eng, lesson_id, size)
    except Exception as e:  # the lesson's own config may be refused
        st.session_state[ERROR_KEY] = f"Could not start {lesson_id}: {type(e).__name__}: {e}"
        return
    ownership.claim(eng, run_ids)
    state.set_lesson(lesson_id)
    state.show(run_ids, page)


def errors() -> None:
    """The last failed start, once."""
    message = st.session_state.pop(ERROR_KEY, None)
    if message:
        st.error(text(message, 300))


def link(lesson_id: str, run_now: bool = False) -> str:
    """The lesson's own link: its page before it runs (with run_now: started on opening)."""
    return state.link(state.app_url(), "lessons", {"lesson": lesson_id, **({"run": "1"} if run_now else {})})


def actions(eng, lesson, key: str) -> None:
    """Run (class size), Run full size, and 'copy link' (its page, or started at once)."""
    cols = st.columns([1.6, 1.3, 1.2], vertical_alignment="center")
    size = class_size()
    cols[0].button("Run this lesson", key=f"{key}-run-{lesson.id}", type="primary", icon=":material/play_arrow:",
                   on_click=run, args=(eng, lesson.id, size), help=expected(lesson) or None)
    if size != "full":
        cols[1].button("full size", key=f"{key}-full-{lesson.id}", icon=":material/open_in_full:",
                       on_click=run, args=(eng, lesson.id, "full"),
                       help="The size the lesson's figures were first measured at: slower than class size.")
    with cols[2].popover("copy link", icon=":material/link:"):
        st.caption("This lesson's page, before it runs (the copy button is at the right):")
        st.code(link(lesson.id), language=None)
        st.caption("Started as soon as it opens:")
        st.code(link(lesson.id, run_now=True), language=None)


def cards(eng) -> None:
    """One card per lesson: title, question, what you will see, reference, time, and its actions."""
    errors()
    shown = list(lessons.LESSONS.values())
    for i in range(0, len(shown), 2):
        cols = st.columns(2)
        for col, lesson in zip(cols, shown[i : i + 2]):
            with col, st.container(border=True):
                st.markdown(f"#### {lesson.title}")
                st.markdown(f"*{lesson.question}*")
                st.markdown(f"**What you will see:** {lesson.what_to_see}")
                facts = [f"Runs: {', '.join(lesson.variants)}", lesson.based_on, expected(lesson)]
                st.caption(" · ".join(f for f in facts if f))
                actions(eng, lesson, "lesson")
                st.button("Open its page", key=f"lesson-open-{lesson.id}", type="tertiary",
                          icon=":material/open_in_new:", on_click=state.set_lesson, args=(lesson.id,))


def shown_lesson(infos):
    """The lesson whose runs are the shown runs, if they are one lesson's."""
    ids = {i.lesson for i in infos}
    if len(ids) == 1 and None not in ids:
        return lessons.LESSONS.get(ids.pop())
    return None
