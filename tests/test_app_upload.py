"""AppTest: a UTF-8 text upload becomes the corpus; binary, empty, non-UTF-8 or oversized files are refused."""

import pytest
from app_testkit import app, fresh_engine, no_exceptions, texts

from app import resources
from app.upload import safe_name

__all__ = ["fresh_engine"]

TEXT = ("It was the best of times, it was the worst of times. " * 40).encode()


def upload(at, name: str, raw: bytes, mime: str = "text/plain"):
    at.file_uploader(key="corpus_upload").set_value((name, raw, mime)).run()
    no_exceptions(at)
    return at


def test_text_upload_becomes_the_corpus():
    at = upload(app().run(), "dickens.txt", TEXT)
    corpus = at.session_state["cfg.corpus"]
    assert corpus.startswith(str(resources.upload_dir())) and corpus.endswith("-dickens.txt")
    with open(corpus, encoding="utf-8") as f:
        assert f.read() == TEXT.decode()
    assert "Corpus set to the uploaded file dickens.txt" in texts(at.success)
    assert at.selectbox(key="cfg.corpus").value == corpus
    assert at.query_params["corpus"] == corpus  # the link carries it
    assert not at.button(key="start").disabled


@pytest.mark.parametrize(
    "name, raw, why",
    [
        ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "looks binary"),
        ("empty.txt", b"  \n\n ", "is empty"),
        ("latin1.txt", "café crème brûlée, déjà vu".encode("latin-1") * 20, "is not UTF-8"),
        ("huge.txt", b"a" * 3000, "above the limit"),
    ],
)
def test_bad_upload_is_refused_and_changes_nothing(monkeypatch, name, raw, why):
    monkeypatch.setenv("RNNLAB_UPLOAD_MAX_MB", str(2000 / 2**20))  # 2,000 bytes
    at = app().run()
    before = at.session_state["cfg.corpus"]
    upload(at, name, raw)
    error = texts(at.error)
    assert why in error and "The corpus was not changed" in error
    assert at.session_state["cfg.corpus"] == before == "pydoc"
    folder = resources.upload_dir()
    assert not folder.exists() or not any(folder.iterdir())


def test_safe_name_keeps_no_folders_or_odd_characters():
    assert safe_name("../../etc/passwd") == "passwd.txt"
    assert safe_name("C:\\data\\my notes (v2).txt") == "my_notes_v2_.txt"
    assert safe_name("...") == "corpus.txt"
