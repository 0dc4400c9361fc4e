"""A run's scalar series as a table file, carrying the run's id and settings: CSV or Parquet, long or wide.

    long: run, step, name, value        one row per recorded value (what the store holds)
    wide: run, step, <one column per series>   one row per step; empty where a series has no value

The run's id, name, status and every setting travel with the table: in a CSV as `# key: value`
lines before the header (read with `pandas.read_csv(path, comment="#")`), in a Parquet file as
the schema's `rnnlab` metadata (JSON; `pyarrow.parquet.read_schema(path).metadata[b"rnnlab"]`).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

EXPORT_FORMATS = ("csv", "parquet")
EXPORT_SHAPES = ("long", "wide")
META_KEY = b"rnnlab"  # the Parquet schema metadata key of the run's description


def check_export(fmt: str, shape: str) -> None:
    """ValueError naming the bad choice and the good ones."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    if shape not in EXPORT_SHAPES:
        raise ValueError(f"unknown table shape {shape!r}; use one of {', '.join(EXPORT_SHAPES)}")


def run_meta(info) -> dict:
    """What travels with a table: the run's id, name, status, steps and every setting."""
    return {"run": info.id, "label": info.label or "", "status": info.status, "step": info.step,
            "created": info.created, "settings": info.config}


def write_table(rows: list[tuple[int, str, float]], path: Path, fmt: str, shape: str = "long",
                meta: dict | None = None) -> Path:
    """Write (step, name, value) rows, ordered by name then step, as a long or wide table."""
    check_export(fmt, shape)
    meta = meta or {}
    run = meta.get("run", "")
    header, body = _long(rows, run) if shape == "long" else _wide(rows, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with open(path, "w", newline="") as f:
            for key, value in meta.items():  # comment lines: one per key, JSON where it is not plain text
                f.write(f"# {key}: {value if isinstance(value, str) else json.dumps(value, sort_keys=True)}\n")
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(body)
        return path
    import pandas as pd  # only Parquet export needs pandas and pyarrow
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = ("value",) if shape == "long" else header[2:]
    df = pd.DataFrame(body, columns=header).astype({"run": "str", "step": "int64", **dict.fromkeys(values, "float64")})
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: json.dumps(meta)})
    pq.write_table(table, path)
    return path


def _long(rows, run: str):
    return ("run", "step", "name", "value"), [(run, s, n, v) for s, n, v in rows]


def _wide(rows, run: str):
    """One row per step, one column per series (sorted by name); None where a series has no value."""
    names = sorted({n for _, n, _ in rows})
    col = {n: i for i, n in enumerate(names)}
    by_step: dict[int, list] = {}
    for s, n, v in rows:
        by_step.setdefault(s, [None] * len(names))[col[n]] = v
    body = [(run, s, *by_step[s]) for s in sorted(by_step)]
    return ("run", "step", *names), body
