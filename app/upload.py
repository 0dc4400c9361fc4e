"""Corpus upload: a UTF-8 text file becomes a corpus the visitor who uploaded it (and the workers) can read.

An accepted file is checked by data.validate_text_bytes (size, empty, binary, UTF-8), saved
beside the store as uploads/<visitor>/<sha256 prefix>-<safe name>.txt (same bytes, same file:
uploading twice changes nothing and costs nothing) and chosen as the form's corpus. A refused
file leaves the form as it was and says why.

Limits (app/resources.py): each file's size; per visitor a count and a total size; and all
uploads together at most UPLOAD_SERVER_SHARE times one visitor's total, so clearing cookies to
become a new visitor cannot fill the disk. On a shared server (RNNLAB_MODE=shared) a visitor
sees only their own uploads; in local mode the one user sees every upload.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import streamlit as st

from app import ownership, resources
from app.safe_text import text
from data import DataError, validate_text_bytes

UPLOAD_KEY = "corpus_upload"
MESSAGE_KEY = "corpus_upload_message"
UPLOAD_SERVER_SHARE = 16  # all uploads together: at most this many visitors' totals


def safe_name(name: str) -> str:
    """A file name without folders or odd characters, ending in .txt."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip("._") or "corpus"
    stem = stem[:60]
    return stem if stem.endswith(".txt") else stem + ".txt"


def visible_uploads(visitor_id: str) -> list[Path]:
    """The uploads this visitor may choose, newest first: their own, or every one in local mode."""
    root = resources.upload_dir()
    if not root.is_dir():
        return []
    if resources.mode() == "shared":
        found = list((root / visitor_id).glob("*.txt"))
    else:  # one trusted user: every visitor folder, and files kept before folders existed
        found = [*root.glob("*.txt"), *root.glob("*/*.txt")]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def _check_room(folder: Path, size: int) -> None:
    """DataError when one more file of `size` bytes would pass the visitor's or the server's limits."""
    mine = list(folder.glob("*.txt")) if folder.is_dir() else []
    if len(mine) >= resources.upload_max_files():
        raise DataError(
            "upload",
            f"you already have {len(mine)} uploads, the most this server keeps per visitor; "
            "choose one of them as the corpus.",
        )
    total = resources.upload_total_bytes()
    used = sum(p.stat().st_size for p in mine)
    if used + size > total:
        raise DataError(
            "upload",
            f"your uploads would take {(used + size) / 2**20:.1f} MB, above the "
            f"{total / 2**20:g} MB this server keeps per visitor; choose one of them as the corpus.",
        )
    everyone = sum(p.stat().st_size for p in resources.upload_dir().glob("*/*.txt"))
    if everyone + size > UPLOAD_SERVER_SHARE * total:
        raise DataError("upload", "this server's upload space is full; ask whoever runs it to make room.")


def save_upload(raw: bytes, name: str, max_bytes: int, visitor_id: str) -> str:
    """Validate and store an uploaded corpus in the visitor's folder; return its path. Raises DataError when refused."""
    text_ = validate_text_bytes(raw, name, max_bytes)
    folder = resources.upload_dir() / visitor_id
    path = folder / f"{hashlib.sha256(raw).hexdigest()[:12]}-{safe_name(name)}"
    if path.exists():
        return str(path)  # the same file again: already kept, nothing counts twice
    _check_room(folder, len(text_.encode("utf-8")))
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_text(text_, encoding="utf-8")
    tmp.replace(path)  # whole file or nothing: a worker may read it at once
    return str(path)


def _on_upload(corpus_key: str) -> None:
    """Callback: accept or refuse the file just uploaded."""
    file = st.session_state.get(UPLOAD_KEY)
    if file is None:
        st.session_state.pop(MESSAGE_KEY, None)
        return
    try:
        path = save_upload(file.getvalue(), file.name, resources.upload_limit_bytes(), ownership.visitor())
    except DataError as e:
        st.session_state[MESSAGE_KEY] = (
            "error",
            f"Refused {text(e.source)}: {text(e.reason, 300)} The corpus was not changed.",
        )
        return
    st.session_state[corpus_key] = path
    st.session_state[MESSAGE_KEY] = ("success", f"Corpus set to the uploaded file {text(file.name)}.")


def corpus_uploader(corpus_key: str) -> None:
    """The upload box and its last message."""
    limit = resources.upload_limit_bytes()
    st.file_uploader(
        f"Upload a corpus (UTF-8 text, up to {limit / 2**20:g} MB)",
        key=UPLOAD_KEY,
        max_upload_size=max(1, math.ceil(limit / 2**20)),
        on_change=_on_upload,
        args=(corpus_key,),
        help="Plain text in UTF-8, e.g. a .txt file. Binary, empty or non-UTF-8 files are refused. "
        f"The server keeps up to {resources.upload_max_files()} uploads "
        f"({resources.upload_total_bytes() / 2**20:g} MB) per visitor"
        + (", each seen only by the visitor who uploaded it." if resources.mode() == "shared" else "."),
    )
    kind, message = st.session_state.get(MESSAGE_KEY, (None, None))
    if kind == "error":
        st.error(message, icon=":material/block:")
    elif kind == "success":
        st.success(message, icon=":material/check:")
