"""The transport bar over the charts: Pause / Resume, Step 1 and Step 10 for every shown run this
process trains (Playground's play, pause and step, for a teacher going through training batch by batch).

It is drawn in a fragment of its own with no timer (app/live_view.py): a click reruns and redraws
only the bar, and a click can't be lost to a timer (Streamlit dropped a button's click that came as
its fragment's timer fired: 2 Step clicks of about 60 in bench/pause_step.py). Each callback waits, up to SETTLE_S,
until the runs have done what was asked (JobManager.settle: paused, or stepped and stored), so the
bar redrawn after the click already says where the runs stand. The panel's timed header notices
when the runs' states change otherwise (a run ends, another tab pauses it, a Step lands after
SETTLE_S) and redraws the page, the bar with it (`look`). A group pauses and steps as one
(engine/jobs.py), so its runs stay at the same step.
"""

from __future__ import annotations

import streamlit as st

from app import state

SETTLE_S = 3.0  # longest a click waits for the runs (Step 10 of a big group takes a while); then the timer shows the rest
MESSAGE = "_transport_message"
CLICKED = "_transport_clicked"  # set by Pause, Resume and Step: with Live off the panel then redraws its charts too


def _wait(jobs, run_ids: list[str]) -> None:
    jobs.settle(run_ids, timeout=SETTLE_S)
    st.session_state[CLICKED] = True


def _pause(jobs, run_ids: list[str]) -> None:
    """Callback: hold every run at its next step boundary."""
    for run_id in run_ids:
        _try(jobs.pause, run_id)
    _wait(jobs, run_ids)


def _resume(jobs, run_ids: list[str]) -> None:
    """Callback: let every run train on."""
    for run_id in run_ids:
        _try(jobs.resume, run_id)
    _wait(jobs, run_ids)


def _step(jobs, run_ids: list[str], n: int) -> None:
    """Callback: n more batches for every run, once per group (JobManager.step steps a whole group)."""
    stepped: set[str] = set()
    for run_id in run_ids:
        if run_id not in stepped:
            stepped.update(_try(jobs.step, run_id, n) or ())
    _wait(jobs, run_ids)


def _try(action, run_id: str, *args):
    """Call a JobManager method; keep its refusal as a message (the run ended meanwhile, say)."""
    try:
        return action(run_id, *args)
    except (KeyError, ValueError) as e:
        st.session_state[MESSAGE] = f"{run_id}: {e}"
        return None


def steered(jobs, infos) -> list[str]:
    """The shown runs the bar steers: those training in this process (none when the bar is hidden)."""
    return [] if state.hidden("pause") else [i.id for i in infos if jobs.is_live(i.id)]


def look(jobs, infos) -> tuple:
    """What the bar shows: the steered runs, their statuses (queued, running, paused) and, while
    paused, the step its caption names. A Step whose runs take longer than SETTLE_S (a loaded
    machine, a big group) is then shown when it lands: the header sees the paused step move and
    redraws the page, where the bar would otherwise keep saying the step before the click."""
    ids = set(steered(jobs, infos))
    shown = []
    for info in infos:
        if info.id in ids:
            status = jobs.status(info.id)
            shown.append((info.id, status, info.step if status == "paused" else None))
    return tuple(shown)


def bar(jobs, infos, key: str) -> bool:
    """Pause or Resume, Step 1, Step 10, and where the runs stand; nothing (False) when no shown run trains here."""
    run_ids = steered(jobs, infos)
    if not run_ids:
        return False
    statuses = [jobs.status(r) for r in run_ids]
    paused = all(s == "paused" for s in statuses)
    cols = st.columns([1.3, 1.2, 1.35, 4.5], vertical_alignment="center")  # room for the labels in a lesson's column
    with cols[0]:
        if paused:
            st.button("Resume", key=f"{key}-resume", icon=":material/play_arrow:", type="primary",
                      on_click=_resume, args=(jobs, run_ids), width="stretch")
        else:
            st.button("Pause", key=f"{key}-pause", icon=":material/pause:", on_click=_pause,
                      args=(jobs, run_ids), width="stretch", disabled=all(s == "queued" for s in statuses))
    help_ = "Train every shown run {} more, then hold again (a group steps together)."
    can_step = paused and jobs.can_step  # runs on Ray pause and resume but cannot step
    if not jobs.can_step:
        help_ = "Step needs runs trained in the dashboard's own process; these train on Ray."
    cols[1].button("Step 1", key=f"{key}-step1", icon=":material/skip_next:", disabled=not can_step,
                   on_click=_step, args=(jobs, run_ids, 1), help=help_.format("one batch"), width="stretch")
    cols[2].button("Step 10", key=f"{key}-step10", icon=":material/fast_forward:", disabled=not can_step,
                   on_click=_step, args=(jobs, run_ids, 10), help=help_.format("ten batches"), width="stretch")
    cols[3].caption(_where(jobs, infos, run_ids, paused))
    message = st.session_state.pop(MESSAGE, None)
    if message:
        st.error(message)
    return True


def _where(jobs, infos, run_ids: list[str], paused: bool) -> str:
    """'paused at step 1,234: Step trains one batch and holds again', or what the runs are doing.

    The bar is redrawn on a click, not on a timer: the step is said only while paused (a click
    moves it); the numbers row under the bar follows a training run's step."""
    if not paused:
        return "training: Pause holds every shown run at its next step"
    steps = sorted({i.step for i in infos if i.id in run_ids})
    at = f"step {steps[0]:,}" if len(steps) == 1 else "steps " + ", ".join(f"{s:,}" for s in steps)
    return f"paused at {at}: Step trains one batch (or ten) and holds again"
