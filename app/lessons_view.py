"""The Lessons page's parts: the lesson cards, and one lesson's runs, explanation and verdict."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import live_view, ownership, state
from app.safe_text import text
from app.status import is_active
from engine import lessons

ERROR_KEY = "_lesson_error"


def _run(eng, lesson_id: str) -> None:
    """Callback: start the lesson's group and show it here."""
    try:
        _, run_ids = lessons.start_lesson(lesson_id, eng.jobs)
    except Exception as e:  # the lesson's own config may be refused
        st.session_state[ERROR_KEY] = f"Could not start {lesson_id}: {type(e).__name__}: {e}"
        return
    ownership.claim(eng, run_ids)
    state.show(run_ids, "lessons")


def cards(eng) -> None:
    """One card per lesson: title, question, what you will see, reference, Run."""
    message = st.session_state.pop(ERROR_KEY, None)
    if message:
        st.error(text(message, 300))
    shown = list(lessons.LESSONS.values())
    for i in range(0, len(shown), 2):
        cols = st.columns(2)
        for col, lesson in zip(cols, shown[i : i + 2]):
            with col, st.container(border=True):
                st.markdown(f"#### {lesson.title}")
                st.markdown(f"*{lesson.question}*")
                st.markdown(f"**What you will see:** {lesson.what_to_see}")
                st.caption(f"Runs: {', '.join(lesson.variants)} · reference {lesson.reference}")
                st.button(
                    "Run this lesson",
                    key=f"lesson-run-{lesson.id}",
                    type="primary",
                    icon=":material/play_arrow:",
                    on_click=_run,
                    args=(eng, lesson.id),
                )


def shown_lesson(infos):
    """The lesson whose runs are the shown runs, if they are one lesson's."""
    ids = {i.lesson for i in infos}
    if len(ids) == 1 and None not in ids:
        return lessons.LESSONS.get(ids.pop())
    return None


def verdict(eng, lesson, run_ids: list[str]) -> None:
    """Whether the phenomenon showed, once every run has ended."""
    key = f"verdict-{lesson.id}-{'|'.join(run_ids)}"
    if key not in st.session_state:
        try:
            st.session_state[key] = lessons.check_lesson(lesson.id, eng.store, run_ids)
        except Exception as e:
            st.warning(f"The lesson's check failed: {type(e).__name__}: {text(e, 300)}")
            return
    v = st.session_state[key]
    if v.showed:
        st.success(f"**It showed.** {v.summary}", icon=":material/check_circle:")
    else:
        st.warning(f"**It did not show this time.** {v.summary}", icon=":material/help:")
    if v.figures:
        st.dataframe(
            pd.DataFrame({"figure": list(v.figures), "value": list(v.figures.values())}),
            hide_index=True,
            width="stretch",
        )


def lesson_panel(eng, lesson, infos) -> None:
    """The lesson's runs with the charts it names, its explanation beside them, and the verdict."""
    run_ids = [i.id for i in infos]
    st.subheader(lesson.title, anchor=False)
    st.markdown(f"*{lesson.question}*  \n**What to look for:** {lesson.what_to_see}")
    st.button("All lessons", key="lesson-back", icon=":material/arrow_back:", on_click=state.show, args=([],))
    left, right = st.columns([3, 1.1])
    with right:
        with st.container(border=True):
            st.markdown(lesson.explanation)
            st.caption(f"Reference: {lesson.reference}")
        if any(is_active(i) for i in infos):
            st.info("The verdict comes when every run has ended.", icon=":material/hourglass_top:")
        else:
            verdict(eng, lesson, run_ids)
    with left:
        names = live_view.legend_labels(infos)
        ref = next((i.id for i in infos if names.get(i.id) == lesson.reference_run), run_ids[0])
        key = live_view.selection_key("lesson", run_ids)
        ctx = live_view.Ctx(key=key, mode="compare", following=True, reference=ref, per_row=1)
        live_view.panel(eng, run_ids, tuple(lesson.charts), ctx)
