"""The live panel: a toolbar, then three fragments: the transport bar, the header, the charts.

    views = chart_grid.views("live")
    view, ctx = toolbar("live", views, key="view")
    panel(eng, run_ids, views[view], ctx)

The transport bar (Pause/Resume, Step) has no timer: a click redraws only the bar, and cannot be
lost to a timer firing at that moment (Streamlit drops such a click). The header (big numbers,
status lines) and the charts refresh on timers set when the page runs: on while any shown run is
queued, running or paused; the charts' only while the Live toggle is on (a held chart keeps its
zoom: a changed figure would remount and reset it), and then say the step they show. The header
redraws the page when the runs change what the bar shows (transport.look). A page run waits up
to FIRST_POINT_WAIT for a started run's first point (first_points), so its charts are drawn once,
with it. If it has not come by then, both tick every FIRST_POINT_REFRESH seconds until it is
stored, then the charts ask for one full rerun that sets the usual pace. When the last
shown run finishes, the header asks for one full rerun, which redraws the page without timers.
Only the chosen view is read and drawn.
"""

from __future__ import annotations

import hashlib
import time

import streamlit as st

from app import chart_grid, charts, numbers, ownership, presenter, resources, series, state, transport
from app.chart_grid import Ctx
from app.charts.base import colors
from app.fork_control import fork_from_step
from app.safe_text import text
from app.status import is_active, status_line
from engine.config import FIELDS, ConfigError, parse_value
from engine.forks import apply_fix, canonical

FIRST_POINT_REFRESH = 0.2  # s between refreshes while a shown run has no point yet (then resources.refresh_seconds)
FIRST_POINT_WAIT = 1.0  # s a page run waits for a started run's first point before drawing without it
WINDOWS = {"all steps": None, "last 5,000": 5000, "last 1,000": 1000, "last 200": 200}
FIX_ERROR = "_fix_error"
BAR_LOOK = "_bar_look"  # transport.look() when the bar was drawn: the header redraws the page when it changes
FOUND = "_diagnoses_found"  # diagnoses drawn in the header (presenting): the charts fit under them


def selection_key(page: str, run_ids: list[str]) -> str:
    """A short key prefix that is stable for one page and one selection of runs."""
    return f"{page}-{hashlib.sha1('|'.join(run_ids).encode()).hexdigest()[:8]}"


def toolbar(page: str, views: dict, key: str, slot=None) -> tuple[str, Ctx]:
    """View switch (kept in the URL), window, per-batch curves and the Live/Pause toggle; presenting,
    the view switch alone, in `slot` when given (the header's empty title column)."""
    if state.presenting():
        with slot if slot is not None else st.container():
            view = _view_switch(views, key)
        smoothing = float(st.session_state.get("smooth", charts.SMOOTHING))
        return view or next(iter(views)), Ctx(key=page, mode=page, following=True, smoothing=smoothing)
    left, smooth_col, mid, right, far = st.columns([5, 1.8, 1.6, 1.3, 1.1], vertical_alignment="bottom")
    with left:
        view = _view_switch(views, key)
    with smooth_col:
        smoothing = st.slider(
            "smoothing",
            0.0,
            0.999,
            value=charts.SMOOTHING,
            step=0.001,
            format="%.3f",
            key="smooth",
            bind="query-params",
            help="The bold training curves: a moving average of the batches that decays by this much per "
            "training step (0: every batch as it is). Higher values are calmer but lag further behind.",
        )
    with mid:
        window = st.selectbox("steps shown", list(WINDOWS), key=f"{page}-window", persist_state="session")
    with right:
        batches = st.toggle(
            "batches",
            value=True,
            key=f"{page}-batches",
            persist_state="session",
            help="Draw every batch's value faintly under the moving average.",
        )
    with far:
        follow = st.toggle(
            "Live",
            value=True,
            key=f"{page}-follow",
            persist_state="session",
            help="On: charts refresh while a run trains. Off: they hold still, so you can zoom.",
        )
    ctx = Ctx(key=page, mode=page, last_n=WINDOWS.get(window), batches=batches, following=follow,
              smoothing=float(smoothing))
    return view or next(iter(views)), ctx


def _view_switch(views: dict, key: str) -> str | None:
    return st.segmented_control(
        "view",
        list(views),
        key=key,
        bind="query-params",
        default=next(iter(views)),
        required=True,
        label_visibility="collapsed",
    )


def awaiting_first_point(info) -> bool:
    """Queued or started, with no step stored yet (a fork: none past the step it starts from)."""
    return info.status in ("queued", "running") and info.step <= (info.fork_step or 0)


