"""Controls of active runs: stop, pause and resume, and live changes of the learning rate and clipping.

The dashboard never touches a model: each button posts a request through the JobManager, which
the worker applies at its next step and records as an event (lr_change, clip_change, stopped).
Pause, Resume and Step of the runs trained here are the transport bar's (app/transport.py).
Runs trained by another process (the CLI) are shown but cannot be steered from here, except runs
recorded by engine.watch in someone's own loop: their Pause and Stop leave a request in the store,
which the loop reads in rec.after_step() (engine/store/requests.py).
"""

from __future__ import annotations

import streamlit as st

from app.status import is_active
from engine.config import CLIPS, ConfigError
from engine.watch import is_watched

MESSAGE = "_control_message"


def _act(action, run_id: str, *args) -> None:
    """Callback: call a JobManager method; keep a message when it refuses."""
    try:
        action(run_id, *args)
    except (ConfigError, KeyError) as e:
        st.session_state[MESSAGE] = f"{run_id}: {e}"


def _apply_lr(jobs, run_id: str) -> None:
    _act(jobs.set_lr, run_id, st.session_state[f"ctl-lr-{run_id}"])


def _apply_clip(jobs, run_id: str) -> None:
    _act(jobs.set_clip, run_id, st.session_state[f"ctl-clip-{run_id}"], st.session_state[f"ctl-clipv-{run_id}"])


def _edit_popover(jobs, info) -> None:
    with st.popover("lr / clipping", icon=":material/tune:"):
        k = f"ctl-lr-{info.id}"
        st.session_state.setdefault(k, float(info.config["lr"]))
        st.number_input(
            "learning rate (peak)",
            key=k,
            format="%g",
            step=1e-4,
            help="Applied at the run's next step and marked on its charts.",
        )
        st.button("Apply lr", key=f"ctl-lr-apply-{info.id}", on_click=_apply_lr, args=(jobs, info.id))
        mode, value = f"ctl-clip-{info.id}", f"ctl-clipv-{info.id}"
        st.session_state.setdefault(mode, info.config["clip"])
        st.session_state.setdefault(value, float(info.config["clip_value"]))
        st.selectbox("clipping", CLIPS, key=mode)
        st.number_input("clip threshold", key=value, format="%g", step=0.5)
        st.button("Apply clipping", key=f"ctl-clip-apply-{info.id}", on_click=_apply_clip, args=(jobs, info.id))


def _request_buttons(store, info, cols) -> None:
    """A run recorded by engine.watch in someone's own loop: Pause/Resume and Stop as store requests."""
    paused = info.status == "paused"
    word, action = ("Resume", "resume") if paused else ("Pause", "pause")
    icon = ":material/play_arrow:" if paused else ":material/pause:"
    cols[1].button(word, key=f"ctl-{action}-{info.id}", icon=icon, on_click=_act, args=(store.request, info.id, action))
    cols[2].button(
        "Stop", key=f"ctl-stop-{info.id}", icon=":material/stop:", on_click=_act, args=(store.request, info.id, "stop")
    )
    cols[3].caption("your own loop (watch): it obeys at its next rec.after_step(), within a second")


def controls(jobs, infos, names: dict[str, str], hidden=frozenset()) -> None:
    """One row per active run: stop and the lr/clipping editor, unless a link hid them (stop_hide, edit_hide);
    for a run recorded by engine.watch, its Pause/Resume and Stop requests."""
    active = [i for i in infos if is_active(i)] if not {"stop", "edit"} <= set(hidden) else []
    message = st.session_state.pop(MESSAGE, None)
    if message:
        st.error(message)
    for info in active:
        name, mine = names.get(info.id, info.id), jobs.is_live(info.id)
        cols = st.columns([4, 1.3, 1.3, 1.8], vertical_alignment="center")
        cols[0].markdown(f"**{name}**")
        if not mine:
            if is_watched(info):
                _request_buttons(jobs.store, info, cols)
            else:
                cols[1].caption("trained by another process: steer it there")
            continue
        # Pause, Resume and Step are the transport bar's, over the charts (app/transport.py)
        if "stop" not in hidden:
            cols[1].button(
                "Stop", key=f"ctl-stop-{info.id}", icon=":material/stop:", on_click=_act, args=(jobs.stop, info.id)
            )
        if "edit" not in hidden:
            with cols[2]:
                _edit_popover(jobs, info)
