"""One verdict per lesson: the per-run criteria of criteria.py applied to a lesson's
variants, plus the comparisons across its runs, in a sentence with the figures.

Each function takes (store, runs: {label: run id}, expect: {label: bool}) and returns a
Verdict; labels are the lesson's variant labels and `expect` says for which of them the
per-run criterion must hold or must not (catalogue.py). A verdict judges only what the
lesson's text claims and its measured rate supports; everything else it reports.
"""

from __future__ import annotations

import math

import numpy as np

from engine.diagnosis import STEP_MS
from engine.lessons.criteria import (
    COLLAPSED_REACH,
    DEFAULT_RADIUS,
    NO_DIFFERENCE,
    REACH_MARGIN,
    REAL_GAIN_SHARE,
    SAME_LOSS_TOL,
    VANISH_ORDERS,
    WORSE_NATS,
    Verdict,
    beat_baseline,
    blew_up,
    clipped_as_set,
    epoch_jumps,
    flattering,
    fmt,
    judge,
    on_unit_circle,
    reach_early,
    spiked,
    stalled,
    summed_vanished,
    vanished,
    well_inside,
)
from engine.lessons.readers import final, median, series, step_lengths
from engine.probes import HiddenProbe, SpectrumProbe
from engine.trainer import LOSS, TRAIN_METRIC, VAL_LOSS, VAL_METRIC, VAL_PPL


def early_spike(store, runs, expect) -> Verdict:
    """Spikes where expected; the smaller learning rate ends with the lowest validation perplexity."""
    ok, found, figures = judge(store, runs, spiked, expect)
    parts = [f"{label}: peak {fmt(f.figures['peak ppl'])} at step {fmt(f.figures['peak step'])}, final validation "
             f"perplexity {fmt(f.figures['final val ppl'])}" for label, f in found.items()]
    ends = {label: f.figures["final val ppl"] for label, f in found.items()}
    best = min(ends, key=lambda label: ends[label])
    V = next(iter(found.values())).figures["uniform ppl"]
    summary = f"Training perplexity against |V| = {fmt(V)}: " + "; ".join(parts) + f". Ended best: {best}."
    return Verdict(bool(ok and best == "lr 3e-3"), summary, figures)


def exploding(store, runs, expect) -> Verdict:
    """Blow-ups where expected, clipping recorded as set, the clipped run learned, its steps within theory."""
    ok, found, figures = judge(store, runs, blew_up, expect)
    honest = {label: clipped_as_set(store, rid) for label, rid in runs.items()}
    for label, f in honest.items():
        figures.update({f"{label}: {k}": v for k, v in f.figures.items()})
    kept = [label for label, want in expect.items() if not want and label in found]
    learned = all(found[label].figures["final loss"] < found[label].figures["initial loss"] for label in kept)
    within = {label: _step_figures(store, rid, label, figures) for label, rid in runs.items()}
    within = all(within[label] for label in kept)
    parts = [_blowup_part(label, f.figures, honest[label].figures) for label, f in found.items()]
    summary = "; ".join(parts) + ". Update lengths: " + "; ".join(_step_part(store, runs, label, figures)
                                                                  for label in runs) + "."
    clipping_ok = all(f.showed for f in honest.values())
    return Verdict(bool(ok and learned and within and clipping_ok), summary, figures)


def _blowup_part(label: str, x: dict, clip: dict) -> str:
    end = f"diverged at step {fmt(x['diverged at step'])}" if math.isfinite(x["diverged at step"]) else \
        f"final loss {fmt(x['final loss'])}"
    return (f"{label}: loss {fmt(x['initial loss'])} -> peak {fmt(x['peak loss'])}, {end}, largest gradient norm "
            f"{fmt(x['grad norm max/median'])}x its median, clipped on {fmt(100 * clip['clipped (share of steps)'])} % "
            "of steps")


def _step_part(store, runs, label: str, figures: dict) -> str:
    part = f"{label} median {fmt(figures[f'{label}: median step length'])}"
    if store.run(runs[label]).config["clip"] == "none":
        return part
    return (part + f" (lr x threshold {fmt(figures[f'{label}: lr x threshold'])}, with momentum at most "
            f"{fmt(figures[f'{label}: lr x threshold / (1 - momentum)'])})")


