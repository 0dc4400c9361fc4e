"""Presenter mode: a page a class can read from the back row, on one 1920x1080 screen.

`present=1` in the URL, or the Presenter toggle in the header (app/frame.py), turns it on: the
router hides its page menu, no sidebar is drawn (so no settings), the page's top padding and
Streamlit's header bar go, and charts are drawn with fonts 1.5 times as large and sized so that
the view fits the screen without scrolling. Everything here is layout; what is shown is decided
by the pages.

    if state.presenting():
        presenter.style()                                   # once per run, before anything is drawn
        ctx.scale, ctx.overview, ctx.screen = FONT_SCALE, True, SCREEN_H - LIVE_RESERVED   # app/chart_grid.py fits the rows
"""

from __future__ import annotations

import html

import streamlit as st

FONT_SCALE = 1.5  # chart titles, ticks, axis titles and legends, against the normal page
SCREEN_H = 1080  # px: the projector the layout is sized for (the browser in full-screen mode)
# px above the charts, measured in Chromium at 1920x1080 with one run: the header row, the
# transport bar, the big numbers and two one-line diagnoses (tests/browser/test_classroom.py
# checks that the page then fits)
LIVE_RESERVED = 215
NUMBERS_ROW_H = 44  # px per further run in the big numbers table
LESSON_RESERVED = 330  # the header row, the question, and the transport bar or the "verdict comes" line
BANNER_H = 110  # the verdict banner (two lines of 32 px type) and its gap

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
