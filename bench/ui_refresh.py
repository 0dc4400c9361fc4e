"""Benchmark the dashboard's refresh: server time to build every figure of the Live page for four
runs of 100,000 steps each, and the points each trace sends to the browser.

    .venv/bin/python bench/ui_refresh.py [--steps 100000] [--runs 4] [--ticks 20]

1. A real LSTM run of a few steps (default settings: hidden 128, T = 64, every probe) gives the
   series names and array shapes a run records; four runs of `steps` steps are then written
   with those names at the trainer's cadence (every step: losses, lr, gradient norms; every
   10 steps: histograms, saturation, logits, weights; every 100: spectra, gradient reach,
   evaluations; epoch events), into a temporary store.
2. Times, per refresh, what the Live page does on the server: read the runs through the
   shared cache (app/series.py), build each view's figures (app/chart_grid.py, which calls
   app/charts.py) and serialise them as st.plotly_chart does (to_dict, plotly.io.to_json); the
   browser's rendering is not included:
   - cold: a new cache (first view of the runs),
   - live tick: every run grew by 15 steps since the last refresh (about 1 s of training),
   - unchanged: finished runs (nothing new in the store).
   Each is reported for all five views together ("all figures") and per view.
3. Counts the points per trace and the heatmap sizes that reach the browser.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import plotly.io as pio
from plotly.tools import return_figure_from_figure_or_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import timed  # noqa: E402  (bench/ is on sys.path when run as a script)

from app import chart_grid, series  # noqa: E402
from app.chart_grid import Ctx  # noqa: E402
from engine.config import RunConfig  # noqa: E402
from engine.store import RunStore  # noqa: E402
from engine.trainer import Trainer  # noqa: E402

TARGET_MS = 150.0
VIEWS = chart_grid.views("live")
CHARTS = tuple(c for ids in VIEWS.values() for c in ids if chart_grid.CHARTS[c].build is not None)
TICK_STEPS = 15  # steps a run adds between two refreshes (about 1 s at 15 steps/s)


def sample_run(tmp: Path) -> dict:
    """Record 11 real steps (two probe steps) and return {name: kind} with an example value each."""
    with RunStore(tmp / "sample.sqlite") as store:
        cfg = RunConfig(max_steps=11, probe_every=10, probe_budget=1.0, eval_every=10, sample_every=0)
        run_id = store.create_run(cfg.to_dict())
        trainer = Trainer(cfg, store, run_id)
        trainer.start()
        while trainer.step():
            pass
        trainer.finish()
        store.flush()
        names = {}
        for name in store.series_names(run_id, "scalar"):
            steps, values = store.scalars(run_id, name)
            names[name] = ("scalar", steps, values)
        for name in store.series_names(run_id, "array"):
            steps, arrays = store.arrays(run_id, name)
            names[name] = ("array", steps, arrays)
        return {"names": names, "summary": store.run(run_id).summary, "config": cfg.to_dict()}


def cadence(name: str, steps_seen) -> int:
    """Every how many steps the trainer records this series."""
    if name.startswith(("val/", "window/", "plateau/")):
        return 100
    if name.startswith(("spectrum/", "reach/", "probe/")):
        return 100  # heavy probes: stretched to stay within the probe budget
    if (
        len(steps_seen) >= 2
        and steps_seen[1] - steps_seen[0] >= 10
        or name.startswith(("grad_hist/", "hidden/", "output/", "weight_norm/", "update_ratio"))
    ):
        return 10
    return 1


def write_run(store: RunStore, sample: dict, lo: int, hi: int, run_id: str, rng) -> None:
    """Records of steps lo..hi-1 with the sample's names, shapes and typical values."""
    names = sample["names"]
    every = {n: cadence(n, v[1]) for n, v in names.items()}
    for s in range(lo, hi):
        row = {}
        decay = np.exp(-s / 20000)
        for name, (kind, _, values) in names.items():
            if s % every[name]:
                continue
            if kind == "scalar":
                base = float(values[0]) if len(values) else 1.0
                row[name] = base * (0.4 + 0.6 * decay) * (1 + 0.05 * rng.standard_normal())
            else:
                store.add_array(run_id, s, name, values[-1])
        store.add_scalars(run_id, s, row)
        if s % 100 == 0 and s:
            store.add_event(run_id, s, "eval", "validation loss")
        if s % 3270 == 0 and s:
            store.add_event(run_id, s, "epoch", "epoch starts", {"epoch": s // 3270})
    store.set_step(run_id, hi)


def build(store, cache, run_ids, views, serialise: bool) -> list:
    """What one refresh does on the server for the given views; returns the figures."""
    infos = series.infos(store, run_ids)
    figs = []
    for view in views:
        ids = VIEWS[view]
        runs = series.load_runs(store, cache, infos, chart_grid.reads(ids), {i.id: i.label for i in infos},
                                chart_grid.smooths(ids))
        if "samples" in ids:
            [cache.texts(i) for i in infos]
        ctx = Ctx(key="bench", following=True)
        ctx.picks = {"param": "cells.0.weight_hh_l0", "layer": 0, "gate": "f"}
        figs += [f for _, f, _ in chart_grid.figures(ids, runs, ctx)]
    if serialise:  # as st.plotly_chart does it
        [pio.to_json(return_figure_from_figure_or_data(f, validate_figure=True), validate=False) for f in figs]
    return figs




def trace_points(figs) -> tuple[int, int, str]:
    """(most points in a line trace, most cells in a heatmap, which line)."""
    most, cells, where = 0, 0, ""
    for f in figs:
        for t in f.data:
            if t.type == "heatmap":
                cells = max(cells, np.asarray(t.z).size)
            elif t.x is not None and len(t.x) > most:
                most, where = len(t.x), f"{f.layout.title.text}: {t.name}"
    return most, cells, where


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--ticks", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    views = list(VIEWS)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sample = sample_run(tmp)
        with RunStore(tmp / "bench.sqlite") as store:
            t0 = time.perf_counter()
            run_ids = []
            for i in range(args.runs):
                run_id = store.create_run(sample["config"], label=f"run {i + 1}", status="running")
                store.set_summary(run_id, sample["summary"])
                write_run(store, sample, 0, args.steps, run_id, rng)
                run_ids.append(run_id)
            store.flush()
            print(
                f"wrote {args.runs} runs x {args.steps:,} steps ({len(sample['names'])} series each) "
                f"in {time.perf_counter() - t0:.0f} s"
            )

            cache = series.SeriesCache(store)
            t0 = time.perf_counter()
            figs = build(store, cache, run_ids, views, serialise=True)
            cold = (time.perf_counter() - t0) * 1e3

            step = [args.steps]

            def tick():
                for run_id in run_ids:
                    write_run(store, sample, step[0], step[0] + TICK_STEPS, run_id, rng)
                step[0] += TICK_STEPS
                store.flush()

            live = []
            for _ in range(args.ticks):
                tick()
                t0 = time.perf_counter()
                figs = build(store, cache, run_ids, views, serialise=True)
                live.append((time.perf_counter() - t0) * 1e3)
            for run_id in run_ids:
                store.set_status(run_id, "done")
            unchanged = timed(lambda: build(store, cache, run_ids, views, serialise=True), 10)
            unchanged_build = timed(lambda: build(store, cache, run_ids, views, serialise=False), 10)
            per_view = {v: timed(lambda v=v: build(store, cache, run_ids, [v], serialise=True), 10) for v in views}

            tick_ms = statistics.median(live)
            print(
                f"figures on the Live page (all {len(views)} views, {len(figs)} figures, {args.runs} runs), server time:"
            )
            print(f"  cold (first view, empty cache):  {cold:7.1f} ms")
            verdict = "OK" if tick_ms < TARGET_MS else "ABOVE TARGET"
            print(
                f"  live tick (+{TICK_STEPS} steps per run):    {tick_ms:7.1f} ms median of {args.ticks}, "
                f"max {max(live):.1f} (target < {TARGET_MS:.0f} ms: {verdict})"
            )
            print(f"  unchanged (finished runs):       {unchanged:7.1f} ms ({unchanged_build:.1f} ms without to_json)")
            print("  one view (what a refresh draws), unchanged runs, with to_json:")
            for v, ms in per_view.items():
                print(f"    {v:<16} {ms:6.1f} ms")
            most, cells, where = trace_points(figs)
            print(f"points per line trace: at most {most} ({where}); target about 1,000")
            print(f"largest heatmap: {cells:,} cells")


if __name__ == "__main__":
    main()
