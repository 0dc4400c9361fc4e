"""Fixes and forks as new runs: which kind a diagnosis's fix is, and names that show only real changes.

    new_id = apply_fix(jobs, run_id, event.data)   # a diagnosis's fix: a rerun from step 0, or a fork at its step
    change_label(parent_cfg, child_cfg)            # 'lr 0.03 → 0.01, warmup_steps 0 → 40'
    canonical(1.0), canonical(0.0030000000000000001)   # '1', '0.003'

A rerun (JobManager.rerun) starts the run again from step 0 with the parent's seed, so its
initial weights and data order match the parent's step for step, and only the fix differs. A
fork (JobManager.fork) continues from a kept state of the parent. Values are compared as
RunConfig holds them (parsed by field type), so clip_value 1 and 1.0 are the same setting, and
printed in one canonical form.
"""

from __future__ import annotations

from engine.config import FIELDS, RunConfig

ARROW = "→"
IMPLIED = ("max_steps",)  # a fork past the parent's end extends max_steps by itself: not a change to name


def canonical(value) -> str:
    """One spelling per value: floats with at most 6 significant digits and no trailing '.0'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def changes(parent: RunConfig, child: RunConfig) -> dict[str, tuple]:
    """{field: (parent's value, child's value)} for the settings whose values differ."""
    return {f.name: (getattr(parent, f.name), getattr(child, f.name)) for f in FIELDS
            if getattr(parent, f.name) != getattr(child, f.name)}


def change_label(parent: RunConfig, child: RunConfig, ignore: tuple[str, ...] = IMPLIED) -> str:
    """'lr 0.03 → 0.01, warmup_steps 0 → 40': what the child changes, canonically ('' when nothing)."""
    return ", ".join(f"{k} {canonical(a)} {ARROW} {canonical(b)}" for k, (a, b) in changes(parent, child).items()
                     if k not in ignore)


def apply_fix(jobs, run_id: str, data: dict) -> str:
    """Start the fix of a diagnosis event's `data` as a new run beside `run_id`; -> its id.

    "rerun": from step 0, same seed and data order. "fork": from the state kept where the rule
    fired. A fix that changes nothing the run does not already have raises ValueError.
    """
    fix = dict(data.get("fix") or {})
    if not fix:
        raise ValueError(f"the diagnosis {data.get('rule', '')!r} has no fix to try")
    parent = RunConfig.from_dict(jobs.store.run(run_id).config)
    if not change_label(parent, parent.replace(**fix)):
        raise ValueError(f"the fix ({', '.join(f'{k}={canonical(v)}' for k, v in fix.items())}) is what run "
                         f"{run_id} already has")
    if data.get("apply") == "fork":
        return jobs.fork(run_id, fix, step=data.get("fork_step"))
    return jobs.rerun(run_id, fix)
