"""The classroom in headless Chromium at 1920x1080, a projector's screen: presenter mode on Live and on a
lesson (no sidebar, no settings, no scrolling, the verdict as a large banner in the top third), a
hide-flag link, Step 1 on a paused group, and a lesson's link before it runs. Saves the presenter
screenshots to docs/screenshots/ (presenter-live.png, presenter-lesson.png).

Every run these tests start is stopped or finished before they end: the server is shared with
tests/browser/test_dashboard.py, and a paused run would hold one of its two workers.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

SCREEN = {"width": 1920, "height": 1080}
ERRORS = "[data-testid='stException'], [data-testid='stAlertContentError']"
SMALL_RUN = "hidden_size=32&seq_len=32&probe_budget=0.3"
# JS: how far the page scrolls (0: it fits), in the main area and in the document
OVERFLOW = """() => { const m = document.querySelector("[data-testid='stMain']");
  return Math.max(m.scrollHeight - m.clientHeight, document.documentElement.scrollHeight - window.innerHeight); }"""
# JS: the newest step of each per-batch trace of the Perplexity chart
NEWEST = """() => { for (const g of document.querySelectorAll("[data-testid='stPlotlyChart'] .js-plotly-plot")) {
    if (!g.layout || !g.layout.title || g.layout.title.text !== "Perplexity" || !g.calcdata) continue;
    return g._fullData.filter(d => /per batch/.test(d.name || "")).map(d => {
      const c = g.calcdata[d.index]; return c && c.length ? c[c.length - 1].x : -1; });
  } return []; }"""
CHARTS_DRAWN = """(n) => { const c = [...document.querySelectorAll("[data-testid='stPlotlyChart'] .js-plotly-plot")];
  return c.length >= n && c.every(g => g.querySelector('.main-svg') && g.layout); }"""
SMALLEST_CHART_FONT = """() => Math.min(...[...document.querySelectorAll("[data-testid='stPlotlyChart'] .js-plotly-plot")]
  .map(g => g._fullLayout.font.size))"""
SIDEBAR_LABELS = """() => [...document.querySelectorAll("[data-testid='stSidebar'] [data-testid='stWidgetLabel']")]
  .map(e => e.textContent.trim()).filter(t => t)"""


@pytest.fixture
def screen(browser):
    """A page in its own browser session at 1920x1080."""
    context = browser.new_context(viewport=SCREEN)
    yield context.new_page()
    context.close()


def ready(page: Page, timeout: float = 120_000) -> None:
    """Connected, the page's header drawn (before its first run the script state also reads notRunning),
    and the script finished."""
    expect(page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']")).to_have_count(
        1, timeout=timeout)
    expect(page.get_by_role("button", name="Glossary")).to_be_visible(timeout=timeout)
    expect(page.locator("[data-testid='stApp'][data-test-script-state='notRunning']")).to_have_count(1, timeout=timeout)


def sidebar_labels(page: Page) -> set[str]:
    """The sidebar's widget labels, once every widget has loaded (they arrive as placeholders first)."""
    expect(page.get_by_role("spinbutton", name="hidden size (units)")).to_be_visible(timeout=60_000)
    expect(page.locator("[data-testid='stSidebar'] [data-testid='stSkeleton']")).to_have_count(0, timeout=60_000)
    last, labels = None, set(page.evaluate(SIDEBAR_LABELS))
    while labels != last:  # until two reads half a second apart agree
        page.wait_for_timeout(500)
        last, labels = labels, set(page.evaluate(SIDEBAR_LABELS))
    return labels


def no_sidebar_no_settings(page: Page) -> None:
    expect(page.locator("[data-testid='stSidebar']")).to_have_count(0)
    expect(page.get_by_role("spinbutton")).to_have_count(0)  # every numeric setting is a spin button
    expect(page.get_by_text("New run")).to_have_count(0)


def fits(page: Page) -> None:
    """Nothing below the fold: the page does not scroll at 1920x1080."""
    page.wait_for_timeout(1000)  # Plotly lays out after the elements arrive
    assert page.evaluate(OVERFLOW) <= 1, f"the page scrolls by {page.evaluate(OVERFLOW)} px"


def test_presenter_live_fits_the_screen_without_sidebar_or_settings(screen: Page, app_url, screenshots):
    screen.goto(f"{app_url}/?present=1&hidden_size=64&max_steps=300&probe_budget=0.3")
    ready(screen)
    no_sidebar_no_settings(screen)
    screen.get_by_role("button", name=re.compile("^Start: lstm 64")).click()
    expect(screen.get_by_text(re.compile(r"finished"))).to_be_visible(timeout=300_000)  # status in the numbers row
    ready(screen)
    screen.wait_for_function(CHARTS_DRAWN, arg=4, timeout=60_000)
    no_sidebar_no_settings(screen)
    assert screen.evaluate(SMALLEST_CHART_FONT) >= 21  # 1.5 x the page's 14 px
    assert screen.locator(ERRORS).count() == 0
    screen.screenshot(path=str(screenshots / "presenter-live.png"))
    fits(screen)


