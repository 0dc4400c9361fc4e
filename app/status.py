"""How a run's state reads: a status word, a progress line, and its queue position."""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from app.safe_text import text
from engine.evaluation import FULL_LOSS
from engine.store import ACTIVE, RunInfo
from engine.trainer import LOSS, RECENT, VAL_LOSS

WORDS = {
    "queued": "queued",
    "running": "running",
    "paused": "paused",
    "done": "finished",
    "stopped": "stopped",
    "diverged": "diverged",
    "failed": "failed",
    "interrupted": "interrupted",
}
ICONS = {  # Material icons: headless and minimal systems often have no emoji font
    "queued": ":material/hourglass_top:",
    "running": ":green[:material/play_circle:]",
    "paused": ":orange[:material/pause_circle:]",
    "done": ":blue[:material/check_circle:]",
    "stopped": ":material/stop_circle:",
    "diverged": ":red[:material/bolt:]",
    "failed": ":red[:material/cancel:]",
    "interrupted": ":orange[:material/warning:]",
}


def status_word(status: str) -> str:
    return WORDS.get(status, status)


def is_active(info: RunInfo) -> bool:
    """Queued, running or paused: its charts may still change."""
    return info.status in ACTIVE


def recent_metrics(store, info: RunInfo, loss_kind: str) -> str:
    """'perplexity 12.3 (last 20 batches) · validation 13.1 (whole split, step 500)' from the store, never a lagging average."""
    since = max(-1, info.step - 4 * RECENT)  # a few more steps than needed: the newest may not be committed yet
    _, loss = store.scalars(info.id, LOSS.name, since=since)
    loss = loss[-RECENT:]
    val = store.latest_scalar(info.id, VAL_LOSS.name)
    full = store.latest_scalar(info.id, FULL_LOSS.name)
    parts = []
    word, show = ("perplexity", _ppl) if loss_kind == "ce" else ("loss", float)
    if len(loss):
        parts.append(f"{word} {show(float(np.mean(loss))):.4g} (last {len(loss)} batches)")
    if full is not None and (val is None or full[0] >= val[0]):
        val, what = full, "whole split"
    else:
        batches = ((info.summary or {}).get("validation") or {}).get("sample", {}).get("batches")
        what = f"{batches} batches" if batches else "sample"
    if val is not None and math.isfinite(val[1]):
        parts.append(f"validation {show(val[1]):.4g} ({what}, step {val[0]:,})")
    return " · ".join(parts)


def _ppl(loss: float) -> float:
    return math.exp(min(loss, 700.0))


def queue_text(jobs, info: RunInfo) -> str | None:
    """Why a run waits for a training slot, in words, asked of the JobManager now; None when it does not wait."""
    position = jobs.queue_position(info.id)
    if position is None:
        return "queued: starting" if info.status == "queued" and jobs.is_live(info.id) else None
    n = jobs.max_workers
    at_once = "1 run trains" if n == 1 else f"{n} runs train"
    what = "queued" if info.status == "queued" else "resumed, waiting for a free training slot"
    return f"{what}: number {position} in line. {at_once} at once on this machine; it starts when one ends or pauses"


def status_line(eng, info: RunInfo, run, metrics: bool = True) -> None:
    """One run's name, status, step, recent metrics (unless the big numbers show them), and a progress
    bar while it is active."""
    max_steps = int(info.config.get("max_steps") or 0)
    head = f"{ICONS.get(info.status, '')} **{text(run.name)}** · {status_word(info.status)} · step {info.step:,}"
    if max_steps:
        head += f" / {max_steps:,}"
    recent = recent_metrics(eng.store, info, run.loss_kind) if metrics else ""
    st.markdown(head + (f" · {recent}" if recent else ""))
    waiting = queue_text(eng.jobs, info) if is_active(info) else None
    if waiting:
        st.caption(waiting)
    elif info.status in ("failed", "diverged", "interrupted") and info.message:
        st.caption(f"{status_word(info.status)}: {text(info.message, 300)}")
    if is_active(info) and max_steps:
        st.progress(min(1.0, info.step / max_steps))
