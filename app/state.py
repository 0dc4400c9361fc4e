"""Where the dashboard's state lives, and the one place that syncs it with the URL (principle 11).

- The URL holds what a shared link must reproduce: the run settings as their differences from
  the dashboard's defaults (field names, values as RunConfig.to_query writes them), the shown
  runs as repeated `runs=` ids, and the Live and Compare views (`view=`, `cview=`: widgets bound
  to the URL). For a classroom (as TensorFlow Playground does): `present=1` (presenter mode),
  `<name>_hide=1` for any setting of RunConfig and for the controls in CONTROLS, and on the
  Lessons page `lesson=<id>` (that lesson's page), `run=1` (start it once) and `size=`.
- Session state holds the widgets' values ("cfg.<field>", "runs", "present", ...) and one-shot
  requests from callbacks ("_goto": a page to switch to).
- The engine (store, jobs) lives in app/resources.py, shared by every session.

The URL's settings and runs are read once per session, before the sidebar is drawn; values that
cannot be parsed fall back to the default with a warning. After the sidebar is drawn, the URL
is written with whatever changed, so a reload or a link opened elsewhere shows the same setup.
(The runs picker is not bound to the URL: a bound multiselect writes its display labels, and
a run's label shows its status, which changes.)
"""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app import controls, url_keys
from app.safe_text import code, text
from engine.config import FIELDS, format_value, lenient, parse_values

RUNS_KEY = "runs"  # the shown runs (a list of ids, not a widget); the URL's repeated ?runs=
PICKER_GEN_KEY = "_runs_picker_gen"  # bumped whenever the shown runs are set from code: see picker_key()
PRESENT_KEY = "present"  # the Presenter toggle; the URL's present=1
LESSON_KEY = "lesson"  # the lesson open on the Lessons page; the URL's lesson=<id>
SIZE_KEY = "lesson_size"  # the size a lesson link asks for; the URL's size=
HIDE_KEY = "_hide"  # names hidden by the link's <name>_hide=1 flags (a frozenset)
RUN_LESSON_KEY = "_run_lesson"  # the link's run=1: start the lesson once, then forget it
GOTO_KEY = "_goto"
WARNINGS_KEY = "_url_warnings"
KEPT = ("cfg.", "cmp_")  # prefixes of widget keys whose values carry across pages
KEPT_KEYS = (PRESENT_KEY,)  # ... and these widget keys
TRUE = ("1", "true", "yes", "on")
# controls that are not settings but can be hidden by a link too (<name>_hide=1), and what they are
CONTROLS = {
    "start": "Start (train one run)",
    "compare": "Compare settings (start a group)",
    "pause": "Pause, Resume and Step",
    "stop": "Stop",
    "edit": "live changes of lr and clipping",
    "text": "explanations (a lesson's text, the first page's introduction)",
}
HIDEABLE = (*(f.name for f in FIELDS), *CONTROLS)  # every <name> a hide flag may name
PAGES = {
    "live": "screens/live.py",
    "compare": "screens/compare.py",
    "runs": "screens/runs.py",
    "lessons": "screens/lessons.py",
    "sweep": "screens/sweep.py",
}


def read_url_once() -> None:
    """Seed the settings form, the shown runs and the classroom flags from the URL, the first time this session runs."""
    if st.session_state.get("_url_read"):
        return
    st.session_state["_url_read"] = True
    # parsed here; a value out of range stays in the form, where its field says why it is refused
    given = {f.name: st.query_params[f.name] for f in FIELDS if f.name in st.query_params}
    values, problems = parse_values(given)
    if values.get("corpus", controls.default("corpus")) not in controls.corpus_options():
        problems["corpus"] = "not a corpus this dashboard offers"
        del values["corpus"]
    warnings = [
        f"Ignored {code(f'{name}={given[name]}')} from the link ({text(reason, 200)}); "
        f"using {code(controls.default(name))}."
        for name, reason in problems.items()
    ]
    unknown = url_keys.unknown_warning(st.query_params)  # said, never dropped silently
    if unknown:
        warnings.append(unknown)
    for name, value in values.items():
        st.session_state[controls.key(name)] = value
    runs = st.query_params.get_all(RUNS_KEY)
    if runs:
        set_shown(runs)  # unknown ids are dropped before the picker is drawn (app/frame.py)
    warnings += _read_classroom()
    st.session_state[WARNINGS_KEY] = warnings


