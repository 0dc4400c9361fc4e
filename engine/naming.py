"""Run names that tell runs apart: the cell and its size, then every setting that differs from a base.

    run_name(RunConfig(lr=0.3))                  # 'lstm 128 · lr 0.3'
    run_name(cfg, base=UI_DEFAULT)               # the dashboard names runs against its own defaults

The CLI names a run against RunConfig's defaults, the dashboard against its own (app/controls.py
UI_DEFAULT), so a run started with nothing changed is just 'lstm 128' in either. A person can
rename any run afterwards (RunStore.rename).
"""

from __future__ import annotations

from engine.config import RunConfig, format_value

HEAD = ("cell", "hidden_size")  # always in the name, first
MAX_SETTINGS = 4  # settings named after the head; the rest are counted ('+2 more')


def run_name(cfg: RunConfig, base: RunConfig | None = None) -> str:
    """'cell size · setting value · ...' with the settings of cfg that differ from base, in declaration order."""
    parts = [f"{k} {format_value(v)}" for k, v in cfg.diff(base).items() if k not in HEAD]
    if len(parts) > MAX_SETTINGS:
        parts = [*parts[:MAX_SETTINGS], f"+{len(parts) - MAX_SETTINGS} more"]
    return " · ".join([f"{cfg.cell} {cfg.hidden_size}", *parts])