def test_a_hide_flag_link_hides_exactly_the_named_controls(screen: Page, app_url):
    screen.goto(f"{app_url}/?{SMALL_RUN}")
    ready(screen)
    plain = sidebar_labels(screen)
    expect(screen.get_by_role("button", name="Start", exact=True)).to_be_visible()
    screen.goto(f"{app_url}/?{SMALL_RUN}&lr_hide=1&cell_hide=1&start_hide=1")
    ready(screen)
    flagged = sidebar_labels(screen)
    assert {"lr", "cell"} <= plain
    assert plain - flagged == {"lr", "cell"} and flagged < plain
    expect(screen.get_by_role("button", name="Start", exact=True)).to_have_count(0)
    expect(screen.get_by_role("spinbutton", name="hidden size (units)")).to_have_value("32")
    expect(screen.get_by_text("Compare settings")).to_be_visible()


def status_steps(page: Page, word: str) -> list[int]:
    """The step of each run's status line ('name · paused · step 1,234 / ...')."""
    text = page.locator("[data-testid='stMain']").inner_text()
    return [int(s.replace(",", "")) for s in re.findall(rf"· {word} · step ([\d,]+)", text)]


def where(page: Page) -> list[str]:
    """The transport bar's caption and the status lines, as the page shows them now."""
    text = page.locator("[data-testid='stMain']").inner_text()
    return [line for line in text.splitlines() if re.search(r"paused at|training:|· (paused|running) ·", line)]


def test_step_1_advances_every_shown_run_by_exactly_one_step(screen: Page, app_url):
    screen.goto(f"{app_url}/?{SMALL_RUN}&max_steps=100000")
    ready(screen)
    screen.get_by_text("Compare settings").click()
    compare = screen.get_by_role("button", name="Compare", exact=True)
    expect(compare).to_be_enabled(timeout=60_000)
    compare.click()  # rnn_tanh, gru and lstm in lockstep
    expect(screen).to_have_url(re.compile(r"/compare\?.*runs=.*runs=.*runs="), timeout=60_000)
    try:
        expect(screen.get_by_text(re.compile(r"· running · step [1-9]")).first).to_be_visible(timeout=120_000)
        # the Live toggle off: no timer redraws the page, so what changes after a click is the click's doing
        # (and three runs' charts redrawn every second would starve a shared machine's browser)
        follow = screen.get_by_label("Live", exact=True)
        follow.click(force=True)
        expect(follow).not_to_be_checked()
        ready(screen)
        screen.get_by_role("button", name="Pause", exact=True).click()
        caption = screen.get_by_text(re.compile(r"paused at step ([\d,]+)"))
        expect(caption).to_be_visible(timeout=60_000)
        ready(screen)
        k = int(re.search(r"step ([\d,]+)", caption.inner_text()).group(1).replace(",", ""))
        assert status_steps(screen, "paused") == [k] * 3
        screen.wait_for_function(f"() => ({NEWEST})().length === 3 && ({NEWEST})().every(x => x === {k - 1})",
                                 timeout=60_000)
        for _ in range(2):
            screen.get_by_role("button", name="Step 1", exact=True).click()
            k += 1
            try:
                expect(screen.get_by_text(f"paused at step {k:,}")).to_be_visible(timeout=60_000)
            except AssertionError as err:  # say what the bar and the status lines said instead
                raise AssertionError(f"no 'paused at step {k:,}'; the page says: {where(screen)}") from err
            assert status_steps(screen, "paused") == [k] * 3
            # every run's curve gained the one step (the newest loss is measured before update k)
            screen.wait_for_function(f"() => ({NEWEST})().every(x => x === {k - 1})", timeout=60_000)
            assert screen.evaluate(NEWEST) == [k - 1] * 3
        assert screen.locator(ERRORS).count() == 0
    finally:
        for _ in range(3):  # leave no paused group holding a worker of the shared server
            stop = screen.get_by_role("button", name="Stop", exact=True)
            if stop.count() == 0:
                break
            stop.first.click()
            ready(screen)


def test_a_lessons_link_shows_it_before_it_runs(screen: Page, app_url):
    screen.goto(f"{app_url}/lessons?lesson=exploding-gradients")
    ready(screen)
    expect(screen.get_by_text("Why does my vanilla RNN suddenly blow up")).to_be_visible(timeout=60_000)
    expect(screen.get_by_text("What to look for:")).to_be_visible(timeout=60_000)
    expect(screen.get_by_role("button", name="Run this lesson")).to_be_visible(timeout=60_000)  # widgets load late
    expect(screen.locator("[data-testid='stPlotlyChart']")).to_have_count(0)
    assert "runs=" not in screen.url and "lesson=exploding-gradients" in screen.url


def test_presenter_lesson_gives_its_verdict_as_a_banner_in_the_top_third(screen: Page, app_url, screenshots):
    screen.goto(f"{app_url}/lessons?lesson=exploding-gradients&size=small&run=1&present=1")
    ready(screen)
    no_sidebar_no_settings(screen)
    expect(screen.get_by_text("Why does my vanilla RNN suddenly blow up")).to_be_visible(timeout=60_000)
    banner = screen.locator(".rnnlab-verdict")
    expect(banner).to_be_visible(timeout=600_000)
    ready(screen)
    screen.wait_for_function(CHARTS_DRAWN, arg=4, timeout=60_000)
    box = banner.bounding_box()
    assert box["y"] + box["height"] / 2 < SCREEN["height"] / 3, box
    size = float(banner.evaluate("e => getComputedStyle(e).fontSize").rstrip("px"))
    assert size >= 28, size
    no_sidebar_no_settings(screen)
    assert screen.evaluate(SMALLEST_CHART_FONT) >= 21
    assert screen.locator(ERRORS).count() == 0
    screen.screenshot(path=str(screenshots / "presenter-lesson.png"))
    fits(screen)
