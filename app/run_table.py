"""The Runs page's table and the actions on chosen runs: open, compare, stop, delete, export, share.

The actions are a fragment that re-reads the chosen runs every refresh while any is active or a
refused delete is on show, so "stop it first" turns into "deleted" or "can be deleted now" within
one refresh of the run ending. Delete always deletes or says why not (delete_refusal). On a
shared server only the visitor who started a run may stop or delete it (app/ownership.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from app import controls, ownership, resources, state
from app.safe_text import code, text
from app.status import is_active, status_word
from engine import tb_export
from engine.config import RunConfig
from engine.store import MAX_LABEL, StoreError
from engine.trainer import VAL_LOSS, VAL_PPL

COLUMNS = {
    "status": st.column_config.TextColumn("status", width="small"),
    "step": st.column_config.NumberColumn("step", format="%d"),
    "created": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
    "val ppl": st.column_config.NumberColumn("val ppl", format="%.3g"),
    "val loss": st.column_config.NumberColumn("val loss", format="%.4g"),
}
DELETE_CONFIRM = "runs-delete-confirm"
REFUSED = "runs-delete-refused"  # run ids whose delete was refused: their reason is re-read when the page redraws
DELETED = "runs-deleted"  # run ids the last Delete removed: said once, in a toast
REDRAW = "_runs-redraw"  # a Delete inside the fragment asks for the whole page (its table) to be redrawn
LOOK = "_runs-look"  # _look() of the chosen runs when the buttons were drawn
RENAME_ERROR = "runs-rename-error"
DOWNLOADS = (  # (key prefix, label, format, shape, mime)
    ("csv", "CSV", "csv", "long", "text/csv"),
    ("csvwide", "CSV, wide", "csv", "wide", "text/csv"),
    ("parquet", "Parquet", "parquet", "long", "application/octet-stream"),
    ("parquetwide", "Parquet, wide", "parquet", "wide", "application/octet-stream"),
)
EXPORT_NOTE = ("long: one row per recorded value (run, step, name, value) · wide: one row per step, one column per "
               "series · the run's id and settings come along: a CSV's first lines (# …; pandas: "
               "read_csv(path, comment='#')), a Parquet file's metadata")


def settings_text(config: dict) -> str:
    """The run's settings that differ from the dashboard's defaults, e.g. 'cell=gru, lr=0.01'."""
    try:
        diff = RunConfig.from_dict(config).diff(controls.UI_DEFAULT)
    except (TypeError, ValueError):  # a run stored by another version of the engine
        return ""
    if "corpus" in diff:  # an upload by its name, never its server path (whose folder names a visitor)
        diff["corpus"] = controls.corpus_name(diff["corpus"])
    return ", ".join(f"{k}={v}" for k, v in diff.items())


def table(infos) -> pd.DataFrame:
    """One row per run, newest first."""
    rows = []
    for i in infos:
        final = (i.summary or {}).get("final", {})
        rows.append(
            {
                "id": i.id,
                "label": i.label or "",
                "status": status_word(i.status),
                "step": i.step,
                "of": i.config.get("max_steps"),
                "val ppl": final.get(VAL_PPL.name),
                "val loss": final.get(VAL_LOSS.name),
                "settings": settings_text(i.config),
                "group": i.group_id or i.lesson or "",
                "created": pd.Timestamp(i.created, unit="s"),
            }
        )
    return pd.DataFrame(rows)


def share_query(info) -> str:
    """The query string that reproduces a run's settings and shows it."""
    try:
        params = RunConfig.from_dict(info.config).query_pairs(controls.UI_DEFAULT)
    except (TypeError, ValueError):  # a run stored by another version of the engine
        params = {}
    return urlencode([*params.items(), ("runs", info.id)])


def _export(store, run_id: str, fmt: str, shape: str = "long") -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return store.export(run_id, Path(tmp) / f"{run_id}.{fmt}", fmt=fmt, shape=shape).read_bytes()


def _rename(eng, run_id: str) -> None:
    """Callback: store the name typed in the run's box (on a shared server: only its owner's)."""
    why = ownership.refusal(eng, run_id)
    if why:
        st.session_state[RENAME_ERROR] = f"{run_id}: {why}"
        return
    try:
        eng.store.rename(run_id, st.session_state.get(f"name-{run_id}", ""))
    except ValueError as e:
        st.session_state[RENAME_ERROR] = f"{run_id}: {e}"


