"""Helpers for the dashboard's AppTest tests (tests/test_app_*.py): the app, tiny runs, waiting.

AppTest runs the real scripts in this process, so the engine the app caches with
st.cache_resource is the one `engine()` here returns; each test starts from a fresh one (and
its own store, from tests/conftest.py) and stops its workers at the end.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import resources

MAIN = str(Path(__file__).resolve().parents[1] / "app" / "main.py")
# a run that trains in about a second on one core, with every probe and a few evaluations
TINY = {
    "hidden_size": "8",
    "embed_dim": "8",
    "seq_len": "16",
    "batch_size": "4",
    "max_steps": "30",
    "eval_every": "10",
    "eval_batches": "2",
    "probe_every": "5",
    "probe_budget": "1",
    "sample_every": "10",
}


@pytest.fixture(autouse=True)
def fresh_engine():
    """A new engine per test; its workers stopped and store closed afterwards."""
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def app(query: dict | None = None) -> AppTest:
    """The dashboard, with these URL parameters, not yet run."""
    at = AppTest.from_file(MAIN, default_timeout=60)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at


def engine():
    return resources.engine()


def wait_done(run_ids, timeout: float = 60) -> None:
    """Block until the runs have ended and their records are committed."""
    eng = engine()
    assert eng.jobs.wait(list(run_ids), timeout=timeout), "runs did not finish in time"
    eng.store.flush()


def wait_status(run_id: str, statuses, timeout: float = 30) -> str:
    """Poll the store until the run reaches one of `statuses`; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = engine().jobs.status(run_id)
        if status in statuses:
            return status
        time.sleep(0.05)
    raise AssertionError(f"{run_id} stayed {engine().jobs.status(run_id)}, not {statuses}")


def texts(elements) -> str:
    """All text of a list of elements (markdown, captions, errors...), joined."""
    return "\n".join(str(getattr(e, "value", "")) for e in elements)


def figures(at: AppTest) -> list[dict]:
    """The Plotly figures the last run drew, as JSON dicts."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def run_picker(at: AppTest):
    """The sidebar's "Shown runs" multiselect (its key changes whenever code sets the shown runs)."""
    return next(m for m in at.multiselect if m.label == "Shown runs")


def url_values(at: AppTest, key: str) -> list[str]:
    """Every value of a URL parameter after the last run (AppTest gives one value as a string)."""
    value = at.query_params.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def editor(at: AppTest, run_id: str) -> dict:
    """The run's lr / clipping editor as drawn last: {'lr', 'clip', 'clip_value', 'apply'} -> its widget."""
    found = {}
    for widget in [*at.number_input, *at.selectbox, *at.button]:
        for name in ("lr", "clip", "clip_value", "apply"):
            if (widget.key or "").startswith(f"ctl-{name}-{run_id}-"):
                found[name] = widget
    return found


def live_edit(at: AppTest, run_id: str, **values) -> AppTest:
    """Change some of the run's editor fields (lr=, clip=, clip_value=) and press its Apply."""
    fields = editor(at, run_id)
    for name, value in values.items():
        fields[name].set_value(value)
    fields["apply"].click()
    return at.run()


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def transport(at: AppTest, action: str):
    """The transport bar's button (pause, resume, step1, step10) over the shown runs' charts, or None."""
    found = [b for b in at.button if (b.key or "").endswith(f"-{action}") and not (b.key or "").startswith("ctl-")]
    return found[0] if found else None
