"""AppTest: what a link (or the Compare values box) may put on the page (issue 13, items 4 and 5).

Bad whole numbers name their field and never raise; unknown keys are named; long values are cut
before they reach the page; a value shaped like markdown shows as text, never as a link or image;
the dashboard's own keys are never called unknown.
"""

import markdown
import pytest
from app_testkit import TINY, app, engine, fresh_engine, no_exceptions, texts, wait_done

from app import resources, url_keys
from app.starting import parse_list
from app.upload import save_upload
from engine.config import ConfigError

__all__ = ["fresh_engine"]

BAD_WHOLE_NUMBERS = ["inf", "nan", "1e400", "-inf", "9" * 100_000, "1" + "0" * 400]


def links_or_images(markdown_text: str) -> bool:
    html = markdown.markdown(markdown_text)
    return "<a" in html or "<img" in html


@pytest.mark.parametrize("value", BAD_WHOLE_NUMBERS, ids=lambda v: v[:12])
def test_bad_whole_numbers_in_the_link_name_their_field(value):
    at = app({"hidden_size": value, "max_steps": value}).run()
    no_exceptions(at)
    warning = texts(at.warning)
    assert "hidden_size=" in warning and "max_steps=" in warning
    assert len(warning) < 1500  # cut: a 100,000-digit value once froze the tab for 143 s
    assert at.number_input(key="cfg.hidden_size").value == 128  # the default, not the value


@pytest.mark.parametrize("value", BAD_WHOLE_NUMBERS, ids=lambda v: v[:12])
def test_bad_whole_numbers_in_the_compare_box_name_their_field(value):
    at = app().run()
    at.selectbox(key="cmp_a").set_value("hidden_size").run()
    at.text_input(key="cmp_text_a_hidden_size").input(f"16, {value}").run()
    no_exceptions(at)
    caption = texts(at.caption)
    assert "To compare: hidden\\_size" in caption and len(caption) < 1500
    assert at.button(key="compare").disabled


def test_a_long_compare_box_is_refused_before_parsing():
    at = app().run()
    at.selectbox(key="cmp_a").set_value("seed").run()
    assert at.text_input(key="cmp_text_a_seed").max_chars == 4096  # the browser's box takes no more
    # a longer value (a crafted message that bypasses the box) is refused before it is split and parsed
    with pytest.raises(ConfigError, match="100,000 characters long; at most 4,096") as err:
        parse_list("seed", "1," * 50_000)
    assert err.value.field == "seed"
    assert parse_list("seed", "1, 2;1") == [1, 2]


def test_unknown_keys_are_named_and_the_settings_still_apply():
    at = app({"hidden_szie": "64", "lr": "0.01", "[x](http://evil)": "1"}).run()
    no_exceptions(at)
    warning = texts(at.warning)
    assert "`hidden_szie`" in warning and "`[x](http://evil)`" in warning
    assert not links_or_images(warning)
    assert at.number_input(key="cfg.lr").value == 0.01


def test_markdown_in_link_values_shows_as_text():
    crafted = {
        "cell": "[Session expired](http://evil/phish)",
        "lr": "![t](http://127.0.0.1:9/x.png)",
        "corpus": "<img src=http://evil/x.png>",
        "init": "`a` [x](http://evil) `b`",
    }
    at = app(crafted).run()
    no_exceptions(at)
    shown = [texts(at.warning), texts(at.error), texts(at.markdown), texts(at.caption)]
    assert "Session expired" in shown[0] and "x.png" in shown[0]
    for part in shown:
        assert not links_or_images(part), part


def test_the_dashboards_own_keys_are_not_unknown():
    at = app(TINY).run()
    at.button(key="start_first").click().run()
    (run_id,) = at.session_state["runs"]
    wait_done([run_id])
    # the keys of widgets bound to the URL (view, cview, smooth) come from the browser: given here as it writes them
    link = {**TINY, "runs": run_id, "view": "Spectrum", "smooth": "0.5", "cview": "Difference"}
    assert url_keys.unknown_keys(link) == []
    again = app(link).run()
    no_exceptions(again)
    assert not again.warning
    assert again.segmented_control(key="view").value == "Spectrum" and again.slider(key="smooth").value == 0.5
    assert url_keys.unknown_keys(again.query_params) == []


def test_a_refused_corpus_names_no_other_visitors_upload(monkeypatch):
    monkeypatch.setenv("RNNLAB_MODE", "shared")
    theirs = save_upload(b"someone else's words " * 40, "diary.txt", resources.upload_limit_bytes(), "other-visitor")
    at = app({"corpus": "diary.txt"}).run()
    no_exceptions(at)
    page = "\n".join(texts(getattr(at, kind)) for kind in ("warning", "error", "markdown", "caption", "info"))
    assert "corpus=diary.txt" in page
    assert theirs not in page and "other-visitor" not in page and str(resources.upload_dir()) not in page
    assert not any("diary" in o for o in at.selectbox(key="cfg.corpus").options)
    linked = app({"corpus": theirs}).run()  # a shared link that names their file
    assert linked.selectbox(key="cfg.corpus").value == "pydoc" and "not a corpus" in texts(linked.warning)
    assert engine().store.runs() == []
