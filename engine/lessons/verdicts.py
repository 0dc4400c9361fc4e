"""One verdict per lesson: the per-run criteria of criteria.py applied to a lesson's
variants, plus the comparisons across its runs, in a sentence with the figures.

Each function takes (store, runs: {label: run id}, expect: {label: bool}) and returns a
Verdict; labels are the lesson's variant labels and `expect` says for which of them the
per-run criterion must hold or must not (catalogue.py).
"""

from __future__ import annotations

import math

import numpy as np

from engine.lessons.criteria import (
    DEFAULT_RADIUS,
    NO_DIFFERENCE,
    REAL_GAIN_SHARE,
    SAME_LOSS_TOL,
    WORSE_NATS,
    Verdict,
    beat_baseline,
    blew_up,
    epoch_jumps,
    final,
    flattering,
    fmt,
    judge,
    on_unit_circle,
    series,
    spiked,
    stalled,
    vanished,
    well_inside,
)


def early_spike(store, runs, expect) -> Verdict:
    ok, found, figures = judge(store, runs, spiked, expect)
    parts = [f"{label}: peak {fmt(f.figures['peak ppl'])} at step {fmt(f.figures['peak step'])}" for label, f in found.items()]
    V = next(iter(found.values())).figures["uniform ppl"]
    return Verdict(ok, f"Training perplexity against |V| = {fmt(V)}: " + "; ".join(parts) + ".", figures)


def exploding(store, runs, expect) -> Verdict:
    ok, found, figures = judge(store, runs, blew_up, expect)
    # the runs kept from blowing up must also have learned: a final loss below the initial one
    learned = all(found[label].figures["final loss"] < found[label].figures["initial loss"]
                  for label, want in expect.items() if not want and label in found)
    parts = []
    for label, f in found.items():
        x = f.figures
        end = f"diverged at step {fmt(x['diverged at step'])}" if math.isfinite(x["diverged at step"]) else \
            f"final loss {fmt(x['final loss'])}"
        parts.append(f"{label}: loss {fmt(x['initial loss'])} -> peak {fmt(x['peak loss'])}, {end}, "
                     f"largest gradient norm {fmt(x['grad norm max/median'])}x its median")
    return Verdict(bool(ok and learned), "; ".join(parts) + ".", figures)


def vanishing(store, runs, expect) -> Verdict:
    ok, found, figures = judge(store, runs, vanished, expect)
    by_len = sorted(runs, key=lambda label: store.run(runs[label]).config["seq_len"])
    ppl = {label: final(store, runs[label], "val/ppl") for label in by_len}
    for label in by_len:
        figures[f"{label}: final val ppl"] = ppl[label]
    decay = ", ".join(f"{fmt(found[label].figures['decay (orders of magnitude)'])}" for label in by_len)
    rate = ", ".join(f"{fmt(found[label].figures['per step'])}" for label in by_len)
    change = (ppl[by_len[-1]] - ppl[by_len[0]]) / ppl[by_len[0]]
    figures["val ppl change, longest vs shortest"] = change
    if abs(change) < NO_DIFFERENCE:
        finding = f"made no difference (within {NO_DIFFERENCE:.0%})"
    else:
        finding = f"{'lowered' if change < 0 else 'raised'} it by {abs(change) * 100:.1f} %"
    summary = (f"From t = T back to t = 1 the last position's gradient fell by {decay} orders of magnitude "
               f"at {', '.join(by_len)} ({rate} per step). At an equal token budget validation perplexity was "
               f"{', '.join(fmt(ppl[x]) for x in by_len)}: the longest context {finding}.")
    return Verdict(ok, summary, figures)


def init_spectrum(store, runs, expect) -> Verdict:
    ok, found, figures = judge(store, runs, on_unit_circle, expect)
    inside = well_inside(store, runs["default"]) if "default" in runs else None
    reach = {label: _median_reach(store, rid) for label, rid in runs.items()}
    for label, (at_init, med) in reach.items():
        figures[f"{label}: reach at init (steps)"] = at_init
        figures[f"{label}: reach, median over training (steps)"] = med
    further = "orthogonal" in reach and "default" in reach and reach["orthogonal"][1] > reach["default"][1]
    figures["default: theory radius"] = DEFAULT_RADIUS
    radii = ", ".join(f"{label} {fmt(f.figures['radius at init'])}" for label, f in found.items())
    summary = (f"Spectral radius at init: {radii} (theory for the default: 1/sqrt(3) = {fmt(DEFAULT_RADIUS)}); "
               "orthogonal |eig| within "
               f"{fmt(found['orthogonal'].figures['max ||eig| - 1|']) if 'orthogonal' in found else 'n/a'} of 1. "
               "Gradient reach (steps back above 1 % of its value at T), at init / median over training: "
               + ", ".join(f"{label} {fmt(a)} / {fmt(m)}" for label, (a, m) in reach.items()) + ".")
    return Verdict(bool(ok and inside is not None and inside.showed and further), summary, figures)


