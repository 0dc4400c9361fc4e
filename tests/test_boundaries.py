"""The dependency rule: app -> engine -> data, never back, and no UI library below app/."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package,forbidden", [("engine", {"streamlit", "plotly", "app"}),
                                               ("data", {"streamlit", "plotly", "app", "engine"})])
def test_lower_layers_do_not_import_upward(package, forbidden):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    offenders = {str(f.relative_to(ROOT)): imported_modules(f) & forbidden for f in files}
    assert not {f: bad for f, bad in offenders.items() if bad}
