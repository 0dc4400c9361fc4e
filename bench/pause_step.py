"""Seconds from a click on Pause, Step 1 and Resume to the page showing its effect, in a real browser.

    .venv/bin/python bench/pause_step.py [--repeat 5] [--url http://127.0.0.1:8501]

Starts a dashboard server (unless --url names one) on a free port with a temporary store, opens
the Live page in headless Chromium (Debian's /usr/bin/chromium, or $RNNLAB_CHROMIUM) at
1920x1080, starts a long run, and then, `repeat` times, times each stage of a click's effect:
- Pause: click -> the bar shows Resume ("button"); the status line says "paused" ("status line");
- Step 1: click -> the bar says "paused at" the next step ("bar"); the status line says it
  ("status line"); the Perplexity chart's newest per-batch point is that step's ("charts": every
  chart of the view was redrawn after it);
- Resume: click -> the bar shows Pause ("button"); the status line says "running" again.
The bar redraws on the click; the status lines and the charts follow at their refresh
(RNNLAB_REFRESH_SECONDS, default 1 s). Prints the median and the largest of each stage, with
the 1-minute load average before and after:
on a shared machine the figures grow with the load, so read them together. The issue's
target is within 1 s on an idle machine.

It drives the page as a user does (role and text locators, no test hooks), so it also runs
against an older checkout for a before/after comparison (Step is then missing and skipped).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("RNNLAB_CHROMIUM", "/usr/bin/chromium")
QUERY = "hidden_size=64&max_steps=1000000&probe_budget=0.3"
# the newest step of the Perplexity chart's per-batch trace (-1 until drawn)
NEWEST = """() => {
  for (const g of document.querySelectorAll("[data-testid='stPlotlyChart'] .js-plotly-plot")) {
    if (!g.layout || !g.layout.title || g.layout.title.text !== "Perplexity" || !g._fullData) continue;
    const t = g._fullData.find(d => /per batch/.test(d.name || ""));
    if (!t || !t._length) return -1;
    const x = g.calcdata && g.calcdata[t.index];
    return x ? x[x.length - 1].x : -1;
  }
  return -1;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(tmp: Path) -> tuple[subprocess.Popen, str]:
    """A dashboard server on a free port with its own store; returns (process, url)."""
    port = free_port()
    env = {**os.environ, "RNNLAB_STORE": str(tmp / "runs.sqlite"), "RNNLAB_REFRESH_SECONDS": os.environ.get("RNNLAB_REFRESH_SECONDS", "1.0")}
    cmd = [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true", "--server.port",
           str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(tmp / "server.log", "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
                if r.read().strip() == b"ok":
                    return proc, url
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"the dashboard did not start; see {tmp / 'server.log'}")


def step_shown(page) -> int:
    """The step the status line shows ('· step 1,234 / ...')."""
    text = page.locator("[data-testid='stMain']").inner_text()
    found = re.findall(r"· (?:running|paused) · step ([\d,]+)", text)
    return int(found[-1].replace(",", "")) if found else -1


def bar_step(page) -> int:
    """The step the transport bar's caption shows while paused ('paused at step 1,234: ...'), else -1."""
    found = re.findall(r"paused at step ([\d,]+):", page.locator("[data-testid='stMain']").inner_text())
    return int(found[-1].replace(",", "")) if found else -1


def clicked(page, name: str, stages: dict) -> dict[str, float]:
    """Seconds from clicking the button `name` until each stage's condition first holds (polled every 20 ms)."""
    button = page.get_by_role("button", name=name, exact=True).first
    expect(button).to_be_enabled(timeout=30_000)
    t0 = time.perf_counter()
    button.click()
    deadline, seen = t0 + 60, {}
    while len(seen) < len(stages):
        for stage, done in stages.items():
            if stage not in seen and done():
                seen[stage] = time.perf_counter() - t0
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{name}: {', '.join(set(stages) - set(seen))} not shown within 60 s")
        page.wait_for_timeout(20)
    return seen


def has(page, role_name: str) -> bool:
    return page.get_by_role("button", name=role_name, exact=True).count() > 0


def measure(url: str, repeat: int) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu",
                                                                     "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(f"{url}/?{QUERY}")
        page.get_by_role("button", name=re.compile("^Start: ")).click(timeout=180_000)
        expect(page.get_by_text(re.compile(r"· running · step [1-9]")).first).to_be_visible(timeout=120_000)
        has_step = has(page, "Step 1")

        def record(action: str, times: dict[str, float]) -> None:
            for stage, seconds in times.items():
                out.setdefault(action, {}).setdefault(stage, []).append(seconds)

        for _ in range(repeat):
            page.wait_for_timeout(2000)  # train a while between rounds
            record("pause", clicked(page, "Pause", {
                "button": lambda: has(page, "Resume"),
                "status line": lambda: has(page, "Resume") and page.get_by_text(re.compile(r"· paused · step")).count() > 0,
            }))
            if has_step:
                page.wait_for_timeout(1500)  # the status line and the charts catch up with the pause
                k = step_shown(page)
                record("step 1", clicked(page, "Step 1", {
                    "bar": lambda k=k: bar_step(page) == k + 1,
                    "status line": lambda k=k: step_shown(page) == k + 1,
                    "charts": lambda k=k: step_shown(page) == k + 1 and page.evaluate(NEWEST) == k,
                }))
            record("resume", clicked(page, "Resume", {
                "button": lambda: has(page, "Pause"),
                "status line": lambda: page.get_by_text(re.compile(r"· running · step")).count() > 0,
            }))
        browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--url", help="a running dashboard (default: start one with a temporary store)")
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = (None, args.url) if args.url else serve(Path(tmp))
        try:
            times = measure(url, args.repeat)
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(10)
    print(f"pause/step response, click to the page showing it, {args.repeat} rounds, 1920x1080, "
          f"load average {load0:.2f} -> {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for action, stages in times.items():
        for stage, values in stages.items():
            print(f"  {action:7s} {stage:12s} median {statistics.median(values):.2f} s   max {max(values):.2f} s   "
                  f"({', '.join(f'{v:.2f}' for v in values)})")
    if "step 1" not in times:
        print("  step 1  (no such button on this page)")


if __name__ == "__main__":
    main()
