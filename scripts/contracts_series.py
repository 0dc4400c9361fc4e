"""Rewrite the series table of docs/contracts.md from the declarations (engine/series.py declared()).

    .venv/bin/python scripts/contracts_series.py        # tests/test_declarations.py checks the table
"""

import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "contracts.md"
BEGIN, END = "<!-- series:begin -->", "<!-- series:end -->"

table = subprocess.run([sys.executable, "-m", "engine", "series", "--markdown"], capture_output=True, text=True,
                       check=True, cwd=DOC.parents[1]).stdout.strip()
text = DOC.read_text()
head, rest = text.split(BEGIN)
DOC.write_text(f"{head}{BEGIN}\n{table}\n{END}{rest.split(END)[1]}")
print(f"{DOC}: {table.count(chr(10)) - 1} series")
