"""AppTest: the classroom features. Presenter mode drops the sidebar and every setting; hide flags hide
exactly the named controls while their values still reach the run; a share link reproduces the setup;
the sidebar shows only the settings that apply; Step 1 advances a paused run by one step and its charts
and numbers follow."""

import base64
import math
import time

import numpy as np
from app_testkit import (
    TINY,
    app,
    engine,
    figures,
    fresh_engine,
    no_exceptions,
    texts,
    url_values,
    wait_done,
    wait_status,
)

from app import controls, live_view, presenter, state, transport
from app.charts.base import TEMPLATE
from engine.config import FIELDS, RunConfig

__all__ = ["fresh_engine"]


def widget_keys(at) -> set[str]:
    """Keys of every settings widget drawn ('cfg.<field>')."""
    found = set()
    for kind in ("number_input", "selectbox", "checkbox", "text_input"):
        found |= {w.key for w in getattr(at, kind) if w.key and w.key.startswith(controls.PREFIX)}
    return found


def test_presenter_mode_draws_no_sidebar_and_no_settings_and_the_toggle_leaves_it():
    at = app({**TINY, "present": "1"}).run()
    no_exceptions(at)
    assert len(at.sidebar.children) == 0
    assert widget_keys(at) == set()
    assert not [b for b in at.button if b.key in ("start", "compare")]
    assert at.toggle(key=state.PRESENT_KEY).value is True
    assert at.query_params["present"] == "1"
    assert at.button(key="start_first")  # an empty Live page still offers its one Start
    base = TEMPLATE.layout.font.size
    assert [f["layout"]["font"]["size"] for f in figures(at)] == [round(base * presenter.FONT_SCALE)]  # the lr preview

    at.toggle(key=state.PRESENT_KEY).set_value(False).run()
    assert [f["layout"].get("font", {}).get("size", base) for f in figures(at)] == [base]
    assert "present" not in at.query_params
    assert len(at.sidebar.children) > 0 and "cfg.hidden_size" in widget_keys(at)
    assert at.number_input(key="cfg.hidden_size").value == 8  # the link's value survived presenter mode


def test_hide_flags_hide_exactly_the_named_controls_and_keep_their_values():
    plain = app(TINY).run()
    hidden_at = app({**TINY, "lr": "0.01", "lr_hide": "1", "cell_hide": "1", "compare_hide": "1"}).run()
    no_exceptions(hidden_at)
    assert widget_keys(plain) - widget_keys(hidden_at) == {"cfg.lr", "cfg.cell"}
    assert widget_keys(hidden_at) < widget_keys(plain)
    assert "Compare" not in [b.label for b in hidden_at.button]
    assert any(b.label == "Compare" for b in plain.button)
    assert url_values(hidden_at, "lr_hide") == ["1"] and url_values(hidden_at, "lr") == ["0.01"]

    hidden_at.button(key="start").click().run()  # Start is still there; the hidden lr reaches the run
    (run_id,) = hidden_at.session_state["runs"]
    assert engine().store.run(run_id).config["lr"] == 0.01
    wait_done([run_id])


def test_start_and_text_flags_and_an_unknown_flag():
    at = app({**TINY, "start_hide": "1", "text_hide": "1", "momentum_hdie": "1", "foo_hide": "1"}).run()
    no_exceptions(at)
    assert not [b for b in at.button if b.key in ("start", "start_first")]
    assert "Ready to train" not in texts(at.markdown)
    warning = texts(at.warning)
    assert "foo_hide" in warning and "nothing called foo" in warning
    assert "momentum_hdie" in warning and "not a setting" in warning  # not a hide flag: an unknown key, named