def _median_reach(store, run_id: str) -> tuple[float, float]:
    steps, v = series(store, run_id, "reach/steps/l0")
    if not len(v):
        return math.nan, math.nan
    return float(v[0]), float(np.median(v))


def long_range(store, runs, expect) -> Verdict:
    """Which cells learn the adding problem (beat_baseline)."""
    ok, found, figures = judge(store, runs, beat_baseline, expect)
    base = next(iter(found.values())).figures["baseline MSE"]
    parts = [f"{label} {fmt(f.figures['final val MSE'])} ({fmt(f.figures['share of baseline'])} of it)"
             for label, f in found.items()]
    return Verdict(ok, f"Final validation MSE against predict-the-mean {fmt(base)}: " + ", ".join(parts) + ".", figures)


def packing(store, runs, expect) -> Verdict:
    ok, found, figures = judge(store, runs, flattering, expect)
    _, a = series(store, runs["packed"], "train/loss")
    _, b = series(store, runs["padded + mask"], "train/loss")
    n = min(len(a), len(b))
    same = float(np.max(np.abs(a[:n] - b[:n]))) if n else math.nan
    real = {label: final(store, rid, "val/real_loss") for label, rid in runs.items()}
    cost = {label: _median(store, rid, "time/step_ms") for label, rid in runs.items()}
    naive, masked = found["padded, naive"].figures, found["padded + mask"].figures
    claimed = masked["reported loss"] - naive["reported loss"]  # what naive padding's own loss says it gains
    gained = real["padded + mask"] - real["padded, naive"]  # what it gains on real tokens
    figures["packed vs masked: max |train loss difference|"] = same
    figures["naive vs masked: reported gain (nats)"] = claimed
    figures["naive vs masked: real-token gain (nats)"] = gained
    for label in runs:
        figures[f"{label}: final val real-token loss"] = real[label]
        figures[f"{label}: ms per step (median)"] = cost[label]
    summary = (f"Packed and masked training losses differ by at most {fmt(same)}. Naive padding reports "
               f"{fmt(naive['reported loss'])} against {fmt(naive['real-token loss'])} on its real tokens, a "
               f"{fmt(claimed)}-nat gain over masking that is {fmt(gained)} nats on real validation tokens ("
               + ", ".join(f"{k} {fmt(v)}" for k, v in real.items()) + "). Milliseconds per step: "
               + ", ".join(f"{k} {fmt(v)}" for k, v in cost.items()) + ".")
    return Verdict(bool(ok and same < SAME_LOSS_TOL and gained < REAL_GAIN_SHARE * claimed), summary, figures)


def _median(store, run_id: str, name: str) -> float:
    _, v = series(store, run_id, name)
    return float(np.median(v)) if len(v) else math.nan


def epoch_boundaries(store, runs, expect) -> Verdict:
    ok, found, figures = judge(store, runs, epoch_jumps, expect)
    parts = [f"{label}: train loss {fmt(f.figures['loss change at epoch start'])} and HR@10 "
             f"{fmt(f.figures['HR@10 change at epoch start'])} at epoch starts against "
             f"{fmt(f.figures['loss change between other evals (median |.|)'])} between other evaluations "
             f"({fmt(f.figures['boundaries with a jump'])} of {fmt(f.figures['boundaries'])} boundaries)"
             for label, f in found.items()]
    return Verdict(ok, "; ".join(parts) + ".", figures)


def plateau_stall(store, runs, expect) -> Verdict:
    ok, found, figures = judge(store, runs, stalled, expect)
    worse = found["aggressive"].figures["final val loss"] - found["patient"].figures["final val loss"]
    figures["aggressive minus patient: final val loss"] = worse
    parts = [f"{label}: min_lr at step {fmt(f.figures['reached min_lr at step'])} after {fmt(f.figures['cuts'])} cuts, "
             f"final val loss {fmt(f.figures['final val loss'])}" for label, f in found.items()]
    return Verdict(bool(ok and worse > WORSE_NATS), "; ".join(parts) + ".", figures)
