"""Lesson checkers against hand-made stored series: each must pass an honest run and fail a broken one.

Every lesson's verdict gets at least one negative control here: the stored series of a run
that a broken engine would record (a cut recurrence, a clip that does nothing, a constant
series, an init that did not happen...). The series are written to a real RunStore and read
back by the same checkers the lessons use, so these tests fail if a checker could not.
"""

import math

import numpy as np
import pytest

from engine.config import RunConfig
from engine.lessons import verdicts as v
from engine.lessons.criteria import (
    JUMP_FLOOR,
    clipped_as_set,
    epoch_jumps,
    log_decay,
    spiked,
    stalled,
    vanished,
)
from engine.store import RunStore


@pytest.fixture
def store():
    s = RunStore()  # conftest points $RNNLAB_STORE at a fresh temporary file
    yield s
    s.close()


def stored_run(store, scalars=None, arrays=None, summary=None, config=None, label=None, status="done"):
    """A finished run holding the given series: scalars {name: [(step, value)]}, arrays {name: [(step, array)]}."""
    run_id = store.create_run((config or RunConfig()).to_dict(), label=label)
    for name, points in (scalars or {}).items():
        for step, value in points:
            store.add_scalars(run_id, step, {name: float(value)})
    for name, points in (arrays or {}).items():
        for step, a in points:
            store.add_array(run_id, step, name, np.asarray(a, dtype=np.float64))
    store.set_summary(run_id, summary or {})
    store.set_status(run_id, status)
    store.flush()
    return run_id


# ---- early spike --------------------------------------------------------------------------

TEXT = {"baselines": {"uniform_ppl": 100.0}}


def spike_run(store, label, peak, final_ppl):
    ppl = [(s, peak if s == 3 else 100.0 - s) for s in range(20)]
    return stored_run(store, {"train/ppl": ppl, "val/ppl": [(19, final_ppl)]}, summary=TEXT, label=label)


def test_spiked_reads_the_stored_perplexity(store):
    flat = stored_run(store, {"train/ppl": [(s, 100.0 - s) for s in range(20)]}, summary=TEXT)
    spike = stored_run(store, {"train/ppl": [(s, 300.0 if s == 3 else 100.0 - s) for s in range(20)]}, summary=TEXT)
    constant = stored_run(store, {"train/ppl": [(s, 100.0) for s in range(20)]}, summary=TEXT)
    assert not spiked(store, flat).showed and not spiked(store, constant).showed
    found = spiked(store, spike)
    assert found.showed and found.figures["peak ppl"] == 300.0 and found.figures["peak step"] == 3


def test_early_spike_verdict_needs_the_small_lr_to_end_best(store):
    expect = {"no warmup": True, "warmup 50": False, "lr 3e-3": False}
    runs = {"no warmup": spike_run(store, "no warmup", 900, 15), "warmup 50": spike_run(store, "warmup 50", 99, 11),
            "lr 3e-3": spike_run(store, "lr 3e-3", 80, 7.5)}
    assert v.early_spike(store, runs, expect).showed
    runs["lr 3e-3"] = spike_run(store, "lr 3e-3", 80, 12)  # slower progress after all: the text would be wrong
    assert not v.early_spike(store, runs, expect).showed
    runs["lr 3e-3"] = spike_run(store, "lr 3e-3", 80, 7.5)
    runs["no warmup"] = spike_run(store, "no warmup", 99, 15)  # no spike where the lesson says one shows
    assert not v.early_spike(store, runs, expect).showed


# ---- exploding gradients ------------------------------------------------------------------

EXPLODE = RunConfig(optimizer="sgd", lr=3.0, momentum=0.9)
EXPLODE_EXPECT = {"no clipping": True, "clip 1": True, "clip 0.25": False}


