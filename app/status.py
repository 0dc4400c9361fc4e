"""How a run's state reads: a status word, a progress line, and its queue position."""

from __future__ import annotations

import math

import streamlit as st

from engine.store import ACTIVE, RunInfo
from engine.trainer import LOSS_EMA, PPL_EMA, VAL_LOSS, VAL_PPL

READS = (PPL_EMA, LOSS_EMA, VAL_PPL, VAL_LOSS)  # what the status line shows

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


def last_value(steps_values) -> float | None:
    """The newest finite value of a (steps, values) pair."""
    _, v = steps_values
    finite = [x for x in v[::-1][:50] if math.isfinite(x)] if len(v) else []
    return float(finite[0]) if finite else None


def metric_text(run) -> str:
    """'perplexity 12.3 · validation 13.1' from the run's loaded series (or the loss for mse tasks)."""
    parts = []
    ce = run.loss_kind == "ce"
    train, val, word = (PPL_EMA, VAL_PPL, "perplexity") if ce else (LOSS_EMA, VAL_LOSS, "loss")
    for name, what in ((train.name, word), (val.name, "validation")):
        if name in run.scalars:
            value = last_value(run.scalars[name])
            if value is not None:
                parts.append(f"{what} {value:.4g}")
    return " · ".join(parts)


def queue_text(jobs, info: RunInfo) -> str:
    """Why a queued run waits, in words."""
    position = jobs.queue_position(info.id)
    if position is None:
        return "queued: starting"
    n = jobs.max_workers
    at_once = "1 run trains" if n == 1 else f"{n} runs train"
    return f"queued: number {position} in line. {at_once} at once on this machine; it starts when one ends"


def status_line(jobs, info: RunInfo, run) -> None:
    """One run's name, status, step, latest metrics, and a progress bar while it is active."""
    max_steps = int(info.config.get("max_steps") or 0)
    head = f"{ICONS.get(info.status, '')} **{run.name}** · {status_word(info.status)} · step {info.step:,}"
    if max_steps:
        head += f" / {max_steps:,}"
    metrics = metric_text(run)
    st.markdown(head + (f" · {metrics}" if metrics else ""))
    if info.status == "queued":
        st.caption(queue_text(jobs, info))
    elif info.status in ("failed", "diverged", "interrupted") and info.message:
        st.caption(f"{status_word(info.status)}: {info.message}")
    if is_active(info) and max_steps:
        st.progress(min(1.0, info.step / max_steps))
