"""Lessons: known phenomena of recurrent training, each reproduced by one click and checked afterwards."""

import streamlit as st

from app import frame, lessons_view, series, state

eng = frame.begin("lessons")
st.title("Lessons", anchor=False)
infos = series.infos(eng.store, state.shown_runs())
lesson = lessons_view.shown_lesson(infos)
if lesson is not None:
    lessons_view.lesson_panel(eng, lesson, infos)
else:
    lessons_view.cards(eng)