def _step_figures(store, run_id: str, label: str, figures: dict) -> bool:
    """Adds the clipped run's step lengths to figures; True when their median is within the momentum bound."""
    cfg = store.run(run_id).config
    lengths = step_lengths(store, run_id)
    med = float(np.median(lengths)) if len(lengths) else math.nan
    bound = cfg["lr"] * cfg["clip_value"] / (1 - cfg["momentum"])  # |v| <= theta / (1 - mu) for SGD momentum
    figures[f"{label}: median step length"] = med
    figures[f"{label}: largest step length"] = float(lengths.max()) if len(lengths) else math.nan
    figures[f"{label}: lr x threshold"] = cfg["lr"] * cfg["clip_value"]
    figures[f"{label}: lr x threshold / (1 - momentum)"] = bound
    return bool(med <= bound)


def vanishing(store, runs, expect) -> Verdict:
    """The last position's gradient decays where expected; the summed loss's does not; at the end
    of the longest window W_h's radius is above 1 while the decay persists."""
    ok, found, figures = judge(store, runs, vanished, expect)
    by_len = sorted(runs, key=lambda label: store.run(runs[label]).config["seq_len"])
    for label in by_len:
        summed = summed_vanished(store, runs[label])
        figures[f"{label}: summed loss, decay (orders of magnitude)"] = summed.figures["decay (orders of magnitude)"]
        ok = ok and not summed.showed  # the summed loss hides the decay: must not show it
    longest = runs[by_len[-1]]
    radius = _radius_and_saturation(store, longest, by_len[-1], figures)
    through_tanh = radius > 1 and found[by_len[-1]].figures["at the end"] >= VANISH_ORDERS
    ppl = {label: final(store, runs[label], VAL_PPL.name) for label in by_len}
    for label in by_len:
        figures[f"{label}: final val ppl"] = ppl[label]
    change = (ppl[by_len[-1]] - ppl[by_len[0]]) / ppl[by_len[0]]
    figures["val ppl change, longest vs shortest"] = change
    summary = (_decay_sentence(found, by_len, figures) + _radius_sentence(by_len[-1], figures)
               + _context_sentence(ppl, by_len, change))
    return Verdict(bool(ok and through_tanh), summary, figures)


def _radius_and_saturation(store, run_id: str, label: str, figures: dict) -> float:
    _, radius = series(store, run_id, SpectrumProbe.RADIUS.at(layer=0, gate="h"))
    _, sat = series(store, run_id, HiddenProbe.SATURATION.at(layer=0))
    figures[f"{label}: spectral radius at init"] = float(radius[0]) if len(radius) else math.nan
    figures[f"{label}: spectral radius at the end"] = float(radius[-1]) if len(radius) else math.nan
    figures[f"{label}: probes with radius above 1 (share)"] = float((radius > 1).mean()) if len(radius) else math.nan
    figures[f"{label}: saturated units at the end (share)"] = float(sat[-1]) if len(sat) else math.nan
    return figures[f"{label}: spectral radius at the end"]


def _decay_sentence(found, by_len, figures) -> str:
    decay = ", ".join(fmt(found[x].figures["decay (orders of magnitude)"]) for x in by_len)
    rate = ", ".join(fmt(found[x].figures["per step"]) for x in by_len)
    summed = ", ".join(fmt(figures[f"{x}: summed loss, decay (orders of magnitude)"]) for x in by_len)
    return (f"From t = T back to t = 1 the last position's gradient fell by {decay} orders of magnitude (median over "
            f"probes) at {', '.join(by_len)} ({rate} per step); the summed loss's by {summed}. ")


def _radius_sentence(label, figures) -> str:
    return (f"At {label} the spectral radius of W_h went from {fmt(figures[f'{label}: spectral radius at init'])} "
            f"to {fmt(figures[f'{label}: spectral radius at the end'])} while "
            f"{fmt(100 * figures[f'{label}: saturated units at the end (share)'])} % of unit activations were "
            f"saturated and the gradient still fell {fmt(figures[f'{label}: at the end'])} orders at the last probe. ")


def _context_sentence(ppl, by_len, change) -> str:
    if abs(change) < NO_DIFFERENCE:
        finding = f"made no difference (within {NO_DIFFERENCE:.0%})"
    else:
        finding = f"{'lowered' if change < 0 else 'raised'} it by {abs(change) * 100:.1f} %"
    return (f"At an equal token budget validation perplexity was {', '.join(fmt(ppl[x]) for x in by_len)}: "
            f"the longest context {finding}.")


