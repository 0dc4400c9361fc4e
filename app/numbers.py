"""Big live numbers: one row of large figures per shown run, above the charts (Playground shows its
train and test loss this way).

Step, perplexity of the last RECENT batches, validation perplexity (its step named), gradient
norm of the last RECENT batches and the learning rate of the newest step, read from the store
at each refresh: plain means over the newest batches, never a moving average that lags behind
(app/status.py recent_metrics reads the same way). Tasks scored by MSE show the loss instead of
perplexities.

    rows = [figures(store, info, run.loss_kind) for info, run in zip(infos, runs)]
    draw(rows, names, colours, big=presenting)
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import streamlit as st

from app.status import status_word
from engine.optim import GRAD_NORM, LR
from engine.trainer import LOSS, RECENT, VAL_LOSS


@dataclass
class Figures:
    """What the numbers row shows for one run (None: not measured yet)."""

    status: str
    step: int
    max_steps: int
    loss_kind: str  # "ce": perplexities; "mse": losses
    train: float | None  # exp(mean loss) of the last `batches` batches ("ce"), else their mean loss
    batches: int  # how many batches `train` and `grad_norm` average over
    val: float | None  # newest validation perplexity (or loss)
    val_step: int | None
    grad_norm: float | None  # mean global gradient norm (before clipping) of the last `batches` batches
    lr: float | None  # learning rate of the newest step


def _newest(store, run_id: str, name: str, since: int) -> np.ndarray:
    """The series' last RECENT values at steps > since (a few extra steps read: the newest may not be committed)."""
    return store.scalars(run_id, name, since=since)[1][-RECENT:]


def figures(store, info, loss_kind: str) -> Figures:
    """The run's figures, read from the store now."""
    since = max(-1, info.step - 4 * RECENT)
    loss, norm, lr = (_newest(store, info.id, s.name, since) for s in (LOSS, GRAD_NORM, LR))
    val = store.latest_scalar(info.id, VAL_LOSS.name)
    show = _ppl if loss_kind == "ce" else float
    train = show(float(np.mean(loss))) if len(loss) else None
    val_value = show(val[1]) if val is not None and math.isfinite(val[1]) else None
    return Figures(
        status=info.status,
        step=info.step,
        max_steps=int(info.config.get("max_steps") or 0),
        loss_kind=loss_kind,
        train=train,
        batches=len(loss),
        val=val_value,
        val_step=val[0] if val_value is not None else None,
        grad_norm=float(np.mean(norm)) if len(norm) else None,
        lr=float(lr[-1]) if len(lr) else None,
    )


def _ppl(loss: float) -> float:
    return math.exp(min(loss, 700.0))


def fmt(value: float | None) -> str:
    """Four significant digits, or a dash for a figure not measured yet."""
    if value is None:
        return "–"
    if not math.isfinite(value):
        return "∞" if value > 0 else "NaN"
    return f"{value:.4g}"


def headings(rows: list[Figures]) -> list[str]:
    """Column headings: perplexities for text tasks, losses for MSE tasks."""
    ce = all(r.loss_kind == "ce" for r in rows)
    n = max((r.batches for r in rows), default=RECENT) or RECENT
    train = f"perplexity (last {n} batches)" if ce else f"loss (last {n} batches)"
    return ["run", "step", train, "validation perplexity" if ce else "validation loss",
            f"gradient norm (last {n})", "learning rate"]


def cells(r: Figures) -> list[str]:
    """The figures of one run, formatted."""
    step = f"{r.step:,}" + (f" / {r.max_steps:,}" if r.max_steps else "")
    val = fmt(r.val) + (f" <small>@ {r.val_step:,}</small>" if r.val_step is not None else "")
    return [step, fmt(r.train), val, fmt(r.grad_norm), fmt(r.lr)]


def draw(rows: list[Figures], names: list[str], colours: list[str], big: bool = False) -> None:
    """One table row per run: a colour mark and name (and, when `big`, its status: presenting, there are
    no status lines), then the figures in large type."""
    if not rows:
        return
    size, label = (34, 15) if big else (26, 13)
    th = "".join(f'<th style="font-size:{label}px;font-weight:500;color:#555;text-align:left;padding:0 18px 0 0;border:none">'
                 f"{html.escape(h)}</th>" for h in headings(rows))
    body = []
    for r, name, colour in zip(rows, names, colours):
        word = f' <span style="color:#555">· {html.escape(status_word(r.status))}</span>' if big else ""
        who = f'<span style="color:{colour};font-size:{size}px">●</span> <b>{html.escape(name)}</b>{word}'
        tds = "".join(f'<td style="font-size:{size}px;font-weight:600;padding:0 18px 0 0;white-space:nowrap;border:none">{c}</td>'
                      for c in cells(r))
        body.append(f'<tr><td style="font-size:{label + 3}px;padding:0 18px 0 0;white-space:nowrap;border:none">{who}</td>{tds}</tr>')
    st.markdown(f'<table class="rnnlab-numbers" style="border:none;border-collapse:collapse;width:auto;margin:0">'
                f"<thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>", unsafe_allow_html=True)
