"""AppTest: Compare starts a group that varies one or two settings; the Compare page overlays it."""

import pytest
from app_testkit import TINY, app, engine, figures, fresh_engine, no_exceptions, texts, wait_done

from app.starting import variants_of
from engine.config import ConfigError

__all__ = ["fresh_engine"]


def test_compare_starts_a_group_sharing_the_seed_and_overlays_it():
    at = app({**TINY, "seed": "3"}).run()
    at.selectbox(key="cmp_a").set_value("clip").run()
    at.multiselect(key="cmp_values_a_clip").set_value(["none", "norm", "value"]).run()
    at.button(key="compare").click().run()
    no_exceptions(at)
    run_ids = at.session_state["runs"]
    assert len(run_ids) == 3
    infos = [engine().store.run(r) for r in run_ids]
    assert [i.label for i in infos] == ["clip=none", "clip=norm", "clip=value"]
    assert len({i.group_id for i in infos}) == 1 and {i.config["seed"] for i in infos} == {3}

    wait_done(run_ids)
    at.switch_page("screens/compare.py").run()
    no_exceptions(at)
    assert at.number_input(key="cfg.hidden_size").value == 8 and at.number_input(key="cfg.seed").value == 3
    ppl = figures(at)[0]
    assert {t["name"] for t in ppl["data"] if t.get("legendgroup") and not t["name"].endswith(("val", "batch", "whole split"))} == {
        "clip=none",
        "clip=norm",
        "clip=value",
    }
    at.segmented_control(key="cview").set_value("Difference").run()
    no_exceptions(at)
    diff = figures(at)[0]
    assert "difference from clip=none" in diff["layout"]["title"]["text"]
    assert len(diff["data"]) == 2  # the two other runs, minus the reference


def test_two_settings_pairwise_and_every_combination():
    at = app(TINY).run()
    at.selectbox(key="cmp_a").set_value("lr").run()
    at.text_input(key="cmp_text_a_lr").input("0.001, 0.01").run()
    at.selectbox(key="cmp_b").set_value("warmup_steps").run()
    at.text_input(key="cmp_text_b_warmup_steps").input("0, 10").run()
    at.radio(key="cmp_combine").set_value("every combination").run()
    at.button(key="compare").click().run()
    run_ids = at.session_state["runs"]
    labels = sorted(engine().store.run(r).label for r in run_ids)
    assert labels == sorted(f"lr={a}, warmup_steps={b}" for a in ("0.001", "0.01") for b in (0, 10))
    for r in run_ids:
        engine().jobs.stop(r)
    wait_done(run_ids)


def test_compare_refuses_bad_values_and_too_many_runs():
    at = app(TINY).run()
    at.selectbox(key="cmp_a").set_value("hidden_size").run()
    at.text_input(key="cmp_text_a_hidden_size").input("16, big").run()
    assert at.button(key="compare").disabled
    assert "'big' is not a number" in texts(at.caption)
    at.text_input(key="cmp_text_a_hidden_size").input("8, 16, 32, 64, 128").run()
    assert at.button(key="compare").disabled and "at most 4" in texts(at.caption)
    at.text_input(key="cmp_text_a_hidden_size").input("8, 0").run()
    assert at.button(key="compare").disabled and "below the minimum" in texts(at.caption)
    assert engine().store.runs() == []


def test_variants_of():
    assert variants_of("clip", ["none", "norm"], None, [], "pairwise") == {
        "clip=none": {"clip": "none"},
        "clip=norm": {"clip": "norm"},
    }
    pairs = variants_of("clip", ["none", "norm", "norm"], "clip_value", [1.0, 1.0, 5.0], "pairwise")
    assert list(pairs) == ["clip=none, clip_value=1.0", "clip=norm, clip_value=1.0", "clip=norm, clip_value=5.0"]
    with pytest.raises(ConfigError, match="as many values"):
        variants_of("lr", [0.1, 0.2], "seed", [1], "pairwise")
    with pytest.raises(ConfigError, match="at least two"):
        variants_of("lr", [0.1], None, [], "pairwise")
