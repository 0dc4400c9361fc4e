"""Nothing stray: a corpus that cannot be opened, or a model that will not fit in memory, is refused
before a run is stored, by the CLI and by the JobManager, with the field or file named."""

import pytest

from data import DataError, make_task
from engine.__main__ import main
from engine.config import ConfigError, RunConfig
from engine.jobs import JobManager
from engine.preflight import memory_estimate, preflight
from engine.store import RunStore

HUGE = ["--set", "hidden_size=2048", "--set", "num_layers=4", "--set", "batch_size=4096", "--set", "seq_len=2048"]


def test_cli_refuses_a_missing_corpus_and_stores_no_run(tmp_path, capsys):
    missing = tmp_path / "nowhere.txt"
    assert main(["train", "--set", f"corpus={missing}", "--steps", "5", "--quiet"]) == 2
    assert str(missing) in capsys.readouterr().err
    assert RunStore().runs() == []


def test_cli_refuses_a_model_that_does_not_fit_with_the_estimate(capsys):
    assert main(["train", *HUGE, "--steps", "5", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "batch_size" in err and "GiB" in err and "Traceback" not in err
    assert RunStore().runs() == []


def test_jobmanager_refuses_before_storing(tmp_path):
    jobs = JobManager(RunStore(), max_workers=1)
    try:
        with pytest.raises(DataError):
            jobs.submit(RunConfig(corpus=str(tmp_path / "gone.txt")))
        with pytest.raises(ConfigError) as err:
            jobs.submit_group(RunConfig(), {"a": {}, "huge": {"hidden_size": 2048, "num_layers": 4, "batch_size": 4096,
                                                              "seq_len": 2048}})
        assert err.value.field == "batch_size"
        assert jobs.store.runs() == []
    finally:
        jobs.shutdown()


def test_memory_estimate_counts_parameters_like_the_model():
    """The parameter part of the estimate is exactly what torch allocates, times weights + grads + 2 Adam states."""
    import torch

    from engine.models import RecurrentLM

    cfg = RunConfig(cell="lstm", num_layers=2, hidden_size=64, embed_dim=16)
    task = make_task(cfg)
    n = sum(p.numel() for p in RecurrentLM(cfg, task).parameters())
    _, parts = memory_estimate(cfg, task)
    assert parts["hidden_size"] == 4 * n * torch.finfo(torch.float32).bits // 8


def test_preflight_returns_the_task_the_trainer_uses():
    task = preflight(RunConfig(task="adding", seq_len=20))
    assert task.name == "adding" and task.seq_len == 20
