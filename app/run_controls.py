"""The shown runs' header: each run's status line, and for active runs Pause/Resume, Stop and the
lr / clipping editor.

The dashboard never touches a model: each button posts a request through the JobManager, which
the worker applies at its next step and records as an event (lr_change, clip_change, paused).
Runs trained by another process (the CLI) are shown but cannot be steered from here.

The header is a fragment that re-reads the store every refresh while any shown run is active,
whether or not the charts follow (their Live toggle), so a Pause button turns into Resume, and a
queue position moves, within one refresh of another tab pausing the run or the queue moving.

The editor starts from the run's values as its next step will use them (JobManager.live_settings:
its config with every live edit, from any tab) and posts only what the person changed: changing
the threshold alone keeps the run's clipping mode, whatever this tab showed earlier. Its widgets'
keys carry those values, so an edit made elsewhere redraws it with the new ones.

On a shared server only the browser that started a run sees its buttons (app/ownership.py).
"""

from __future__ import annotations

import hashlib

import streamlit as st

from app import ownership, resources
from app.safe_text import text
from app.status import is_active, status_line
from engine.config import CLIPS, ConfigError
from engine.store import RunInfo

MESSAGE = "_control_message"
EDITED = ("lr", "clip", "clip_value")


def _refuse(eng, run_id: str) -> bool:
    """True (with the reason kept as a message) when this visitor may not steer the run."""
    why = ownership.refusal(eng, run_id)
    if why:
        st.session_state[MESSAGE] = ("error", f"{run_id}: {why}")
    return why is not None


def _act(eng, action, run_id: str, *args) -> None:
    """Callback: call a JobManager method; keep a message when it refuses."""
    if _refuse(eng, run_id):
        return
    try:
        action(run_id, *args)
    except (ConfigError, KeyError, ValueError) as e:
        st.session_state[MESSAGE] = ("error", f"{run_id}: {e}")


def editor_keys(run_id: str, shown: dict) -> dict[str, str]:
    """Widget keys of the editor drawn with these values: new values, new widgets (set to them)."""
    version = hashlib.sha1(repr(sorted(shown.items())).encode()).hexdigest()[:8]
    return {name: f"ctl-{name}-{run_id}-{version}" for name in EDITED}


def changes(shown: dict, keys: dict[str, str]) -> dict:
    """The editor's fields whose value differs from the one it was drawn with."""
    return {
        name: st.session_state[k]
        for name, k in keys.items()
        if k in st.session_state and st.session_state[k] != shown[name]
    }


def _apply(eng, run_id: str, shown: dict, keys: dict[str, str]) -> None:
    """Callback of Apply: post the fields this person changed, and only those."""
    edits = changes(shown, keys)
    if not edits:
        st.session_state[MESSAGE] = ("info", f"{run_id}: nothing changed, nothing applied.")
        return
    if _refuse(eng, run_id):
        return
    try:
        if "lr" in edits:
            eng.jobs.set_lr(run_id, edits["lr"])
        if "clip" in edits or "clip_value" in edits:
            now = eng.jobs.live_settings(run_id)  # the field left alone as the run has it now
            eng.jobs.set_clip(run_id, edits.get("clip", now["clip"]), edits.get("clip_value", now["clip_value"]))
    except (ConfigError, KeyError, ValueError) as e:
        st.session_state[MESSAGE] = ("error", f"{run_id}: {e}")
        return
    words = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in edits.items())
    st.session_state[MESSAGE] = ("info", f"{run_id}: {words} from its next step.")


def _editor(eng, run_id: str) -> None:
    """The lr / clipping popover: a form starting from the run's current values."""
    shown = eng.jobs.live_settings(run_id)
    keys = editor_keys(run_id, shown)
    with st.popover("lr / clipping", icon=":material/tune:"), st.form(f"ctl-form-{keys['lr']}", border=False):
        st.number_input("learning rate (peak)", value=float(shown["lr"]), key=keys["lr"], format="%g", step=1e-4)
        st.selectbox("clipping", CLIPS, index=CLIPS.index(shown["clip"]), key=keys["clip"])
        st.number_input(
            "clip threshold", value=float(shown["clip_value"]), key=keys["clip_value"], format="%g", step=0.5
        )
        st.form_submit_button(
            "Apply",
            key=f"ctl-apply-{keys['lr'].removeprefix('ctl-lr-')}",
            on_click=_apply,
            args=(eng, run_id, shown, keys),
            help="Only the fields you changed are applied, at the run's next step, and marked on its charts.",
        )


def _buttons(eng, info: RunInfo, cols) -> None:
    """Pause or Resume, Stop and the editor of a run this visitor may steer."""
    paused = eng.jobs.status(info.id) == "paused"
    word, action, icon = ("Resume", eng.jobs.resume, "play_arrow") if paused else ("Pause", eng.jobs.pause, "pause")
    cols[1].button(
        word, key=f"ctl-{word.lower()}-{info.id}", icon=f":material/{icon}:", on_click=_act, args=(eng, action, info.id)
    )
    cols[2].button(
        "Stop", key=f"ctl-stop-{info.id}", icon=":material/stop:", on_click=_act, args=(eng, eng.jobs.stop, info.id)
    )
    with cols[3]:
        _editor(eng, info.id)


def _row(eng, info: RunInfo, name: str) -> None:
    """One run: its status line, and what this visitor may do with it."""
    if not is_active(info):
        status_line(eng, info, name, info.summary.get("loss_kind", "ce"))
        return
    cols = st.columns([6, 1.3, 1.2, 1.9], vertical_alignment="top")
    with cols[0]:
        status_line(eng, info, name, info.summary.get("loss_kind", "ce"))
    if not eng.jobs.is_live(info.id):
        cols[1].caption("trained by another process: steer it there")
    elif (why := ownership.refusal(eng, info.id)) is not None:
        cols[1].caption(why)
    else:
        _buttons(eng, info, cols)


def _message() -> None:
    kind, words = st.session_state.pop(MESSAGE, (None, None))
    if kind == "error":
        st.error(text(words, 300))
    elif kind == "info":
        st.info(text(words, 300), icon=":material/tune:")


def controls(eng, run_ids: list[str], names: dict[str, str]) -> None:
    """Each shown run's status line, with Pause/Resume, Stop and the editor while it is active."""

    def infos() -> list[RunInfo]:
        found = []
        for run_id in run_ids:
            try:
                found.append(eng.store.run(run_id))
            except KeyError:  # deleted in another tab
                continue
        return found

    live = any(is_active(i) for i in infos())

    @st.fragment(run_every=resources.refresh_seconds() if live else None)
    def header():
        _message()
        shown = infos()
        for info in shown:
            _row(eng, info, names.get(info.id, info.id))
        if live and not any(is_active(i) for i in shown):
            st.rerun()  # the last run ended: redraw the page once, without timers

    header()