def clip_run(store, label, clip, theta, blow_up, clip_works=True):
    """Gradient norms of 0.5 with a 500 spike at step 10; loss from 4.7 up 50 nats or down to 1.9.

    clip_works=False: the run asked for clipping but the gradients passed unchanged (a clip
    that does nothing); for clip='none' it means the run clipped at 1 although asked not to."""
    cfg = EXPLODE.replace(clip=clip, clip_value=theta)
    norms = [500.0 if s == 10 else 0.5 for s in range(40)]
    if clip == "none":
        after = norms if clip_works else [min(n, 1.0) for n in norms]
    else:
        after = [min(n, theta) for n in norms] if clip_works else norms
    loss = [4.7 + (50.0 if blow_up and s > 10 else -0.07 * s) for s in range(40)]
    step_len = 1.1 * theta * cfg.lr if clip != "none" else 20.0
    scalars = {"train/loss": list(enumerate(loss)), "grad/norm": list(enumerate(norms)),
               "grad/norm_clipped": list(enumerate(after)),
               "grad/clipped": [(s, float(a < n)) for s, (n, a) in enumerate(zip(norms, after))],
               "update_ratio": [(s, step_len / 10.0) for s in range(0, 40, 10)],
               "weight_norm/w": [(s, 10.0) for s in range(0, 40, 10)]}
    return stored_run(store, scalars, config=cfg, label=label)


def exploding_runs(store, **broken):
    return {"no clipping": clip_run(store, "no clipping", "none", 1.0, True, broken.get("no clipping", True)),
            "clip 1": clip_run(store, "clip 1", "norm", 1.0, True, broken.get("clip 1", True)),
            "clip 0.25": clip_run(store, "clip 0.25", "norm", 0.25, False, broken.get("clip 0.25", True))}


def test_exploding_verdict_passes_honest_clipping(store):
    verdict = v.exploding(store, exploding_runs(store), EXPLODE_EXPECT)
    assert verdict.showed, verdict.summary
    assert verdict.figures["clip 0.25: median step length"] == pytest.approx(0.825)
    assert verdict.figures["clip 0.25: lr x threshold / (1 - momentum)"] == pytest.approx(7.5)


def test_a_clip_that_does_nothing_fails_the_verdict(store):
    runs = exploding_runs(store, **{"clip 0.25": False})
    assert not clipped_as_set(store, runs["clip 0.25"]).showed
    assert not v.exploding(store, runs, EXPLODE_EXPECT).showed


def test_an_unclipped_run_that_silently_clipped_fails_the_verdict(store):
    # it blew up as clip 1 did, so blow-ups alone could not tell them apart
    runs = exploding_runs(store, **{"no clipping": False})
    assert not clipped_as_set(store, runs["no clipping"]).showed
    assert not v.exploding(store, runs, EXPLODE_EXPECT).showed


# ---- vanishing gradients --------------------------------------------------------------------


def geometric(T, per_step):
    """||dL_T/dh_t|| for t = 1..T falling per_step orders of magnitude per step back from T."""
    return 10.0 ** (-per_step * np.arange(T)[::-1])


def cut(T):
    """A cut recurrence: the last position's loss reaches h_T only."""
    a = np.zeros(T)
    a[-1] = 1.0
    return a


def test_log_decay_counts_orders_and_refuses_a_cut_recurrence():
    assert log_decay(geometric(64, 0.15)) == pytest.approx(0.15 * 63)
    assert math.isnan(log_decay(cut(64)))  # not 38 orders of magnitude: nothing passed back at all
    far_underflow = geometric(64, 0.15)
    far_underflow[:10] = 0.0  # float32 underflow at the far end after a gradual decay: the slope is extrapolated
    assert log_decay(far_underflow) == pytest.approx(0.15 * 63)
    assert log_decay(np.ones(64)) == 0.0


def reach_run(store, label, last, summed, radius=(0.6, 2.6), sat=0.45, T=64, ppl=4.3):
    steps = range(0, 500, 50)
    arrays = {"reach/last/l0": [(s, last) for s in steps], "reach/sum/l0": [(s, summed) for s in steps]}
    scalars = {"spectrum/radius/l0/h": [(s, radius[0] + (radius[1] - radius[0]) * s / 450) for s in steps],
               "hidden/saturation/l0": [(s, sat) for s in steps], "val/ppl": [(499, ppl)]}
    return stored_run(store, scalars, arrays, config=RunConfig(seq_len=T, cell="rnn_tanh"), label=label)


def test_vanished_needs_a_gradual_decay(store):
    assert vanished(store, reach_run(store, "a", geometric(64, 0.15), np.ones(64))).showed
    assert not vanished(store, reach_run(store, "b", cut(64), np.ones(64))).showed
    assert not vanished(store, reach_run(store, "c", np.ones(64), np.ones(64))).showed  # a constant series