def first_points(eng, run_ids: list[str], infos: list) -> list:
    """The runs' rows once every started run has a point, or after FIRST_POINT_WAIT seconds.

    Just after Start the run's first step is a fraction of a second away. Charts drawn before it
    would be drawn again a moment later, and on a small machine the browser's first drawing of
    the Live page takes seconds, during which the refresh that would bring the point waits
    (bench/first_chart.py). So the page waits for the point and draws its charts once. A queued
    run is not waited for: its turn may be minutes away.
    """
    deadline = time.monotonic() + FIRST_POINT_WAIT
    while any(i.status == "running" and awaiting_first_point(i) for i in infos) and time.monotonic() < deadline:
        time.sleep(0.02)
        infos = series.infos(eng.store, run_ids)
    return infos


def legend_labels(infos) -> dict[str, str]:
    """Legend text per run: the runs' own names when each has a different one, else the settings that differ."""
    if len(infos) < 2:
        return {i.id: i.label or i.id for i in infos}
    if all(i.label for i in infos) and len({i.label for i in infos}) == len(infos):  # a group's, a person's
        labels = {i.id: i.label for i in infos}
    else:
        configs = {i.id: _parsed(i.config) for i in infos}  # compared as RunConfig parses them: 1 and 1.0 agree
        differ = [f.name for f in FIELDS if len({repr(c.get(f.name)) for c in configs.values()}) > 1]
        labels = {
            i.id: ", ".join(f"{k}={canonical(configs[i.id].get(k))}" for k in differ[:3]) or (i.label or i.id)
            for i in infos
        }
    seen: dict[str, int] = {}
    for label in labels.values():
        seen[label] = seen.get(label, 0) + 1
    return {rid: (f"{label} ({rid[-4:]})" if seen[label] > 1 else label) for rid, label in labels.items()}


def _parsed(config: dict) -> dict:
    """A stored config's values parsed by field type (older stores may hold 1 where RunConfig holds 1.0)."""
    out = {}
    for name, value in config.items():
        try:
            out[name] = parse_value(name, value)
        except ConfigError:  # a setting this version no longer has: compare it as stored
            out[name] = value
    return out


def panel(eng, run_ids: list[str], ids: tuple, ctx: Ctx, show_status: bool = True,
          above: tuple[int, ...] = (presenter.HEADER_H,)) -> None:
    """Transport bar, big numbers, status lines, diagnoses and the charts `ids` of the runs; refreshing
    while any is active. Presenting: no status lines, the numbers and one-line diagnoses side by side,
    and the charts fitted to the screen under blocks `above` px tall (the page's, before the panel).

    The transport bar, the numbers and the status lines (queue position, paused or not) follow the
    store in a fragment of their own; the charts in another, or, with Live off, hold still (a zoom
    survives) until a Pause, Resume or Step, which then redraws the whole page."""
    infos = first_points(eng, run_ids, series.infos(eng.store, run_ids))
    live = any(is_active(i) for i in infos)
    ctx.following = live and ctx.following
    every = resources.refresh_seconds() if ctx.following else None
    waiting = ctx.following and any(awaiting_first_point(i) for i in infos)
    if waiting:  # until a new run's first points are stored, look for them often; then at the usual pace
        every = min(FIRST_POINT_REFRESH, every)
    present = state.presenting()

    def read(charts: bool = True):
        """The runs' rows and RunSeries; without `charts`, only what the header needs (names, events, loss kind)."""
        infos = series.infos(eng.store, run_ids)
        labels = legend_labels(infos)
        reads, smooths = (chart_grid.reads(ids), chart_grid.smooths(ids)) if charts else ((), ())
        return infos, series.load_runs(eng.store, eng.cache, infos, reads, labels, smooths)

    def header(infos, runs) -> bool:
        """The numbers, status lines and (presenting) diagnoses, side by side with the numbers; -> diagnoses found."""
        rows = [numbers.figures(eng.store, info, run.loss_kind) for info, run in zip(infos, runs)]
        if present:
            left, right = st.columns([3, 2])
            with left:
                numbers.draw(rows, [r.name for r in runs], colors(runs), big=True)
            with right:
                return bool(diagnoses(eng, infos, runs, box=presenter.diagnoses_h(len(infos))))
        numbers.draw(rows, [r.name for r in runs], colors(runs))
        if show_status:
            for info, run in zip(infos, runs):
                status_line(eng, info, run, metrics=False)
        return False

    def draw_charts(infos, runs, bar: bool, found: bool) -> None:
        if present:
            tall = presenter.diagnoses_h(len(infos)) if found else presenter.numbers_h(len(infos))
            blocks = [*above, *([presenter.TRANSPORT_H] if bar else []), tall]
            ctx.scale, ctx.overview, ctx.screen = presenter.FONT_SCALE, True, presenter.charts_screen(blocks)
        else:
            diagnoses(eng, infos, runs)
        texts = {i.id: eng.cache.texts(i) for i in infos} if "samples" in ids else {}
        chart_grid.draw(ids, runs, ctx, texts)

    def steered(infos):
        return [i for i in infos if ownership.may_steer(eng, i.id)]

    @st.fragment  # no timer: a click in a fragment can be lost when its timer fires at that moment
    def transport_part():
        """The transport bar: a click reruns and redraws only this (a redraw of every chart keeps a small
        machine's browser busy for most of a second, and the next click would wait behind it)."""
        if st.session_state.pop(transport.CLICKED, False) and not ctx.following:
            st.rerun()  # Pause or Step with Live off: the page, so the held charts show where the runs stand
        infos = steered(series.infos(eng.store, run_ids))
        st.session_state[BAR_LOOK] = transport.look(eng.jobs, infos)
        transport.bar(eng.jobs, infos, ctx.key)

    @st.fragment(run_every=(every if ctx.following else resources.refresh_seconds()) if live else None)
    def header_part():
        """The numbers and status lines, following the store; the page again when the runs change what
        the bar shows (one ended, or was paused elsewhere) or a button asked for it."""
        eng.notice_dead_runs()
        infos, runs = read(charts=False)  # the header reads no chart series
        if state.pending_rerun() or transport.look(eng.jobs, steered(infos)) != st.session_state.get(BAR_LOOK):
            st.rerun()
        st.session_state[FOUND] = header(infos, runs)
        if live and not any(is_active(i) for i in infos):
            st.rerun()  # the last run ended: redraw once, charts included, without the timers

    def charts_part():
        if state.pending_rerun():  # a button in here (a fix, a fork) changed the shown runs: redraw the whole page
            st.rerun()
        infos, runs = read()
        if live and not ctx.following and not present:  # the header's steps move on: say which step the charts show
            steps = ", ".join(f"{i.step:,}" for i in infos)
            st.caption(f":material/pause_circle: Charts held at step {steps} (Live is off, so a zoom stays). "
                       "Turn Live on to follow the runs; Pause or Step redraws them.")
        draw_charts(infos, runs, bool(st.session_state.get(BAR_LOOK)), st.session_state.get(FOUND, False))
        if waiting and not any(awaiting_first_point(i) for i in infos):
            st.rerun()  # the first points are drawn: redraw once at the usual refresh

    transport_part()
    header_part()
    if ctx.following:
        st.fragment(charts_part, run_every=every)()
    else:  # Live off, or nothing trains: the charts hold still (a zoom stays)
        charts_part()