def rename_box(eng, info) -> None:
    """A text box holding the run's name and a Rename button beside it (for whoever may steer the run)."""
    if not ownership.may_steer(eng, info.id):
        return
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    left.text_input("name", value=info.label or "", key=f"name-{info.id}", max_chars=MAX_LABEL,
                    help="What the legends, status lines and this table call the run.")
    right.button("Rename", key=f"rename-{info.id}", icon=":material/edit:", on_click=_rename, args=(eng, info.id))


def _tensorboard_button(col, store, info) -> None:
    """The run as TensorBoard event files in a zip (python -m engine export --format tensorboard)."""
    installed = tb_export.writer_installed()
    col.download_button(
        "TensorBoard",
        data=lambda r=info.id: tb_export.export_zip(store, r),
        file_name=f"{info.id}-tensorboard.zip",
        mime="application/zip",
        key=f"tb-{info.id}",
        on_click="ignore",
        icon=":material/download:",
        disabled=not installed,
        help="Event files of every point: unzip, then `tensorboard --logdir .`"
        if installed
        else f"Needs tensorboardX: pip install -r {tb_export.REQUIREMENTS}",
    )


def delete_refusal(eng, run_id: str) -> str | None:
    """Why the run cannot be deleted now, read from the store and the job manager; None when it can."""
    try:
        info = eng.store.run(run_id)
    except KeyError:
        return None  # already gone: deleting it again is a no-op
    why = ownership.refusal(eng, run_id)
    if why:
        return why
    if eng.jobs.is_live(run_id):
        return f"it is {eng.jobs.status(run_id)} here: stop it first, then delete it"
    if is_active(info):
        return (
            f"the store says it is {info.status} in another process (pid {info.pid} on {info.host}): stop it "
            "there; if that process is gone the run is marked interrupted within a minute, and can be deleted then"
        )
    return None


def _delete(eng, run_ids: list[str]) -> None:
    """Callback: delete the chosen runs that can be; keep the others' ids to say why not."""
    deleted, refused = [], []
    for run_id in run_ids:
        if delete_refusal(eng, run_id):
            refused.append(run_id)
            continue
        try:
            eng.store.delete_run(run_id)
        except KeyError:  # deleted meanwhile, in another tab
            pass
        except (StoreError, OSError, RuntimeError) as e:
            st.session_state["runs-message"] = f"{run_id} was not deleted: {e}"
            refused.append(run_id)
            continue
        eng.cache.forget(run_id)
        deleted.append(run_id)
    eng.owners.forget(deleted)
    st.session_state[REFUSED] = refused
    st.session_state[DELETED] = deleted
    st.session_state[REDRAW] = bool(deleted)
    st.session_state[DELETE_CONFIRM] = False
    state.set_shown([r for r in state.shown_runs() if r not in deleted])


def _stop(eng, run_ids: list[str]) -> None:
    """Callback: stop the chosen runs this visitor may steer."""
    for run_id in run_ids:
        if ownership.may_steer(eng, run_id):
            eng.jobs.stop(run_id)


def deleted_note() -> None:
    """The runs the last Delete removed, once, as a toast (drawn by the page: they are no longer chosen)."""
    deleted = st.session_state.pop(DELETED, None)
    if deleted:
        st.toast(f"Deleted {', '.join(code(r) for r in deleted)}.", icon=":material/delete:")


def _delete_notes(eng, chosen: list[str]) -> None:
    """For each run the last Delete refused: why not, as the store has it now (or that it can go now)."""
    for run_id in [r for r in st.session_state.get(REFUSED) or [] if r in chosen]:
        why = delete_refusal(eng, run_id)
        if why:
            st.warning(f"{code(run_id)} was not deleted: {text(why, 300)}.", icon=":material/block:")
        else:
            st.info(f"{code(run_id)} can be deleted now: it is no longer active.", icon=":material/delete:")


