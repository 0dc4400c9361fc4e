"""Lesson checkers: per-run criteria over the stored series, and what verdicts are built from.

Each criterion reads one run from the store and returns a Finding: did this run show the
phenomenon, and the figures behind that answer. A lesson says for which of its variants the
criterion should hold and for which it must not; its verdict (verdicts.py) shows when every
variant behaves that way and the comparisons across runs hold too. Nothing here knows a
figure in advance: thresholds are the named constants below, each with why, and are never
tuned to make a lesson pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.lessons.readers import baseline, final, first_step_below, series, tail_mean
from engine.optim import GRAD_CLIPPED, GRAD_NORM, GRAD_NORM_CLIPPED, PLATEAU_CUTS
from engine.probes import GradientReachProbe, SpectrumProbe
from engine.trainer import LOSS, PPL, TRAIN_METRIC, VAL_LOSS, VAL_PPL, WINDOW

# early perplexity: per-batch perplexity at init wanders by a few percent between batches,
# so a rise of 10 % above both |V| and the starting value is a real rise, not batch noise
SPIKE_MARGIN = 1.10
EARLY_STEPS = 100  # where "early" ends: the spike comes in the first few updates, or right after a warmup
# blow-up: a training loss 1 nat above where it started is e (2.7) times the starting perplexity
BLOWUP_NATS = 1.0
# clipping as recorded: grad/norm_clipped is computed in float32 from grad/norm, so agreement
# to a relative 1e-4 is equality, and a threshold is kept when the clipped norm is within it
CLIP_TOL = 1e-4
# vanishing: "orders of magnitude" = at least a factor 100 between dL_T/dh_T and dL_T/dh_1
VANISH_ORDERS = 2.0
# unit circle: orthogonal_ puts every |eigenvalue| at 1 up to float32 rounding (~1e-6; the
# step-0 spectrum is measured before the first update); a random init spreads them over the
# disc, max ||eig| - 1| near 1
UNIT_TOL = 1e-4
# orthogonal init "reaches further": at least twice the default's reach (reach/steps), a
# difference far outside the probe's sub-batch noise (8 sequences: the default's reach moves by
# a step or two between neighbouring probes) and what a reader sees as "further" on the chart
REACH_MARGIN = 2.0
# a reach of 5 steps or fewer is shorter than the default init's at step 0 (7-8 steps): whatever
# an initialisation bought is gone
COLLAPSED_REACH = 5
INSIDE_MARGIN = 0.2  # "well inside the unit circle": spectral radius at most 0.8
DEFAULT_RADIUS = 1 / math.sqrt(3)  # U(-1/sqrt(H), 1/sqrt(H)) has variance 1/(3H): circular law radius
# learning a long-range task: at least halving the do-nothing (predict-the-mean) error
BEAT_SHARE = 0.5
# a reported loss 10 % below the loss on real tokens is flattery, not float error
FLATTER_SHARE = 0.10
SAME_LOSS_TOL = 1e-4  # packed vs masked: the same sums in a different order, float32 rounding only
# naive padding's reported loss claims a gain over masking; a real-token gain under a tenth
# of that claim is not the gain it claims (a loss on real tokens is what the lesson warns of)
REAL_GAIN_SHARE = 0.1
# epoch jumps: the change at an epoch start must exceed twice the typical change between the
# other evaluations, at most boundaries (three in four), and be at least JUMP_FLOOR nats: a
# drop of 0.05 nats is 5 % in perplexity, the least a reader can see on the loss chart
JUMP_RATIO = 2.0
JUMP_SHARE = 0.75
JUMP_FLOOR = 0.05
# sequence length: one setting's final validation perplexity varies by about 1 % between seeds
# (4.24-4.29 at seq_len 64), so a change under 2 % between lengths is no difference
NO_DIFFERENCE = 0.02
# a stall: the schedule reached min_lr within the first half of the run
STALL_SHARE = 0.5
WORSE_NATS = 0.02  # "ends worse": a final validation loss at least this much higher


@dataclass
class Finding:
    """One run against one criterion."""

    showed: bool
    figures: dict[str, float] = field(default_factory=dict)


@dataclass
class Verdict:
    """Did the phenomenon appear in these runs: a sentence and the figures behind it."""

    showed: bool
    summary: str
    figures: dict[str, float]


# ---- per-run criteria ------------------------------------------------------------------


def spiked(store, run_id: str) -> Finding:
    """Perplexity rose above both |V| and its starting value in the first EARLY_STEPS updates."""
    steps, ppl = series(store, run_id, PPL.name)
    V = baseline(store, run_id, "uniform_ppl")
    ppl = np.nan_to_num(ppl, nan=np.inf)
    early = (steps >= 1) & (steps <= EARLY_STEPS)
    i = int(np.argmax(np.where(early, ppl, -np.inf)))
    peak, start = float(ppl[i]), float(ppl[0])
    figures = {"peak ppl": peak, "peak step": float(steps[i]), "ppl at step 0": start, "uniform ppl": V,
               "final val ppl": final(store, run_id, VAL_PPL.name)}
    return Finding(peak > SPIKE_MARGIN * max(V, start), figures)


def blew_up(store, run_id: str) -> Finding:
    """The run diverged (NaN/Inf), or its training loss rose BLOWUP_NATS above where it started."""
    run = store.run(run_id)
    steps, loss = series(store, run_id, LOSS.name)
    _, norm = series(store, run_id, GRAD_NORM.name)
    loss = np.nan_to_num(loss, nan=np.inf)
    finite = norm[np.isfinite(norm)]
    figures = {
        "initial loss": float(loss[0]),
        "peak loss": float(loss[1:].max()) if len(loss) > 1 else math.nan,
        "final loss": tail_mean(store, run_id, LOSS.name, 0.05),
        "grad norm max/median": float(finite.max() / np.median(finite)) if len(finite) else math.nan,
        "diverged at step": float(steps[-1]) if run.status == "diverged" else math.nan,
    }
    return Finding(run.status == "diverged" or figures["peak loss"] > loss[0] + BLOWUP_NATS, figures)


def clipped_as_set(store, run_id: str) -> Finding:
    """The recorded clipping matches the run's setting: none leaves every gradient as it was;
    norm clipping brings every gradient above the threshold down to it and leaves the others."""
    cfg = store.run(run_id).config
    _, norm = series(store, run_id, GRAD_NORM.name)
    _, after = series(store, run_id, GRAD_NORM_CLIPPED.name)
    _, fired = series(store, run_id, GRAD_CLIPPED.name)
    ok = np.isfinite(norm) & np.isfinite(after)
    norm, after, fired = norm[ok], after[ok], fired[ok]
    same = np.abs(after - norm) <= CLIP_TOL * np.maximum(norm, 1e-12)
    if cfg["clip"] == "none":
        honest = bool(same.all() and not fired.any())
    else:  # norm: the same test applies to value clipping's norm only as an upper bound, so norm only
        theta = cfg["clip_value"]
        above = norm > theta * (1 + CLIP_TOL)
        honest = bool((after[above] <= theta * (1 + CLIP_TOL)).all() and fired[above].all()
                      and same[~above].all() and len(norm) > 0)
    figures = {"clipped (share of steps)": float(fired.mean()) if len(fired) else math.nan,
               "largest norm after clipping": float(after.max()) if len(after) else math.nan,
               "median norm before clipping": float(np.median(norm)) if len(norm) else math.nan}
    return Finding(honest, figures)


def log_decay(norms: np.ndarray) -> float:
    """Orders of magnitude ||dL_T/dh_t|| falls from t = T back to t = 1; NaN when nothing passes back.

    A cut recurrence gives exactly 0 at every t < T: no gradient passes even one step, which
    is not vanishing through time, so it reads NaN (not 38 orders, float32's underflow). Where
    the far end underflows to 0 after a gradual decay, the slope over the positive part is
    extrapolated to t = 1."""
    T = len(norms)
    if T < 2 or not norms[-1] > 0 or not norms[-2] > 0:
        return math.nan
    positive = np.nonzero(norms > 0)[0]
    first = int(positive[0])
    if not (norms[first:] > 0).all():  # a zero in the middle: not a decay through time
        return math.nan
    orders = math.log10(norms[-1] / norms[first])
    return orders * (T - 1) / max(T - 1 - first, 1)


def vanished(store, run_id: str) -> Finding:
    """||dL_T/dh_t|| falls by VANISH_ORDERS orders of magnitude from t = T back to t = 1, as a
    gradual decay (median over probes; probes where nothing passes back count against it)."""
    steps, arrays = store.arrays(run_id, GradientReachProbe.LAST.at(layer=0))
    orders = np.array([log_decay(a) for a in arrays])
    T = len(arrays[0]) if arrays else 0
    passed = np.isfinite(orders)
    med = float(np.median(np.where(passed, orders, -np.inf))) if len(orders) else math.nan
    late = orders[-1] if len(orders) else math.nan
    figures = {"decay (orders of magnitude)": med, "at init": float(orders[0]) if len(orders) else math.nan,
               "at the end": float(late), "per step": med / max(T - 1, 1),
               "probes": float(len(orders)), "probes with no gradient past T": float((~passed).sum())}
    return Finding(bool(math.isfinite(med) and med >= VANISH_ORDERS), figures)


def summed_vanished(store, run_id: str) -> Finding:
    """vanished, for the gradient of the loss summed over all positions (reach/sum)."""
    _, arrays = store.arrays(run_id, GradientReachProbe.SUM.at(layer=0))
    orders = np.array([log_decay(a) for a in arrays])
    med = float(np.median(orders)) if len(orders) else math.nan
    return Finding(bool(math.isfinite(med) and med >= VANISH_ORDERS), {"decay (orders of magnitude)": med})


def reach_early(store, run_id: str) -> dict[str, float]:
    """reach/steps at init, its median over the warmup (the first 100 steps without one), and after."""
    cfg = store.run(run_id).config
    steps, v = series(store, run_id, GradientReachProbe.STEPS.at(layer=0))
    end = cfg["warmup_steps"] or EARLY_STEPS
    early, later = v[steps <= end], v[steps > end]
    return {"reach at init (steps)": float(v[0]) if len(v) else math.nan,
            "reach early, median (steps)": float(np.median(early)) if len(early) else math.nan,
            "reach later, median (steps)": float(np.median(later)) if len(later) else math.nan,
            f"first step with reach <= {COLLAPSED_REACH} after the warmup": _first(steps[steps > end], later <= COLLAPSED_REACH)}


def _first(steps: np.ndarray, mask: np.ndarray) -> float:
    hit = np.nonzero(mask)[0]
    return float(steps[hit[0]]) if len(hit) else math.nan


def _init_eigs(store, run_id: str) -> np.ndarray:
    """|eigenvalues| of every gate block of layer 0 at step 0."""
    names = [n for n in store.series_names(run_id) if (SpectrumProbe.EIG.parts(n) or {}).get("layer") == "0"]
    mags = []
    for n in names:
        steps, arrays = store.arrays(run_id, n, max_items=None)
        if len(steps) and steps[0] == 0:
            mags.append(np.hypot(arrays[0][:, 0], arrays[0][:, 1]))
    return np.concatenate(mags) if mags else np.zeros(0)


def on_unit_circle(store, run_id: str) -> Finding:
    """At init every eigenvalue of W_h has modulus 1 (within UNIT_TOL)."""
    mag = _init_eigs(store, run_id)
    dev = float(np.abs(mag - 1).max()) if len(mag) else math.nan
    figures = {"radius at init": float(mag.max()) if len(mag) else math.nan,
               "min |eig| at init": float(mag.min()) if len(mag) else math.nan, "max ||eig| - 1|": dev}
    return Finding(bool(dev < UNIT_TOL), figures)


def well_inside(store, run_id: str) -> Finding:
    """At init the spectral radius of W_h is at most 1 - INSIDE_MARGIN."""
    mag = _init_eigs(store, run_id)
    radius = float(mag.max()) if len(mag) else math.nan
    return Finding(bool(radius <= 1 - INSIDE_MARGIN), {"radius at init": radius})


def beat_baseline(store, run_id: str) -> Finding:
    """The final validation MSE is below BEAT_SHARE of the predict-the-mean baseline."""
    mse, base = final(store, run_id, VAL_LOSS.name), baseline(store, run_id, "mean_mse")
    share = mse / base
    figures = {"final val MSE": mse, "baseline MSE": base, "share of baseline": share,
               "first step below the line": first_step_below(store, run_id, VAL_LOSS.name, BEAT_SHARE * base)}
    return Finding(bool(share < BEAT_SHARE), figures)


def flattering(store, run_id: str) -> Finding:
    """The reported training loss sits FLATTER_SHARE below the loss on real tokens (last quarter)."""
    reported, real = tail_mean(store, run_id, LOSS.name), tail_mean(store, run_id, TRAIN_METRIC.at(metric="real_loss"))
    return Finding(bool(reported < (1 - FLATTER_SHARE) * real), {"reported loss": reported, "real-token loss": real})


def epoch_jumps(store, run_id: str) -> Finding:
    """Train metrics since the last evaluation drop at each epoch start, beyond the moves in
    between (JUMP_RATIO) and by at least JUMP_FLOOR nats, at JUMP_SHARE of the boundaries."""
    bpe = store.run(run_id).summary.get("batches_per_epoch", 1)
    steps, loss = series(store, run_id, WINDOW.at(metric="loss"))
    _, hr = series(store, run_id, WINDOW.at(metric="hr@10"))
    epoch = (steps - 1) // bpe  # an evaluation recorded at step s follows update s - 1
    d_loss, new = np.diff(loss), np.diff(epoch) > 0
    d_hr = np.diff(hr) if len(hr) == len(loss) else np.zeros(len(d_loss))
    jumps, moves = d_loss[new], np.abs(d_loss[~new])
    typical = float(np.median(moves)) if len(moves) else math.nan
    big = (-jumps > max(JUMP_RATIO * typical, JUMP_FLOOR)) if len(jumps) else np.zeros(0, bool)
    figures = {
        "loss change at epoch start": float(np.median(jumps)) if len(jumps) else math.nan,
        "loss change between other evals (median |.|)": typical,
        "HR@10 change at epoch start": float(np.median(d_hr[new])) if new.any() else math.nan,
        "boundaries with a jump": float(big.sum()),
        "boundaries": float(len(jumps)),
    }
    return Finding(bool(len(jumps) > 0 and big.mean() >= JUMP_SHARE), figures)


def stalled(store, run_id: str) -> Finding:
    """The schedule reached min_lr within the first STALL_SHARE of the run."""
    cfg = store.run(run_id).config
    steps, lr = series(store, run_id, "lr")
    at_min = np.nonzero(lr <= cfg["min_lr"] * (1 + 1e-6))[0]
    first = float(steps[at_min[0]]) if len(at_min) else math.nan
    figures = {"reached min_lr at step": first, "cuts": final(store, run_id, PLATEAU_CUTS.name),
               "final val loss": final(store, run_id, VAL_LOSS.name)}
    return Finding(bool(len(at_min) and first < STALL_SHARE * cfg["max_steps"]), figures)


# ---- verdicts --------------------------------------------------------------------------


def judge(store, runs: dict[str, str], criterion, expect: dict[str, bool]):
    """-> (every expected run behaved as expected, {label: Finding}, flat figures 'label: name')."""
    findings = {label: criterion(store, rid) for label, rid in runs.items()}
    ok = all(findings[label].showed == want for label, want in expect.items() if label in findings)
    ok = ok and all(label in findings for label in expect)
    figures = {f"{label}: {k}": v for label, f in findings.items() for k, v in f.figures.items()}
    return ok, findings, figures


def said(finding: Finding, yes: str, no: str) -> str:
    return yes if finding.showed else no


def fmt(x: float) -> str:
    """A figure for a sentence: 3 significant digits, or n/a."""
    if x is None or not math.isfinite(x):
        return "n/a" if x is None or math.isnan(x) else ("inf" if x > 0 else "-inf")
    return f"{x:.3g}"
