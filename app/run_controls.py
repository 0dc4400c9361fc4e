"""Controls of active runs: Stop and live changes of the learning rate and clipping.

The dashboard never touches a model: each button posts a request through the JobManager, which
the worker applies at its next step and records as an event (lr_change, clip_change, stopped).
Pause, Resume and Step of the runs trained here are the transport bar's (app/transport.py).
Runs trained by another process (the CLI) are shown but cannot be steered from here, except runs
recorded by engine.watch in someone's own loop: their Pause and Stop leave a request in the store,
which the loop reads in rec.after_step() (engine/store/requests.py).

The editor starts from the run's values as its next step will use them (JobManager.live_settings:
its config with every live edit, from any tab) and posts only what the person changed: changing
the threshold alone keeps the run's clipping mode, whatever this tab showed earlier. Its widgets'
keys carry those values, so an edit made elsewhere redraws it with the new ones.

On a shared server only the browser that started a run sees its buttons (app/ownership.py).
"""

from __future__ import annotations

import hashlib

import streamlit as st

from app import ownership
from app.safe_text import text
from app.status import is_active
from engine.config import CLIPS, ConfigError
from engine.watch import is_watched

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


def _request(eng, run_id: str, action: str) -> None:
    """Callback: leave a pause, resume or stop request for a loop recorded by engine.watch."""
    if _refuse(eng, run_id):
        return
    try:
        eng.store.request(run_id, action)
    except (KeyError, ValueError) as e:
        st.session_state[MESSAGE] = ("error", f"{run_id}: {e}")


def _request_buttons(eng, info, cols) -> None:
    """A run recorded by engine.watch in someone's own loop: Pause/Resume and Stop as store requests."""
    paused = info.status == "paused"
    word, action = ("Resume", "resume") if paused else ("Pause", "pause")
    icon = ":material/play_arrow:" if paused else ":material/pause:"
    cols[1].button(word, key=f"ctl-{action}-{info.id}", icon=icon, on_click=_request, args=(eng, info.id, action))
    cols[2].button("Stop", key=f"ctl-stop-{info.id}", icon=":material/stop:", on_click=_request,
                   args=(eng, info.id, "stop"))
    cols[3].caption("your own loop (watch): it obeys at its next rec.after_step(), within a second")


def _message() -> None:
    kind, words = st.session_state.pop(MESSAGE, (None, None))
    if kind == "error":
        st.error(text(words, 300))
    elif kind == "info":
        st.info(text(words, 300), icon=":material/tune:")


def controls(eng, infos, names: dict[str, str], hidden=frozenset()) -> None:
    """One row per active run: Stop and the lr/clipping editor, unless a link hid them (stop_hide, edit_hide)
    or the run is another visitor's on a shared server; for a run recorded by engine.watch, its
    Pause/Resume and Stop requests."""
    _message()
    active = [i for i in infos if is_active(i)] if not {"stop", "edit"} <= set(hidden) else []
    for info in active:
        name = names.get(info.id, info.id)
        cols = st.columns([4, 1.3, 1.3, 1.8], vertical_alignment="center")
        cols[0].markdown(f"**{text(name)}**")
        if (why := ownership.refusal(eng, info.id)) is not None:
            cols[1].caption(why)
        elif not eng.jobs.is_live(info.id):
            if is_watched(info):
                _request_buttons(eng, info, cols)
            else:
                cols[1].caption("trained by another process: steer it there")
        else:  # Pause, Resume and Step are the transport bar's, over the charts (app/transport.py)
            if "stop" not in hidden:
                cols[1].button("Stop", key=f"ctl-stop-{info.id}", icon=":material/stop:", on_click=_act,
                               args=(eng, eng.jobs.stop, info.id))
            if "edit" not in hidden:
                with cols[2]:
                    _editor(eng, info.id)
