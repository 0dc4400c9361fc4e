"""A stored run as TensorBoard event files: every point, no thinning.

    python -m engine export RUN --format tensorboard --out DIR
    tensorboard --logdir DIR

Written with tensorboardX (requirements-tensorboard.txt: 0.7 MB on top of the base install,
against about 55 MB for the tensorboard package, whose only part needed here is the writer);
the base install and the dashboard work without it. Into DIR/<run id>[-<label>]/ go:

- every scalar series at every recorded step (event files hold float32)
- grad_hist/{param}: the stored counts as raw histograms (add_histogram_raw) on their own
  log10 |g| bins: bucket limits GRAD_HIST_EDGES[1:], counts exactly as stored
- spectrum/abs_eig/l{layer}/{gate}: |eigenvalue| of each W_h gate block at each probe step, as
  raw histograms on ABS_EIG_BINS bins over [0, the run's largest |eigenvalue|, at least 1]
- text: samples under 'samples', the config and summary under 'config' (step 0), events under
  'events' (one text per step), and what was left out under 'export'

Points are written in step order across all tags, so TensorBoard's out-of-order purge never
fires. Wall times are approximate: linear in the step between the run's creation and its last
update (the store keeps steps, not times of steps).
"""

from __future__ import annotations

import heapq
import importlib.util
import io
import json
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from engine.probes import GRAD_HIST_EDGES, GradHistogramProbe, SpectrumProbe

ABS_EIG_BINS = 40
REQUIREMENTS = "requirements-tensorboard.txt"


def writer_installed() -> bool:
    """Whether tensorboardX can be imported (without importing it)."""
    return importlib.util.find_spec("tensorboardX") is not None


def summary_writer_class():
    """tensorboardX's SummaryWriter, or ModuleNotFoundError saying what to install."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError as err:
        raise ModuleNotFoundError(f"TensorBoard export needs tensorboardX: pip install -r {REQUIREMENTS} "
                                  "(in the repository root)") from err
    return SummaryWriter


def export_tensorboard(store, run_id: str, out_dir) -> Path:
    """Write the run's event files into out_dir/<run folder>/ (replacing an earlier export); returns that folder."""
    writer_class = summary_writer_class()
    info = store.run(run_id)  # KeyError names an unknown run
    folder = Path(out_dir) / run_folder_name(info)
    if folder.exists():
        shutil.rmtree(folder)
    writer = writer_class(logdir=str(folder), flush_secs=3600)
    try:
        clock = WallClock(info)
        for step, write in heapq.merge(*record_streams(store, info), key=lambda item: item[0]):
            write(writer, step, clock(step))
    finally:
        writer.close()
    return folder


def export_zip(store, run_id: str) -> bytes:
    """The same export as a zip of the run's folder (the dashboard's download)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = export_tensorboard(store, run_id, tmp)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(folder.rglob("*")):
                z.write(f, f.relative_to(tmp))
    return buffer.getvalue()


def run_folder_name(info) -> str:
    """'r-20261130-ab12' or 'r-20261130-ab12-char-lstm': TensorBoard's name for the run."""
    slug = re.sub(r"[^A-Za-z0-9_.]+", "-", info.label or "").strip("-")[:40]
    return f"{info.id}-{slug}" if slug else info.id


class WallClock:
    """Approximate wall time of a step: linear between the run's creation and its last update."""

    def __init__(self, info):
        self.t0, self.t1, self.last = info.created, max(info.updated, info.created), max(info.step, 1)

    def __call__(self, step: int) -> float:
        return self.t0 + (self.t1 - self.t0) * min(step, self.last) / self.last


# ---- one stream of (step, write) per series, each in step order ---------------------------------


def record_streams(store, info) -> list:
    """Every record of the run as step-ordered streams of (step, write(writer, step, walltime))."""
    arrays = store.series_names(info.id, kind="array")
    streams = [meta_stream(info, arrays)]
    for name in store.series_names(info.id, kind="scalar"):
        streams.append(scalar_stream(name, *store.scalars(info.id, name)))
    hist = [n for n in arrays if GradHistogramProbe.HIST.matches(n)]
    eig = [n for n in arrays if SpectrumProbe.EIG.matches(n)]
    for name in hist:
        streams.append(grad_hist_stream(name, *store.arrays(info.id, name)))
    if eig:
        spectra = {n: store.arrays(info.id, n) for n in eig}
        edges = abs_eig_edges([a for _, items in spectra.values() for a in items])
        streams += [abs_eig_stream(n, *spectra[n], edges) for n in eig]
    streams.append(text_stream("samples", store.texts(info.id)))
    streams.append(text_stream("events", events_by_step(store.events(info.id))))
    return streams


