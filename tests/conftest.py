"""Shared test fixtures: a temporary run store and the optional real-text folder."""

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data beside the checkout; tests that need real text skip without it."""
    if not (SHARED_DATA / "tinyshakespeare.txt").exists():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    """Every test gets its own store file, never the user's."""
    monkeypatch.setenv("RNNLAB_STORE", str(tmp_path / "runs.sqlite"))
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    yield
    os.environ.pop("RNNLAB_TEST", None)