def test_share_query_carries_settings_seed_flags_and_presenter():
    values = {**{f.name: controls.default(f.name) for f in FIELDS}, "lr": 0.01, "cell": "gru"}
    q = state.share_query(values, {"lr", "start", "text"}, present=True)
    assert q == {"lr": "0.01", "cell": "gru", "seed": "0", "lr_hide": "1", "start_hide": "1", "text_hide": "1",
                 "present": "1"}
    assert "runs" not in q and "lesson" not in q
    q = state.share_query(values, set(), present=False, runs=["r-1", "r-2"], lesson="packing")
    assert q["runs"] == ["r-1", "r-2"] and q["lesson"] == "packing" and "present" not in q
    link = state.link("http://host:8501/", "live", q)
    assert link.startswith("http://host:8501/live?") and link.count("runs=") == 2
    try:
        state.share_query(values, {"lr_typo"}, present=False)
    except KeyError as e:
        assert "lr_typo" in str(e)
    else:
        raise AssertionError("an unknown name to hide must be refused")


def test_a_share_link_reproduces_the_setup():
    values = {f.name: controls.default(f.name) for f in FIELDS}
    values.update({"hidden_size": 8, "lr": 0.02, "seed": 7, "max_steps": 30})
    q = state.share_query(values, {"lr", "seed"}, present=False)
    at = app(q).run()
    no_exceptions(at)
    held = RunConfig(**{f.name: at.session_state[controls.key(f.name)] for f in FIELDS})
    assert held == RunConfig(**values)
    assert {"cfg.lr", "cfg.seed"}.isdisjoint(widget_keys(at))


def test_the_sidebar_shows_only_the_settings_that_apply():
    at = app(TINY).run()  # Adam, constant schedule, LSTM, text
    keys = widget_keys(at)
    assert "cfg.beta1" in keys and "cfg.forget_bias" in keys
    assert {"cfg.momentum", "cfg.plateau_patience", "cfg.gamma", "cfg.num_items"}.isdisjoint(keys)
    at.selectbox(key="cfg.optimizer").set_value("sgd").run()
    at.selectbox(key="cfg.schedule").set_value("plateau").run()
    keys = widget_keys(at)
    assert "cfg.momentum" in keys and "cfg.beta1" not in keys
    assert {f"cfg.{f.name}" for f in FIELDS if f.name.startswith("plateau_")} <= keys
    assert at.session_state["cfg.beta1"] == controls.default("beta1")  # kept while hidden


def decode(values) -> np.ndarray:
    """A Plotly JSON array: a list, or {'dtype', 'bdata'} (base64) as plotly sends NumPy arrays."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values)


def wait_step(run_id: str, step: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while engine().store.run(run_id).step < step:
        assert time.monotonic() < deadline, f"{run_id} never reached step {step}"
        time.sleep(0.05)


def test_step_1_advances_a_paused_run_by_one_and_redraws_numbers_and_charts():
    at = app({**TINY, "max_steps": "100000", "probe_every": "1"}).run()
    at.button(key="start_first").click().run()
    (run_id,) = at.session_state["runs"]
    wait_step(run_id, 3)
    at.run()
    bar = live_view.selection_key("live", [run_id])
    at.button(key=f"{bar}-pause").click().run()
    wait_status(run_id, ("paused",))
    engine().jobs.settle([run_id], timeout=30)
    k = engine().store.run(run_id).step
    at.run()
    assert f"paused at step {k:,}" in texts(at.caption)
    for n in (1, 1, 10):
        at.button(key=f"{bar}-step{n}").click().run()
        k += n
        assert engine().jobs.settle([run_id], timeout=30)  # the click waits too, but a busy machine may outlast it
        assert engine().store.run(run_id).step == k and engine().jobs.status(run_id) == "paused"
        at.run()
        assert f"paused at step {k:,}" in texts(at.caption)
        assert f"{k:,} / 100,000" in texts(at.markdown)  # the big numbers
        ppl = figures(at)[0]
        batches = next(t for t in ppl["data"] if t.get("name", "").endswith("per batch"))
        assert int(decode(batches["x"]).max()) == k - 1  # the newest loss is the one measured before update k
    at.button(key=f"{bar}-resume").click().run()
    assert engine().jobs.status(run_id) == "running"
    engine().jobs.stop(run_id)
    wait_done([run_id])


def test_the_header_sees_a_step_that_lands_after_the_click_stopped_waiting():
    """transport.look is what the timed header compares with the bar it drew: a paused run's step is in
    it (a Step that outlasts SETTLE_S shows when it lands), a running run's step is not (no redraw per step)."""
    at = app({**TINY, "max_steps": "100000"}).run()
    at.button(key="start_first").click().run()
    (run_id,) = at.session_state["runs"]
    jobs, store = engine().jobs, engine().store
    wait_step(run_id, 3)
    running = transport.look(jobs, [store.run(run_id)])
    wait_step(run_id, store.run(run_id).step + 2)
    assert transport.look(jobs, [store.run(run_id)]) == running == ((run_id, "running", None),)
    jobs.pause(run_id)
    assert jobs.settle([run_id], timeout=30)
    k = store.run(run_id).step
    drawn = transport.look(jobs, [store.run(run_id)])
    assert drawn == ((run_id, "paused", k),)
    jobs.step(run_id, 1)  # as the click does, but the bar is not redrawn: it still shows `drawn`
    assert jobs.settle([run_id], timeout=30)
    assert transport.look(jobs, [store.run(run_id)]) == ((run_id, "paused", k + 1),) != drawn
    jobs.stop(run_id)
    wait_done([run_id])


