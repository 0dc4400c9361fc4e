"""Presenter mode: a page a class can read from the back row, on one 1920x1080 screen.

`present=1` in the URL, or the Presenter toggle in the header (app/frame.py), turns it on: the
router hides its page menu, no sidebar is drawn (so no settings), the page's top padding and
Streamlit's header bar go, and charts are drawn with fonts 1.5 times as large and sized so that
the view fits the screen without scrolling. Everything here is layout; what is shown is decided
by the pages.

    if state.presenting():
        presenter.style()                                   # once per run, before anything is drawn
        ctx.scale, ctx.overview = FONT_SCALE, True
        ctx.screen = charts_screen([HEADER_H, TRANSPORT_H, numbers_h(1)])  # app/chart_grid.py fits the rows
"""

from __future__ import annotations

import html
import math

import streamlit as st

FONT_SCALE = 1.5  # chart titles, ticks, axis titles and legends, against the normal page
# px, measured in Chromium at 1920x1080 (tests/browser/test_classroom.py checks that pages then fit)
SCREEN_H = 1080  # the projector the layout is sized for (the browser in full-screen mode)
PAD = 18  # the page's padding, top and bottom together
GAP = 16  # between two blocks (Streamlit's gap)
HEADER_H = 42  # the header row: view switch or question, glossary, Presenter toggle
TRANSPORT_H = 42  # Pause / Step
NUMBERS_HEAD_H, NUMBERS_ROW_H = 24, 50  # the big numbers: headings, one row per run
DIAGNOSIS_LINE_H = 58  # one diagnosis folded to a line, gap included
BANNER_CHARS = 135  # characters of a 32 px line across the screen (measured: about 150)
QUESTION_CHARS = 90  # characters of a 30 px line in the header's wide column


def numbers_h(runs: int) -> int:
    """Height of the big numbers table for this many runs."""
    return NUMBERS_HEAD_H + NUMBERS_ROW_H * runs


def diagnoses_h(runs: int) -> int:
    """Height of the box of one-line diagnoses beside the numbers: as tall as they are, two lines at least."""
    return max(numbers_h(runs), 2 * DIAGNOSIS_LINE_H + 18)


def banner_h(text: str) -> int:
    """Height of a verdict banner holding `text`."""
    return 24 + 40 * max(1, math.ceil(len(text) / BANNER_CHARS))


def question_h(text: str) -> int:
    """Height of the header row when it holds a lesson's question."""
    return max(HEADER_H, 38 * math.ceil(len(text) / QUESTION_CHARS))


def charts_screen(blocks) -> int:
    """Px left for the charts (pickers included) under blocks of these heights, each followed by a gap."""
    return SCREEN_H - PAD - sum(h + GAP for h in blocks)


_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"],
[data-testid="stHeader"], [data-testid="stToolbar"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding: 0.6rem 1.5rem 0.4rem 1.5rem !important; max-width: none !important; }
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p { font-size: 1.25rem; }
</style>"""


def style() -> None:
    """Presenter mode's page style (no sidebar or header bar, tighter padding, larger text)."""
    st.html(_CSS)


def question(text: str) -> None:
    """A lesson's question in large type, as the first thing on the page."""
    st.markdown(f'<p style="font-size:30px;line-height:1.25;margin:0;font-weight:600">{html.escape(text)}</p>',
                unsafe_allow_html=True)


def banner(head: str, summary: str, good: bool) -> None:
    """A verdict in large type (32 px) on a coloured band: green when it showed, amber when it did not."""
    colour, edge = ("#e6f4ea", "#1e7d32") if good else ("#fff4e0", "#b26a00")
    st.markdown(
        f'<div class="rnnlab-verdict" style="font-size:32px;line-height:1.25;padding:12px 22px;'
        f'background:{colour};border-left:10px solid {edge};border-radius:6px;color:#1a1a1a">'
        f"<b>{html.escape(head)}</b> {html.escape(summary)}</div>",
        unsafe_allow_html=True,
    )
