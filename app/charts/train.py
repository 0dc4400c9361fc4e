"""Training curves: perplexity, loss, learning rate, and differences between runs (gradient norm: clipping.py)."""

import math

import numpy as np
import plotly.graph_objects as go

from app.charts.base import (
    SMOOTHING,
    SPARSE,
    STEP_TITLE,
    RunSeries,
    colors,
    finish,
    layout,
    line,
    minmax_downsample,
    revision,
    two_panels,
    view_start,
)
from app.charts.marks import (
    epoch_lines,
    eval_ticks,
    event_marks,
    events_of,
    hline,
    reference_lines,
)
from engine.evaluation import FULL_LOSS, FULL_PPL
from engine.optim import LR, PLATEAU_BAD, PLATEAU_BEST, LrSchedule
from engine.trainer import LOSS, PPL, VAL_LOSS, VAL_PPL

PPL_BASELINES = [  # (baseline key, to perplexity, label); equal values are drawn once
    ("uniform_ppl", float, "uniform |V| = {:.0f}"),
    ("uniform_loss", math.exp, "uniform |V| = {:.0f}"),
    ("unigram_ppl", float, "unigram = {:.1f}"),
    ("memoryless_loss", math.exp, "memoryless = {:.2f}"),
]


def style_note(smoothing: float, runs: list[RunSeries] = ()) -> str:
    """What the lines of a training curve are, and on a second line what a validation point reads."""
    bold = f"bold: moving average ({smoothing:g} per step)" if smoothing > 0 else "bold: every batch"
    note = f"faint: every batch · {bold} · ticks: evaluations"
    val = validation_note(runs)
    return f"{note}<br>{val}" if val else f"{note} · markers: validation"


def _amount(size: dict, unit: str) -> str:
    seqs = f"{size.get('sequences', 0):,} sequences"
    return seqs if unit == "sequences" else f"{seqs}, {size.get('targets', 0):,} {unit}"


def validation_note(runs: list[RunSeries]) -> str:
    """'dots: validation on 8 of 23 batches spread over the split (256 sequences, 16,384 characters) · ◆ ...'."""
    described = {repr(r.validation): r.validation for r in runs if r.validation.get("sample")}
    if not described:
        return ""
    if len(described) > 1:
        return "dots: validation on a sample spread over the split · ◆: the whole split (sizes differ: hover a point)"
    v = next(iter(described.values()))
    sample, split, unit = v["sample"], v["split"], v.get("unit", "targets")
    if sample["batches"] >= split["batches"]:
        return f"dots and ◆: validation on the whole split ({_amount(split, unit)})"
    every = v.get("full_every", 0)
    when = "at the end" if not every else "at every evaluation" if every == 1 else \
        f"every {_ordinal(every)} evaluation and at the end"
    return (f"dots: validation on {sample['batches']} of {split['batches']} batches spread over the split "
            f"({_amount(sample, unit)}) · ◆: the whole split ({_amount(split, unit)}), {when}")