def test_with_live_off_the_held_charts_say_the_step_they_show():
    at = app({**TINY, "max_steps": "100000"}).run()
    at.button(key="start_first").click().run()
    (run_id,) = at.session_state["runs"]
    wait_step(run_id, 3)
    at.run()
    at.button(key=f"{live_view.selection_key('live', [run_id])}-pause").click().run()
    wait_status(run_id, ("paused",))
    engine().jobs.settle([run_id], timeout=30)
    engine().store.flush()
    k = engine().store.run(run_id).step
    at.toggle(key="live-follow").set_value(False).run()
    no_exceptions(at)
    assert f"Charts held at step {k:,} (Live is off" in texts(at.caption)
    ppl = figures(at)[0]
    batches = next(t for t in ppl["data"] if t.get("name", "").endswith("per batch"))
    assert int(decode(batches["x"]).max()) == k - 1  # the charts hold what the caption says
    at.toggle(key="live-follow").set_value(True).run()
    assert "Charts held" not in texts(at.caption)  # following again: no such line
    engine().jobs.stop(run_id)
    wait_done([run_id])


def test_big_numbers_are_the_stores_recent_values():
    at = app(TINY).run()
    at.button(key="start_first").click().run()
    (run_id,) = at.session_state["runs"]
    wait_done([run_id])
    at.run()
    store = engine().store
    loss = store.scalars(run_id, "train/loss")[1][-20:]
    norm = store.scalars(run_id, "grad/norm")[1][-20:]
    val = store.scalars(run_id, "val/loss")[1][-1]
    table = next(m.value for m in at.markdown if "rnnlab-numbers" in m.value)
    for figure in (math.exp(loss.mean()), math.exp(val), norm.mean(), store.scalars(run_id, "lr")[1][-1]):
        assert f"{figure:.4g}" in table, (figure, table)
    assert "30 / 30" in table


def test_share_dialog_builds_the_link_from_its_boxes():
    at = app({**TINY, "seed": "3"}).run()
    at.button(key="share-open").click().run()
    no_exceptions(at)
    (link,) = [c.value for c in at.code]
    assert "seed=3" in link and "hidden_size=8" in link and "_hide" not in link and "present" not in link
    # AppTest reruns the whole script, which closes the dialog: tick the boxes through their state, open again
    for key in ("share-present", "share-start", "share-f-lr"):
        at.session_state[key] = True
    at.button(key="share-open").click().run()
    (link,) = [c.value for c in at.code]
    query = dict(p.split("=", 1) for p in link.split("?", 1)[1].split("&"))
    assert query["present"] == "1" and query["start_hide"] == "1" and query["lr_hide"] == "1"
    assert query["seed"] == "3" and query["hidden_size"] == "8"
    assert {k for k in query if k.endswith("_hide")} == {"start_hide", "lr_hide"}