def vanishing_runs(store, last=None, summed=None, radius=(0.6, 2.6)):
    runs = {}
    for T in (16, 32, 64):
        a = geometric(T, 0.15) if last is None else last(T)
        b = np.linspace(2.0, 1.0, T) if summed is None else summed(T)
        runs[f"seq {T}"] = reach_run(store, f"seq {T}", a, b, radius, T=T)
    return runs


VANISH_EXPECT = {"seq 32": True, "seq 64": True}


def test_vanishing_verdict_passes_a_tanh_rnn_and_fails_broken_runs(store):
    assert v.vanishing(store, vanishing_runs(store), VANISH_EXPECT).showed
    assert not v.vanishing(store, vanishing_runs(store, last=cut), VANISH_EXPECT).showed  # recurrence cut
    # a probe that fed the last position's loss into the summed series too: the summed loss must not decay
    assert not v.vanishing(store, vanishing_runs(store, summed=lambda T: geometric(T, 0.15)), VANISH_EXPECT).showed
    # W_h's radius stayed below 1: then W_h alone explains the decay and the lesson's text would be wrong
    assert not v.vanishing(store, vanishing_runs(store, radius=(0.6, 0.7)), VANISH_EXPECT).showed


# ---- init spectrum ----------------------------------------------------------------------------


def circle(n, radius, rng):
    """n eigenvalues as (n, 2): on the circle of this radius, or (radius None) inside the unit disc."""
    angle = rng.uniform(0, 2 * np.pi, n)
    r = np.full(n, radius) if radius else 0.58 * np.sqrt(rng.uniform(0, 1, n))
    return np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)


def spectrum_run(store, label, eig, reach):
    cfg = RunConfig(cell="rnn_tanh", warmup_steps=100, max_steps=300)
    scalars = {"reach/steps/l0": list(zip(range(0, 300, 20), reach))}
    return stored_run(store, scalars, {"spectrum/eig/l0/h": [(0, eig)]}, config=cfg, label=label)


INIT_EXPECT = {"orthogonal": True, "default": False, "xavier": False}


def init_runs(store, orthogonal_eig=None, orthogonal_reach=None):
    rng = np.random.default_rng(0)
    ortho_eig = circle(64, 1.0, rng) if orthogonal_eig is None else orthogonal_eig
    return {"default": spectrum_run(store, "default", circle(64, None, rng), [8, 9, 9, 10] + [9] * 11),
            "xavier": spectrum_run(store, "xavier", circle(64, None, rng) * 1.8, [63, 17, 14, 17] + [5] * 11),
            "orthogonal": spectrum_run(store, "orthogonal", ortho_eig,
                                       orthogonal_reach or [63, 20, 19, 21] + [4] * 11)}


def test_init_spectrum_verdict_and_an_init_that_did_not_happen(store):
    assert v.init_spectrum(store, init_runs(store), INIT_EXPECT).showed
    rng = np.random.default_rng(1)
    # "orthogonal" that left PyTorch's default in place: eigenvalues inside the disc, reach like the default's
    broken = init_runs(store, circle(64, None, rng), [8, 9, 9, 10] + [9] * 11)
    assert not v.init_spectrum(store, broken, INIT_EXPECT).showed
    # on the circle, but at init its gradient reaches no further than the default's: the reach claim fails
    assert not v.init_spectrum(store, init_runs(store, orthogonal_reach=[12, 20, 19, 21] + [4] * 11), INIT_EXPECT).showed


# ---- long-range tasks ---------------------------------------------------------------------------

ADDING = {"baselines": {"mean_mse": 1 / 6}}


def adding_run(store, label, curve):
    """Validation MSE every 100 steps."""
    return stored_run(store, {"val/loss": [(100 * (i + 1), m) for i, m in enumerate(curve)]}, summary=ADDING,
                      label=label)


FLAT = [0.166] * 10
TANH_EXPECT = {"tanh": False, "tanh, orthogonal init": False, "ReLU, identity init": True}


