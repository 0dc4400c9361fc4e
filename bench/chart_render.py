"""Browser time to redraw each chart of a Live view on a refresh, in headless Chromium.

    .venv/bin/python bench/chart_render.py [--steps 3000] [--runs 1] [--view Training] [--repeat 12]

A refresh of the Live page sends every chart again and the browser redraws it (Streamlit's
PlotlyChart calls Plotly.react with the new figure). On a small machine that redraw, not the
server, is what a click waits behind: while the browser's main thread draws charts it takes no
input. This bench measures that redraw with the page's own figures:
1. a store with `runs` runs of `steps` steps at the trainer's cadence (bench/ui_refresh.py writes
   it: the series names and shapes of a real run);
2. the view's figures at that step and 15 steps later (one refresh of a run at about 15 steps/s),
   serialised as st.plotly_chart sends them;
3. in Chromium (1920x1080, each figure in a div of its cell's width), Plotly.newPlot of the first,
   then Plotly.react alternately with freshly parsed copies of the two (as a refresh does),
   `repeat` times; prints the median milliseconds per chart and their sum, and the 1-minute load.

It uses plotly.js as the Python plotly package ships it, which may differ in version from
Streamlit's bundle; read the figures as relative costs (which chart, which layout choice).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import plotly
import plotly.io as pio
from playwright.sync_api import sync_playwright
from plotly.tools import return_figure_from_figure_or_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ui_refresh  # noqa: E402  (bench/ is on sys.path when run as a script)

from app import chart_grid, series  # noqa: E402
from app.chart_grid import Ctx  # noqa: E402
from engine.store import RunStore  # noqa: E402

CHROMIUM = os.environ.get("RNNLAB_CHROMIUM", "/usr/bin/chromium")
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
HALF_W, WIDE_W = 900, 1820  # px of a chart's cell at 1920 px: half the main column, or all of it
TIMING_JS = """async ([specs, repeat]) => {
  const out = [];
  for (const [key, a, b, width] of specs) {
    const div = document.createElement("div");
    div.style.width = width + "px";
    document.body.appendChild(div);
    const first = JSON.parse(a);
    await Plotly.newPlot(div, first.data, first.layout, {responsive: false});
    const times = [];
    for (let i = 0; i < repeat; i++) {
      const fig = JSON.parse(i % 2 ? a : b);  // fresh objects, as a refresh parses its message anew
      const t0 = performance.now();
      await Plotly.react(div, fig.data, fig.layout, {responsive: false});
      times.push(performance.now() - t0);
    }
    out.push([key, times]);
    div.remove();
  }
  return out;
}"""


def figure_json(fig) -> str:
    """The figure as st.plotly_chart serialises it."""
    return pio.to_json(return_figure_from_figure_or_data(fig, validate_figure=True), validate=False)


def view_figures(store, run_ids, view: str) -> list[tuple[str, str, bool]]:
    """(key, JSON, wide) of every figure the view draws for the runs now."""
    ids = chart_grid.views("live")[view]
    cache = series.SeriesCache(store)
    infos = series.infos(store, run_ids)
    runs = series.load_runs(store, cache, infos, chart_grid.reads(ids), {i.id: i.label for i in infos},
                            chart_grid.smooths(ids))
    ctx = Ctx(key="bench", following=True)
    return [(key, figure_json(fig), wide) for key, fig, wide in chart_grid.figures(ids, runs, ctx)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--view", default="Training", choices=list(chart_grid.views("live")))
    ap.add_argument("--repeat", type=int, default=12)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sample = ui_refresh.sample_run(tmp)
        with RunStore(tmp / "bench.sqlite") as store:
            run_ids = []
            for i in range(args.runs):
                run_id = store.create_run(sample["config"], label=f"run {i + 1}", status="running")
                store.set_summary(run_id, sample["summary"])
                ui_refresh.write_run(store, sample, 0, args.steps, run_id, rng)
                run_ids.append(run_id)
            store.flush()
            before = view_figures(store, run_ids, args.view)
            for run_id in run_ids:
                ui_refresh.write_run(store, sample, args.steps, args.steps + ui_refresh.TICK_STEPS, run_id, rng)
            store.flush()
            after = dict((k, j) for k, j, _ in view_figures(store, run_ids, args.view))
    specs = [(key, a, after.get(key, a), WIDE_W if wide else HALF_W) for key, a, wide in before]
    load0 = os.getloadavg()[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu",
                                                                     "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.set_content("<html><body></body></html>")
        page.add_script_tag(path=str(PLOTLY_JS))
        results = page.evaluate(TIMING_JS, [specs, args.repeat])
        version = page.evaluate("Plotly.version")
        browser.close()
    print(f"redraw per refresh, view {args.view!r}, {args.runs} run(s) at step {args.steps:,} (+15), plotly.js "
          f"{version}, Chromium 1920x1080, load {load0:.2f} -> {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    total = 0.0
    for key, times in results:
        ms = statistics.median(times)
        total += ms
        print(f"  {key.removeprefix('bench-'):28s} {ms:7.1f} ms")
    print(f"  {'all charts of the view':28s} {total:7.1f} ms")


if __name__ == "__main__":
    main()
