"""AppTest, two sessions on one engine: the lr / clipping editor shows the run's current values, after
live edits from any tab, and applies only the fields the person changed (issue 13, item 1)."""

import time

from app_testkit import (
    TINY,
    app,
    editor,
    engine,
    fresh_engine,
    live_edit,
    no_exceptions,
    texts,
    transport,
    wait_done,
    wait_status,
)

__all__ = ["fresh_engine"]


def edits_of(run_id: str, kind: str, count: int, timeout: float = 30) -> list[dict]:
    """The data of the run's `kind` events once there are `count` of them (edits land at the next step)."""
    deadline = time.monotonic() + timeout
    while True:
        engine().store.flush()
        found = [e.data for e in engine().store.events(run_id) if e.kind == kind]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"{kind}: {found}"
        time.sleep(0.05)


def shown(at, run_id: str) -> dict:
    return {name: w.value for name, w in editor(at, run_id).items() if name != "apply"}


def test_editor_shows_current_values_and_applies_only_what_changed():
    a = app({**TINY, "max_steps": "100000"}).run()
    a.button(key="start_first").click().run()
    (run_id,) = a.session_state["runs"]
    wait_status(run_id, ("running",))
    a.run()
    assert shown(a, run_id) == {"lr": 0.003, "clip": "norm", "clip_value": 1.0}  # the run's config: clip norm 1
    transport(a, "pause").click().run()
    wait_status(run_id, ("paused",))

    b = app({**TINY, "runs": run_id}).run()  # a second tab on the same run
    no_exceptions(b)
    transport(b, "resume").click().run()
    wait_status(run_id, ("running",))
    b.run()
    live_edit(b, run_id, lr=0.01, clip="value")  # tab B: lr and the clipping mode
    assert edits_of(run_id, "clip_change", 1)[-1] == {"mode": "value", "value": 1.0}

    # tab A still shows the editor as it drew it (clip norm); it changes the threshold alone
    live_edit(a, run_id, clip_value=5.0)
    no_exceptions(a)
    assert edits_of(run_id, "clip_change", 2)[-1] == {"mode": "value", "value": 5.0}  # B's mode kept
    assert [e["lr"] for e in edits_of(run_id, "lr_change", 1)] == [0.01]  # A's stale lr was not re-applied
    a.run()
    assert shown(a, run_id) == {"lr": 0.01, "clip": "value", "clip_value": 5.0}  # every earlier live change
    b.run()
    assert shown(b, run_id) == {"lr": 0.01, "clip": "value", "clip_value": 5.0}

    live_edit(a, run_id)  # Apply with nothing changed: nothing posted
    assert "nothing changed" in texts(a.info)
    a.button(key=f"ctl-stop-{run_id}").click().run()
    wait_done([run_id])
    assert len(edits_of(run_id, "clip_change", 2)) == 2 and len(edits_of(run_id, "lr_change", 1)) == 1
