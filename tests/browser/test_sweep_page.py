"""The Sweep page in headless Chromium: a finished 3 x 3 sweep draws its stability map, a click on a
cell opens that cell's runs in Compare. Saves docs/screenshots/sweep.png (1440 x 900).

The sweep is trained before the dashboard starts, with the same Trainer and grid a sweep's Ray
workers use, but in this process (no Ray needed): lr x clip_value for a ReLU RNN on SGD, two
seeds each, so the map has good cells, cells that blow up, and a cell whose runs diverged.
The server is this module's own (its store holds the sweep), stopped by its PID at the end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.config import RunConfig
from engine.diagnosis import observers_for
from engine.distributed.grid import expand, parse_grid
from engine.store import RunStore
from engine.trainer import Trainer, run_to_end

ROOT = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1440, "height": 900}
GROUP = "sweep-relu-sgd"
BASE = RunConfig(cell="rnn_relu", optimizer="sgd", hidden_size=32, embed_dim=8, seq_len=16, batch_size=8,
                 max_steps=60, eval_every=20, eval_batches=1, probe_every=10, sample_every=0)
GRID = ["lr=0.1,1,10", "clip_value=0.1,1,10"]

# JS: the stability map's heatmap, as Plotly drew it
HEATMAP = """() => {
  for (const g of document.querySelectorAll("[data-testid='stPlotlyChart'] .js-plotly-plot")) {
    const t = g.layout && g.layout.title && g.layout.title.text;
    if (!t || !t.includes("Stability map") || !g._fullData) continue;
    const h = g._fullData[0];
    return {x: [...h.x], y: [...h.y], text: h.text.map(r => [...r])};
  }
  return null;
}"""


def train_sweep(path: Path) -> dict[tuple, list[str]]:
    """Train the 3 x 3 x 2 sweep into the store; {(lr, clip_value): run ids}."""
    import torch

    torch.set_num_threads(1)
    cells: dict[tuple, list[str]] = {}
    with RunStore(path) as store:
        for label, cfg in expand(BASE, parse_grid(GRID), [0, 1]):
            run_id = store.create_run(cfg.to_dict(), label=label, group_id=GROUP)
            run_to_end(Trainer(cfg, store, run_id, observers=observers_for(cfg)))
            cells.setdefault((cfg.lr, cfg.clip_value), []).append(run_id)
    return cells


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
            return r.read().strip() == b"ok"
    except OSError:
        return False


@pytest.fixture(scope="module")
def sweep_app(tmp_path_factory, browser_type_launch_args):
    """A dashboard on a free port whose store holds the finished sweep; yields (url, cells)."""
    tmp = tmp_path_factory.mktemp("sweep-dashboard")
    cells = train_sweep(tmp / "runs.sqlite")
    env = {**os.environ, "RNNLAB_STORE": str(tmp / "runs.sqlite"), "RNNLAB_CACHE": str(tmp / "cache")}
    env.pop("RNNLAB_RAY_ADDRESS", None)
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true", "--server.port",
           str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false"]
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dashboard did not start:\n{(tmp / 'server.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield url, cells
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def ready(page: Page, timeout: float = 60_000) -> None:
    expect(page.locator("[data-testid='stApp'][data-test-script-state='notRunning']")).to_have_count(1, timeout=timeout)


def test_the_stability_map_of_a_finished_sweep_and_a_click_into_compare(page: Page, sweep_app, screenshots):
    url, cells = sweep_app
    page.set_viewport_size(VIEWPORT)
    page.goto(url + "/sweep")
    ready(page)
    expect(page.get_by_text("18 of 18 done")).to_be_visible(timeout=30_000)
    page.wait_for_function(f"({HEATMAP})() !== null", timeout=30_000)
    heat = page.evaluate(HEATMAP)
    assert heat["x"] == ["0.1", "1.0", "10.0"] and heat["y"] == ["0.1", "1.0", "10.0"]
    assert sum("✕" in text for row in heat["text"] for text in row) >= 1  # lr=10 blows up without tight clipping
    assert not page.locator("[data-testid='stException']").count()
    page.wait_for_timeout(700)  # Plotly's text and colour bar settle
    page.screenshot(path=str(screenshots / "sweep.png"))

    # click the cell lr=0.1, clip_value=1: hover first (Plotly clicks on the hovered point)
    target = page.locator("[data-testid='stPlotlyChart'] .scatterlayer .trace").first.locator(".point").nth(3)
    box = target.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.wait_for_timeout(400)
    page.mouse.click(x, y)
    expect(page.get_by_role("heading", name="Compare")).to_be_visible(timeout=30_000)
    ready(page)
    assert sorted(page.url.split("runs=")[1:]) != []
    shown = sorted(part.split("&")[0] for part in page.url.split("runs=")[1:])
    assert shown == sorted(cells[(0.1, 1.0)])
