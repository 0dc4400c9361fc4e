"""Lessons: known phenomena of recurrent training, each reproduced by one click and checked afterwards.

/lessons: the cards; /lessons?lesson=<id>: that lesson's page before it runs (&run=1 starts it);
with a lesson's runs shown: its charts, explanation and verdict.
"""

import streamlit as st

from app import frame, lesson_page, lessons_view, series, state
from engine import lessons

eng = frame.begin("lessons", first=lesson_page.start_requested)
slot = frame.header("Lessons", "lessons")
infos = series.infos(eng.store, state.shown_runs())
lesson = lessons_view.shown_lesson(infos)
wanted = state.open_lesson()
if lesson is not None:
    lesson_page.panel(eng, lesson, infos, slot)
elif wanted in lessons.LESSONS:
    lesson_page.before_run(eng, lessons.LESSONS[wanted], slot)
else:
    if wanted:
        st.warning(f"There is no lesson `{wanted}`; the lessons are: {', '.join(lessons.LESSONS)}.")
    lessons_view.cards(eng)
