"""One lesson's page: before it runs (question, what to look for, Run), and with its runs (charts,
explanation, and the verdict as a banner on top once every run has ended).

Opened by a card, or by the lesson's link `/lessons?lesson=<id>` (`&run=1` starts it once; `&size=`
picks the size). In presenter mode the question is the first thing in large type, the charts
take the full width, the explanation waits behind a button, and the verdict is a 32 px banner.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import lessons_view, live_view, presenter, state
from app.safe_text import text
from app.status import is_active
from engine import lessons

HEADS = {True: "It showed.", False: "It did not show this time."}


def size_asked() -> str:
    """The size the link asked for, if the lessons have it; else the class size (with a warning)."""
    size = state.lesson_size(lessons_view.class_size())
    if size not in lessons_view.sizes():
        st.warning(f"Ignored `size={size}` from the link: sizes are {', '.join(lessons_view.sizes())}.")
        return lessons_view.class_size()
    return size


def start_requested(eng) -> None:
    """If the link said run=1, start its lesson once, as the Run button would (before the sidebar is drawn)."""
    wanted = state.open_lesson()
    if state.take_run_request() and wanted in lessons.LESSONS:
        size = state.lesson_size(lessons_view.class_size())
        lessons_view.run(eng, wanted, size if size in lessons_view.sizes() else lessons_view.class_size(), page=None)


def _back() -> None:
    st.button("All lessons", key="lesson-back", icon=":material/arrow_back:", on_click=state.set_lesson, args=(None,))


def _explanation(lesson) -> None:
    """The lesson's explanation in our words, unless the link hid the text (text_hide)."""
    if state.hidden("text"):
        return
    st.markdown(lesson.explanation)
    st.caption(lesson.based_on.capitalize())


def before_run(eng, lesson, slot=None) -> None:
    """The lesson's page before it has run: its question (presenting: in `slot`, the header's wide
    column), what to look for, its time, and Run."""
    size_asked()  # says so when the link's size= is not one
    lessons_view.errors()
    if state.presenting():
        with slot if slot is not None else st.container():
            presenter.question(lesson.question)
    else:
        st.subheader(lesson.title, anchor=False)
        st.markdown(f"*{lesson.question}*")
    st.markdown(f"**What to look for:** {lesson.what_to_see}")
    facts = [f"Runs: {', '.join(lesson.variants)}", lesson.based_on, lessons_view.expected(lesson)]
    st.caption(" · ".join(f for f in facts if f))
    if lesson.rate:
        st.caption(f"How often it showed: {lesson.rate}")
    if lesson.class_note:
        st.caption(lesson.class_note)
    lessons_view.actions(eng, lesson, "lesson-page")
    if not state.hidden("text"):
        with st.expander("The explanation (reveals the answer)"):
            _explanation(lesson)
    _back()


def verdict(eng, lesson, run_ids: list[str]):
    """The lesson's verdict over its ended runs, computed once per set of runs; None when the check failed."""
    key = f"verdict-{lesson.id}-{'|'.join(run_ids)}"
    if key not in st.session_state:
        try:
            st.session_state[key] = lessons.check_lesson(lesson.id, eng.store, run_ids)
        except Exception as e:
            st.warning(f"The lesson's check failed: {type(e).__name__}: {text(e, 300)}")
            return None
    return st.session_state[key]


def banner(v) -> None:
    """The verdict as a banner: 32 px presenting, a success or warning box otherwise."""
    head = HEADS[v.showed]
    if state.presenting():
        presenter.banner(head, v.summary, v.showed)
    elif v.showed:
        st.success(f"**{head}** {v.summary}", icon=":material/check_circle:")
    else:
        st.warning(f"**{head}** {v.summary}", icon=":material/help:")


def figures_table(v) -> None:
    if v is not None and v.figures:
        st.dataframe(pd.DataFrame({"figure": list(v.figures), "value": list(v.figures.values())}),
                     hide_index=True, width="stretch")


def panel(eng, lesson, infos, slot=None) -> None:
    """The lesson's runs: the question (presenting: in `slot`, the header's wide column), the verdict
    banner once they have ended, then the charts, and beside them the explanation."""
    run_ids = [i.id for i in infos]
    done = not any(is_active(i) for i in infos)
    v = verdict(eng, lesson, run_ids) if done else None
    names = live_view.legend_labels(infos)
    ref = next((i.id for i in infos if names.get(i.id) == lesson.reference_run), run_ids[0])
    key = live_view.selection_key("lesson", run_ids)
    if state.presenting():
        with slot if slot is not None else st.container():
            presenter.question(lesson.question)
        above = [presenter.question_h(lesson.question)]
        if v is not None:
            banner(v)
            above.append(presenter.banner_h(f"{HEADS[v.showed]} {v.summary}"))
        ctx = live_view.Ctx(key=key, mode="compare", following=True, reference=ref)
        live_view.panel(eng, run_ids, tuple(lesson.charts), ctx, above=tuple(above))
        return
    if v is not None:
        banner(v)
    st.subheader(lesson.title, anchor=False)
    st.markdown(f"*{lesson.question}*  \n**What to look for:** {lesson.what_to_see}")
    _back()
    left, right = st.columns([3, 1.1])
    with right:
        if not state.hidden("text"):
            with st.container(border=True):
                _explanation(lesson)
        if not done:
            st.info("The verdict comes when every run has ended.", icon=":material/hourglass_top:")
        figures_table(v)
    with left:
        ctx = live_view.Ctx(key=key, mode="compare", following=True, reference=ref, per_row=1)
        live_view.panel(eng, run_ids, tuple(lesson.charts), ctx)
