"""Store -> RunSeries: what the charts read, cached per (run, series) for every session of the process.

A live chart refreshes every second in every open tab, and a 100,000-step series costs ~3 ms
to downsample in SQLite, so re-reading everything per refresh would not keep up. Each series
is kept as a downsampled body (750 points) plus the raw tail read since (`since=` reads only
new rows); once the tail passes 250 points the body is read again. A series is not touched
at all while its run's version (step, status, last write) is unchanged, so finished runs cost
nothing after their first read. The store stays the one source of truth: nothing here is
written back, and what a chart shows is what the store holds.

    cache = SeriesCache(store)
    runs = load_runs(store, cache, infos, chart_grid.reads(["perplexity", "grad_hist"]))
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from app.charts import PALETTE, RunSeries
from engine.probes import GradHistogramProbe, SpectrumProbe
from engine.probes import GradientReachProbe as Reach
from engine.series import Series
from engine.smoothing import evenly
from engine.store import RunInfo

BODY_POINTS = 750  # downsampled body of a scalar series
TAIL_POINTS = 250  # raw points appended before the body is read again: at most ~1,000 per trace
# snapshots kept per array series (others: DEFAULT_ITEMS)
ARRAY_ITEMS = {GradHistogramProbe.HIST: 200, SpectrumProbe.EIG: 100, Reach.LAST: 200, Reach.SUM: 200}
DEFAULT_ITEMS = 100
MAX_RUNS = 64  # runs kept in the cache (least recently used dropped)


def version(info: RunInfo) -> tuple:
    """Changes whenever the run records anything the UI shows (steps, status, summary)."""
    return (info.step, info.status, info.updated)


@dataclass
class _Scalar:
    steps: np.ndarray
    values: np.ndarray
    tail: int = 0  # raw points appended since the last downsampled read
    seen: tuple | None = None  # run version when last brought up to date


@dataclass
class _Arrays:
    steps: np.ndarray
    items: list
    seen: tuple | None = None


@dataclass
class _Run:
    names: list[str] = field(default_factory=list)
    names_seen: tuple | None = None
    scalars: dict[tuple[str, bool], _Scalar] = field(default_factory=dict)  # (name, means) -> cached series
    arrays: dict[str, _Arrays] = field(default_factory=dict)
    events: list = field(default_factory=list)
    events_seen: tuple | None = None
    texts: list = field(default_factory=list)
    texts_seen: tuple | None = None


class SeriesCache:
    """Incrementally updated copies of runs' series, shared by all sessions (thread-safe)."""

    def __init__(self, store, max_runs: int = MAX_RUNS):
        self.store = store
        self.max_runs = max_runs
        self._runs: OrderedDict[str, _Run] = OrderedDict()
        self._lock = threading.Lock()

    def forget(self, run_id: str) -> None:
        """Drop a run (deleted, or given an event outside its steps, e.g. a fork)."""
        with self._lock:
            self._runs.pop(run_id, None)

    def _run(self, run_id: str) -> _Run:
        entry = self._runs.get(run_id)
        if entry is None:
            entry = self._runs[run_id] = _Run()
            while len(self._runs) > self.max_runs:
                self._runs.popitem(last=False)
        self._runs.move_to_end(run_id)
        return entry

    def names(self, info: RunInfo) -> list[str]:
        """Every series name of the run."""
        with self._lock:
            entry = self._run(info.id)
            if entry.names_seen != version(info):
                entry.names = self.store.series_names(info.id)
                entry.names_seen = version(info)
            return entry.names

    def scalar(self, info: RunInfo, name: str, means: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of a scalar series: downsampled body plus the raw tail.

        The body is bucket min/max (spikes survive) or, with `means`, bucket means (what a moving
        average is computed from); the raw tail is the same either way.
        """
        with self._lock:
            entry = self._run(info.id)
            s = entry.scalars.get((name, means))
            v = version(info)
            if s is not None and s.seen == v:
                return s.steps, s.values
            since = int(s.steps[-1]) if s is not None and len(s.steps) else None
            if s is not None and info.step - (since or 0) > TAIL_POINTS:
                s = None  # far behind (a tab reopened on a long run): one downsampled read beats a raw one
            if s is not None:  # append the raw points recorded since
                x, y = self.store.scalars(info.id, name, since=since)
                if len(x):
                    s.steps, s.values = np.concatenate([s.steps, x]), np.concatenate([s.values, y])
                    s.tail += len(x)
            if s is None or s.tail > TAIL_POINTS:  # first read, or the tail grew long: read it downsampled
                s = entry.scalars[name, means] = _Scalar(
                    *self.store.scalars(info.id, name, max_points=BODY_POINTS, means=means)
                )
            s.seen = v
            return s.steps, s.values

    def arrays(self, info: RunInfo, name: str, max_items: int) -> tuple[np.ndarray, list]:
        """(steps, arrays) of an array series, evenly thinned to about max_items, newest kept."""
        with self._lock:
            entry = self._run(info.id)
            a = entry.arrays.get(name)
            v = version(info)
            if a is not None and a.seen == v:
                return a.steps, a.items
            if a is None:
                a = entry.arrays[name] = _Arrays(*self.store.arrays(info.id, name, max_items=max_items))
            else:
                since = int(a.steps[-1]) if len(a.steps) else None
                x, items = self.store.arrays(info.id, name, since=since, max_items=2 * max_items)
                if len(x):
                    a.steps, a.items = np.concatenate([a.steps, x]), a.items + items
                if len(a.steps) > 2 * max_items:
                    keep = evenly(len(a.steps), max_items)
                    a.steps, a.items = a.steps[keep], [a.items[i] for i in keep]
            a.seen = v
            return a.steps, a.items

    def events(self, info: RunInfo) -> list:
        """Every event of the run, in step order."""
        with self._lock:
            entry = self._run(info.id)
            if entry.events_seen != version(info):
                # events share steps (an lr edit and an evaluation at step s): re-read the last step
                last = entry.events[-1].step if entry.events else None
                if last is None:
                    entry.events = self.store.events(info.id)
                else:
                    entry.events = [e for e in entry.events if e.step < last] + self.store.events(
                        info.id, since=last - 1
                    )
                entry.events_seen = version(info)
            return entry.events

    def texts(self, info: RunInfo) -> list[tuple[int, str]]:
        """Every text sample of the run, in step order."""
        with self._lock:
            entry = self._run(info.id)
            if entry.texts_seen != version(info):
                last = entry.texts[-1][0] if entry.texts else None
                entry.texts = entry.texts + self.store.texts(info.id, since=last)
                entry.texts_seen = version(info)
            return entry.texts


def wanted(names: list[str], reads) -> tuple[list[str], list[str]]:
    """The run's scalar and array series names that belong to the declarations `reads`."""
    scalars = [n for n in names if any(s.kind == "scalar" and s.matches(n) for s in reads)]
    arrays = [n for n in names if any(s.kind == "array" and s.matches(n) for s in reads)]
    return scalars, arrays


def array_items(name: str) -> int:
    """Snapshots kept for an array series."""
    return next((k for s, k in ARRAY_ITEMS.items() if s.matches(name)), DEFAULT_ITEMS)


def clip_history(info: RunInfo, events) -> list[tuple[int, float | None]]:
    """(step, global-norm threshold or None) at the start and at each live change (None: off or by value)."""
    mode, value = info.config.get("clip"), info.config.get("clip_value")
    out = [(0, float(value) if mode == "norm" and value else None)]
    for e in events:
        if e.kind == "clip_change":
            mode, value = e.data.get("mode", mode), e.data.get("value", value)
            out.append((int(e.step), float(value) if mode == "norm" and value else None))
    return out


def run_clip(info: RunInfo, events) -> float | None:
    """The global-norm clipping threshold now in force (None when clipping is off or by value)."""
    return clip_history(info, events)[-1][1]


def load_run(store, cache: SeriesCache, info: RunInfo, reads: tuple[Series, ...], label: str = "",
             color: str = "", smooths: tuple[Series, ...] = ()) -> RunSeries:
    """One run's RunSeries holding its series of the declarations `reads`, and of `smooths` as bucket means."""
    names = cache.names(info)
    scalar_names, array_names = wanted(names, reads)
    mean_names, _ = wanted(names, smooths)
    events = cache.events(info)
    summary = info.summary or {}
    return RunSeries(
        run_id=info.id,
        label=label or info.label or info.id,
        color=color,
        scalars={n: cache.scalar(info, n) for n in scalar_names},
        means={n: cache.scalar(info, n, means=True) for n in mean_names},
        arrays={n: cache.arrays(info, n, array_items(n)) for n in array_names},
        events=events,
        baselines=dict(summary.get("baselines") or {}),
        loss_kind=summary.get("loss_kind", "ce"),
        epoch_steps=[e.step for e in events if e.kind == "epoch"],
        eval_steps=[e.step for e in events if e.kind == "eval"],
        clip=run_clip(info, events),
        clip_history=clip_history(info, events),
        cell=str(info.config.get("cell", "")),
        validation=dict(summary.get("validation") or {}),
    )


def infos(store, run_ids) -> list[RunInfo]:
    """The runs' rows, skipping ids the store no longer has (deleted in another tab)."""
    out = []
    for run_id in run_ids:
        try:
            out.append(store.run(run_id))
        except KeyError:
            continue
    return out


def load_runs(store, cache: SeriesCache, run_infos: list[RunInfo], reads: tuple[Series, ...],
              labels: dict | None = None, smooths: tuple[Series, ...] = ()):
    """RunSeries for each run, coloured by position (stable while the selection is)."""
    labels = labels or {}
    return [
        load_run(store, cache, info, reads, labels.get(info.id, ""), PALETTE[i % len(PALETTE)], smooths)
        for i, info in enumerate(run_infos)
    ]
