"""RunConfig: every setting of one training run, declared once.

Each setting is one line of the RunConfig dataclass: its type, default, range or choices,
unit, group, a one-line help and, for a setting that matters only with certain values of
another (momentum: SGD only), `when` (`setting(...)`). `FIELDS` is read off those lines, and the
command line (`python -m engine train --set k=v`), the dashboard's form and hide flags, and
the URL query string are all generated from it.

A RunConfig is valid by construction: `__post_init__` checks every field and the rules
between fields, and raises ConfigError(field, reason) naming the first bad one. That is the
one place a config is validated, whoever builds it (CLI, dashboard, lesson, fork, Ray).

    cfg = RunConfig(cell="gru", lr=1e-3)                # raises ConfigError on a bad value
    RunConfig.from_query(cfg.to_query())                # round-trips; unknown keys raise
    cfg, problems = lenient({"lr": "abc"}, base)        # good values kept, bad ones reported
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode


class ConfigError(ValueError):
    """A config value that cannot be used: names the field and why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Field:
    """One setting as read off RunConfig: what it is, what it may be, and what it means."""

    name: str
    type: type
    default: Any
    help: str
    group: str
    unit: str = ""
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    log: bool = False  # a UI hint: the value spans orders of magnitude
    when: tuple[tuple[str, tuple], ...] = ()  # ((other field, values it must take), ...): when this one matters

    def applies(self, values) -> bool:
        """Whether this setting has any effect given the others' values (a mapping field -> value).

        A setting without `when` always applies; a field missing from `values` counts as its default.
        """
        return all(values.get(name, FIELD_BY_NAME[name].default) in allowed for name, allowed in self.when)


CELLS = ("rnn_tanh", "rnn_relu", "gru", "lstm")
TASKS = ("text", "adding", "copy", "next_item", "lines")
VARIABLE_LENGTH = ("packed", "padded_masked", "padded_naive")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "step", "cosine", "plateau")
CLIPS = ("none", "norm", "value")
INITS = ("default", "xavier", "orthogonal", "identity", "spectral")
DEVICES = ("auto", "cpu", "cuda")

ADAM = {"optimizer": ("adam", "adamw")}  # `when` of the settings only Adam and AdamW read
PLATEAU = {"schedule": ("plateau",)}
MAX_TEXT = 4096  # characters: longer values are refused before parsing (a path is far shorter)


def setting(default: Any, help: str, group: str, unit: str = "", *, choices: tuple = (), min: float | None = None,
            max: float | None = None, log: bool = False, when: dict | None = None):
    """Declare one RunConfig field: its default and what it may be and means (read into FIELDS).

    `when={"optimizer": ("sgd",)}`: the setting matters only while those fields take those values
    (the dashboard shows it only then; its value is kept either way).
    """
    when = tuple((name, tuple(values)) for name, values in (when or {}).items())
    meta = {"help": help, "group": group, "unit": unit, "choices": choices, "min": min, "max": max, "log": log,
            "when": when}
    return dataclasses.field(default=default, metadata={"setting": meta})