def _ordinal(n: int) -> str:
    """2nd, 3rd, 5th, 11th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _curves(run: RunSeries, color: str, names: tuple[str, str, str], smooth, what: str, start: int,
            show_batches: bool):
    """Per-batch values faint, their moving average bold, validation as dots and whole-split points as diamonds."""
    batch, val, full = (run.series(n, start) for n in names)
    hover = f"{run.name}<br>step %{{x}}<br>{what} %{{y:.4g}}<extra></extra>"
    traces = []
    if batch is not None and show_batches:
        traces.append(
            line(
                *batch,
                f"{run.name} per batch",
                color,
                width=1,
                opacity=0.25,
                legendgroup=run.run_id,
                showlegend=False,
                hoverinfo="skip",
            )
        )
    if smooth is not None:
        traces.append(line(*smooth, run.name, color, width=2.5, legendgroup=run.run_id, hovertemplate=hover))
    if val is not None:
        traces.append(
            line(
                *val,
                f"{run.name} val",
                color,
                width=1.5,
                dash="dot",
                mode="lines+markers",
                marker=dict(size=7, maxdisplayed=SPARSE),  # each dot is an SVG path redrawn per refresh: 200 took 40 ms
                legendgroup=run.run_id,
                hovertemplate="validation " + hover,
            )
        )
    if full is not None:
        traces.append(
            line(
                *full,
                f"{run.name} val, whole split",
                color,
                mode="markers",
                marker=dict(size=11, symbol="diamond-open", line=dict(width=2, color=color), maxdisplayed=SPARSE),
                legendgroup=run.run_id,
                showlegend=False,
                hovertemplate="validation, whole split " + hover,
            )
        )
    return traces


def perplexity_figure(
    runs: list[RunSeries], last_n: int | None = None, log_y: bool = True, show_batches: bool = True,
    smoothing: float = SMOOTHING,
) -> go.Figure:
    """Perplexity against the uniform |V| and unigram baselines; mse tasks get the loss figure instead.

    The bold line is exp of the smoothed loss (a geometric mean of the perplexities), not a
    smoothed perplexity, so one bad batch does not drag it up more than it drags the loss.
    """
    cols = colors(runs)
    ce = [(r, c) for r, c in zip(runs, cols) if r.loss_kind == "ce"]
    if runs and not ce:
        return loss_figure(runs, last_n=last_n, log_y=log_y, show_batches=show_batches, smoothing=smoothing)
    ce_runs = [r for r, _ in ce]
    start = view_start(ce_runs, last_n)
    traces = []
    for run, color in ce:
        loss = run.smoothed(LOSS.name, smoothing, start)
        ppl = None if loss is None else (loss[0], np.exp(np.minimum(loss[1], 700.0)))
        traces += _curves(run, color, (PPL.name, VAL_PPL.name, FULL_PPL.name), ppl, "perplexity", start, show_batches)
    lay = layout(
        "Perplexity",
        STEP_TITLE,
        "perplexity (choices per token)",
        revision("ppl", runs),
        log_y=log_y,
        subtitle=style_note(smoothing, ce_runs),
    )
    reference_lines(lay, ce_runs, PPL_BASELINES)
    epoch_lines(lay, ce_runs, start)
    eval_ticks(lay, ce_runs, start)
    event_marks(lay, ce_runs, [c for _, c in ce], start)
    return finish(traces, lay)


LOSS_BASELINES = [
    ("uniform_loss", float, "uniform ln|V| = {:.2f}"),
    ("unigram_ppl", math.log, "unigram = {:.2f}"),
    ("mean_mse", float, "predict the mean = {:.3f}"),
    ("memoryless_loss", float, "memoryless = {:.3f}"),
]


def loss_figure(
    runs: list[RunSeries], last_n: int | None = None, log_y: bool = False, show_batches: bool = True,
    smoothing: float = SMOOTHING,
) -> go.Figure:
    """Training loss (per batch, and its moving average) and validation loss against the task's baselines."""
    cols = colors(runs)
    start = view_start(runs, last_n)
    traces = [t for r, c in zip(runs, cols)
              for t in _curves(r, c, (LOSS.name, VAL_LOSS.name, FULL_LOSS.name), r.smoothed(LOSS.name, smoothing, start),
                               "loss",
                               start, show_batches)]
    mse = bool(runs) and all(r.loss_kind == "mse" for r in runs)
    title, y_title = (
        ("Mean squared error", "MSE (target units²)") if mse else ("Loss", "cross-entropy (nats per token)")
    )
    lay = layout(title, STEP_TITLE, y_title, revision("loss", runs), log_y=log_y, subtitle=style_note(smoothing, runs))
    reference_lines(lay, runs, LOSS_BASELINES)
    epoch_lines(lay, runs, start)
    eval_ticks(lay, runs, start)
    event_marks(lay, runs, cols, start)
    return finish(traces, lay)


def _event_markers(run: RunSeries, color: str, lr, kind: str, symbol: str, start: int) -> list[dict]:
    """Markers on the lr curve where events of one kind happened."""
    events = events_of(run, {kind}, start)
    if not events or lr is None:
        return []
    x = np.array([s for s, _, _ in events])
    y = np.interp(x, *lr)
    text = [m for _, _, m in events]
    name = f"{run.name} {'plateau cut' if kind == 'lr_cut' else 'lr edit'}"
    return [
        dict(
            type="scatter",
            x=x,
            y=y,
            text=text,
            name=name,
            mode="markers",
            legendgroup=run.run_id,
            marker=dict(color=color, size=11, symbol=symbol, line=dict(color="white", width=1)),
            hovertemplate=f"{run.name}<br>step %{{x}}: %{{text}}<extra></extra>",
        )
    ]


PREVIEW_EXACT = 20_000  # steps up to which the preview computes every step's lr (else PREVIEW_POINTS spread)
PREVIEW_POINTS = 2_000


