"""The dashboard's default smoothing tells the truth early in training: on the default run it lags
the loss's local level by less than 5 % (in perplexity) at step 100, where the old fixed EMA
(beta 0.98, baked in at record time) read 30-50 % high."""

import math

import numpy as np
import pytest

from app.charts import SMOOTHING
from app.controls import UI_DEFAULT
from engine.smoothing import smooth
from engine.store import RunStore
from engine.trainer import LOSS, Trainer, run_to_end

AT = 100  # the step the lag is judged at
HALF = 10  # the local level: the mean loss of the 21 batches centred on it (no lag for a linear trend)


@pytest.fixture(scope="module")
def default_runs():
    """The dashboard's default run (an LSTM 128 on the embedded prose), two seeds, 111 steps each."""
    store = RunStore()
    out = []
    for seed in (0, 1):
        cfg = UI_DEFAULT.replace(max_steps=AT + HALF + 1, seed=seed)
        run_id = store.create_run(cfg.to_dict())
        assert run_to_end(Trainer(cfg, store, run_id)) == "done"
        out.append(store.scalars(run_id, LOSS.name))  # every stored per-batch loss
    return out


def lag(steps, loss, beta) -> float:
    """Relative error of the smoothed perplexity at step AT against the local level there."""
    level = math.exp(loss[AT - HALF : AT + HALF + 1].mean())
    return math.exp(smooth(steps, loss, beta)[AT]) / level - 1


def test_default_smoothing_lags_under_5_percent_at_step_100(default_runs):
    for steps, loss in default_runs:
        assert abs(lag(steps, loss, SMOOTHING)) < 0.05, lag(steps, loss, SMOOTHING)


def test_the_old_fixed_average_would_fail_the_same_check(default_runs):
    """The check can fail: beta 0.98 (the average the trainer used to record) lags far more."""
    assert all(lag(s, v, 0.98) > 0.15 for s, v in default_runs)


def test_smoothing_a_thinned_series_of_bucket_means_matches_the_full_one(default_runs):
    steps, loss = default_runs[0]
    n = len(loss) // 3 * 3
    full = smooth(steps[:n], loss[:n], SMOOTHING)
    thin = smooth(steps[2:n:3], loss[:n].reshape(-1, 3).mean(axis=1), SMOOTHING)
    assert np.max(np.abs(full[2:n:3][5:] - thin[5:])) < 0.05