@dataclass(frozen=True)
class RunConfig:
    """All settings of one run, as primitives; valid by construction. Change with `.replace()`."""

    # model
    cell: str = setting("lstm", "Recurrent cell: vanilla tanh or ReLU RNN, GRU or LSTM.", "model", choices=CELLS)
    embed_dim: int = setting(32, "Size of each token's embedding vector.", "model", "units", min=1, max=1024, when={"task": ("text", "copy", "next_item", "lines")})
    hidden_size: int = setting(128, "Units in each recurrent layer's hidden state h_t.", "model", "units", min=1, max=2048)
    num_layers: int = setting(1, "Stacked recurrent layers.", "model", "layers", min=1, max=4)
    layer_norm: bool = setting(False, "LayerNorm on each layer's output before the next layer and the head.", "model")
    dropout: float = setting(0.0, "Dropout between layers and before the head (training only).", "model", "prob", min=0.0, max=0.9)
    # data
    task: str = setting("text", "What to learn: character text, adding problem, copy memory, next item, or variable-length lines.", "data", choices=TASKS)
    corpus: str = setting("pydoc", "Text for the text and lines tasks: pydoc (embedded), tinyshakespeare, tinystories, or a path to a UTF-8 file.", "data", when={"task": ("text", "lines")})
    seq_len: int = setting(64, "Time steps per sequence (BPTT length; T of the adding and copy tasks; longest line).", "data", "steps", min=2, max=2048)
    batch_size: int = setting(32, "Sequences per training batch.", "data", "sequences", min=1, max=4096)
    variable_length: str = setting("packed", "Lines task: pack sequences, pad and mask the loss, or pad naively (pads count as targets).", "data", choices=VARIABLE_LENGTH, when={"task": ("lines",)})
    num_items: int = setting(1000, "Next-item task: catalogue size (output classes).", "data", "items", min=10, max=100000, when={"task": ("next_item",)})
    train_sequences: int = setting(10000, "Next-item task: fixed training set size (sequences per epoch).", "data", "sequences", min=16, max=10_000_000, when={"task": ("next_item",)})
    # optimiser
    optimizer: str = setting("adam", "Update rule: Adam, AdamW, or SGD with momentum.", "optim", choices=OPTIMIZERS)
    lr: float = setting(3e-3, "Peak learning rate, reached after warmup.", "optim", "", min=1e-7, max=1e4, log=True)
    momentum: float = setting(0.9, "SGD momentum.", "optim", "", min=0.0, max=0.999, when={"optimizer": ("sgd",)})
    beta1: float = setting(0.9, "Adam/AdamW first-moment decay.", "optim", "", min=0.0, max=0.9999, when=ADAM)
    beta2: float = setting(0.999, "Adam/AdamW second-moment decay.", "optim", "", min=0.0, max=0.99999, when=ADAM)
    eps: float = setting(1e-8, "Adam/AdamW denominator epsilon.", "optim", "", min=1e-12, max=1.0, log=True, when=ADAM)
    weight_decay: float = setting(0.0, "L2 penalty (SGD, Adam) or decoupled decay (AdamW).", "optim", "", min=0.0, max=1.0)
    warmup_steps: int = setting(0, "Steps of linear warmup from lr/warmup_steps to lr.", "optim", "steps", min=0, max=1_000_000)
    schedule: str = setting("constant", "After warmup: constant, step decay, cosine to min_lr, or reduce on plateau of the validation loss.", "optim", choices=SCHEDULES)
    step_every: int = setting(1000, "Step schedule: multiply lr by gamma every this many steps.", "optim", "steps", min=1, max=10_000_000, when={"schedule": ("step",)})
    gamma: float = setting(0.5, "Step schedule: lr factor at each step.", "optim", "", min=1e-6, max=1.0, when={"schedule": ("step",)})
    plateau_patience: int = setting(3, "Plateau: evaluations without improvement before a cut.", "optim", "evals", min=0, max=1000, when=PLATEAU)
    plateau_factor: float = setting(0.5, "Plateau: lr factor at each cut.", "optim", "", min=1e-6, max=0.999, when=PLATEAU)
    plateau_cooldown: int = setting(0, "Plateau: evaluations to wait after a cut before counting again.", "optim", "evals", min=0, max=1000, when=PLATEAU)
    plateau_threshold: float = setting(1e-4, "Plateau: relative improvement that counts as better.", "optim", "", min=0.0, max=1.0, when=PLATEAU)
    min_lr: float = setting(1e-6, "Floor for every schedule.", "optim", "", min=0.0, max=1e4, log=True)
    clip: str = setting("norm", "Gradient clipping: none, by global norm, or by value.", "optim", choices=CLIPS)
    clip_value: float = setting(1.0, "Clipping threshold (global norm, or largest |g| per element).", "optim", "", min=1e-6, max=1e6, log=True, when={"clip": ("norm", "value")})
    # initialisation
    init: str = setting("default", "Recurrent weights W_h: PyTorch default, Xavier, orthogonal, identity (IRNN) or random with a given spectral radius.", "init", choices=INITS)
    spectral_radius: float = setting(1.0, "Spectral init: largest |eigenvalue| of W_h; identity init: the diagonal value.", "init", "", min=0.0, max=10.0, when={"init": ("spectral", "identity")})
    input_init_std: float = setting(0.0, "Std of the input weights W_x (0 keeps PyTorch's default).", "init", "", min=0.0, max=10.0)
    forget_bias: float = setting(0.0, "LSTM forget-gate bias at init (1 helps memory).", "init", "", min=-10.0, max=10.0, when={"cell": ("lstm",)})
    zero_head: bool = setting(False, "Zero the output layer, so the first loss is exactly ln|V|.", "init")
    # run
    max_steps: int = setting(500, "Training steps (batches).", "run", "steps", min=1, max=10_000_000)
    eval_every: float = setting(100.0, "Validate every N steps (N >= 1) or every fraction of an epoch (0 < N < 1).", "run", "steps", min=1e-3, max=1e7)
    eval_batches: int = setting(8, "Validation batches per evaluation, spread evenly over the validation split (0: the whole split).", "run", "batches", min=0, max=100_000)
    full_eval_every: int = setting(5, "Also evaluate on the whole validation split every N evaluations (0: only at the end of the run, which always does).", "run", "evals", min=0, max=1_000_000)
    probe_every: int = setting(10, "Measure spectra, histograms and gradient reach every N steps (0: never).", "run", "steps", min=0, max=1_000_000)
    probe_budget: float = setting(0.03, "Largest share of training time the probes may take; their interval stretches to stay within it (1: never stretch).", "run", "share", min=0.001, max=1.0)
    sample_every: int = setting(500, "Generate a text sample every N steps and at the end (0: at each evaluation).", "run", "steps", min=0, max=1_000_000, when={"task": ("text",)})
    stop_on_divergence: bool = setting(False, "End the run as diverged when its training loss stays far above the uniform baseline for many steps (NaN or Inf always ends it).", "run")
    seed: int = setting(0, "Seeds init, data order and dropout: one seed, one run.", "run", "", min=0, max=2**31 - 1)
    device: str = setting("auto", "Where to train: auto picks CUDA when present.", "run", choices=DEVICES)

    def __post_init__(self) -> None:
        for f in FIELDS:
            _check_field(f, getattr(self, f.name))
        if self.eval_every >= 1 and self.eval_every != int(self.eval_every):
            raise ConfigError("eval_every", f"{self.eval_every} is above 1 but not a whole number of steps")
        if self.cell != "lstm" and self.forget_bias != 0.0:
            raise ConfigError("forget_bias", "only an LSTM has a forget gate; set it to 0 for other cells")
        if self.init == "identity" and self.cell in ("gru", "lstm"):
            raise ConfigError("init", "identity init is for vanilla RNNs (IRNN); use orthogonal for GRU/LSTM")
        if self.task not in ("text", "lines") and self.corpus != "pydoc":
            raise ConfigError("corpus", f"the {self.task} task makes its own data; leave corpus at pydoc")
        if self.variable_length != "packed" and self.task != "lines":
            raise ConfigError("variable_length", "only the lines task has variable-length sequences")
        if self.min_lr > self.lr:
            raise ConfigError("min_lr", f"{self.min_lr} is above lr={self.lr}")

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some fields changed, values parsed by field type."""
        return dataclasses.replace(self, **{k: parse_value(k, v) for k, v in changes.items()})

    # ---- serialisation ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def diff(self, base: RunConfig | None = None) -> dict[str, Any]:
        """Fields whose value differs from `base` (default: the defaults)."""
        base = base or RunConfig()
        return {f.name: getattr(self, f.name) for f in FIELDS if getattr(self, f.name) != getattr(base, f.name)}

    def to_query(self, base: RunConfig | None = None) -> str:
        """URL query string of the fields that differ from `base` (names, never objects)."""
        return urlencode(self.query_pairs(base))

    def query_pairs(self, base: RunConfig | None = None) -> dict[str, str]:
        """{field: text} of the fields that differ from `base`, as the URL writes them."""
        return {k: format_value(v) for k, v in self.diff(base).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any], base: RunConfig | None = None) -> RunConfig:
        """Build from a dict of field -> value (strings are parsed) over `base`; unknown keys raise."""
        return (base or cls()).replace(**values)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_query(cls, query: str, base: RunConfig | None = None) -> RunConfig:
        """The config a query string describes, over `base`; bad values and unknown keys raise."""
        return cls.from_dict(dict(parse_qsl(query.lstrip("?"), keep_blank_values=True)), base)


def _field_type(f: dataclasses.Field) -> type:
    return {"str": str, "int": int, "float": float, "bool": bool}[f.type]


FIELDS: tuple[Field, ...] = tuple(
    Field(name=f.name, type=_field_type(f), default=f.default, **f.metadata["setting"])
    for f in dataclasses.fields(RunConfig)
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}
GROUPS = ("model", "data", "optim", "init", "run")


def parse_values(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Each value parsed by its field's type and checked against its choices -> (parsed, {field: reason}).

    Ranges and the rules between fields are left to RunConfig, so a form can keep an out-of-range
    value and show why it is refused; unknown names and unparsable values are reported here.
    """
    parsed, problems = {}, {}
    for name, value in values.items():
        try:
            v = parse_value(name, value)
            if v is None:
                raise ConfigError(name, "is empty; type a value")
            f = FIELD_BY_NAME[name]
            if f.choices and v not in f.choices:
                raise ConfigError(name, f"{v!r} is not one of {', '.join(f.choices)}")
            parsed[name] = v
        except ConfigError as e:
            problems[e.field] = e.reason
    return parsed, problems


