"""AppTest, two visitors on one engine: who may steer and delete a run, and whose uploads one sees
(issue 13, item 6). In shared mode (RNNLAB_MODE=shared) only the visitor who started a run steers
it; in the trusted local mode (the default) everyone does. AppTest has no cookies, so each AppTest
is its own visitor, as each browser is on a real server."""

import pytest
from app_testkit import TINY, app, engine, fresh_engine, no_exceptions, texts, transport, wait_done, wait_status

from app import ownership, resources
from app.ownership import _xsrf_token

__all__ = ["fresh_engine"]

LONG = {**TINY, "max_steps": "100000"}


def started(query=LONG):
    at = app(query).run()
    at.button(key="start_first").click().run()
    (run_id,) = at.session_state["runs"]
    wait_status(run_id, ("running",))
    return at.run(), run_id


def keys(at) -> set[str]:
    return {b.key for b in at.button}


def runs_page(run_id: str):
    at = app({"runs": run_id})
    at.switch_page("screens/runs.py")
    return at.run()


def delete(at):
    at.checkbox(key="runs-delete-confirm").check().run()
    at.button(key="runs-delete").click().run()
    no_exceptions(at)
    return at


def test_shared_server_only_the_starter_steers_and_deletes(monkeypatch):
    monkeypatch.setenv("RNNLAB_MODE", "shared")
    owner, run_id = started()
    assert transport(owner, "pause") is not None and f"ctl-stop-{run_id}" in keys(owner)
    other = app({**LONG, "runs": run_id}).run()  # another browser on the same run
    no_exceptions(other)
    assert transport(other, "pause") is None and f"ctl-stop-{run_id}" not in keys(other)
    assert not [w for w in other.number_input if (w.key or "").startswith("ctl-")]  # no editor either
    assert ownership.NOT_YOURS in texts(other.caption)
    assert "running" in texts(other.markdown)  # it still watches the run

    visitor = runs_page(run_id)
    assert visitor.button(key="runs-stop").disabled
    delete(visitor)
    assert "was not deleted: started by another visitor" in texts(visitor.warning)
    assert engine().store.run(run_id).status == "running"

    owner.button(key=f"ctl-stop-{run_id}").click().run()
    wait_done([run_id])
    delete(visitor)  # stopped now, and still not theirs
    assert "started by another visitor" in texts(visitor.warning)
    assert engine().store.run(run_id)  # still there
    mine = runs_page(run_id)
    mine.session_state[ownership.SESSION_VISITOR] = owner.session_state[ownership.SESSION_VISITOR]  # the owner's browser
    delete(mine.run())
    with pytest.raises(KeyError):
        engine().store.run(run_id)


def test_local_mode_trusts_every_visitor():
    _, run_id = started()
    other = app({**LONG, "runs": run_id}).run()
    transport(other, "pause").click().run()
    assert wait_status(run_id, ("paused",)) == "paused"
    other.run()
    other.button(key=f"ctl-stop-{run_id}").click().run()
    wait_done([run_id])
    assert engine().store.run(run_id).status == "stopped"


def test_runs_without_an_owner_are_read_only_on_a_shared_server(monkeypatch):
    _, run_id = started()
    engine().owners.forget([run_id])  # as a run of the command line, or one from before the owners file
    monkeypatch.setenv("RNNLAB_MODE", "shared")
    other = app({**LONG, "runs": run_id}).run()
    assert ownership.NO_OWNER in texts(other.caption) and f"ctl-stop-{run_id}" not in keys(other)
    engine().jobs.stop(run_id)
    wait_done([run_id])


TEXT = b"the quick brown fox jumps over the lazy dog. " * 30


def upload(at, name: str, raw: bytes = TEXT):
    at.file_uploader(key="corpus_upload").set_value((name, raw, "text/plain")).run()
    no_exceptions(at)
    return at


def corpus_choices(at) -> list[str]:
    return at.selectbox(key="cfg.corpus").options


@pytest.mark.parametrize("mode, seen", [("shared", False), ("local", True)])
def test_uploads_are_seen_by_their_visitor_only_on_a_shared_server(monkeypatch, mode, seen):
    monkeypatch.setenv("RNNLAB_MODE", mode)
    alice = upload(app().run(), "alice.txt")
    assert "uploaded: alice.txt" in corpus_choices(alice)
    bob = app().run()
    assert ("uploaded: alice.txt" in corpus_choices(bob)) is seen


def test_uploads_have_a_count_and_a_size_limit(monkeypatch):
    monkeypatch.setenv("RNNLAB_UPLOAD_MAX_FILES", "2")
    at = app().run()
    upload(at, "one.txt", TEXT + b"1")
    upload(at, "two.txt", TEXT + b"2")
    upload(at, "three.txt", TEXT + b"3")
    assert "you already have 2 uploads" in texts(at.error) and "The corpus was not changed" in texts(at.error)
    assert at.session_state["cfg.corpus"].endswith("-two.txt")
    upload(at, "one.txt", TEXT + b"1")  # a file already kept costs nothing
    assert "Corpus set to the uploaded file one.txt" in texts(at.success)
    assert len(list(resources.upload_dir().glob("*/*.txt"))) == 2

    monkeypatch.setenv("RNNLAB_UPLOAD_MAX_FILES", "20")
    monkeypatch.setenv("RNNLAB_UPLOAD_TOTAL_MB", str(3000 / 2**20))  # 3,000 bytes per visitor
    big = upload(app().run(), "big.txt", b"x" * 2000 + b"\n")
    assert "Corpus set to" in texts(big.success)
    upload(big, "more.txt", b"y" * 2000 + b"\n")
    assert "your uploads would take" in texts(big.error) and "MB this server keeps per visitor" in texts(big.error)


def test_the_xsrf_token_is_read_through_its_mask():
    token = bytes(range(16))
    mask = bytes([7, 1, 200, 33])
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(token))
    assert _xsrf_token(f"2|{mask.hex()}|{masked.hex()}|1796042936") == token
    other_mask = bytes([9, 9, 9, 9])  # the next page load masks the same token afresh
    again = bytes(b ^ 9 for b in token)
    assert _xsrf_token(f"2|{other_mask.hex()}|{again.hex()}|1796042936") == token
    assert _xsrf_token("garbage|x") is None and _xsrf_token("") is None
