"""TensorBoard export: a stored run written with tensorboardX and read back by TensorBoard's own
EventAccumulator keeps every scalar point (float32), every histogram's bin counts, every text.

EventAccumulator's default size guidance keeps one histogram per tag (tensorflow/tensorboard#2361),
and `size_guidance=0` falls back to that default (0 is falsy), so the reader here asks for 0 = "keep
all" per kind. Run: .venv/bin/pytest tests/test_tb_export.py
"""

import io
import sys
import zipfile

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.util import tensor_util

from engine.__main__ import main
from engine.config import RunConfig
from engine.probes import GRAD_HIST_EDGES
from engine.store import RunStore
from engine.tb_export import ABS_EIG_BINS, REQUIREMENTS, export_tensorboard, export_zip
from engine.trainer import Trainer, run_to_end

KEEP_ALL = {kind: 0 for kind in ea.DEFAULT_SIZE_GUIDANCE}
SMALL = dict(cell="lstm", hidden_size=8, embed_dim=8, seq_len=16, batch_size=4, max_steps=30, eval_every=10,
             eval_batches=2, probe_every=5, probe_budget=1.0, sample_every=10)


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory):
    """A small finished engine run: scalars, gradient histograms, spectra, samples, events."""
    store = RunStore(tmp_path_factory.mktemp("store") / "runs.sqlite")
    cfg = RunConfig(**SMALL)
    run_id = store.create_run(cfg.to_dict(), label="tiny lstm")
    assert run_to_end(Trainer(cfg, store, run_id)) == "done"
    store.flush()
    yield store, run_id
    store.close()


def read_back(folder) -> ea.EventAccumulator:
    acc = ea.EventAccumulator(str(folder), size_guidance=KEEP_ALL)
    acc.Reload()
    return acc


def text_of(event) -> str:
    return tensor_util.make_ndarray(event.tensor_proto).item().decode()


def test_every_scalar_point_comes_back_within_float32(stored_run, tmp_path):
    store, run_id = stored_run
    acc = read_back(export_tensorboard(store, run_id, tmp_path))
    names = store.series_names(run_id, kind="scalar")
    assert set(names) <= set(acc.Tags()["scalars"]) and len(names) > 40
    for name in names:
        steps, values = store.scalars(run_id, name)
        back = acc.Scalars(name)
        assert [e.step for e in back] == steps.tolist(), name
        np.testing.assert_array_equal([e.value for e in back], values.astype(np.float32), err_msg=name)


def test_every_histogram_comes_back_with_identical_bin_counts(stored_run, tmp_path):
    store, run_id = stored_run
    acc = read_back(export_tensorboard(store, run_id, tmp_path))
    hists = [n for n in store.series_names(run_id, kind="array") if n.startswith("grad_hist/")]
    assert len(hists) >= 5
    for name in hists:
        steps, counts = store.arrays(run_id, name)
        back = acc.Histograms(name)
        assert [e.step for e in back] == steps.tolist() and len(back) >= 6, name
        for e, c in zip(back, counts):
            assert list(e.histogram_value.bucket) == c.tolist()
            assert list(e.histogram_value.bucket_limit) == GRAD_HIST_EDGES[1:].tolist()
            assert e.histogram_value.num == c.sum()
    steps, eigs = store.arrays(run_id, "spectrum/eig/l0/f")
    back = acc.Histograms("spectrum/abs_eig/l0/f")
    assert [e.step for e in back] == steps.tolist()
    for e, eig in zip(back, eigs):
        limits = np.array([0.0, *e.histogram_value.bucket_limit])
        assert len(limits) == ABS_EIG_BINS + 1 and limits[-1] >= 1.0
        expected, _ = np.histogram(np.abs(eig[:, 0] + 1j * eig[:, 1]), bins=limits)
        assert list(e.histogram_value.bucket) == expected.tolist()


def test_every_text_sample_the_config_and_the_events_come_back(stored_run, tmp_path):
    store, run_id = stored_run
    acc = read_back(export_tensorboard(store, run_id, tmp_path))
    samples = store.texts(run_id)
    assert len(samples) >= 3
    assert [(e.step, text_of(e)) for e in acc.Tensors("samples/text_summary")] == samples
    (config,) = acc.Tensors("config/text_summary")
    assert '"hidden_size": 8' in text_of(config) and "tiny lstm" in text_of(config)
    by_step = {e.step: text_of(e) for e in acc.Tensors("events/text_summary")}
    for event in store.events(run_id):
        assert f"**{event.kind}**: {event.message}" in by_step[event.step]
    assert "reach/last/l0" in text_of(acc.Tensors("export/text_summary")[0])  # what was left out, said


def test_cli_writes_a_folder_per_run_and_the_dashboard_zip_holds_the_same(stored_run, tmp_path, monkeypatch, capsys):
    store, run_id = stored_run
    monkeypatch.setenv("RNNLAB_STORE", str(store.path))
    assert main(["export", run_id, "--format", "tensorboard", "--out", str(tmp_path / "tb")]) == 0
    folder = tmp_path / "tb" / f"{run_id}-tiny-lstm"
    assert f"tensorboard --logdir {tmp_path / 'tb'}" in capsys.readouterr().out
    assert main(["export", run_id, "--format", "tensorboard", "--out", str(tmp_path / "tb")]) == 0  # replaces
    assert len(list(folder.glob("events.out.tfevents.*"))) == 1
    with zipfile.ZipFile(io.BytesIO(export_zip(store, run_id))) as z:
        (name,) = z.namelist()
        assert name.startswith(f"{run_id}-tiny-lstm/events.out.tfevents.")
        (tmp_path / "unzipped").mkdir()
        z.extractall(tmp_path / "unzipped")
    acc = read_back(tmp_path / "unzipped" / f"{run_id}-tiny-lstm")
    assert len(acc.Scalars("train/loss")) == 30


def test_without_tensorboardx_the_error_names_the_requirements_file(stored_run, tmp_path, monkeypatch, capsys):
    store, run_id = stored_run
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if not installed
    with pytest.raises(ModuleNotFoundError, match=REQUIREMENTS):
        export_tensorboard(store, run_id, tmp_path)
    monkeypatch.setenv("RNNLAB_STORE", str(store.path))
    assert main(["export", run_id, "--format", "tensorboard", "--out", str(tmp_path)]) == 2
    assert f"pip install -r {REQUIREMENTS}" in capsys.readouterr().err