def init_spectrum(store, runs, expect) -> Verdict:
    """Eigenvalues at init where theory puts them; at init the orthogonal run's gradient reaches
    REACH_MARGIN times as far back as the default's. Later reach is reported, not judged."""
    ok, found, figures = judge(store, runs, on_unit_circle, expect)
    inside = well_inside(store, runs["default"]) if "default" in runs else None
    reach = {label: reach_early(store, rid) for label, rid in runs.items()}
    for label, rid in runs.items():
        figures.update({f"{label}: {k}": x for k, x in reach[label].items()})
        figures.update({f"{label}: {k}": x for k, x in _later_state(store, rid).items()})
    key = "reach at init (steps)"
    further = "orthogonal" in reach and "default" in reach and \
        reach["orthogonal"][key] >= REACH_MARGIN * reach["default"][key]
    figures["default: theory radius"] = DEFAULT_RADIUS
    radii = ", ".join(f"{label} {fmt(f.figures['radius at init'])}" for label, f in found.items())
    summary = (f"Spectral radius at init: {radii} (theory for the default: 1/sqrt(3) = {fmt(DEFAULT_RADIUS)}); "
               "orthogonal |eig| within "
               f"{fmt(found['orthogonal'].figures['max ||eig| - 1|']) if 'orthogonal' in found else 'n/a'} of 1. "
               "Gradient reach (steps back above 1 % of its value at T) at init / over the warmup (median) / after "
               "it (median): " + ", ".join(
                   f"{label} {fmt(r[key])} / {fmt(r['reach early, median (steps)'])} / "
                   f"{fmt(r['reach later, median (steps)'])}" for label, r in reach.items())
               + f". Reach down to {COLLAPSED_REACH} steps or fewer after the warmup: " + ", ".join(
                   f"{label} {_from_step(r[f'first step with reach <= {COLLAPSED_REACH} after the warmup'])}"
                   for label, r in reach.items()) + ".")
    return Verdict(bool(ok and inside is not None and inside.showed and further), summary, figures)


def _later_state(store, run_id: str) -> dict[str, float]:
    """What goes with a late collapse of the reach: W_h's largest radius and the saturation at the end."""
    _, radius = series(store, run_id, SpectrumProbe.RADIUS.at(layer=0, gate="h"))
    _, sat = series(store, run_id, HiddenProbe.SATURATION.at(layer=0))
    return {"largest spectral radius": float(radius.max()) if len(radius) else math.nan,
            "saturated at the end (share)": float(sat[-1]) if len(sat) else math.nan,
            "final val MSE": final(store, run_id, VAL_LOSS.name)}


def _from_step(step: float) -> str:
    return f"from step {fmt(step)}" if math.isfinite(step) else "never"


def long_range(store, runs, expect) -> Verdict:
    """Which cells learn the adding problem (beat_baseline)."""
    ok, found, figures = judge(store, runs, beat_baseline, expect)
    return Verdict(ok, _long_range_summary(found), figures)


def tanh_relu(store, runs, expect) -> Verdict:
    """long_range, plus: the identity-initialised ReLU run crosses half the baseline first."""
    ok, found, figures = judge(store, runs, beat_baseline, expect)
    first = {label: f.figures["first step below the line"] for label, f in found.items()}
    irnn, relu = first.get("ReLU, identity init", math.nan), first.get("ReLU", math.nan)
    earlier = math.isfinite(irnn) and (not math.isfinite(relu) or irnn < relu)
    summary = _long_range_summary(found) + " First step below half the baseline: " + ", ".join(
        f"{label} {fmt(s) if math.isfinite(s) else 'never'}" for label, s in first.items()) + "."
    return Verdict(bool(ok and earlier), summary, figures)


def _long_range_summary(found) -> str:
    base = next(iter(found.values())).figures["baseline MSE"]
    parts = [f"{label} {fmt(f.figures['final val MSE'])} ({fmt(f.figures['share of baseline'])} of it)"
             for label, f in found.items()]
    return f"Final validation MSE against predict-the-mean {fmt(base)}: " + ", ".join(parts) + "."