def scalar_stream(tag: str, steps: np.ndarray, values: np.ndarray):
    for step, value in zip(steps.tolist(), values.tolist()):
        yield step, lambda w, s, t, v=value: w.add_scalar(tag, v, s, walltime=t)


def grad_hist_stream(tag: str, steps: np.ndarray, counts: list[np.ndarray]):
    """The stored log10 |g| counts, bucket for bucket."""
    for step, c in zip(steps.tolist(), counts):
        if c.sum() > 0:
            yield step, lambda w, s, t, c=c: raw_histogram(w, tag, GRAD_HIST_EDGES, c, s, t)


def abs_eig_stream(name: str, steps: np.ndarray, eigs: list[np.ndarray], edges: np.ndarray):
    """|eigenvalue| counts of each snapshot on the run's common bins."""
    parts = SpectrumProbe.EIG.parts(name)
    tag = f"spectrum/abs_eig/l{parts['layer']}/{parts['gate']}"
    for step, eig in zip(steps.tolist(), eigs):
        counts, _ = np.histogram(np.hypot(eig[:, 0], eig[:, 1]), bins=edges)
        yield step, lambda w, s, t, c=counts: raw_histogram(w, tag, edges, c, s, t)


def abs_eig_edges(eigs: list[np.ndarray]) -> np.ndarray:
    """ABS_EIG_BINS + 1 edges over [0, max(1, largest |eigenvalue|)]: the unit circle always inside."""
    top = max([1.0] + [float(np.hypot(e[:, 0], e[:, 1]).max()) for e in eigs if len(e)])
    return np.linspace(0.0, top, ABS_EIG_BINS + 1)


def raw_histogram(writer, tag: str, edges: np.ndarray, counts: np.ndarray, step: int, walltime: float) -> None:
    """One pre-binned histogram: bucket i is (edges[i], edges[i + 1]], TensorBoard's upper limits."""
    counts = np.asarray(counts, dtype=np.float64)
    centers = (edges[:-1] + edges[1:]) / 2
    filled = np.nonzero(counts)[0]
    writer.add_histogram_raw(tag, min=float(edges[filled[0]]), max=float(edges[filled[-1] + 1]),
                             num=float(counts.sum()), sum=float(counts @ centers),
                             sum_squares=float(counts @ centers**2), bucket_limits=edges[1:].tolist(),
                             bucket_counts=counts.tolist(), global_step=step, walltime=walltime)


def text_stream(tag: str, items: list[tuple[int, str]]):
    for step, text in items:
        yield step, lambda w, s, t, x=text: w.add_text(tag, x, s, walltime=t)


def events_by_step(events) -> list[tuple[int, str]]:
    """One markdown list per step: '- **kind**: message' for each event at it."""
    by_step: dict[int, list[str]] = {}
    for e in events:
        by_step.setdefault(e.step, []).append(f"- **{e.kind}**: {e.message}")
    return [(s, "\n".join(lines)) for s, lines in sorted(by_step.items())]


def meta_stream(info, arrays: list[str]):
    """At step 0: the run's config and summary, and which array series the export leaves out."""
    config = json.dumps({"id": info.id, "label": info.label, "status": info.status, "config": info.config,
                         "summary": info.summary}, indent=2, default=str)
    left = [n for n in arrays if not (GradHistogramProbe.HIST.matches(n) or SpectrumProbe.EIG.matches(n))]
    note = ("Exported by RNN Lab: every scalar point, the gradient histograms on their stored log10 |g| bins, "
            "and |eigenvalue| histograms of each W_h gate block. Not exported (open the run in RNN Lab): "
            + (", ".join(left) or "nothing") + ".")
    yield 0, lambda w, s, t: w.add_text("config", f"```json\n{config}\n```", s, walltime=t)
    yield 0, lambda w, s, t: w.add_text("export", note, s, walltime=t)
