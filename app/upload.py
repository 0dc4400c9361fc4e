"""Corpus upload: a UTF-8 text file becomes a corpus every session and worker can read.

An accepted file is checked by data.validate_text_bytes (size, empty, binary, UTF-8), saved
beside the store as uploads/<sha256 prefix>-<safe name>.txt (same bytes, same file: uploading
twice changes nothing) and chosen as the form's corpus. A refused file leaves the form as it
was and says why.
"""

from __future__ import annotations

import hashlib
import math
import re

import streamlit as st

from app import resources
from data import DataError, validate_text_bytes

UPLOAD_KEY = "corpus_upload"
MESSAGE_KEY = "corpus_upload_message"


def safe_name(name: str) -> str:
    """A file name without folders or odd characters, ending in .txt."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip("._") or "corpus"
    stem = stem[:60]
    return stem if stem.endswith(".txt") else stem + ".txt"


def save_upload(raw: bytes, name: str, max_bytes: int) -> str:
    """Validate and store an uploaded corpus; return its path. Raises DataError when refused."""
    text = validate_text_bytes(raw, name, max_bytes)
    folder = resources.upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(raw).hexdigest()[:12]
    path = folder / f"{digest}-{safe_name(name)}"
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)  # whole file or nothing: a worker may read it at once
    return str(path)


def _on_upload(corpus_key: str) -> None:
    """Callback: accept or refuse the file just uploaded."""
    file = st.session_state.get(UPLOAD_KEY)
    if file is None:
        st.session_state.pop(MESSAGE_KEY, None)
        return
    try:
        path = save_upload(file.getvalue(), file.name, resources.upload_limit_bytes())
    except DataError as e:
        st.session_state[MESSAGE_KEY] = ("error", f"Refused {e.source}: {e.reason} The corpus was not changed.")
        return
    st.session_state[corpus_key] = path
    st.session_state[MESSAGE_KEY] = ("success", f"Corpus set to the uploaded file {file.name}.")


def corpus_uploader(corpus_key: str) -> None:
    """The upload box and its last message."""
    limit = resources.upload_limit_bytes()
    st.file_uploader(
        f"Upload a corpus (UTF-8 text, up to {limit / 2**20:g} MB)",
        key=UPLOAD_KEY,
        max_upload_size=max(1, math.ceil(limit / 2**20)),
        on_change=_on_upload,
        args=(corpus_key,),
        help="Plain text in UTF-8, e.g. a .txt file. Binary, empty or non-UTF-8 files are refused.",
    )
    kind, text = st.session_state.get(MESSAGE_KEY, (None, None))
    if kind == "error":
        st.error(text, icon=":material/block:")
    elif kind == "success":
        st.success(text, icon=":material/check:")
