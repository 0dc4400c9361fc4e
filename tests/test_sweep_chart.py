"""The stability map's builder: cells gather the right runs, medians and spreads match numpy, diverged runs are marked."""

import math

import numpy as np
import pytest
from sweep_testkit import fill_sweep

from app.charts.sweep import cell_text, final_value, stability_cells, stability_map, varying
from engine.distributed.grid import parse_grid
from engine.store import RunStore

GRID = parse_grid(["lr=1e-3,1e-2,1e-1", "clip_value=0.5,2", "cell=gru,lstm"])


def outcome(cfg):
    """Perplexity grows with lr and shrinks with clipping; lr=0.1 without much clipping diverges on LSTM."""
    if cfg.lr == 0.1 and cfg.clip_value == 2.0 and cfg.cell == "lstm":
        return "diverged", None
    return "done", 10 * cfg.lr * 100 / cfg.clip_value + cfg.seed + (cfg.cell == "lstm")


@pytest.fixture
def infos(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    fill_sweep(store, "sweep-t", GRID, [0, 1, 2], outcome)
    yield store.group_runs("sweep-t")
    store.close()


def test_varying_settings_come_in_declaration_order(infos):
    assert varying(infos) == ["cell", "lr", "clip_value", "seed"]


def test_each_cell_gathers_the_other_settings_and_seeds_as_median_and_spread(infos):
    cells = stability_cells(infos, "lr", "clip_value", "ppl")
    assert [(c.x, c.y) for c in cells] == [(lr, cv) for cv in (0.5, 2.0) for lr in (1e-3, 1e-2, 1e-1)]
    for c in cells:
        runs = [i for i in infos if i.config["lr"] == c.x and i.config["clip_value"] == c.y]
        assert sorted(c.run_ids) == sorted(i.id for i in runs) and len(runs) == 6  # 2 cells x 3 seeds
        values = [outcome(_cfg(i))[1] for i in runs if outcome(_cfg(i))[0] == "done"]
        assert c.median == pytest.approx(np.median(values))
        assert c.spread == pytest.approx((max(values) - min(values)) / 2)
    crossed = [c for c in cells if c.diverged]
    assert [(c.x, c.y, c.diverged, len(c.values)) for c in crossed] == [(0.1, 2.0, 3, 3)]
    assert "✕ 3/6 diverged" in cell_text(crossed[0])


def test_the_map_colours_by_log_median_and_marks_diverged_cells(infos):
    cells = stability_cells(infos, "lr", "clip_value", "ppl")
    fig = stability_map(cells, "lr", "clip_value", "ppl").to_dict()
    heat, targets = fig["data"]
    assert list(heat["x"]) == ["0.001", "0.01", "0.1"] and list(heat["y"]) == ["0.5", "2.0"]
    z = np.array(heat["z"], dtype=float)
    assert z == pytest.approx(np.log10([[c.median for c in cells[:3]], [c.median for c in cells[3:]]]))
    assert list(targets["customdata"]) == list(range(6))  # a click names its cell
    frames = fig["layout"]["shapes"]  # one red frame, around lr=0.1 (x index 2), clip_value=2 (y index 1)
    assert [(round(f["x0"] + 0.47), round(f["y0"] + 0.45)) for f in frames] == [(2, 1)]


def test_a_cell_whose_runs_all_diverged_is_grey_and_says_so(tmp_path):
    """Diverged: a NaN ended the run, or it ended with a perplexity past the float range (inf)."""
    store = RunStore(tmp_path / "runs.sqlite")
    ends = {1e-3: ("done", 20.0), 10.0: ("diverged", None), 100.0: ("done", math.inf)}
    fill_sweep(store, "sweep-d", parse_grid(["lr=1e-3,10,100"]), [0], lambda c: ends[c.lr])
    cells = stability_cells(store.group_runs("sweep-d"), "lr", "seed", "ppl")
    heat = stability_map(cells, "lr", "seed", "ppl").to_dict()["data"][0]
    assert heat["z"][0][0] == pytest.approx(math.log10(20))
    for j in (1, 2):
        assert math.isnan(heat["z"][0][j]) and "✕ diverged" in heat["text"][0][j]
    store.close()


def test_the_loss_share_of_the_baseline_reads_the_task_baseline(infos):
    info = infos[0]
    share = final_value(info, "share")
    assert share == pytest.approx(info.summary["final"]["val/loss"] / math.log(100))


def _cfg(info):
    from engine.config import RunConfig

    return RunConfig.from_dict(info.config)
