"""Every task honours the data/ contract: attributes, batch shapes and dtypes, losses, metrics."""

import ast
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from data import Batch, DataError, Task, make_task

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


def _cfg(task, **changes):
    values = dict(
        task=task,
        corpus="pydoc",
        seq_len=12,
        batch_size=8,
        variable_length="packed",
        num_items=50,
        train_sequences=100,
        seed=0,
        eval_batches=2,
    )
    return SimpleNamespace(**{**values, **changes})


@pytest.mark.parametrize("name", ["text", "adding", "copy", "next_item", "lines"])
def test_task_contract(name):
    task = make_task(_cfg(name))
    assert isinstance(task, Task) and task.name == name and task.loss_kind in ("ce", "mse")
    assert (task.input_vocab is None) != (task.input_dim is None)
    b = next(iter(task.train_batches(0, 8)))
    assert isinstance(b, Batch) and b.x.shape[0] == 8
    assert b.x.dtype == (torch.float32 if task.input_dim else torch.int64)
    assert b.y.dtype == (torch.float32 if task.loss_kind == "mse" else torch.int64)
    assert (b.lengths is not None) == (name == "lines")
    if task.input_vocab:
        assert 0 <= int(b.x.min()) and int(b.x.max()) < task.input_vocab
    out = torch.zeros(*b.x.shape[:2], task.output_size, requires_grad=True)
    loss = task.loss(out, b)
    assert loss.dim() == 0 and math.isfinite(loss.item())
    loss.backward()
    assert out.grad is not None and task.last_loss(out, b).dim() == 0
    assert all(isinstance(v, float) for v in task.metrics(out.detach(), b).values())
    assert task.baselines() and all(isinstance(v, float) for v in task.baselines().values())
    val = task.val_batches(8, 2)
    assert len(val) == 2 and all(torch.equal(p.x, q.x) for p, q in zip(val, task.val_batches(8, 2)))
    moved = b.to("cpu")
    assert torch.equal(moved.x, b.x) and torch.equal(moved.y, b.y)
    assert (moved.lengths is None) == (b.lengths is None)


def test_zeroed_head_starts_at_ln_uniform_ppl():
    for name in ("text", "lines"):
        task = make_task(_cfg(name, variable_length="padded_masked"))
        b = task.val_batches(8, 1)[0]
        out = torch.zeros(*b.x.shape, task.output_size)
        assert task.loss(out, b).item() == pytest.approx(math.log(task.baselines()["uniform_ppl"]), abs=1e-5)


def test_unknown_task_and_bad_corpus_raise_data_error(tmp_path):
    with pytest.raises(DataError):
        make_task(_cfg("poetry"))
    with pytest.raises(DataError, match="missing.txt"):
        make_task(_cfg("text", corpus=str(tmp_path / "missing.txt")))


def test_data_imports_only_torch_numpy_and_the_standard_library():
    allowed = {"torch", "numpy", "data", *sys.stdlib_module_names}  # never engine, app, pandas or streamlit
    for path in DATA_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            )
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
