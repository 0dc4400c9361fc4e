"""AppTest: the Live page and the shared sidebar. Start a run, see its status and charts, steer it,
refuse invalid settings, and fork a run from a diagnosis."""

import time

from app_testkit import (
    TINY,
    app,
    engine,
    figures,
    fresh_engine,
    live_edit,
    no_exceptions,
    run_picker,
    texts,
    url_values,
    wait_done,
    wait_status,
)

from app import live_view

__all__ = ["fresh_engine"]


def test_fresh_start_offers_a_default_run_and_starts_it():
    at = app(TINY).run()
    no_exceptions(at)
    assert at.button(key="start_first").label.startswith("Start: lstm 8")
    at.button(key="start_first").click().run()
    no_exceptions(at)
    (run_id,) = at.session_state["runs"]
    assert url_values(at, "runs") == [run_id]
    line = texts(at.markdown)
    # named by the settings that differ from the dashboard's defaults (issue 8: names that tell runs apart)
    assert "lstm 8 · embed_dim 8 · seq_len 16" in line and any(w in line for w in ("queued", "running", "finished"))

    wait_done([run_id])
    at.run()
    assert "finished · step 30 / 30" in texts(at.markdown)
    info = engine().store.run(run_id)
    assert info.config["hidden_size"] == 8 and info.config["eval_every"] == 10.0


def test_every_view_draws_its_charts_without_errors():
    at = app(TINY).run()
    at.button(key="start_first").click().run()
    wait_done(at.session_state["runs"])
    expected = {"Training": 4, "Gradients": 3, "Spectrum": 3, "Health": 3, "Text & events": 0}  # Spectrum: + state Jacobian
    for view, n in expected.items():
        at.segmented_control(key="view").set_value(view).run()
        no_exceptions(at)
        assert not at.error, texts(at.error)
        figs = figures(at)
        assert len(figs) == n, (view, len(figs))
        for fig in figs:  # every chart has a title and labelled axes, and data (no 'waiting for data')
            layout = fig["layout"]
            assert layout["title"]["text"]
            assert layout["xaxis"]["title"]["text"] and layout["yaxis"]["title"]["text"]
            assert fig["data"], layout["title"]["text"]
    assert "step 30" in texts(at.caption)  # a text sample, labelled with its step
    assert at.dataframe  # the events table


def test_perplexity_chart_has_batches_ema_validation_and_baselines():
    at = app(TINY).run()
    at.button(key="start_first").click().run()
    wait_done(at.session_state["runs"])
    at.run()
    ppl = figures(at)[0]
    names = [t.get("name", "") for t in ppl["data"]]
    assert any(n.endswith("per batch") for n in names) and any(n.endswith(" val") for n in names)
    labels = " ".join(a.get("text", "") for a in ppl["layout"]["annotations"])
    assert "uniform |V|" in labels and "unigram" in labels
    assert ppl["layout"]["yaxis"]["type"] == "log"


def test_invalid_value_shows_the_error_at_the_field_and_starts_nothing():
    at = app(TINY).run()
    at.number_input(key="cfg.hidden_size").set_value(0).run()
    errors = texts(at.error)
    assert "hidden_size: 0 is below the minimum 1" in errors
    assert at.button(key="start").disabled and at.button(key="start_first").disabled
    # forget_bias applies to an LSTM only: set on one, it stays shown (with its error) when the cell changes
    at.number_input(key="cfg.forget_bias").set_value(1.0).run()
    at.selectbox(key="cfg.cell").set_value("gru").run()
    assert "forget_bias: only an LSTM has a forget gate" in texts(at.error)
    assert engine().store.runs() == []