def lenient(values: dict[str, Any], base: RunConfig) -> tuple[RunConfig, dict[str, str]]:
    """The config of `values` over `base`, keeping base's value for each bad one; -> (config, {field: reason}).

    For the dashboard, where each bad field is reported beside the field rather than refusing
    the lot: values that cannot be parsed or are out of range are dropped first; then a rule
    between fields that fails drops the field it names, until the rest is valid.
    """
    good, problems = parse_values(values)
    for name in list(good):
        try:
            _check_field(FIELD_BY_NAME[name], good[name])
        except ConfigError as e:
            problems[name] = e.reason
            del good[name]
    for _ in range(len(FIELDS) + 1):
        try:
            return dataclasses.replace(base, **good), problems
        except ConfigError as e:
            if e.field not in good:  # base itself breaks a rule with what is left: cannot happen for a valid base
                raise
            problems[e.field] = e.reason
            del good[e.field]
    raise AssertionError("unreachable: each pass drops one field")


def parse_value(name: str, value: Any) -> Any:
    """Parse one value (string or primitive) by its field's type; unknown names raise."""
    f = FIELD_BY_NAME.get(name)
    if f is None:
        raise ConfigError(name, f"unknown setting; known settings: {', '.join(FIELD_BY_NAME)}")
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise ConfigError(name, f"is {len(value):,} characters long; at most {MAX_TEXT:,} are accepted")
        text = value.strip()
        if f.type is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ConfigError(name, f"{value!r} is not true or false")
        if f.type in (int, float):
            try:
                number = float(text)
            except ValueError:
                raise ConfigError(name, f"{value!r} is not a number") from None
            if not math.isfinite(number):
                raise ConfigError(name, f"{value!r} is not a finite number")
            if f.type is int:
                if number != int(number):
                    raise ConfigError(name, f"{value!r} is not a whole number")
                return int(number)
            return number
        return text
    if f.type is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if f.type is int and isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    return value


def format_value(value: Any) -> str:
    """The string form of a field value, as the URL and CLI write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _check_field(f: Field, value: Any) -> None:
    if f.type is bool:
        if not isinstance(value, bool):
            raise ConfigError(f.name, f"{value!r} is not true or false")
        return
    if f.type in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f.name, f"{value!r} is not a number")
        if f.type is int and not float(value).is_integer():
            raise ConfigError(f.name, f"{value!r} is not a whole number")
        if not math.isfinite(value):
            raise ConfigError(f.name, f"{value!r} is not finite")
        if f.min is not None and value < f.min:
            raise ConfigError(f.name, f"{value} is below the minimum {f.min:g}")
        if f.max is not None and value > f.max:
            raise ConfigError(f.name, f"{value} is above the maximum {f.max:g}")
        return
    if not isinstance(value, str):
        raise ConfigError(f.name, f"{value!r} is not text")
    if f.choices and value not in f.choices:
        raise ConfigError(f.name, f"{value!r} is not one of {', '.join(f.choices)}")
    if not value:
        raise ConfigError(f.name, "is empty")
