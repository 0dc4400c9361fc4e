"""One declaration per thing: every series, chart and setting is declared once, and every place
that names one agrees with that declaration. Each test here fails when a name is declared in
only one of the places that must agree."""

import ast
import re
from pathlib import Path

import pytest

from app import chart_grid
from engine.config import RunConfig
from engine.lessons import LESSONS
from engine.probes import PROBES
from engine.series import declared, find
from engine.store import RunStore
from engine.trainer import Trainer, run_to_end

ROOT = Path(__file__).resolve().parents[1]
DECLARED = declared()
TINY = dict(hidden_size=8, embed_dim=4, seq_len=12, batch_size=4, max_steps=3, eval_every=2, eval_batches=1,
            probe_every=1, probe_budget=1.0, sample_every=0)


def test_series_names_are_unique():
    names = [s.name for s in DECLARED]
    assert len(names) == len(set(names))


def test_every_lesson_names_charts_that_exist():
    for lesson in LESSONS.values():
        missing = set(lesson.charts) - set(chart_grid.CHARTS)
        assert not missing, f"{lesson.id} names charts no one declares: {missing}"


def test_every_chart_reads_declared_series_and_sits_in_a_view():
    shown = {c for mode in ("live", "compare") for ids in chart_grid.views(mode).values() for c in ids}
    for chart in chart_grid.CHARTS.values():
        assert chart.id in shown, f"chart {chart.id} is in no view"
        assert (chart.build is None) != (chart.draw is None), f"chart {chart.id}: build a figure or draw, not both"
        for s in chart.reads + chart.smooths:
            assert s in DECLARED, f"chart {chart.id} reads {s.name}, which nothing declares"


@pytest.mark.parametrize("cell,task", [("rnn_relu", "text"), ("lstm", "lines"), ("gru", "next_item"),
                                       ("rnn_tanh", "adding")])
def test_a_run_records_only_declared_series(cell, task):
    store = RunStore()
    cfg = RunConfig(cell=cell, task=task, **TINY) if task != "next_item" else RunConfig(
        cell=cell, task=task, num_items=20, train_sequences=32, **TINY)
    run_id = store.create_run(cfg.to_dict())
    assert run_to_end(Trainer(cfg, store, run_id)) == "done"
    names = store.series_names(run_id)
    undeclared = [n for n in names if find(n) is None]
    assert not undeclared, f"recorded but declared nowhere: {undeclared}"


def test_each_probe_records_exactly_its_own_declared_series():
    """Over the cells, every series a probe class declares is recorded by it, and nothing else."""
    store = RunStore()
    seen: dict[type, set] = {p: set() for p in PROBES}
    for cell in ("rnn_relu", "rnn_tanh", "lstm"):
        cfg = RunConfig(cell=cell, num_layers=2, **TINY)
        trainer = Trainer(cfg, store, store.create_run(cfg.to_dict()))
        trainer.start()
        for probe in trainer.probes.light + trainer.probes.heavy:
            ctx_names = _probe_names(trainer, probe)
            for name in ctx_names:
                owner = [s for s in probe.series if s.matches(name)]
                assert owner, f"{type(probe).__name__} recorded {name}, which it does not declare"
                seen[type(probe)].add(owner[0].name)
        trainer.conclude(None)
    for probe, names in seen.items():
        assert names == {s.name for s in probe.series}, f"{probe.__name__} declares series it never records"


def _probe_names(trainer, probe) -> list[str]:
    """The names one probe records on a fresh step of the trainer's model."""
    from engine.probes import ProbeContext

    batch = next(iter(trainer.task.train_batches(0, trainer.cfg.batch_size)))
    out, hiddens = trainer.model(batch.x, batch.lengths)
    loss = trainer.task.loss(out, batch)
    trainer.optimizer.zero_grad()
    loss.backward()
    ctx = ProbeContext(model=trainer.model, task=trainer.task, batch=batch, out=out, hiddens=hiddens,
                       cfg=trainer.cfg, step=0)
    measured = dict(probe.after_backward(ctx))
    trainer.optimizer.step()
    measured.update(probe.after_step(ctx))
    return list(measured)


def test_contracts_doc_lists_every_declared_series_and_no_other():
    text = (ROOT / "docs" / "contracts.md").read_text()
    section = text.split("<!-- series:begin -->")[1].split("<!-- series:end -->")[0]
    listed = re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)
    assert listed == [s.name for s in DECLARED], "regenerate with: .venv/bin/python scripts/contracts_series.py"


# series names as string literals belong in their Series(...) declaration only (docstrings aside);
# everywhere else a name is spelled through its declaration, so a rename cannot miss a reader
PENDING = ()  # paths still allowed bare series names (none)


def _literals(path: Path):
    tree = ast.parse(path.read_text())
    declared_args = {id(arg) for call in ast.walk(tree) if isinstance(call, ast.Call)
                     and getattr(call.func, "id", getattr(call.func, "attr", "")) == "Series"
                     for arg in ast.walk(call)}  # a declaration's name and its description
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in declared_args | docstrings:
            yield node.lineno, node.value


def test_series_names_are_spelled_only_where_declared():
    prefixes = tuple({s.name.split("{")[0] for s in DECLARED if "/" in s.name.split("{")[0]})
    offenders = []
    for folder in ("engine", "app"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(PENDING):
                continue
            for line, value in _literals(path):
                if value.startswith(prefixes) or find(value) is not None and "/" in value:
                    offenders.append(f"{rel}:{line} {value!r}")
    assert not offenders, "spell these through their Series declaration:\n" + "\n".join(offenders)
