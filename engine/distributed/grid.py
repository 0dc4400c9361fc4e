"""A sweep's grid: which settings take which values, and the run configs it expands to.

    grid = parse_grid(["lr=1e-3,3e-3,1e-2", "clip_value=0.25,1,4"])   # {"lr": [...], "clip_value": [...]}
    seeds = parse_seeds("0-2")                                          # [0, 1, 2]
    runs = expand(base, grid, seeds)                                    # [(label, RunConfig), ...] 27 runs

Every value is parsed by its field's type and every combination is built as a RunConfig
before anything is stored, so a bad value or a forbidden combination (forget_bias on a GRU)
stops the sweep at once with a GridError naming the setting and what to do.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time

from engine.config import FIELD_BY_NAME, ConfigError, RunConfig, format_value, parse_value

SWEEP_PREFIX = "sweep-"  # group ids of sweeps start with this; the Sweep page lists those groups
MAX_RUNS = 10_000  # a grid larger than this is almost certainly a typo (an extra value list)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class GridError(ValueError):
    """A grid, seed list or sweep name that cannot be used: says which and what to do."""


def parse_grid(items: list[str]) -> dict[str, list]:
    """{field: [values]} from 'FIELD=V1,V2,...' strings, values parsed by the field's type, in order given."""
    grid: dict[str, list] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise GridError(f"--grid {item!r}: expected FIELD=V1,V2,..., e.g. --grid lr=1e-3,3e-3")
        if name == "seed":
            raise GridError("--grid seed=...: give seeds with --seeds (e.g. --seeds 0-2), so they are summarised, not mapped")
        if name in grid:
            raise GridError(f"--grid {name}: given twice; put all its values in one --grid {name}=V1,V2")
        grid[name] = _values(name, text)
    return grid


def _values(name: str, text: str) -> list:
    if name not in FIELD_BY_NAME:
        raise GridError(f"--grid {name}: unknown setting; `python -m engine fields` lists them")
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise GridError(f"--grid {name}={text}: an empty value; separate values by commas, e.g. {name}=1,2")
    try:
        values = [parse_value(name, p) for p in parts]
    except ConfigError as err:
        raise GridError(f"--grid {err.field}: {err.reason}") from None
    if len(set(values)) != len(values):
        raise GridError(f"--grid {name}={text}: a value is repeated; give each once")
    return values


def parse_seeds(text: str) -> list[int]:
    """Seeds from '0-2' (a range, both ends), '0,3,5' or '4'."""
    seeds: list[int] = []
    for part in (p.strip() for p in str(text).split(",")):
        lo, dash, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if dash else a
        except ValueError:
            raise GridError(f"--seeds {text!r}: expected whole numbers like 0-2 or 0,3,5") from None
        if a < 0 or b < a:
            raise GridError(f"--seeds {text!r}: {part!r} is not a range from low to high of seeds >= 0")
        seeds += range(a, b + 1)
    if len(set(seeds)) != len(seeds):
        raise GridError(f"--seeds {text!r}: a seed is repeated; give each once")
    return seeds


def expand(base: RunConfig, grid: dict[str, list], seeds: list[int] | None = None) -> list[tuple[str, RunConfig]]:
    """Every combination of the grid (and seed) over `base`, as (label, config); the last setting varies fastest."""
    seeds = list(seeds) if seeds else [base.seed]
    names = list(grid)
    total = len(seeds) * _product(len(v) for v in grid.values())
    if total > MAX_RUNS:
        raise GridError(f"the grid makes {total:,} runs; at most {MAX_RUNS:,} are accepted: give fewer values or seeds")
    runs = []
    for combo in itertools.product(*grid.values(), seeds):
        overrides = dict(zip(names, combo[:-1]))
        try:
            cfg = base.replace(**overrides, seed=combo[-1])
        except ConfigError as err:
            raise GridError(f"--grid {err.field}: {err.reason} (in the combination {_label(overrides, combo[-1])})") from None
        runs.append((_label(overrides, combo[-1]), cfg))
    return runs


def _label(overrides: dict, seed: int) -> str:
    return ", ".join([f"{k}={format_value(v)}" for k, v in overrides.items()] + [f"seed={seed}"])


def _product(numbers) -> int:
    n = 1
    for k in numbers:
        n *= k
    return n


def group_id(name: str | None = None) -> str:
    """The sweep's group id: 'sweep-<name>', or 'sweep-<date>-<time>-<4 hex>' without a name."""
    if name is None:
        return f"{SWEEP_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    if not NAME_PATTERN.match(name):
        raise GridError(f"--name {name!r}: use up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return name if name.startswith(SWEEP_PREFIX) else SWEEP_PREFIX + name


def is_sweep(group: str | None) -> bool:
    """Whether a group id names a sweep."""
    return bool(group) and group.startswith(SWEEP_PREFIX)