def test_tanh_relu_verdict_needs_the_identity_run_first(store):
    def runs(irnn, relu):
        return {"tanh": adding_run(store, "tanh", FLAT), "tanh, orthogonal init": adding_run(store, "t-o", FLAT),
                "ReLU": adding_run(store, "ReLU", relu), "ReLU, identity init": adding_run(store, "IRNN", irnn)}

    early, late = [0.16, 0.1, 0.05, 0.02] + [0.01] * 6, [0.166] * 6 + [0.1, 0.05, 0.03, 0.02]
    assert v.tanh_relu(store, runs(early, late), TANH_EXPECT).showed
    assert v.tanh_relu(store, runs(early, FLAT), TANH_EXPECT).showed
    assert not v.tanh_relu(store, runs(late, early), TANH_EXPECT).showed  # default init got there first
    assert not v.tanh_relu(store, runs(FLAT, FLAT), TANH_EXPECT).showed  # constant: nothing learned
    # a cut recurrence cannot add two numbers that arrive apart: it sits on the baseline
    gated = {"tanh RNN": adding_run(store, "tanh RNN", FLAT), "GRU": adding_run(store, "GRU", FLAT),
             "LSTM": adding_run(store, "LSTM", early)}
    assert not v.long_range(store, gated, {"tanh RNN": False, "GRU": True, "LSTM": True}).showed


# ---- packing ------------------------------------------------------------------------------------


def lines_run(store, label, reported, real, val_real):
    scalars = {"train/loss": [(s, reported) for s in range(8)], "train/real_loss": [(s, real) for s in range(8)],
               "train/pad_share": [(s, 0.31) for s in range(8)], "val/real_loss": [(7, val_real)],
               "time/step_ms": [(s, 10.0) for s in range(8)]}
    return stored_run(store, scalars, label=label)


def test_packing_verdict_and_broken_masks(store):
    expect = {"padded, naive": True}

    def runs(masked=(1.68, 1.68, 1.83), naive=(1.14, 1.65, 1.82)):
        return {"packed": lines_run(store, "packed", 1.68, 1.68, 1.83),
                "padded + mask": lines_run(store, "padded + mask", *masked),
                "padded, naive": lines_run(store, "padded, naive", *naive)}

    assert v.packing(store, runs(), expect).showed
    # a mask that lets pads into the loss: the masked run's loss no longer equals the packed run's
    assert not v.packing(store, runs(masked=(1.14, 1.68, 1.83)), expect).showed
    # naive padding really better on real tokens (by more than a tenth of what it claims): the lesson would be wrong
    assert not v.packing(store, runs(naive=(1.14, 1.65, 1.70)), expect).showed
    # no flattery: the naive run reports its real-token loss (pads not counted after all)
    assert not v.packing(store, runs(naive=(1.65, 1.65, 1.82)), expect).showed


# ---- epoch jumps --------------------------------------------------------------------------------


def window_run(store, points):
    hr = [(s, 0.1) for s, _ in points]
    return stored_run(store, {"window/loss": points, "window/hr@10": hr}, summary={"batches_per_epoch": 40})


def test_epoch_jumps_tells_a_sawtooth_from_a_decline_a_constant_and_a_ripple(store):
    steps = [10 * k for k in range(1, 25)]  # four evaluations per epoch of 40 steps

    def saw(drop):  # an evaluation at step s closes epoch (s - 1) // 40 at position (s - 1) % 40 + 1
        return [(s, 3.0 - drop * ((s - 1) // 40) + drop / 50 * ((s - 1) % 40 + 1)) for s in steps]

    assert epoch_jumps(store, window_run(store, saw(0.5))).showed
    assert not epoch_jumps(store, window_run(store, [(s, 3.0 - 0.01 * s) for s in steps])).showed
    assert not epoch_jumps(store, window_run(store, [(s, 3.0) for s in steps])).showed
    # the same sawtooth a thousand times smaller: drops of 5e-4 nats are below what the chart shows
    tiny = epoch_jumps(store, window_run(store, saw(5e-4)))
    assert not tiny.showed and -tiny.figures["loss change at epoch start"] < JUMP_FLOOR


# ---- plateau stall ------------------------------------------------------------------------------


def test_stalled_reads_the_stored_lr(store):
    cfg = RunConfig(schedule="plateau", min_lr=1e-5, lr=1e-3, max_steps=100)
    early = stored_run(store, {"lr": [(s, 1e-3 if s < 30 else 1e-5) for s in range(100)]}, config=cfg)
    late = stored_run(store, {"lr": [(s, 1e-3 if s < 80 else 1e-5) for s in range(100)]}, config=cfg)
    constant = stored_run(store, {"lr": [(s, 1e-3) for s in range(100)]}, config=cfg)
    assert stalled(store, early).showed and stalled(store, early).figures["reached min_lr at step"] == 30
    assert not stalled(store, late).showed and not stalled(store, constant).showed
