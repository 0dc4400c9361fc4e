"""Starting work: one run (Start), a group that varies one or two settings (Compare), the first-visit offer.

Callbacks read the settings from session state rather than from values captured when the
button was drawn, so an edit made just before the click is never lost. They cannot switch
pages or rerun, so they leave a request in session state (app/state.py).
"""

from __future__ import annotations

import itertools

import streamlit as st

from app import controls, ownership, presenter, state
from app.chart_grid import plot
from app.charts import PALETTE, lr_preview_figure
from app.charts.fit import enlarge, fit
from app.safe_text import text
from data import DataError
from engine.config import FIELD_BY_NAME, FIELDS, MAX_TEXT, ConfigError, RunConfig, format_value, parse_value

ERROR_KEY = "_start_error"
MAX_VARIANTS = 4  # more runs than this no longer read on one chart, and each trains slower
NONE = "(none)"
FIRST_VALUES = {"cell": ["rnn_tanh", "gru", "lstm"], "clip": ["none", "norm"], "corpus": ["pydoc"]}
COMBINE = ("pairwise", "every combination")


def current_values() -> dict:
    """The form's settings as the widgets hold them now."""
    return controls.current()


def _start(eng) -> None:
    try:
        cfg = controls.to_config(current_values())
        run_id = eng.jobs.submit(cfg, label=controls.run_name(cfg))
    except (ConfigError, DataError) as e:  # a bad value, a model too large, a corpus that cannot be read
        st.session_state[ERROR_KEY] = str(e)
        return
    ownership.claim(eng, [run_id])
    state.show([run_id], "live")


def start_button(eng, values: dict, errors: dict, key: str = "start", label: str = "Start") -> None:
    """The primary button: disabled, with the reason, while any setting is invalid."""
    st.button(
        label,
        key=key,
        type="primary",
        icon=":material/play_arrow:",
        disabled=bool(errors),
        on_click=_start,
        args=(eng,),
        width="stretch",
        help="Train one run with these settings and watch it on the Live page.",
    )
    if errors:
        st.error(f"Fix {', '.join(errors)} to start (see below).", icon=":material/error:")
    message = st.session_state.pop(ERROR_KEY, None)
    if message:
        st.error(text(message, 300))


# ---- compare ---------------------------------------------------------------------------------


def _options(name: str) -> list | None:
    """The values a setting can take when they are few (choices, true/false, corpora), else None."""
    f = FIELD_BY_NAME[name]
    if name == "corpus":
        return controls.corpus_options()
    return list(f.choices) if f.choices else [True, False] if f.type is bool else None


def _values_key(slot: str, name: str) -> str:
    return f"cmp_{'text' if _options(name) is None else 'values'}_{slot}_{name}"


def _values_widget(slot: str, name: str) -> None:
    """Pick (few values) or type (numbers) the values of one varied setting."""
    f, k, options = FIELD_BY_NAME[name], _values_key(slot, name), _options(name)
    if options is not None:
        if k not in st.session_state:
            st.session_state[k] = FIRST_VALUES.get(name, options[: min(3, len(options))])
        st.multiselect(
            f"values of {name}",
            options,
            key=k,
            max_selections=MAX_VARIANTS,
            persist_state="session",
            format_func=controls.corpus_name if name == "corpus" else format_value,
        )
        return
    if k not in st.session_state:
        st.session_state[k] = ""
    st.text_input(
        f"values of {name}, comma-separated",
        key=k,
        persist_state="session",
        placeholder=_example(name),
        help=f.help,
        max_chars=MAX_TEXT,
    )


def _read_values(slot: str, name: str) -> list:
    """The parsed values of one varied setting (raises ConfigError for a value that is not one)."""
    held = st.session_state.get(_values_key(slot, name))
    if isinstance(held, list):
        return list(held)
    return parse_list(name, held or "")


def parse_list(name: str, typed: str) -> list:
    """The distinct values of a comma- or semicolon-separated list; ConfigError naming the field for a bad one."""
    if len(typed) > MAX_TEXT:  # bounded before it is split and parsed (the box itself takes no more)
        raise ConfigError(name, f"the values are {len(typed):,} characters long; at most {MAX_TEXT:,} are accepted")
    parts = typed.replace(";", ",").split(",")
    return list(dict.fromkeys(parse_value(name, p.strip()) for p in parts if p.strip()))


def _example(name: str) -> str:
    """A placeholder like 'e.g. 0.001, 0.003, 0.01' around the dashboard's default."""
    v = controls.default(name)
    if isinstance(v, float) and v > 0:
        return "e.g. " + ", ".join(format_value(float(f"{v * k:.3g}")) for k in (0.3, 1, 3))
    if isinstance(v, int):
        return "e.g. " + ", ".join(str(max(1, v * k)) for k in (1, 2)) + f", {v * 4}"
    return "e.g. a, b"


def variants_of(a: str, values_a: list, b: str | None, values_b: list, combine: str) -> dict[str, dict]:
    """{legend label: overrides}; labels name only the varied settings, e.g. 'clip=none, lr=0.01'."""
    if not b:
        pairs = [((a, v),) for v in values_a]
    elif combine == COMBINE[0]:
        if len(values_a) != len(values_b):
            raise ConfigError(b, f"pairwise needs as many values of {b} as of {a} ({len(values_a)})")
        pairs = [((a, x), (b, y)) for x, y in zip(values_a, values_b)]
    else:
        pairs = [((a, x), (b, y)) for x, y in itertools.product(values_a, values_b)]
    variants = {", ".join(f"{k}={format_value(v)}" for k, v in p): dict(p) for p in pairs}
    if len(variants) < 2:
        raise ConfigError(a, "give at least two different values to compare")
    if len(variants) > MAX_VARIANTS:
        raise ConfigError(a, f"{len(variants)} runs; compare at most {MAX_VARIANTS} at once")
    return variants