def test_pause_resume_lr_clip_and_stop_a_running_run():
    at = app({**TINY, "max_steps": "100000"}).run()
    at.button(key="start_first").click().run()
    (run_id,) = at.session_state["runs"]
    wait_status(run_id, ("running",))
    at.run()
    bar = live_view.selection_key("live", [run_id])  # the transport bar's key prefix
    at.button(key=f"{bar}-pause").click().run()
    wait_status(run_id, ("paused",))
    at.run()
    at.button(key=f"{bar}-resume").click().run()
    wait_status(run_id, ("running",))
    at.run()
    live_edit(at, run_id, lr=0.01)
    live_edit(at, run_id, clip="norm", clip_value=5.0)
    no_exceptions(at)
    # edits apply at the run's next step: wait for them to land before stopping it
    deadline = time.monotonic() + 30
    while not {"lr_change", "clip_change"} <= {e.kind for e in engine().store.events(run_id)}:
        assert time.monotonic() < deadline, "the lr and clipping edits never reached the run"
        engine().store.flush()
        time.sleep(0.05)
    at.button(key=f"ctl-stop-{run_id}").click().run()
    wait_done([run_id], timeout=30)
    kinds = [e.kind for e in engine().store.events(run_id)]
    assert {"paused", "resumed", "lr_change", "clip_change"} <= set(kinds)
    assert engine().store.run(run_id).status == "stopped"
    at.run()
    assert "stopped" in texts(at.markdown)


def test_diagnosis_is_listed_and_its_fix_forks_the_run():
    at = app(TINY).run()
    at.button(key="start_first").click().run()
    (run_id,) = at.session_state["runs"]
    wait_done([run_id])
    eng = engine()
    data = {
        "rule": "test-rule",
        "title": "Perplexity above |V|",
        "explanation": "The logits are confidently wrong.",
        "fix": {"lr": 0.001},
        "fix_label": "lr 0.001",
    }
    eng.store.add_event(run_id, 20, "diagnosis", "perplexity above |V|", data)
    eng.store.flush()
    eng.cache.forget(run_id)  # an event added behind the run's back (the trainer's would bump its version)
    at.run()
    assert "Perplexity above |V|" in texts(at.markdown) and "confidently wrong" in texts(at.markdown)
    at.button(key=f"fix-{run_id}-test-rule-20").click().run()
    no_exceptions(at)
    shown = at.session_state["runs"]
    assert shown[0] == run_id and len(shown) == 2
    child = eng.store.run(shown[1])
    assert child.parent == run_id and child.config["lr"] == 0.001
    wait_done([child.id])


def test_legend_labels_name_the_settings_that_differ():
    class Info:
        def __init__(self, id, config, label=None, group_id=None):
            self.id, self.config, self.label, self.group_id = id, config, label, group_id

    a = Info("r-a", {"cell": "gru", "lr": 0.01, "seed": 0})
    b = Info("r-b", {"cell": "lstm", "lr": 0.01, "seed": 0})
    assert live_view.legend_labels([a, b]) == {"r-a": "cell=gru", "r-b": "cell=lstm"}
    twin_a, twin_b = Info("r-1111", dict(a.config), "gru 8"), Info("r-2222", dict(a.config), "gru 8")
    assert live_view.legend_labels([twin_a, twin_b]) == {"r-1111": "gru 8 (1111)", "r-2222": "gru 8 (2222)"}


def test_extra_work_waits_in_the_queue_and_the_page_says_so(monkeypatch):
    monkeypatch.setenv("RNNLAB_WORKERS", "1")  # one run trains at a time
    at = app({**TINY, "max_steps": "100000"}).run()
    at.button(key="start").click().run()
    (first,) = at.session_state["runs"]
    at.button(key="start").click().run()
    (second,) = at.session_state["runs"]
    assert engine().jobs.max_workers == 1
    assert "queued: number 1 in line. 1 run trains at once on this machine" in texts(at.caption)
    run_picker(at).set_value([first, second]).run()
    at.button(key=f"ctl-stop-{first}").click().run()
    wait_status(second, ("running",))
    at.button(key=f"ctl-stop-{second}").click().run()
    wait_done([first, second])
    at.run()
    assert texts(at.markdown).count("stopped") == 2
