"""AppTest: the settings and the shown runs live in the URL; a link reproduces them, garbage falls back."""

from app_testkit import TINY, app, engine, fresh_engine, no_exceptions, run_picker, texts, url_values, wait_done

from app import controls
from engine.config import FIELDS, RunConfig

__all__ = ["fresh_engine"]


def form_config(at) -> RunConfig:
    """The RunConfig the form holds."""
    return RunConfig(**{f.name: at.session_state[controls.key(f.name)] for f in FIELDS})


def test_url_settings_fill_the_form_and_round_trip():
    query = {"cell": "gru", "lr": "0.01", "hidden_size": "64", "clip": "none", "layer_norm": "true", "seed": "7"}
    at = app(query).run()
    no_exceptions(at)
    assert at.selectbox(key="cfg.cell").value == "gru"
    assert at.number_input(key="cfg.lr").value == 0.01
    assert at.number_input(key="cfg.hidden_size").value == 64
    assert at.checkbox(key="cfg.layer_norm").value is True
    cfg = form_config(at)
    assert cfg == controls.UI_DEFAULT.replace(**query)
    # the URL holds exactly the differences from the dashboard's defaults, as RunConfig writes them
    assert {k: v for k, v in at.query_params.items() if k != "runs"} == query

    again = app(dict(at.query_params)).run()  # the same link in another browser
    assert form_config(again) == cfg


def test_form_edits_are_written_to_the_url():
    at = app().run()
    at.selectbox(key="cfg.cell").set_value("rnn_relu").run()
    at.number_input(key="cfg.seq_len").set_value(32).run()
    at.selectbox(key="cfg.init").set_value("identity").run()
    assert at.query_params["cell"] == "rnn_relu" and at.query_params["seq_len"] == "32"
    assert at.query_params["init"] == "identity"
    at.number_input(key="cfg.seq_len").set_value(64).run()  # back to the default: gone from the URL
    assert "seq_len" not in at.query_params
    assert form_config(app(dict(at.query_params)).run()) == form_config(at)


def test_garbage_in_the_url_falls_back_with_a_warning():
    at = app({"lr": "fast", "cell": "transformer", "hidden_size": "12.5", "hidden_size_x": "3"}).run()
    no_exceptions(at)
    warning = texts(at.warning)
    assert "lr=fast" in warning and "cell=transformer" in warning and "hidden_size=12.5" in warning
    assert at.number_input(key="cfg.lr").value == controls.default("lr")
    assert at.selectbox(key="cfg.cell").value == "lstm"
    assert "lr" not in at.query_params and "cell" not in at.query_params
    at.button(key="dismiss_url_warnings").click().run()
    assert not at.warning


def test_out_of_range_url_value_is_kept_and_shown_as_the_fields_error():
    at = app({"dropout": "2"}).run()
    assert "dropout: 2.0 is above the maximum 0.9" in texts(at.error)
    assert at.button(key="start").disabled


def test_shown_runs_come_from_and_go_to_the_url():
    at = app(TINY).run()
    at.button(key="start_first").click().run()
    (run_id,) = at.session_state["runs"]
    wait_done([run_id])
    assert url_values(at, "runs") == [run_id]
    other = app({**TINY, "runs": [run_id, "r-19990101-dead"]}).run()  # a reload; an unknown id is dropped
    no_exceptions(other)
    assert run_picker(other).value == [run_id]
    assert "finished" in texts(other.markdown)
    assert engine().store.run(run_id).status == "done"


def test_a_stale_picker_value_does_not_undo_shown_runs_set_by_code():
    """Seen in Chromium: Run on a lesson set the shown runs, then the browser sent the old picker's
    empty selection (a fragment's timer fired first) and the lesson's page lost its runs. Code that
    sets the shown runs gives the picker a new key; the old key's on_change is ignored."""

    def script():
        import streamlit as st

        from app import state

        if "step" not in st.session_state:
            st.session_state.step = 0
            st.session_state[state.picker_key()] = []  # the picker as the browser last drew it
        old = state.picker_key()
        state.set_shown(["r-1", "r-2"])  # e.g. Run this lesson
        state.picked(old)  # the browser's stale value for the old picker arrives
        st.session_state.after_stale = state.shown_runs()
        new = state.picker_key()
        st.session_state[new] = ["r-2"]  # the person then removes r-1 with the current picker
        state.picked(new)
        st.session_state.after_pick = state.shown_runs()

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(script).run()
    assert not at.exception
    assert at.session_state.after_stale == ["r-1", "r-2"]
    assert at.session_state.after_pick == ["r-2"]
