"""Run names that tell runs apart: the cell and its size, then the settings that differ from a base.

    run_name(RunConfig(lr=0.3))                  # 'lstm 128 · lr 0.3'
    run_name(cfg, base=UI_DEFAULT)               # the dashboard names runs against its own defaults

The CLI names a run against RunConfig's defaults, the dashboard against its own (app/controls.py
UI_DEFAULT), so a run started with nothing changed is just 'lstm 128' in either. Settings of how a
run is watched (its length, evaluation and probe cadence, device) are left out: they do not change
what it learns, and a name full of them hides the ones that do. The seed stays. A person can
rename any run afterwards (RunStore.rename).
"""

from __future__ import annotations

from engine.config import FIELD_BY_NAME, RunConfig, format_value

HEAD = ("cell", "hidden_size")  # always in the name, first
WATCHING = tuple(f for f, d in FIELD_BY_NAME.items() if d.group == "run" and f != "seed")  # left out of names
MAX_SETTINGS = 4  # settings named after the head; the rest are counted ('+2 more')


def run_name(cfg: RunConfig, base: RunConfig | None = None) -> str:
    """'cell size · setting value · ...' with the settings of cfg that differ from base, in declaration order
    (those of how the run is watched left out)."""
    parts = [f"{k} {format_value(v)}" for k, v in cfg.diff(base).items() if k not in HEAD + WATCHING]
    if len(parts) > MAX_SETTINGS:
        parts = [*parts[:MAX_SETTINGS], f"+{len(parts) - MAX_SETTINGS} more"]
    return " · ".join([f"{cfg.cell} {cfg.hidden_size}", *parts])