def _compare_plan() -> tuple[dict, dict]:
    """(base settings, variants) from the compare widgets' state; raises ConfigError."""
    a, b = st.session_state.get("cmp_a"), st.session_state.get("cmp_b")
    if not a or a == NONE:
        raise ConfigError("compare", "choose a setting to vary")
    b = None if b in (None, NONE, a) else b
    values_a, values_b = _read_values("a", a), (_read_values("b", b) if b else [])
    variants = variants_of(a, values_a, b, values_b, st.session_state.get("cmp_combine", COMBINE[0]))
    base = current_values()
    for label_, overrides in variants.items():
        try:
            controls.to_config({**base, **overrides})
        except ConfigError as e:
            raise ConfigError(e.field, f"{e.reason} (in the run {label_})") from None
    return base, variants


def _compare(eng) -> None:
    try:
        base, variants = _compare_plan()
        _, run_ids = eng.jobs.submit_group(RunConfig(**base), variants)
    except (ConfigError, DataError) as e:
        st.session_state[ERROR_KEY + "_cmp"] = str(e)
        return
    ownership.claim(eng, run_ids)
    state.show(run_ids, "compare")


def compare_form(eng, values: dict, errors: dict) -> None:
    """Vary one or two settings over up to four runs that share everything else, seed included."""
    with st.expander("Compare settings", icon=":material/compare_arrows:"):
        st.caption(
            "Start a group: the settings above with up to four values of one or two settings. "
            "The runs share the seed and the data order and train in lockstep."
        )
        names = [NONE, *(f.name for f in FIELDS if f.name not in ("device",))]
        if "cmp_a" not in st.session_state:
            st.session_state["cmp_a"] = "cell"
        problem = None
        a = st.selectbox("vary", names, key="cmp_a", persist_state="session")
        if a != NONE:
            _values_widget("a", a)
        b = st.selectbox("and (optional)", names, key="cmp_b", persist_state="session")
        if b != NONE and b != a:
            _values_widget("b", b)
            st.radio(
                "combine",
                COMBINE,
                key="cmp_combine",
                horizontal=True,
                persist_state="session",
                help="pairwise: first with first, second with second… · every combination: all pairs",
            )
        if problem is None:
            try:
                _compare_plan()
            except ConfigError as e:
                problem = str(e)
        st.button(
            "Compare",
            key="compare",
            icon=":material/stacked_line_chart:",
            disabled=problem is not None,
            on_click=_compare,
            args=(eng,),
            width="stretch",
            help="Start the group and open it on the Compare page.",
        )
        if problem:
            st.caption(f"To compare: {text(problem, 300)}")
        message = st.session_state.pop(ERROR_KEY + "_cmp", None)
        if message:
            st.error(text(message, 300))


# ---- first visit ------------------------------------------------------------------------------


def first_start(eng) -> None:
    """The empty Live page: one click starts a run that visibly learns within seconds."""
    values = current_values()
    errors = controls.config_errors(values)
    st.subheader("Watch a recurrent network learn")
    cfg = RunConfig(**{k: controls.default(k) if k in errors else v for k, v in values.items()})
    if not state.hidden("text"):
        st.markdown(
            f"Ready to train: a **{cfg.cell}** with {cfg.hidden_size} hidden units, {cfg.max_steps:,} steps "
            f"of {cfg.batch_size} sequences × {cfg.seq_len} characters from "
            f"**{text(controls.describe(cfg).split('· ')[-1])}**, learning rate {cfg.lr:g}, clipping {cfg.clip}. "
            "Perplexity starts near the alphabet size and falls as the network learns; change any setting "
            + ("in the sidebar first if you like." if not state.presenting() else "after leaving presenter mode.")
        )
    if state.hidden("start"):
        st.caption("This link has no Start button (start_hide): pick a run to show, or ask whoever shared it.")
    else:
        start_button(eng, values, errors, key="start_first", label=f"Start: {text(controls.describe(cfg))}")
    # Known before the run starts, and the page's first chart: the browser loads Plotly (a few
    # seconds' work on a 2-core machine) while the person reads, not after Start, when the Live
    # charts would wait for it (bench/first_chart.py: median 2.9 s -> see the README)
    left, _ = st.columns([3, 2])
    with left:
        scale = presenter.FONT_SCALE if state.presenting() else 1.0  # read at the back of a room, as the Live charts
        plot(enlarge(fit(lr_preview_figure(cfg, PALETTE[0]), half=False), scale), "lr-preview")  # fit: 1-2-5 log labels
    recent = eng.store.runs(limit=6)
    if recent:
        st.markdown("**Or show a stored run**")
        for info in recent:
            st.button(
                f"{text(info.label or info.id)} · {info.status} · step {info.step:,} · {info.id}",
                key=f"open_{info.id}",
                on_click=state.show,
                args=([info.id],),
                type="tertiary",
            )