def packing(store, runs, expect) -> Verdict:
    """Naive padding's reported loss flatters; packed and masked agree; on real tokens naive gains little."""
    ok, found, figures = judge(store, runs, flattering, expect)
    _, a = series(store, runs["packed"], LOSS.name)
    _, b = series(store, runs["padded + mask"], LOSS.name)
    n = min(len(a), len(b))
    same = float(np.max(np.abs(a[:n] - b[:n]))) if n else math.nan
    real = {label: final(store, rid, VAL_METRIC.at(metric="real_loss")) for label, rid in runs.items()}
    cost = {label: median(store, rid, STEP_MS.name) for label, rid in runs.items()}
    naive, masked = found["padded, naive"].figures, found["padded + mask"].figures
    claimed = masked["reported loss"] - naive["reported loss"]  # what naive padding's own loss says it gains
    gained = real["padded + mask"] - real["padded, naive"]  # what it gains on real validation tokens
    pads = _tail(store, runs["padded, naive"], TRAIN_METRIC.at(metric="pad_share"))
    figures["packed vs masked: max |train loss difference|"] = same
    figures["naive vs masked: reported gain (nats)"] = claimed
    figures["naive vs masked: real-token gain (nats)"] = gained
    figures["padded, naive: pad share"] = pads
    figures["padded, naive: (1 - pad share) x real-token loss"] = (1 - pads) * naive["real-token loss"]
    for label in runs:
        figures[f"{label}: final val real-token loss"] = real[label]
        figures[f"{label}: ms per step (median)"] = cost[label]
    summary = (f"Packed and masked training losses differ by at most {fmt(same)}. Naive padding reports "
               f"{fmt(naive['reported loss'])} against {fmt(naive['real-token loss'])} on its real tokens "
               f"({fmt(100 * pads)} % of its targets are pads; (1 - pad share) x real-token loss = "
               f"{fmt((1 - pads) * naive['real-token loss'])}), a {fmt(claimed)}-nat gain over masking that is "
               f"{fmt(gained)} nats on real validation tokens (" + ", ".join(f"{k} {fmt(v)}" for k, v in real.items())
               + "). Milliseconds per step: " + ", ".join(f"{k} {fmt(v)}" for k, v in cost.items()) + ".")
    small_gain = gained < REAL_GAIN_SHARE * claimed  # naive padding worse on real tokens is the lesson's point too
    return Verdict(bool(ok and same < SAME_LOSS_TOL and small_gain), summary, figures)


def _tail(store, run_id: str, name: str) -> float:
    _, v = series(store, run_id, name)
    return float(np.mean(v[-max(1, len(v) // 4) :])) if len(v) else math.nan


def epoch_boundaries(store, runs, expect) -> Verdict:
    """Jumps where expected, none above the floor where not, and the drop grows with the learning rate."""
    ok, found, figures = judge(store, runs, epoch_jumps, expect)
    by_lr = sorted(runs, key=lambda label: store.run(runs[label]).config["lr"])
    drops = [found[label].figures["loss change at epoch start"] for label in by_lr]
    grows = all(later < earlier for earlier, later in zip(drops, drops[1:]))  # more negative with each lr
    for label in by_lr:
        steps, val = series(store, runs[label], VAL_LOSS.name)
        figures[f"{label}: best val loss"] = float(val.min()) if len(val) else math.nan
        figures[f"{label}: best val loss at step"] = float(steps[np.argmin(val)]) if len(val) else math.nan
        figures[f"{label}: final val loss"] = float(val[-1]) if len(val) else math.nan
    parts = [f"{label}: train loss {fmt(f.figures['loss change at epoch start'])} and HR@10 "
             f"{fmt(f.figures['HR@10 change at epoch start'])} at epoch starts against "
             f"{fmt(f.figures['loss change between other evals (median |.|)'])} between other evaluations "
             f"({fmt(f.figures['boundaries with a jump'])} of {fmt(f.figures['boundaries'])} boundaries); validation "
             f"loss best {fmt(figures[f'{label}: best val loss'])} at step {fmt(figures[f'{label}: best val loss at step'])}"
             f", final {fmt(figures[f'{label}: final val loss'])}" for label, f in ((x, found[x]) for x in by_lr)]
    return Verdict(bool(ok and grows), "; ".join(parts) + ".", figures)


def plateau_stall(store, runs, expect) -> Verdict:
    ok, found, figures = judge(store, runs, stalled, expect)
    worse = found["aggressive"].figures["final val loss"] - found["patient"].figures["final val loss"]
    figures["aggressive minus patient: final val loss"] = worse
    parts = [f"{label}: min_lr at step {fmt(f.figures['reached min_lr at step'])} after {fmt(f.figures['cuts'])} cuts, "
             f"final val loss {fmt(f.figures['final val loss'])}" for label, f in found.items()]
    return Verdict(bool(ok and worse > WORSE_NATS), "; ".join(parts) + ".", figures)
