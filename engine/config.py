"""RunConfig: every setting of one training run, declared once.

Each field carries its type, default, range or choices, unit, group and a one-line help
in `FIELDS`; the command line (`python -m engine train --set k=v`), the dashboard's
controls and the URL query string are all generated from that one declaration.

    cfg = RunConfig(cell="gru", lr=1e-3)
    cfg.validate()                          # raises ConfigError(field, reason)
    RunConfig.from_query(cfg.to_query())    # round-trips, unknown keys raise
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
    """The declaration of one setting: what it is, what it may be, and what it means."""

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


CELLS = ("rnn_tanh", "rnn_relu", "gru", "lstm")
TASKS = ("text", "adding", "copy", "next_item", "lines")
VARIABLE_LENGTH = ("packed", "padded_masked", "padded_naive")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "step", "cosine", "plateau")
CLIPS = ("none", "norm", "value")
INITS = ("default", "xavier", "orthogonal", "identity", "spectral")
DEVICES = ("auto", "cpu", "cuda")

_F = Field
FIELDS: tuple[Field, ...] = (
    # model
    _F("cell", str, "lstm", "Recurrent cell: vanilla tanh or ReLU RNN, GRU or LSTM.", "model", choices=CELLS),
    _F("embed_dim", int, 32, "Size of each token's embedding vector.", "model", "units", min=1, max=1024),
    _F("hidden_size", int, 128, "Units in each recurrent layer's hidden state h_t.", "model", "units", min=1, max=2048),
    _F("num_layers", int, 1, "Stacked recurrent layers.", "model", "layers", min=1, max=4),
    _F("layer_norm", bool, False, "LayerNorm on each layer's output before the next layer and the head.", "model"),
    _F("dropout", float, 0.0, "Dropout between layers and before the head (training only).", "model", "prob", min=0.0, max=0.9),
    # data
    _F("task", str, "text", "What to learn: character text, adding problem, copy memory, next item, or variable-length lines.", "data", choices=TASKS),
    _F("corpus", str, "pydoc", "Text for the text and lines tasks: pydoc (embedded), tinyshakespeare, tinystories, or a path to a UTF-8 file.", "data"),
    _F("seq_len", int, 64, "Time steps per sequence (BPTT length; T of the adding and copy tasks; longest line).", "data", "steps", min=2, max=2048),
    _F("batch_size", int, 32, "Sequences per training batch.", "data", "sequences", min=1, max=4096),
    _F("variable_length", str, "packed", "Lines task: pack sequences, pad and mask the loss, or pad naively (pads count as targets).", "data", choices=VARIABLE_LENGTH),
    _F("num_items", int, 1000, "Next-item task: catalogue size (output classes).", "data", "items", min=10, max=100000),
    _F("train_sequences", int, 10000, "Next-item task: fixed training set size (sequences per epoch).", "data", "sequences", min=16, max=10_000_000),
    # optimiser
    _F("optimizer", str, "adam", "Update rule: Adam, AdamW, or SGD with momentum.", "optim", choices=OPTIMIZERS),
    _F("lr", float, 3e-3, "Peak learning rate, reached after warmup.", "optim", "", min=1e-7, max=1e4, log=True),
    _F("momentum", float, 0.9, "SGD momentum.", "optim", "", min=0.0, max=0.999),
    _F("beta1", float, 0.9, "Adam/AdamW first-moment decay.", "optim", "", min=0.0, max=0.9999),
    _F("beta2", float, 0.999, "Adam/AdamW second-moment decay.", "optim", "", min=0.0, max=0.99999),
    _F("eps", float, 1e-8, "Adam/AdamW denominator epsilon.", "optim", "", min=1e-12, max=1.0, log=True),
    _F("weight_decay", float, 0.0, "L2 penalty (SGD, Adam) or decoupled decay (AdamW).", "optim", "", min=0.0, max=1.0),
    _F("warmup_steps", int, 0, "Steps of linear warmup from lr/warmup_steps to lr.", "optim", "steps", min=0, max=1_000_000),
    _F("schedule", str, "constant", "After warmup: constant, step decay, cosine to min_lr, or reduce on plateau of the validation loss.", "optim", choices=SCHEDULES),
    _F("step_every", int, 1000, "Step schedule: multiply lr by gamma every this many steps.", "optim", "steps", min=1, max=10_000_000),
    _F("gamma", float, 0.5, "Step schedule: lr factor at each step.", "optim", "", min=1e-6, max=1.0),
    _F("plateau_patience", int, 3, "Plateau: evaluations without improvement before a cut.", "optim", "evals", min=0, max=1000),
    _F("plateau_factor", float, 0.5, "Plateau: lr factor at each cut.", "optim", "", min=1e-6, max=0.999),
    _F("plateau_cooldown", int, 0, "Plateau: evaluations to wait after a cut before counting again.", "optim", "evals", min=0, max=1000),
    _F("plateau_threshold", float, 1e-4, "Plateau: relative improvement that counts as better.", "optim", "", min=0.0, max=1.0),
    _F("min_lr", float, 1e-6, "Floor for every schedule.", "optim", "", min=0.0, max=1e4, log=True),
    _F("clip", str, "norm", "Gradient clipping: none, by global norm, or by value.", "optim", choices=CLIPS),
    _F("clip_value", float, 1.0, "Clipping threshold (global norm, or largest |g| per element).", "optim", "", min=1e-6, max=1e6, log=True),
    # initialisation
    _F("init", str, "default", "Recurrent weights W_h: PyTorch default, Xavier, orthogonal, identity (IRNN) or random with a given spectral radius.", "init", choices=INITS),
    _F("spectral_radius", float, 1.0, "Spectral init: largest |eigenvalue| of W_h; identity init: the diagonal value.", "init", "", min=0.0, max=10.0),
    _F("input_init_std", float, 0.0, "Std of the input weights W_x (0 keeps PyTorch's default).", "init", "", min=0.0, max=10.0),
    _F("forget_bias", float, 0.0, "LSTM forget-gate bias at init (1 helps memory).", "init", "", min=-10.0, max=10.0),
    _F("zero_head", bool, False, "Zero the output layer, so the first loss is exactly ln|V|.", "init"),
    # run
    _F("max_steps", int, 500, "Training steps (batches).", "run", "steps", min=1, max=10_000_000),
    _F("eval_every", float, 100.0, "Validate every N steps (N >= 1) or every fraction of an epoch (0 < N < 1).", "run", "steps", min=1e-3, max=1e7),
    _F("eval_batches", int, 8, "Validation batches per evaluation (0: the whole validation split).", "run", "batches", min=0, max=100_000),
    _F("probe_every", int, 10, "Measure spectra, histograms and gradient reach every N steps (0: never).", "run", "steps", min=0, max=1_000_000),
    _F("probe_budget", float, 0.03, "Largest share of training time the probes may take; their interval stretches to stay within it (1: never stretch).", "run", "share", min=0.001, max=1.0),
    _F("sample_every", int, 500, "Generate a text sample every N steps and at the end (0: at each evaluation).", "run", "steps", min=0, max=1_000_000),
    _F("seed", int, 0, "Seeds init, data order and dropout: one seed, one run.", "run", "", min=0, max=2**31 - 1),
    _F("device", str, "auto", "Where to train: auto picks CUDA when present.", "run", choices=DEVICES),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}
GROUPS = ("model", "data", "optim", "init", "run")


@dataclass(frozen=True)
class RunConfig:
    """All settings of one run, as primitives. Change with `dataclasses.replace` or `.replace()`."""

    cell: str = "lstm"
    embed_dim: int = 32
    hidden_size: int = 128
    num_layers: int = 1
    layer_norm: bool = False
    dropout: float = 0.0
    task: str = "text"
    corpus: str = "pydoc"
    seq_len: int = 64
    batch_size: int = 32
    variable_length: str = "packed"
    num_items: int = 1000
    train_sequences: int = 10000
    optimizer: str = "adam"
    lr: float = 3e-3
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    warmup_steps: int = 0
    schedule: str = "constant"
    step_every: int = 1000
    gamma: float = 0.5
    plateau_patience: int = 3
    plateau_factor: float = 0.5
    plateau_cooldown: int = 0
    plateau_threshold: float = 1e-4
    min_lr: float = 1e-6
    clip: str = "norm"
    clip_value: float = 1.0
    init: str = "default"
    spectral_radius: float = 1.0
    input_init_std: float = 0.0
    forget_bias: float = 0.0
    zero_head: bool = False
    max_steps: int = 500
    eval_every: float = 100.0
    eval_batches: int = 8
    probe_every: int = 10
    probe_budget: float = 0.03
    sample_every: int = 500
    seed: int = 0
    device: str = "auto"

    # ---- validation -------------------------------------------------------------
    def validate(self) -> RunConfig:
        """Raise ConfigError naming the first bad field; return self when all are good."""
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
        return self

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some fields changed, values parsed by field type."""
        return dataclasses.replace(self, **{k: parse_value(k, v) for k, v in changes.items()})

    # ---- serialisation ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def diff(self, other: RunConfig | None = None) -> dict[str, Any]:
        """Fields whose value differs from `other` (default: the defaults)."""
        other = other or RunConfig()
        return {f.name: getattr(self, f.name) for f in FIELDS if getattr(self, f.name) != getattr(other, f.name)}

    def to_query(self) -> str:
        """URL query string of the non-default fields (names, never objects)."""
        return urlencode({k: format_value(v) for k, v in self.diff().items()})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Build from a dict of field -> value (strings are parsed); unknown keys raise."""
        return cls(**{k: parse_value(k, v) for k, v in values.items()})

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_query(cls, query: str) -> RunConfig:
        return cls.from_dict(dict(parse_qsl(query.lstrip("?"), keep_blank_values=True)))


def parse_value(name: str, value: Any) -> Any:
    """Parse one value (string or primitive) by its field's type; unknown names raise."""
    f = FIELD_BY_NAME.get(name)
    if f is None:
        raise ConfigError(name, f"unknown setting; known settings: {', '.join(FIELD_BY_NAME)}")
    if isinstance(value, str):
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
            if f.type is int:
                if number != int(number):
                    raise ConfigError(name, f"{value!r} is not a whole number")
                return int(number)
            return number
        return text
    if f.type is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if f.type is int and isinstance(value, float) and value == int(value):
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