def lr_preview_figure(cfg, color: str) -> go.Figure:
    """The learning rate a run of `cfg` will follow, step by step, before it starts (LrSchedule itself).

    A piecewise-constant stretch keeps only the steps where the lr changes (drawn as steps, exact);
    warmup and cosine keep every computed step. Reduce-on-plateau cuts depend on validation, so
    its line is the starting lr and the subtitle says so.
    """
    schedule = LrSchedule(cfg)
    n = cfg.max_steps
    steps = np.arange(n) if n <= PREVIEW_EXACT else np.unique(np.linspace(0, n - 1, PREVIEW_POINTS).astype(int))
    lr = np.array([schedule.lr_at(int(s)) for s in steps])
    changed = np.r_[True, lr[1:] != lr[:-1]]
    changed[-1] = True  # the line reaches the last step
    steps, lr = steps[changed], lr[changed]
    subtitle = f"{cfg.schedule} schedule" + (f", {cfg.warmup_steps:,} warmup steps" if cfg.warmup_steps else "")
    if cfg.schedule == "plateau":
        subtitle += f": cut ×{cfg.plateau_factor:g} whenever validation stalls, as the run goes"
    lay = layout("Learning rate this run will follow", STEP_TITLE, "learning rate (per step)", "lr-preview",
                 log_y=True, subtitle=subtitle)
    trace = line(steps, lr, "lr", color, line_shape="hv",
                 hovertemplate="step %{x}<br>lr %{y:.3g}<extra></extra>")
    lay["xaxis"]["range"] = [0, n]
    lay["showlegend"] = False
    return finish([trace], lay)


def lr_figure(runs: list[RunSeries], last_n: int | None = None, log_y: bool = True) -> go.Figure:
    """Learning rate over steps with plateau cuts and live edits; the plateau state in a lower panel."""
    cols = colors(runs)
    start = view_start(runs, last_n)
    traces = []
    for run, color in zip(runs, cols):
        lr = run.series(LR.name, start)
        if lr is not None:
            traces.append(
                line(
                    *lr,
                    run.name,
                    color,
                    line_shape="hv",
                    legendgroup=run.run_id,
                    hovertemplate=f"{run.name}<br>step %{{x}}<br>lr %{{y:.3g}}<extra></extra>",
                )
            )
        traces += _event_markers(run, color, lr, "lr_cut", "triangle-down", start)
        traces += _event_markers(run, color, lr, "lr_change", "diamond", start)
    lay = layout("Learning rate", STEP_TITLE, "learning rate (per step)", revision("lr", runs), log_y=log_y)
    plateau = [(r, c, r.series(PLATEAU_BAD.name, start)) for r, c in zip(runs, cols)]
    plateau = [(r, c, s) for r, c, s in plateau if s is not None]
    if plateau:
        two_panels(lay, "bad evals (count)")
        for run, color, (x, bad) in plateau:
            best = run.series(PLATEAU_BEST.name, start, max_points=None)
            custom = np.interp(x, *best) if best is not None else np.full(len(x), np.nan)
            traces.append(
                line(
                    x,
                    bad,
                    f"{run.name} plateau",
                    color,
                    width=1.5,
                    mode="lines+markers",
                    line_shape="hv",
                    yaxis="y2",
                    customdata=custom,
                    legendgroup=run.run_id,
                    marker=dict(size=5),
                    hovertemplate=f"{run.name}<br>step %{{x}}<br>bad evaluations %{{y}}"
                    "<br>best val loss %{customdata:.4f}<extra></extra>",
                )
            )
    event_marks(lay, runs, cols, start)
    return finish(traces, lay)


def difference_figure(runs: list[RunSeries], reference_run_id: str, name: str, last_n: int | None = None,
                      smoothing: float = SMOOTHING) -> go.Figure:
    """Each run's series minus the reference run's, at the run's steps (reference interpolated).

    A per-step series is compared through its moving average (bucket means, `smoothing` per
    step), as the training curves draw it; an evaluation series point by point.
    """
    cols = colors(runs)
    start = view_start(runs, last_n)
    ref = next((r for r in runs if r.run_id == reference_run_id), None)

    def values(run):
        if name in run.means:
            return run.smoothed(name, smoothing, start, max_points=None)
        return run.series(name, start, max_points=None)

    ref_xy = values(ref) if ref else None
    traces = []
    for run, color in zip(runs, cols):
        xy = values(run)
        if run is ref or xy is None or ref_xy is None:
            continue
        inside = (xy[0] >= ref_xy[0][0]) & (xy[0] <= ref_xy[0][-1])  # no extrapolation
        if inside.any():
            x = xy[0][inside]
            dx, dy = minmax_downsample(x, xy[1][inside] - np.interp(x, *ref_xy))
            traces.append(
                line(
                    dx,
                    dy,
                    f"{run.name} − {ref.name}",
                    color,
                    hovertemplate=f"{run.name}<br>step %{{x}}<br>Δ %{{y:.4g}}<extra></extra>",
                )
            )
    ref_name = ref.name if ref else reference_run_id
    lay = layout(
        f"{name}: difference from {ref_name}",
        STEP_TITLE,
        f"Δ {name} (run − reference)",
        revision(f"diff:{name}:{reference_run_id}", runs),
    )
    hline(lay, 0.0, f"= {ref_name}", dash="solid")
    return finish(traces, lay)
