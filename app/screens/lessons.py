"""Lessons: known phenomena of recurrent training, each reproduced by one click and checked afterwards."""

import streamlit as st

from app import frame, lessons_view, series, state

eng = frame.begin("lessons")
st.title("Lessons", anchor=False)
module, problem = lessons_view.load()
if problem:
    st.error(f"The lessons could not be loaded: {problem}")
if module is None:
    st.info(
        "No lessons yet: they arrive with `engine/lessons.py`. Meanwhile, the Compare settings in the "
        "sidebar start any side-by-side comparison."
    )
    st.stop()

infos = series.infos(eng.store, state.shown_runs())
lesson = lessons_view.shown_lesson(module, infos)
if lesson is not None:
    lessons_view.lesson_panel(eng, module, lesson, infos)
else:
    lessons_view.cards(eng, module)