def _read_classroom() -> list[str]:
    """Presenter mode, hide flags and the lesson request from the URL; warnings for flags that name nothing."""
    q = st.query_params
    flags = [k for k in q if k.endswith("_hide")]
    hidden = {k[: -len("_hide")] for k in flags if q[k].strip().lower() in TRUE}
    unknown = sorted(hidden - set(HIDEABLE))
    st.session_state[HIDE_KEY] = frozenset(hidden & set(HIDEABLE))
    st.session_state[PRESENT_KEY] = q.get("present", "").strip().lower() in TRUE
    if q.get("lesson"):
        st.session_state[LESSON_KEY] = q["lesson"]
        st.session_state[RUN_LESSON_KEY] = q.get("run", "").strip().lower() in TRUE
    if q.get("size"):
        st.session_state[SIZE_KEY] = q["size"]
    return [f"Ignored `{name}_hide` from the link: nothing called {name} can be hidden (settings, or one of "
            f"{', '.join(CONTROLS)})." for name in unknown]


def keep_widget_values() -> None:
    """Carry the sidebar's widget values to this page's widgets.

    A widget's identity includes its page, so on a page switch the sidebar's widgets are new
    ones; given their value through session state before they are drawn, they start from it
    (persist_state alone hands it over one run late).
    """
    for k in [k for k in st.session_state if isinstance(k, str) and (k in KEPT_KEYS or k.startswith(KEPT))]:
        st.session_state[k] = st.session_state[k]


def url_warnings() -> list[str]:
    """Warnings about link values that were ignored (shown until dismissed)."""
    return st.session_state.get(WARNINGS_KEY, [])


def dismiss_url_warnings() -> None:
    """Callback: hide the link warnings."""
    st.session_state[WARNINGS_KEY] = []


def config_query(values: dict) -> dict[str, str]:
    """The settings the URL carries: the valid ones that differ from the dashboard's defaults."""
    return lenient(values, controls.UI_DEFAULT)[0].query_pairs(controls.UI_DEFAULT)


def write_url(values: dict, page: str = "") -> None:
    """Bring the URL in line with the page: settings, shown runs, classroom flags; only what changed is touched."""
    runs = shown_runs()
    if st.query_params.get_all(RUNS_KEY) != runs:
        if runs:
            st.query_params[RUNS_KEY] = runs  # a list: one repeated parameter per run
        else:
            del st.query_params[RUNS_KEY]
    want = config_query(values)
    want.update(classroom_query(hidden_names(), presenting()))
    lesson = open_lesson() if page == "lessons" else None
    want.update({"lesson": lesson} if lesson else {})
    if lesson and st.session_state.get(SIZE_KEY):
        want["size"] = st.session_state[SIZE_KEY]
    for name in (*(f.name for f in FIELDS), *(f"{n}_hide" for n in HIDEABLE), "present", "lesson", "size", "run"):
        now, new = st.query_params.get(name), want.get(name)
        if now == new:
            continue
        if new is None:
            del st.query_params[name]  # run=1 always goes: a reload must not start the lesson again
        else:
            st.query_params[name] = new


def classroom_query(hidden, present: bool) -> dict[str, str]:
    """{'<name>_hide': '1', ..., 'present': '1'} for the hidden names and presenter mode."""
    q = {f"{n}_hide": "1" for n in HIDEABLE if n in hidden}
    return {**q, "present": "1"} if present else q


def share_query(values: dict, hidden, present: bool, runs=(), lesson: str | None = None) -> dict:
    """The query of a classroom link: the settings that differ, the seed always, hide flags, presenter mode.

    Unknown names in `hidden` raise KeyError (a typo would silently hide nothing).
    """
    unknown = set(hidden) - set(HIDEABLE)
    if unknown:
        raise KeyError(f"cannot hide {', '.join(sorted(unknown))}: hideable are the settings and {', '.join(CONTROLS)}")
    cfg = lenient(values, controls.UI_DEFAULT)[0]
    q = {**cfg.query_pairs(controls.UI_DEFAULT), "seed": format_value(cfg.seed)}  # the seed even at its default
    q.update(classroom_query(hidden, present))
    if lesson:
        q["lesson"] = lesson
    if runs:
        q[RUNS_KEY] = list(runs)
    return q