# ---- diagnoses ----------------------------------------------------------------------------------


def _try_fix(eng, run_id: str, data: dict) -> None:
    """Callback: start the diagnosis's fix beside the run (a rerun from step 0, or a fork where the rule fired)."""
    try:
        new_id = apply_fix(eng.jobs, run_id, data)
    except (ConfigError, KeyError, OSError, TimeoutError, ValueError, RuntimeError) as e:
        st.session_state[FIX_ERROR] = f"Could not try the fix on {run_id}: {e}"
        return
    ownership.claim(eng, [new_id])
    eng.cache.forget(run_id)  # the parent got a 'fork' event at a step it had already shown
    state.show([run_id, new_id], "live")


def diagnoses(eng, infos, runs, box: int | None = None) -> int:
    """The diagnosis events of the runs (the newest per rule), each with its fix when there is one;
    returns how many there are. With `box` (presenter mode) each is folded to a one-line expander, and
    when they need more than `box` px they scroll inside a box that tall, so the charts stay on screen."""
    found = []
    for info, run in zip(infos, runs):
        newest = {}
        for e in run.events:
            if e.kind == "diagnosis":
                newest[e.data.get("rule", e.message)] = e
        found += [(info, run, e) for e in newest.values()]
    message = st.session_state.pop(FIX_ERROR, None)
    if message:
        st.error(text(message, 300))
    compact = box is not None
    box = st.container(height=box) if compact and len(found) * presenter.DIAGNOSIS_LINE_H > box else st
    for info, run, e in sorted(found, key=lambda t: t[2].step):
        data = e.data or {}
        title = data.get("title") or e.message
        line = f":orange[:material/stethoscope:] **{title}** · {text(run.name)} · step {e.step:,}"
        with box.expander(line) if compact else box.container(border=True):
            if not compact:
                st.markdown(line)
            if data.get("explanation"):
                st.markdown(data["explanation"])
            fix = data.get("fix") or {}
            if fix:
                words = data.get("fix_label") or ", ".join(f"{k} {canonical(v)}" for k, v in fix.items())
                fork = data.get("apply") == "fork"
                st.button(
                    f"Try the fix: {words}",
                    key=f"fix-{info.id}-{data.get('rule', '')}-{e.step}",
                    icon=":material/call_split:",
                    on_click=_try_fix,
                    args=(eng, info.id, data),
                    help=(f"Continue this run from its state at step {data.get('fork_step', e.step):,} with the "
                          "suggested settings" if fork else
                          "Run this run again from step 0 with the same seed and data order and the suggested "
                          "settings") + ", as a new run shown beside it.",
                )
    if not compact:  # presenting: the class watches, nobody forks
        fork_from_step(eng, infos)
    return len(found)
