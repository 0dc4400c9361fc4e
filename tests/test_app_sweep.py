"""AppTest: the Sweep page lists sweeps, shows progress and the stability map, opens a cell in Compare;
the dashboard keeps working, and says why, when RNNLAB_RAY_ADDRESS is set but Ray cannot be used."""

import sys

from app_testkit import app, engine, figures, fresh_engine, no_exceptions, texts
from sweep_testkit import fill_sweep

from engine.distributed.grid import parse_grid
from engine.jobs import JobManager

__all__ = ["fresh_engine"]
GRID = parse_grid(["lr=1e-3,1e-2,1e-1", "clip_value=0.25,1,4"])


def outcome(cfg):
    if cfg.lr == 0.1 and cfg.clip_value == 4.0:
        return "diverged", None
    return ("running", None) if cfg.lr == 1e-3 and cfg.clip_value == 0.25 else ("done", 5 + 100 * cfg.lr)


def test_without_sweeps_the_page_says_how_to_run_one():
    at = app().run()
    at.switch_page("screens/sweep.py").run()
    no_exceptions(at)
    assert "python -m engine sweep" in texts(at.info)


def test_the_page_shows_progress_and_the_map_and_opens_a_cell_in_compare():
    ids = fill_sweep(engine().store, "sweep-page", GRID, [0, 1], outcome)
    at = app().run()
    at.switch_page("screens/sweep.py").run()
    no_exceptions(at)
    assert at.selectbox(key="sweep-group").value == "sweep-page"
    assert (at.selectbox(key="sweep-x").value, at.selectbox(key="sweep-y").value) == ("lr", "clip_value")
    bar = at.get("progress")[0].proto
    assert bar.text == "16 of 18 done, 2 diverged; 2 running" and bar.value == 88
    heat = figures(at)[0]["data"][0]
    assert len(heat["x"]) == 3 and len(heat["y"]) == 3
    assert "✕ diverged" in heat["text"][2][2] and "training" in heat["text"][0][0]
    assert len(figures(at)[0]["layout"]["shapes"]) == 1  # the diverged cell is framed

    at.selectbox(key="sweep-cell").set_value(4).run()  # lr=0.01, clip_value=1.0
    at.button(key="sweep-open").click().run()
    no_exceptions(at)
    shown = at.session_state["runs"]
    infos = [engine().store.run(r) for r in shown]
    assert len(shown) == 2 and all(r in ids for r in shown)
    assert {(i.config["lr"], i.config["clip_value"]) for i in infos} == {(0.01, 1.0)}
    assert at.title[0].value == "Compare"


def test_with_ray_asked_for_but_missing_the_dashboard_trains_locally_and_says_why(monkeypatch):
    monkeypatch.setenv("RNNLAB_RAY_ADDRESS", "auto")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    at = app().run()
    no_exceptions(at)
    assert isinstance(engine().jobs, JobManager)
    warning = texts(at.warning)
    assert "RNNLAB_RAY_ADDRESS=auto" in warning and "requirements-ray.txt" in warning
    assert "dashboard's own process" in warning
