"""Corpora: embedded pydoc prose, the shared folder, offline downloads, and bad files."""

from urllib.error import URLError

import pytest

import data.corpora as corpora
from data import DataError, load_corpus, validate_text_bytes


def test_pydoc_is_real_english_prose():
    text = load_corpus("pydoc")
    assert len(text) > 100_000
    assert text == load_corpus("pydoc")  # deterministic join
    words = text.split()
    for common in ("the", "of", "and", "is"):
        assert words.count(common) > 100


def test_tinyshakespeare_from_shared_folder(shared_data):
    text = load_corpus("tinyshakespeare")
    assert len(text) == 1_115_394
    assert text.startswith("First Citizen:")
    assert text == (shared_data / "tinyshakespeare.txt").read_text(encoding="utf-8")


def test_tinystories_from_shared_folder_is_one_paragraph_per_line(shared_data):
    text = load_corpus("tinystories")
    assert text == (shared_data / "tinystories_train.txt").read_text(encoding="utf-8")  # cleaning is idempotent
    assert "<|endoftext|>" not in text and "\n\n" not in text


def test_data_dir_env_is_searched(tmp_path, monkeypatch):
    monkeypatch.setattr(corpora, "SHARED_DIR", tmp_path / "absent")
    (tmp_path / "tinyshakespeare.txt").write_text("To be, or not to be.\n", encoding="utf-8")
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(tmp_path))
    assert load_corpus("tinyshakespeare") == "To be, or not to be.\n"


def test_cache_is_used_before_download(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path))
    (tmp_path / "tinyshakespeare.txt").write_text("cached copy\n", encoding="utf-8")
    monkeypatch.setattr(corpora, "urlopen", _no_network)
    assert load_corpus("tinyshakespeare") == "cached copy\n"


def _no_network(*args, **kwargs):
    raise URLError("no network in tests")


@pytest.mark.parametrize("name", ["tinyshakespeare", "tinystories"])
def test_offline_download_says_how_to_supply_the_file(name, tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("RNNLAB_DATA_DIR", raising=False)
    monkeypatch.setattr(corpora, "SHARED_DIR", tmp_path / "absent")
    monkeypatch.setattr(corpora, "urlopen", _no_network)
    with pytest.raises(DataError) as e:
        load_corpus(name)
    message = str(e.value)
    assert e.value.source == name
    assert str(tmp_path / "cache" / corpora.DOWNLOADS[name].cache_name) in message
    assert "path" in message and corpora.DOWNLOADS[name].url in message
    assert not list((tmp_path / "cache").glob("*"))  # nothing half-written left behind


def test_text_file_by_path(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes("\ufeffcaf\u00e9 line one\r\nline two\r\n".encode())
    assert load_corpus(str(path)) == "caf\u00e9 line one\nline two\n"


@pytest.mark.parametrize(
    "content, words",
    [
        (None, "no such file"),
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (b"GIF89a\x00\x01\x02\x00binary", "binary"),
        (bytes(range(1, 32)) * 10, "binary"),
        ("caf\u00e9".encode("latin-1") + b" au lait\n", "UTF-8"),
    ],
)
def test_bad_files_name_the_file(tmp_path, content, words):
    path = tmp_path / "bad.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as e:
        load_corpus(str(path))
    assert str(path) in str(e.value) and words in str(e.value)


def test_upload_validation():
    assert validate_text_bytes(b"hello\r\nworld", "up.txt", 100) == "hello\nworld"
    for raw, words in [
        (b"x" * 101, "limit"),
        (b"", "empty"),
        (b"a\x00b", "binary"),
        (b"\xff\xfe\x00", "binary"),
        (b"ok \xe9t\xe9", "UTF-8"),
    ]:
        with pytest.raises(DataError, match=words) as e:
            validate_text_bytes(raw, "up.txt", 100)
        assert e.value.source == "up.txt" and isinstance(e.value, ValueError)
