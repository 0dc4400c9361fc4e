"""AppTest: a broken store file is named on the page, not hidden in a redacted error box, and can be
moved aside for a fresh store; a store that stopped taking records says so on every page."""

import os
from pathlib import Path

from app_testkit import app, engine, fresh_engine, no_exceptions, texts

__all__ = ["fresh_engine"]


def test_a_corrupt_store_is_named_and_can_be_moved_aside():
    path = Path(os.environ["RNNLAB_STORE"])
    path.write_bytes(b"not a database at all\n" * 100)
    at = app().run()
    no_exceptions(at)
    assert str(path) in texts(at.error) and "cannot be opened" in texts(at.error)
    at.button(key="fresh_store").click().run()
    no_exceptions(at)
    kept = [p for p in path.parent.iterdir() if p.name.startswith(path.name + ".broken-")]
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"not a database at all")
    assert not at.error and engine().store.runs() == []  # a fresh, working store


def test_a_store_that_stopped_taking_records_says_so(monkeypatch):
    from engine.store.errors import StoreError

    eng = engine()
    failure = StoreError(eng.store.path, "database or disk is full", "Free disk space.")
    monkeypatch.setattr(eng.store._writer, "failure", failure)
    at = app().run()
    no_exceptions(at)
    assert "stopped taking records" in texts(at.error) and str(eng.store.path) in texts(at.error)


def test_a_run_whose_process_died_is_noticed_while_the_dashboard_runs(monkeypatch):
    """A CLI run killed after the dashboard started does not stay `running` on it."""
    import subprocess
    import sys

    from app import resources

    monkeypatch.setattr(resources, "RECOVER_EVERY", 0.0)
    at = app().run()  # the dashboard is up: its start-up recovery has run
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    store = engine().store
    run_id = store.create_run({"cell": "gru"}, status="running")
    store._writer.disown(store._num(run_id))  # as if another process, now gone, owned it
    store._writer.call(lambda con: con.execute("UPDATE runs SET pid = ? WHERE id = ?", (int(dead.stdout), run_id)))
    assert store.run(run_id).status == "running"
    at.run()
    no_exceptions(at)
    info = store.run(run_id)
    assert info.status == "interrupted" and "is gone" in info.message