def actions(eng, infos) -> None:
    """Buttons for the chosen runs, then a card per run; the cards refresh while any run is active.

    The buttons are in a fragment with no timer: a click that lands as a timed fragment redraws is
    lost (Streamlit drops it: in CI the 'really delete' box stayed unticked for 240 s). The cards'
    timer redraws the page instead when the runs' statuses change what the buttons offer (a run
    stopped, ended or deleted)."""
    ids = [i.id for i in infos]
    live = any(is_active(i) for i in infos)

    def fresh() -> list:
        out = []
        for run_id in ids:
            try:
                out.append(eng.store.run(run_id))
            except KeyError:  # deleted here or in another tab
                continue
        return out

    @st.fragment
    def buttons():
        if st.session_state.pop(REDRAW, False) or state.pending_rerun():
            st.rerun()  # runs were deleted (the table above must lose them too), or a button asked for a page
        now = fresh()
        st.session_state[LOOK] = _look(now)
        _buttons(eng, now, ids)

    @st.fragment(run_every=resources.refresh_seconds() if live else None)
    def cards():
        now = fresh()
        if state.pending_rerun() or _look(now) != st.session_state.get(LOOK):
            st.rerun()  # a button asked for a page, or the runs changed what the buttons offer
        _cards(eng, now)
        if live and not any(is_active(i) for i in now):
            st.rerun()  # the last chosen run ended: redraw the page (and its table) once, without the timer

    buttons()
    cards()


def _look(infos) -> tuple:
    """What the buttons and the refusal notes depend on: the chosen runs that exist and their statuses."""
    return tuple((i.id, i.status) for i in infos)


def _buttons(eng, infos, chosen: list[str]) -> None:
    """The buttons and the refusals of the last Delete."""
    ids = [i.id for i in infos]
    st.markdown(f"**{len(ids)} chosen:** " + ", ".join(code(r) for r in ids))
    cols = st.columns(4)
    cols[0].button(
        "Open on Live", key="runs-open", icon=":material/monitoring:", on_click=state.show, args=(ids, "live")
    )
    cols[1].button(
        "Compare",
        key="runs-compare",
        icon=":material/compare_arrows:",
        on_click=state.show,
        args=(ids, "compare"),
        disabled=len(ids) < 2,
    )
    active = [i.id for i in infos if eng.jobs.is_live(i.id) and ownership.may_steer(eng, i.id)]
    cols[2].button(
        "Stop",
        key="runs-stop",
        icon=":material/stop:",
        disabled=not active,
        on_click=_stop,
        args=(eng, active),
        help="Stop the chosen runs that train here"
        + (" and that you started." if resources.mode() == "shared" else "."),
    )
    with cols[3]:
        confirm = st.checkbox("really delete", key=DELETE_CONFIRM)
        st.button(
            "Delete",
            key="runs-delete",
            icon=":material/delete:",
            disabled=not confirm,
            on_click=_delete,
            args=(eng, ids),
            help="Tick 'really delete' first. Active runs are not deleted: stop them first.",
        )
    message = st.session_state.pop("runs-message", None)
    if message:
        st.warning(text(message, 300))
    _delete_notes(eng, chosen)


def _cards(eng, infos) -> None:
    """A card per run (the first four): name, status and step, rename, downloads, a link."""
    error = st.session_state.pop(RENAME_ERROR, None)
    if error:
        st.error(text(error, 300), icon=":material/error:")
    for info in infos[:4]:
        with st.container(border=True):
            st.markdown(
                f"**{text(info.label or info.id)}** · {code(info.id)} · {status_word(info.status)} · step {info.step:,}"
            )
            rename_box(eng, info)
            cols = st.columns(len(DOWNLOADS) + 1)
            for col, (prefix, label, fmt, shape, mime) in zip(cols, DOWNLOADS):
                col.download_button(
                    label,
                    data=lambda r=info.id, f=fmt, s=shape: _export(eng.store, r, f, s),
                    file_name=f"{info.id}{'-wide' if shape == 'wide' else ''}.{fmt}",
                    mime=mime,
                    key=f"{prefix}-{info.id}",
                    on_click="ignore",
                    icon=":material/download:",
                )
            _tensorboard_button(cols[-1], eng.store, info)
            st.caption(EXPORT_NOTE)
            base = (st.context.url or "").rsplit("/", 1)[0] or ""
            st.code(f"{base}/?{share_query(info)}", language=None, wrap_lines=True)
            if info.message:
                st.caption(text(info.message, 300))