def link(base: str, path: str, query: dict) -> str:
    """base (the app's URL, with or without a trailing /) + path + '?' + query, lists as repeated parameters."""
    text = urlencode(query, doseq=True)
    return f"{base.rstrip('/')}/{path.lstrip('/')}" + (f"?{text}" if text else "")


def app_url() -> str:
    """The app's root URL as the browser sees it ('' when unknown, e.g. under AppTest)."""
    return st.context.url or ""


def presenting() -> bool:
    """Presenter mode: no sidebar, no settings, large type (the URL's present=1, or the toggle)."""
    return bool(st.session_state.get(PRESENT_KEY))


def hidden(name: str) -> bool:
    """Whether the link hid this setting or control (<name>_hide=1)."""
    return name in st.session_state.get(HIDE_KEY, frozenset())


def hidden_names() -> frozenset:
    """Every setting and control the link hid."""
    return st.session_state.get(HIDE_KEY, frozenset())


def open_lesson() -> str | None:
    """The id of the lesson open on the Lessons page, if any."""
    return st.session_state.get(LESSON_KEY)


def set_lesson(lesson_id: str | None) -> None:
    """From a callback: open a lesson's page (None: back to the cards); its runs are not shown until it runs."""
    st.session_state[LESSON_KEY] = lesson_id
    set_shown([])


def take_run_request() -> bool:
    """True once if the link asked to start the open lesson (run=1)."""
    return bool(st.session_state.pop(RUN_LESSON_KEY, False))


def lesson_size(default: str) -> str:
    """The lesson size the link asked for (size=), else `default`."""
    return st.session_state.get(SIZE_KEY) or default


def shown_runs() -> list[str]:
    """Ids of the runs the user has chosen to show."""
    return list(st.session_state.get(RUNS_KEY) or [])


def set_shown(run_ids) -> None:
    """Show these runs (from a callback, or before the picker is drawn), and give the picker a new key.

    A new key makes a new widget that starts from these runs. The picker's old key would keep a
    value the browser may still send: a fragment's timer can fire before the browser has drawn the
    value set here, and its stale (often empty) selection would then undo it (seen: a lesson's
    runs replaced by its empty page seconds after Run). Streamlit still calls the old key's
    on_change for such a value, so picked() ignores every key but the current one."""
    st.session_state[RUNS_KEY] = list(dict.fromkeys(run_ids))
    st.session_state[PICKER_GEN_KEY] = st.session_state.get(PICKER_GEN_KEY, 0) + 1


def picker_key() -> str:
    """The runs picker's widget key: it changes whenever set_shown() is called."""
    return f"runs-picker-{st.session_state.get(PICKER_GEN_KEY, 0)}"


def picked(key: str) -> None:
    """Callback of the runs picker: the person's choice becomes the shown runs (same key: no redraw).

    The picker sits outside every fragment, so a person's change reruns the whole page. A change
    that arrives with a fragment's rerun, or for an old key, is a stale value the browser sent
    before it had drawn what code set: it is dropped (the picker is given the shown runs back)."""
    if key != picker_key():
        return  # an old picker's value: code has set the shown runs since
    ctx = get_script_run_ctx()
    if ctx is not None and ctx.fragment_ids_this_run:
        st.session_state[key] = shown_runs()  # not the person's: put the shown runs back in the picker
        return
    st.session_state[RUNS_KEY] = list(st.session_state.get(key) or [])


def show(run_ids: list[str], page: str | None = None) -> None:
    """From a callback: show these runs, and switch to `page` ('live', 'compare', ...) when given."""
    set_shown(run_ids)
    if page:
        st.session_state[GOTO_KEY] = page


def follow_goto(current: str) -> None:
    """Switch page if a callback asked for it (callbacks cannot switch pages themselves)."""
    page = st.session_state.pop(GOTO_KEY, None)
    if page and page != current:
        st.switch_page(PAGES[page])


def pending_rerun() -> bool:
    """Whether a callback inside a fragment asked for a full rerun (e.g. it changed the shown runs)."""
    return bool(st.session_state.get(GOTO_KEY))
