"""The run-settings form, generated from RunConfig's field declarations (engine/config.py FIELDS).

One widget per field, grouped as FIELDS groups them, labelled with the field's unit and helped
by its one-line help; a field is drawn only where it applies (its `when`, e.g. momentum with
SGD) and unless a classroom link hid it (`<field>_hide=1`), and it keeps its value either way. Widgets take no min/max: a value out of range is allowed into the form so
that RunConfig can say what is wrong, next to the field, and Start stays disabled.

    values, errors = config_form()      # {field: value}, {field: reason}
    cfg = RunConfig(**values)           # only when errors is empty

Widget keys are "cfg.<field>" and keep their value across pages (persist_state="session");
app/state.py seeds them from the URL and writes them back to it.
"""

from __future__ import annotations

import math

import streamlit as st

from app import ownership
from app.safe_text import text
from app.upload import corpus_uploader, visible_uploads
from data import CORPORA
from engine.config import FIELDS, GROUPS, Field, RunConfig, lenient
from engine.naming import run_name as _run_name

# The dashboard's defaults, the one table of them: RunConfig's, except that the dashboard is for
# watching, so it evaluates twice as often (a 500-step run draws ten validation points, not
# five), samples text every 100 steps (made off the training thread), and lets the probes take
# up to 5 % of the training thread's time. Spectra, histograms and saturation are analysed on a
# worker thread (engine/probes/worker.py) and come every 10 steps whatever the budget; the budget
# paces the gradient-reach probe (about one step's time each): every ~30 steps of an LSTM 128 at
# 5 %, so a watched run trains at >= 0.95 of a plain loop (bench/overhead.py, "dashboard").
# The form starts here, and the URL holds only the differences from it.
UI_DEFAULT = RunConfig(eval_every=50.0, sample_every=100, probe_budget=0.05)
PREFIX = "cfg."
GROUP_TITLES = {"model": "Model", "data": "Data", "optim": "Optimiser", "init": "Initialisation", "run": "Run"}
OPEN_GROUPS = ("model",)  # expanded on first view; the rest stay folded
# float steps for the +/- buttons where the default guess (0.1, or 0.01 below 1) would be wrong
STEPS = {
    "beta2": 0.001,
    "plateau_threshold": 1e-4,
    "eval_every": 10.0,
    "probe_budget": 0.01,
    "spectral_radius": 0.05,
    "forget_bias": 0.5,
    "gamma": 0.05,
    "plateau_factor": 0.05,
}
CORPUS_NAMES = {
    "pydoc": "Python's help pages (embedded, no download)",
    "tinyshakespeare": "Tiny Shakespeare (downloaded once)",
    "tinystories": "TinyStories (downloaded once)",
}


def key(name: str) -> str:
    """Session-state key of a field's widget."""
    return PREFIX + name


def label(f: Field) -> str:
    """'hidden size (units)'."""
    words = f.name.replace("_", " ")
    return f"{words} ({f.unit})" if f.unit else words


def default(name: str):
    """The dashboard's default for a field."""
    return getattr(UI_DEFAULT, name)


def corpus_options() -> list[str]:
    """Named corpora, then the uploads this visitor may use (newest first; app/upload.py)."""
    return [*CORPORA, *(str(p) for p in visible_uploads(ownership.visitor()))]


def corpus_name(value: str) -> str:
    """How a corpus option reads in the form."""
    if value in CORPUS_NAMES:
        return f"{value}: {CORPUS_NAMES[value]}"
    name = value.rsplit("/", 1)[-1]
    return f"uploaded: {name.split('-', 1)[-1]}"


def float_step(f: Field) -> float:
    """+/- step of a float field: a power of ten below the default for log-scaled fields."""
    if f.name in STEPS:
        return STEPS[f.name]
    if f.log and f.default > 0:
        return 10 ** math.floor(math.log10(f.default))
    return 0.01 if (f.max or 0) <= 1 else 0.1


def field_widget(f: Field, disabled: bool = False):
    """Draw the widget of one field; return its value (None when the box was emptied)."""
    k, common = key(f.name), dict(help=f.help, disabled=disabled, persist_state="session")
    if k not in st.session_state:
        st.session_state[k] = default(f.name)
    if f.name == "corpus":
        options = corpus_options()
        if st.session_state[k] not in options:
            st.session_state[k] = default(f.name)
        return st.selectbox(label(f), options, key=k, format_func=corpus_name, **common)
    if f.choices:
        return st.selectbox(label(f), f.choices, key=k, **common)
    if f.type is bool:
        return st.checkbox(label(f), key=k, **common)
    if f.type is int:
        return st.number_input(label(f), step=1, format="%d", key=k, **common)
    if f.type is float:
        return st.number_input(label(f), step=float_step(f), format="%g", key=k, **common)
    return st.text_input(label(f), key=k, **common)


def config_errors(values: dict) -> dict[str, str]:
    """Every field RunConfig objects to, each with its own reason ({} when the config is good)."""
    return lenient(values, UI_DEFAULT)[1]


def current() -> dict:
    """Every field's value as the form holds it now (the dashboard's default for one never drawn)."""
    return {f.name: st.session_state.get(key(f.name), default(f.name)) for f in FIELDS}


def shown_fields(values: dict, hidden=frozenset(), errors=()) -> list[Field]:
    """The fields the form draws: those that apply to the other values (Field.when) and that no link
    hid (<field>_hide=1), plus any with an error, which must be fixable where it is reported."""
    return [f for f in FIELDS if f.name in errors or (f.name not in hidden and f.applies(values))]


def config_form(disabled: bool = False, hidden=frozenset()) -> tuple[dict, dict[str, str]]:
    """Draw the fields that apply and are not hidden, grouped; show each error under its field.

    Returns (values, errors) over every field: one not drawn keeps its value (from the URL, or
    from before it stopped applying), so a hidden setting still reaches the run.
    """
    for f in FIELDS:  # every field holds a value, drawn or not (a field never drawn: the default)
        st.session_state.setdefault(key(f.name), default(f.name))
    values = current()
    shown = shown_fields(values, hidden, config_errors(values))
    slots = {}
    for group in GROUPS:
        fields = [f for f in shown if f.group == group]
        if not fields:
            continue
        with st.expander(GROUP_TITLES.get(group, group), expanded=group in OPEN_GROUPS):
            for f in fields:
                values[f.name] = field_widget(f, disabled)
                slots[f.name] = st.empty()
                if f.name == "corpus":  # the uploader sits under the corpus field
                    corpus_uploader(key("corpus"))
    errors = config_errors(values)
    for name, reason in errors.items():
        if name in slots:
            slots[name].error(f"{name}: {text(reason, 200)}", icon=":material/error:")
    return values, errors


def to_config(values: dict) -> RunConfig:
    """The RunConfig of the form's values (raises ConfigError naming a bad field)."""
    return RunConfig(**values)


def describe(cfg: RunConfig) -> str:
    """A short run label: cell, size and data, e.g. 'lstm 128 · pydoc'."""
    corpus = cfg.corpus if cfg.corpus in CORPORA else cfg.corpus.rsplit("/", 1)[-1].split("-", 1)[-1]
    data = {"text": corpus, "lines": f"lines of {corpus}"}.get(cfg.task, cfg.task)
    return f"{cfg.cell} {cfg.hidden_size} · {data}"


def run_name(cfg: RunConfig) -> str:
    """A run's name: cell and size, then the settings that differ from the dashboard's defaults, e.g. 'lstm 128 · lr 0.3'."""
    return _run_name(cfg, UI_DEFAULT)
