"""The pure figure builders in app/charts.py, on synthetic runs: real properties, no browser."""

import math
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from app import charts
from app.charts import RunSeries
from engine.smoothing import smooth

EDGES = np.linspace(-8, 2, 41)  # log10 |g| bins, as the probe's GRAD_HIST_EDGES would be
V = 65


def stroke_steps(path: str, top: float) -> list[int]:
    """The steps of a strokes path ('M100,0V0.04M200,0V0.04'), each checked to rise from 0 to `top`."""
    found = re.findall(r"M([-\d.e]+),0V([-\d.e]+)", path)
    assert "".join(f"M{x},0V{y}" for x, y in found) == path  # nothing else in the path
    assert all(float(y) == top for _, y in found)
    return [int(float(x)) for x, _ in found]


def make_run(run_id="a", steps=2000, probe_every=100, seed=0, cell="rnn", loss_kind="ce", max_points=None):
    """A run with every series name of docs/contracts.md, shaped like a real one."""
    rng = np.random.default_rng(seed)
    x = np.arange(steps)
    loss = np.log(V) * np.exp(-x / (steps / 3)) + 1.2 + 0.1 * rng.standard_normal(steps)
    norm = np.exp(rng.standard_normal(steps))
    clip = 1.5
    scalars = {
        "train/loss": (x, loss),
        "train/ppl": (x, np.exp(loss)),
        "lr": (x, np.where(x < steps // 2, 1e-2, 1e-3)),
        "grad/norm": (x, norm),
        "grad/norm_clipped": (x, np.minimum(norm, clip)),
        "grad/clipped": (x, (norm > clip).astype(float)),
    }
    means = {"train/loss": (x, loss), "grad/norm": (x, norm)}  # what the moving averages are computed from
    if max_points:  # as the store hands them out
        scalars = {k: charts.minmax_downsample(*v, max_points) for k, v in scalars.items()}
    ev = np.arange(0, steps, max(1, steps // 20))
    scalars |= {
        "val/loss": (ev, loss[ev] + 0.05),
        "val/ppl": (ev, np.exp(loss[ev] + 0.05)),
        "plateau/best": (ev, np.minimum.accumulate(loss[ev])),
        "plateau/bad": (ev, (np.arange(len(ev)) % 4).astype(float)),
    }
    ps = np.arange(0, steps, probe_every)
    gates = {"rnn": ["h"], "gru": ["r", "z", "n"], "lstm": ["i", "f", "g", "o"]}[cell]
    arrays = {}
    H, T = 16, 50
    for g in gates:
        W = [rng.standard_normal((H, H)) / math.sqrt(H) * (0.8 + k / len(ps)) for k in range(len(ps))]
        ev_ = [np.linalg.eigvals(w) for w in W]
        arrays[f"spectrum/eig/l0/{g}"] = (ps, [np.stack([e.real, e.imag], 1) for e in ev_])
        arrays[f"spectrum/sv/l0/{g}"] = (ps, [np.linalg.svd(w, compute_uv=False) for w in W])
        scalars[f"spectrum/radius/l0/{g}"] = (ps, np.array([np.abs(e).max() for e in ev_]))
        scalars[f"spectrum/sigma_max/l0/{g}"] = (ps, np.array([np.linalg.norm(w, 2) for w in W]))
    t = np.arange(1, T + 1)
    arrays["jacobian/sv/l0"] = (ps, [np.sort(rng.uniform(0, 1.2, 8))[::-1] for _ in ps])
    scalars["jacobian/sigma_max/l0"] = (ps, np.array([v[0] for v in arrays["jacobian/sv/l0"][1]]))
    scalars["jacobian/radius/l0"] = (ps, np.linspace(0.95, 0.8, len(ps)))
    arrays["reach/last/l0"] = (ps, [0.9 ** (T - t) * (1 + k) for k in range(len(ps))])
    arrays["reach/sum/l0"] = (ps, [np.cumsum(0.9 ** (T - t))[::-1] for _ in ps])
    arrays["grad_hist/cells.0.weight_hh_l0"] = (ps, [rng.integers(0, 50, len(EDGES) - 1) for _ in ps])
    params = ["embed.weight", "cells.0.weight_hh_l0", "head.weight"]
    for p in params:
        scalars[f"weight_norm/{p}"] = (ps, 5 + 0.001 * ps)
        scalars[f"update_ratio/{p}"] = (ps, 1e-3 * np.exp(-ps / steps))
    scalars |= {
        "update_ratio": (ps, 1e-3 * np.exp(-ps / steps)),
        "hidden/saturation/l0": (ps, np.linspace(0, 0.6, len(ps))),
        "output/entropy": (ps, np.linspace(np.log(V), 1.3, len(ps))),
        "output/logit_scale": (ps, np.linspace(0.1, 3, len(ps))),
        "reach/ratio/l0": (ps, np.full(len(ps), 0.9**49)),
    }
    if loss_kind == "mse":
        scalars = {k: v for k, v in scalars.items() if "ppl" not in k}
        baselines = {"mean_mse": 1 / 6}
    else:
        baselines = {"uniform_ppl": float(V), "uniform_loss": math.log(V), "unigram_ppl": 30.5}
    events = [(steps // 2, "lr_cut", "plateau: lr 1e-2 -> 1e-3"), (steps // 4, "lr_change", "lr set to 1e-2")]
    return RunSeries(
        run_id=run_id,
        label=f"run {run_id}",
        scalars=scalars,
        means=means,
        arrays=arrays,
        events=events,
        baselines=baselines,
        loss_kind=loss_kind,
        epoch_steps=list(range(0, steps, steps // 4)),
        eval_steps=list(ev),
        clip=clip,
        clip_history=[(0, clip)],
        cell={"rnn": "rnn_tanh"}.get(cell, cell),
    )


def group_figures(runs):
    """Every builder over a group of runs (the heatmaps from the first run's arrays)."""
    hist_steps, hist = runs[0].arrays["grad_hist/cells.0.weight_hh_l0"]
    reach_steps, reach = runs[0].arrays["reach/last/l0"]
    return {
        "perplexity": charts.perplexity_figure(runs),
        "loss": charts.loss_figure(runs),
        "lr": charts.lr_figure(runs),
        "grad_norm": charts.grad_norm_figure(runs),
        "grad_hist": charts.grad_histogram_figure(hist_steps, np.stack(hist), EDGES, "cells.0.weight_hh_l0"),
        "grad_overlay": charts.grad_histogram_overlay(runs, "cells.0.weight_hh_l0", EDGES),
        "eigen": charts.eigenvalue_figure(runs, 0, "h"),
        "spectrum": charts.spectrum_over_time_figure(runs, 0, "h"),
        "jacobian": charts.jacobian_figure(runs, 0),
        "reach_heatmap": charts.reach_heatmap_figure(reach_steps, reach),
        "reach_profile": charts.reach_profile_figure(runs),
        "saturation": charts.saturation_figure(runs),
        "logits": charts.logit_figure(runs),
        "weights": charts.weights_figure(runs),
        "difference": charts.difference_figure(runs, runs[0].run_id, "train/loss"),
    }


@pytest.fixture(scope="module")
def pair():
    return [make_run("a", seed=0), make_run("b", seed=1)]


def test_minmax_downsample_keeps_ends_spikes_and_order():
    x = np.arange(100_000)
    y = np.sin(x / 1000.0)
    y[31_234], y[77_777] = 50.0, -50.0
    dx, dy = charts.minmax_downsample(x, y, 1000)
    assert len(dx) <= 1000
    assert dx[0] == 0 and dx[-1] == 99_999
    assert 31_234 in dx and 77_777 in dx
    assert np.all(np.diff(dx) > 0)
    assert np.array_equal(dy, y[dx])
    small = charts.minmax_downsample(x[:10], y[:10])
    assert np.array_equal(small[0], x[:10])


def test_smoothing_is_the_debiased_recurrence_per_step():
    steps, v = np.array([0, 1, 2, 3]), np.array([1.0, 2.0, np.nan, 4.0])
    out = smooth(steps, v, 0.5)
    # direct: weights 0.5^age over the finite points so far, normalised
    assert out[0] == 1.0 and out[1] == pytest.approx((0.5 * 1 + 2) / 1.5)
    assert out[2] == out[1]  # a NaN keeps the average
    # a value stands for the steps since the last finite one: the NaN step counts as the next value, 4
    w = 0.5 ** np.array([3, 2, 1, 0])  # kernel weights by age at step 3
    assert out[3] == pytest.approx((w * [1, 2, 4, 4]).sum() / w.sum())
    # decay per step, not per point: a series thinned to bucket means smooths like the full one
    x = np.arange(400)
    y = np.sin(x / 9.0) + 2 + 0.3 * np.random.default_rng(0).standard_normal(400)
    full = smooth(x, y, 0.9)
    thin = smooth(x[3::4], y.reshape(-1, 4).mean(axis=1), 0.9)  # each point: the mean of the 4 steps it ends
    assert np.max(np.abs(full[3::4][10:] - thin[10:])) < 0.05 * np.ptp(full)
    per_point = smooth(np.arange(100), y.reshape(-1, 4).mean(axis=1), 0.9)  # decaying per point instead
    assert np.max(np.abs(full[3::4][10:] - per_point[10:])) > 0.2 * np.ptp(full)


def test_every_figure_is_svg_titled_and_labelled(pair):
    for name, fig in group_figures(pair).items():
        assert fig.data, name
        for trace in fig.data:
            assert isinstance(trace, go.Scatter | go.Heatmap), (name, type(trace))
        assert fig.layout.title.text, name
        assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text, name
        assert fig.layout.height and fig.layout.margin.t is not None, name
        assert isinstance(fig.layout.uirevision, str) and fig.layout.uirevision, name
        assert "waiting" not in str([a.text for a in fig.layout.annotations]), name
        fig.to_json()  # serialises as streamlit will send it


def test_perplexity_has_three_traces_per_run_and_baselines(pair):
    fig = charts.perplexity_figure(pair)
    assert len(fig.data) == 3 * len(pair)
    assert [t.legendgroup for t in fig.data] == ["a"] * 3 + ["b"] * 3
    assert fig.data[0].line.color != fig.data[3].line.color
    assert fig.layout.yaxis.type == "log"
    lines = {a.text: a.y for a in fig.layout.annotations}
    assert lines["uniform |V| = 65"] == pytest.approx(math.log10(65))  # annotations sit in log10 units
    assert lines["unigram = 30.5"] == pytest.approx(math.log10(30.5))
    ys = [s.y0 for s in fig.layout.shapes if s.xref == "paper"]
    assert sorted(ys) == [30.5, pytest.approx(65)]  # shapes sit in data units; exp(ln 65) drawn once
    (epochs,) = [s for s in fig.layout.shapes if s.type == "path" and s.line.dash == "dot"]
    assert stroke_steps(epochs.path, top=1) == pair[0].epoch_steps[1:]  # epochs 2-4 start inside the run
    (ticks,) = [s for s in fig.layout.shapes if s.type == "path" and s.line.dash != "dot"]
    assert stroke_steps(ticks.path, top=0.04) == pair[0].eval_steps
    assert "lr↓" in [a.text for a in fig.layout.annotations]


def test_mse_task_shows_loss_against_predict_the_mean():
    fig = charts.perplexity_figure([make_run(loss_kind="mse")])
    assert fig.layout.title.text == "Mean squared error"
    assert fig.layout.yaxis.type == "log"  # the perplexity chart's log view carries over
    (shape,) = [s for s in fig.layout.shapes if s.xref == "paper"]
    assert shape.y0 == pytest.approx(1 / 6)
    (label,) = [a for a in fig.layout.annotations if a.text.startswith("predict the mean")]
    assert label.y == pytest.approx(math.log10(1 / 6))
    linear = charts.loss_figure([make_run(loss_kind="mse")])
    assert linear.layout.yaxis.type == "linear"
    assert [a.y for a in linear.layout.annotations if a.text.startswith("predict")] == [pytest.approx(1 / 6)]


def test_grad_norm_marks_clipping_and_threshold(pair):
    fig = charts.grad_norm_figure(pair[:1])
    before, after, fired, threshold = fig.data
    assert before.name.endswith("before clip") and after.name.endswith("after clip")
    assert fired.mode == "markers" and len(fired.x) > 0
    assert fig.layout.yaxis.type == "log"
    assert threshold.name == "clip threshold" and set(threshold.y) == {1.5}
    assert (threshold.x[0], threshold.x[-1]) == (0, 1999)  # the whole run


def threshold_at(trace, step):
    """The threshold a drawn step function shows at `step` (None: no line there)."""
    x, y = list(trace.x), list(trace.y)
    found = None
    for i in range(len(x) - 1):
        if y[i] is not None and y[i + 1] is not None and x[i] <= step <= x[i + 1] and x[i] < x[i + 1]:
            found = y[i]
    return found


def test_clip_threshold_is_a_step_function_of_the_live_changes():
    """Config clip 1.0, then live changes: 5 at step 500, off at 1200, 2 at 1500: the line follows each one."""
    run = make_run("a")
    run.clip, run.clip_history = 2.0, [(0, 1.0), (500, 5.0), (1200, None), (1500, 2.0)]
    (line,) = [t for t in charts.grad_norm_figure([run]).data if t.name == "clip threshold"]
    assert line.line.dash == "longdash"

    def direct(step):  # the oracle: the threshold in force at `step`
        return [v for s, v in run.clip_history if s <= step][-1]

    for step in (0, 250, 499, 501, 1000, 1199, 1201, 1400, 1499, 1501, 1999):
        assert threshold_at(line, step) == direct(step), step
    # not today's value back-dated: before step 500 the line sits at 1.0, not at the final 2.0
    assert threshold_at(line, 100) == 1.0 and run.clip == 2.0
    # a window that starts inside a segment starts the line there
    windowed = [t for t in charts.grad_norm_figure([run], last_n=300).data if t.name == "clip threshold"][0]
    assert min(x for x in windowed.x if x is not None) >= 1999 - 300


def test_clip_lines_of_several_runs_are_legend_entries_not_labels(pair):
    a, b = make_run("a"), make_run("b", seed=1)
    b.clip_history = [(0, 1.0), (800, 3.0)]
    fig = charts.grad_norm_figure([a, b])
    lines = {t.name: t for t in fig.data if t.name.endswith("clip threshold")}
    assert set(lines) == {"run a clip threshold", "run b clip threshold"}
    (b_before,) = [t for t in fig.data if t.name == "run b before clip"]
    assert lines["run b clip threshold"].line.color == b_before.line.color  # in its run's colour
    assert threshold_at(lines["run b clip threshold"], 700) == 1.0 and threshold_at(lines["run b clip threshold"], 900) == 3.0
    assert not [an for an in fig.layout.annotations if "clip" in (an.text or "")]  # no label to overlap another


def test_lr_figure_has_plateau_panel_and_cut_marker(pair):
    fig = charts.lr_figure(pair[:1])
    names = [t.name for t in fig.data]
    assert names == ["run a", "run a plateau cut", "run a lr edit", "run a plateau"]
    cut = fig.data[1]
    assert cut.y[0] == pytest.approx(1e-3)
    assert fig.data[3].yaxis == "y2" and fig.layout.yaxis2.title.text


def test_eigenvalue_figure_unit_circle_equal_aspect_and_radius(pair):
    fig = charts.eigenvalue_figure(pair, 0, "h", trail=3)
    (circle,) = [s for s in fig.layout.shapes if s.type == "circle"]
    assert (circle.x0, circle.y0, circle.x1, circle.y1) == (-1, -1, 1, 1)
    assert circle.line.dash == "dash"
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1
    steps, eigs = pair[0].arrays["spectrum/eig/l0/h"]
    rho = np.hypot(*eigs[-1].T).max()
    assert f"{rho:.3f}" in fig.layout.title.text and f"step {steps[-1]}" in fig.layout.title.text
    assert len(fig.data) == 2 * 4  # 3 trail + 1 current per run
    all_rho = max(np.hypot(*e.T).max() for r in pair for e in r.arrays["spectrum/eig/l0/h"][1][-4:])
    lim = max(1.3, 1.1 * all_rho)
    assert fig.layout.xaxis.range == pytest.approx((-lim, lim))
    assert fig.layout.yaxis.range == pytest.approx((-lim, lim))
    first = charts.eigenvalue_figure(pair, 0, "h", step_index=0)
    assert len(first.data) == 2 and "step 0" in first.layout.title.text


def test_spectrum_over_time_draws_pascanus_line_for_a_vanilla_rnn_only(pair):
    fig = charts.spectrum_over_time_figure(pair, 0, "h")
    assert len(fig.data) == 4
    assert [s.y0 for s in fig.layout.shapes] == [1.0]
    assert "Pascanu" in fig.layout.title.subtitle.text and "vanilla RNN" in fig.layout.title.subtitle.text
    lstm = [make_run("a", cell="lstm")]
    for gate in "ifgo":
        gated = charts.spectrum_over_time_figure(lstm, 0, gate)
        assert len(gated.data) == 2
        assert not gated.layout.shapes and not gated.layout.annotations  # no vanilla bound on a gate
        assert "no bound drawn" in gated.layout.title.subtitle.text
        # the unit circle stays on a gate's eigenvalue plot as a scale, and says it bounds nothing there
        assert "for scale only" in charts.eigenvalue_figure(lstm, 0, gate).layout.title.subtitle.text
    assert "linear RNN" in charts.eigenvalue_figure(pair, 0, "h").layout.title.subtitle.text


def test_jacobian_chart_has_the_product_bound_for_every_cell():
    for cell in ("rnn", "gru", "lstm"):
        fig = charts.jacobian_figure([make_run("a", cell=cell)], 0)
        main = [t for t in fig.data if t.showlegend is not False]
        assert [t.name for t in main] == ["run a σ_max(J)", "run a ρ(mean J)"]
        steps, sv = make_run("a", cell=cell).arrays["jacobian/sv/l0"]
        faint = [t for t in fig.data if t.showlegend is False]
        assert len(faint) == 7 and np.allclose(faint[0].y, [v[1] for v in sv])  # σ_2 over training
        assert [s.y0 for s in fig.layout.shapes] == [1.0]
        assert "any cell" in fig.layout.title.subtitle.text
    two = charts.jacobian_figure([make_run("a"), make_run("b", seed=1)], 0)
    assert len(two.data) == 4  # σ_max and ρ per run: the faint lines would crowd a comparison


def test_spectrum_axis_turns_log_when_values_span_orders_of_magnitude():
    """The exploding lesson's chart: one run's σ_max reaches 7e4 while two stay near 1; on a linear axis
    the two lie flat at the floor."""
    runs = [make_run("a"), make_run("b", seed=1), make_run("c", seed=2)]
    x, _ = runs[2].scalars["spectrum/sigma_max/l0/h"]
    runs[2].scalars["spectrum/sigma_max/l0/h"] = (x, np.geomspace(1.0, 7e4, len(x)))
    fig = charts.spectrum_over_time_figure(runs, 0, "h")
    assert fig.layout.yaxis.type == "log"
    calm = charts.spectrum_over_time_figure(runs[:2], 0, "h")
    assert calm.layout.yaxis.type == "linear"  # values near 1: a linear axis reads best


def test_grad_histogram_heatmap_is_log1p_counts():
    steps = np.array([0, 10, 20])
    counts = np.arange(3 * (len(EDGES) - 1)).reshape(3, -1)
    fig = charts.grad_histogram_figure(steps, counts, EDGES, "cells.0.weight_hh_l0")
    (hm,) = fig.data
    assert isinstance(hm, go.Heatmap) and hm.colorscale[0][1] == "#440154"  # Viridis
    assert np.allclose(np.asarray(hm.z), np.log1p(counts).T)
    assert np.allclose(hm.y, (EDGES[1:] + EDGES[:-1]) / 2)
    assert hm.colorbar.title.text == "log(1+count)"


def test_grad_histogram_overlay_one_line_per_run_as_shares(pair):
    fig = charts.grad_histogram_overlay(pair, "cells.0.weight_hh_l0", EDGES)
    assert len(fig.data) == 2
    assert sum(fig.data[0].y) == pytest.approx(1.0)


def test_reach_heatmap_and_profile_run_in_one_direction(pair):
    """Both put the last position t = T (x = T − t = 0) on the right, earlier steps to the left."""
    steps, profiles = pair[0].arrays["reach/last/l0"]
    fig = charts.reach_heatmap_figure(steps, profiles)
    (hm,) = fig.data
    assert list(hm.x) == list(range(50)) and hm.colorbar.title.text
    assert np.allclose(np.asarray(hm.z), np.log10(np.stack(profiles))[:, ::-1])  # column k: t = T − k
    prof = charts.reach_profile_figure(pair)
    assert prof.layout.yaxis.type == "log"
    names = [t.name for t in prof.data]
    assert names[:3] == ["run a: loss at last position", "run a: summed loss", "run a: predicted ρ^(T−t)"]
    last = pair[0].arrays["reach/last/l0"][1][-1]
    trace = prof.data[0]
    assert trace.x[list(trace.y).index(last[-1])] == 0 and trace.x[0] == 49  # t = T at x = 0, t = 1 at x = 49
    for f in (fig, prof):
        assert f.layout.xaxis.autorange == "reversed" and "T − t" in f.layout.xaxis.title.text


def test_reach_prediction_equals_direct_computation():
    """Oracle: ||dL_T/dh_T|| * rho ** (T - t), rho the radius measured at the profile's step."""
    run = make_run("a")
    step, last = run.snapshot("reach/last/l0")
    steps, radius = run.scalars["jacobian/radius/l0"]
    rho = radius[list(steps).index(step)]
    T = len(last)
    want = [last[-1] * rho ** (T - t) for t in range(1, T + 1)]
    np.testing.assert_allclose(charts.predicted_reach(run, 0, step, last), want, rtol=1e-12)
    (drawn,) = [t for t in charts.reach_profile_figure([run]).data if "predicted" in t.name]
    np.testing.assert_allclose(drawn.y, want, rtol=1e-12)  # within 10^3 of the measured range here: all drawn
    assert list(drawn.x) == list(range(T))[::-1]
    assert "assumes" in charts.reach_profile_figure([run]).layout.title.subtitle.text
    # only where ||dL_T/dh_t|| is the whole state's gradient through this layer alone
    assert charts.predicted_reach(make_run("b", cell="lstm"), 0, step, last) is None
    two_layers = make_run("c")
    two_layers.arrays["reach/last/l1"] = two_layers.arrays["reach/last/l0"]
    assert charts.predicted_reach(two_layers, 0, step, last) is None
    assert "assumes" not in charts.reach_profile_figure([make_run("b", cell="lstm")]).layout.title.subtitle.text


def test_reference_labels_never_overlap():
    """A diverged run (loss 4.6 -> 45) squeezes 'uniform ln|V| = 4.17' and 'unigram = 3.42' a few pixels
    apart: as drawn, one label would sit on the other; they are stacked instead, on every chart kind."""
    from app.charts.labels import LABEL_PX, axis_pixels, label_boxes, stack

    run = make_run("a")
    x, loss = run.scalars["train/loss"]
    run.scalars["train/loss"] = (x, np.where(x > 1500, 45.0, loss))
    run.means["train/loss"] = run.scalars["train/loss"]
    fig = charts.loss_figure([run])
    lay, traces = fig.layout.to_plotly_json(), [t.to_plotly_json() for t in fig.data]
    refs = [a for a in lay["annotations"] if a.get("name") == "ref"]
    assert {a["text"] for a in refs} == {"uniform ln|V| = 4.17", "unigram = 3.42"}
    to_px = axis_pixels(lay, traces, "y")
    assert abs(to_px(refs[0]["y"]) - to_px(refs[1]["y"])) < LABEL_PX  # unmoved, they would overlap
    for f in (fig, charts.perplexity_figure([run])):
        for boxes in label_boxes(f).values():
            boxes.sort()
            for (_, t0), (b1, _) in zip(boxes, boxes[1:]):
                assert b1 >= t0, (f.layout.title.text, boxes)
    # three lines within a label's height of each other: stacked upwards, in their lines' order
    assert stack([10.0, 12.0, 14.0], 200) == [10.0, 10 + LABEL_PX + 1, 10 + 2 * (LABEL_PX + 1)]
    # near the top the stack is laid downwards from the plot's top edge instead
    top = stack([190.0, 192.0, 194.0], 200)
    assert top[-1] + LABEL_PX <= 200 and all(b - a >= LABEL_PX for a, b in zip(top, top[1:]))


def test_comparison_heatmaps_share_one_colour_range():
    a, b, c = make_run("a"), make_run("b", seed=1), make_run("c", seed=2)
    steps, profiles = c.arrays["reach/last/l0"]
    c.arrays["reach/last/l0"] = (steps, [p * 1e-9 for p in profiles])  # a run whose gradient vanished
    figs = charts.reach_heatmaps([a, b, c], 0)
    z = np.concatenate([np.log10(np.concatenate(r.arrays["reach/last/l0"][1])) for r in (a, b, c)])
    for _, fig in figs:
        (hm,) = fig.data
        assert (hm.zmin, hm.zmax) == (pytest.approx(z.min()), pytest.approx(z.max()))
    alone = charts.reach_heatmaps([a], 0)[0][1].data[0]
    assert alone.zmin is None and alone.zmax is None  # one run: its own range
    b.arrays["grad_hist/cells.0.weight_hh_l0"] = (b.arrays["grad_hist/cells.0.weight_hh_l0"][0],
                                                  [h * 100 for h in b.arrays["grad_hist/cells.0.weight_hh_l0"][1]])
    hists = charts.grad_histograms([a, b], "cells.0.weight_hh_l0", EDGES)
    top = max(np.log1p(np.stack(r.arrays["grad_hist/cells.0.weight_hh_l0"][1])).max() for r in (a, b))
    assert [(f.data[0].zmin, f.data[0].zmax) for _, f in hists] == [(0, pytest.approx(top))] * 2


def test_weights_figure_rule_of_thumb_line(pair):
    fig = charts.weights_figure(pair[:1])
    assert fig.layout.yaxis2.type == "log"
    (ref,) = [s for s in fig.layout.shapes if s.yref == "y2"]
    assert ref.y0 == 1e-3
    assert len(fig.data) == 3 * 2 + 1  # norm and ratio per parameter, the total ratio


def test_saturation_axis_is_zero_to_one(pair):
    fig = charts.saturation_figure(pair)
    assert len(fig.data) == 2 and tuple(fig.layout.yaxis.range) == (0, 1.02)


def test_difference_equals_direct_subtraction(pair):
    (trace,) = charts.difference_figure(pair, "a", "train/loss", smoothing=0.0).data
    want = pair[1].scalars["train/loss"][1] - pair[0].scalars["train/loss"][1]
    assert len(trace.x) <= charts.MAX_POINTS
    assert np.allclose(trace.y, want[np.asarray(trace.x)])
    # a per-step series is compared as the curves draw it: moving average minus moving average
    (trace,) = charts.difference_figure(pair, "a", "train/loss", smoothing=0.8).data
    x, a, b = pair[0].scalars["train/loss"][0], pair[0].scalars["train/loss"][1], pair[1].scalars["train/loss"][1]
    want = smooth(x, b, 0.8) - smooth(x, a, 0.8)
    assert np.allclose(trace.y, want[np.asarray(trace.x)])


def test_no_trace_sends_more_than_max_points_for_100k_steps():
    runs = [make_run("a", steps=100_000, probe_every=5000), make_run("b", steps=100_000, probe_every=5000, seed=1)]
    for name, fig in group_figures(runs).items():
        for trace in fig.data:
            n = len(trace.x) if trace.x is not None else 0
            assert n <= charts.MAX_POINTS, (name, trace.name, n)


def test_empty_inputs_wait_for_data():
    empty = [RunSeries("x")]
    figs = {**group_figures_empty([]), **group_figures_empty(empty)}
    for name, fig in figs.items():
        assert charts.WAITING in [a.text for a in fig.layout.annotations], name
        assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text, name


def group_figures_empty(runs):
    tag = f"{len(runs)}:"
    return {
        tag + "ppl": charts.perplexity_figure(runs),
        tag + "loss": charts.loss_figure(runs),
        tag + "lr": charts.lr_figure(runs),
        tag + "grad": charts.grad_norm_figure(runs),
        tag + "hist": charts.grad_histogram_figure([], np.zeros((0, 40)), EDGES, "p"),
        tag + "overlay": charts.grad_histogram_overlay(runs, "p", EDGES),
        tag + "eig": charts.eigenvalue_figure(runs, 0, "h"),
        tag + "spectrum": charts.spectrum_over_time_figure(runs),
        tag + "jacobian": charts.jacobian_figure(runs),
        tag + "reach": charts.reach_heatmap_figure([], []),
        tag + "profile": charts.reach_profile_figure(runs),
        tag + "saturation": charts.saturation_figure(runs),
        tag + "logits": charts.logit_figure(runs),
        tag + "weights": charts.weights_figure(runs),
        tag + "diff": charts.difference_figure(runs, "x", "train/loss"),
    }


def test_last_n_keeps_the_newest_steps(pair):
    fig = charts.loss_figure(pair, last_n=500)
    assert all(min(t.x) >= 2000 - 1 - 500 for t in fig.data)


@pytest.mark.parametrize("schedule", ["step", "cosine", "constant"])
def test_the_lr_preview_is_the_schedule_the_run_will_follow_at_every_step(schedule):
    from engine.config import RunConfig

    cfg = RunConfig(schedule=schedule, lr=0.01, warmup_steps=10, step_every=30, gamma=0.5, min_lr=0.0, max_steps=100)
    fig = charts.lr_preview_figure(cfg, "#1f77b4")
    x, y = np.asarray(fig.data[0].x), np.asarray(fig.data[0].y)
    s = np.arange(100)
    if schedule == "step":
        after = 0.01 * 0.5 ** ((s - 10) // 30)
    elif schedule == "cosine":
        after = 0.01 * 0.5 * (1 + np.cos(np.pi * (s - 10) / 90))
    else:
        after = np.full(100, 0.01)
    oracle = np.where(s < 10, 0.01 * (s + 1) / 10, after)
    drawn = y[np.searchsorted(x, s, side="right") - 1]  # line_shape hv: each value holds until the next point
    assert fig.data[0].line.shape == "hv" and x[-1] == 99
    np.testing.assert_allclose(drawn, oracle, rtol=1e-12)
    assert "10 warmup steps" in fig.layout.title.subtitle.text and schedule in fig.layout.title.subtitle.text
