"""Seconds from the Start click to the first point in the perplexity chart, in Chromium.

    python bench/first_chart.py [--trials 5] [--think 3] [--breakdown] [--repo PATH]

Each trial starts a fresh dashboard server (this checkout's app/main.py, or --repo's, with an
empty temporary store and the default refresh), opens it in headless Debian Chromium
(/usr/bin/chromium, or $RNNLAB_CHROMIUM), waits until the page has loaded plus `--think`
seconds (a person reading the page before clicking), clicks the first-visit Start button and
times until the perplexity chart holds a point. Prints each trial, the median (target <= 2 s on
an idle 2-core machine) and the load average. Not a test: nothing here asserts a time.

--breakdown also times the engine's part of that path in a fresh process, with no browser:
the task build (preflight), creating the run, the trainer's start (model, optimiser: the first
one imports torch._dynamo), the first step and its commit; once for the first run of the
process and once for a second run.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from timing import load, use_checkout  # bench/ is on sys.path when run as a script

ROOT = use_checkout()
CHROMIUM = os.environ.get("RNNLAB_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
# the number of points in the traces of the chart titled `title` (0 until drawn); _fullData is what Plotly drew
POINTS = """(title) => {
  for (const g of document.querySelectorAll("[data-testid='stPlotlyChart'] .js-plotly-plot")) {
    const t = g.layout && g.layout.title && g.layout.title.text;
    if (t === title && g._fullData) return g._fullData.reduce((n, d) => n + (d._length || 0), 0);
  }
  return 0;
}"""
READY = "[data-testid='stApp'][data-test-script-state='notRunning']"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
            return r.read().strip() == b"ok"
    except OSError:
        return False


def serve(folder: Path) -> tuple[subprocess.Popen, str]:
    """A dashboard server of the checkout on a free local port, with its own store; (process, url)."""
    port = free_port()
    env = {**os.environ, "RNNLAB_STORE": str(folder / "runs.sqlite"), "RNNLAB_CACHE": str(folder / "cache")}
    env.pop("RNNLAB_REFRESH_SECONDS", None)  # the dashboard's own default
    cmd = [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true", "--server.port",
           str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false"]
    log = open(folder / "server.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while not healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"the server did not start:\n{(folder / 'server.log').read_text()[-2000:]}")
        time.sleep(0.2)
    return proc, url


def stop(proc: subprocess.Popen) -> None:
    """End the server we started, by its own PID."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def trial(browser, think: float) -> float:
    """One fresh server and page: seconds from the Start click to the first perplexity point."""
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = serve(Path(tmp))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url)
            page.wait_for_selector(READY, timeout=120_000)
            start = page.get_by_role("button", name=_start_name()).first
            start.wait_for(timeout=60_000)
            page.wait_for_timeout(think * 1000)
            t0 = time.perf_counter()
            start.click()
            page.wait_for_function(f"() => ({POINTS})('Perplexity') > 0", timeout=120_000, polling="raf")
            seconds = time.perf_counter() - t0
            page.close()
            return seconds
        finally:
            stop(proc)


def _start_name():
    import re

    return re.compile(r"^Start")


BREAKDOWN = r"""
import json, sys, tempfile, time, dataclasses
t = {}
t0 = time.perf_counter()
from app.controls import UI_DEFAULT
from engine.store import RunStore
from engine.trainer import Trainer
t["imports (server start, not the click)"] = time.perf_counter() - t0
import torch
torch.set_num_threads(1)  # as the dashboard's training threads run
try:
    from engine.preflight import preflight
except ImportError:
    from data import make_task as preflight
store = RunStore(tempfile.mkdtemp() + "/runs.sqlite")
for n in ("first run", "second run"):
    a = time.perf_counter(); task = preflight(UI_DEFAULT); b = time.perf_counter()
    run_id = store.create_run(UI_DEFAULT.to_dict()); c = time.perf_counter()
    try:
        trainer = Trainer(UI_DEFAULT, store, run_id, task=task)
    except TypeError:
        trainer = Trainer(UI_DEFAULT, store, run_id)
    trainer.start(); d = time.perf_counter()
    trainer.step(); e = time.perf_counter()
    store.flush(); f = time.perf_counter()
    t[n] = {"task build": b - a, "create run": c - b, "trainer start (model, optimiser)": d - c,
            "first step": e - d, "first commit": f - e, "total": f - a}
    trainer.finish()
print(json.dumps(t))
"""


def breakdown() -> None:
    """The engine's part of the click-to-point path, in a fresh process (warm-up not started: no JobManager)."""
    out = subprocess.run([sys.executable, "-c", BREAKDOWN], cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "RNNLAB_STORE": os.devnull})
    if out.returncode:
        print(out.stderr[-2000:])
        return
    for name, value in json.loads(out.stdout.strip().splitlines()[-1]).items():
        if isinstance(value, dict):
            print(f"  {name}: " + ", ".join(f"{k} {v:.3f} s" for k, v in value.items()))
        else:
            print(f"  {name}: {value:.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--think", type=float, default=3.0, help="seconds between the page loading and the click")
    parser.add_argument("--breakdown", action="store_true", help="also time the engine's part, in-process")
    parser.add_argument("--repo", default=str(ROOT), help="the checkout to measure (default: this one)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"checkout {ROOT}; {load()}")
    if args.breakdown:
        print("engine part of the path, fresh process:")
        breakdown()
    seconds = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for i in range(args.trials):
                seconds.append(trial(browser, args.think))
                print(f"trial {i + 1}: {seconds[-1]:.2f} s from Start to the first perplexity point; {load()}",
                      flush=True)
        finally:
            browser.close()
    if seconds:  # --trials 0 with --breakdown: the engine's part only
        print(f"median of {len(seconds)}: {statistics.median(seconds):.2f} s (target <= 2 s on an idle 2-core "
              f"machine); {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
