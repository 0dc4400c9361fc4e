"""Where the dashboard's state lives, and the one place that syncs it with the URL (principle 11).

- The URL holds what a shared link must reproduce: the run settings as their differences from
  the dashboard's defaults (field names, values as RunConfig.to_query writes them), the shown
  runs as repeated `runs=` ids, and the Live and Compare views (`view=`, `cview=`: widgets bound
  to the URL).
- Session state holds the widgets' values ("cfg.<field>", "runs", ...) and one-shot requests
  from callbacks ("_goto": a page to switch to).
- The engine (store, jobs) lives in app/resources.py, shared by every session.

The URL's settings and runs are read once per session, before the sidebar is drawn; values that
cannot be parsed fall back to the default with a warning. After the sidebar is drawn, the URL
is written with whatever changed, so a reload or a link opened elsewhere shows the same setup.
(The runs picker is not bound to the URL: a bound multiselect writes its display labels, and
a run's label shows its status, which changes.)
"""

from __future__ import annotations

import streamlit as st

from app import controls, url_keys
from app.safe_text import code, text
from engine.config import FIELDS, lenient, parse_values

RUNS_KEY = "runs"  # multiselect of shown runs; the URL's repeated ?runs=
GOTO_KEY = "_goto"
WARNINGS_KEY = "_url_warnings"
KEPT = ("cfg.", "cmp_")  # prefixes of widget keys whose values carry across pages (and RUNS_KEY)
PAGES = {
    "live": "screens/live.py",
    "compare": "screens/compare.py",
    "runs": "screens/runs.py",
    "lessons": "screens/lessons.py",
}


def read_url_once() -> None:
    """Seed the settings form from the URL the first time this session runs."""
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
        st.session_state[RUNS_KEY] = list(dict.fromkeys(runs))  # unknown ids are dropped by the picker
    st.session_state[WARNINGS_KEY] = warnings


def keep_widget_values() -> None:
    """Carry the sidebar's widget values to this page's widgets.

    A widget's identity includes its page, so on a page switch the sidebar's widgets are new
    ones; given their value through session state before they are drawn, they start from it
    (persist_state alone hands it over one run late).
    """
    for k in [k for k in st.session_state if isinstance(k, str) and (k == RUNS_KEY or k.startswith(KEPT))]:
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


def write_url(values: dict) -> None:
    """Bring the URL's settings and runs in line with the sidebar, touching only what changed."""
    runs = shown_runs()
    if st.query_params.get_all(RUNS_KEY) != runs:
        if runs:
            st.query_params[RUNS_KEY] = runs  # a list: one repeated parameter per run
        else:
            del st.query_params[RUNS_KEY]
    want = config_query(values)
    for f in FIELDS:
        now, new = st.query_params.get(f.name), want.get(f.name)
        if now == new:
            continue
        if new is None:
            del st.query_params[f.name]
        else:
            st.query_params[f.name] = new


def shown_runs() -> list[str]:
    """Ids of the runs the user has chosen to show."""
    return list(st.session_state.get(RUNS_KEY) or [])


def show(run_ids: list[str], page: str | None = None) -> None:
    """From a callback: show these runs, and switch to `page` ('live', 'compare', ...) when given."""
    st.session_state[RUNS_KEY] = list(dict.fromkeys(run_ids))
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
