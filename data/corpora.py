"""Text corpora by name: embedded pydoc prose, downloadable public corpora, or a file path.

    load_corpus("pydoc")            # English prose shipped inside Python (pydoc_data.topics)
    load_corpus("tinyshakespeare")  # cache, then a local data folder, then a download
    load_corpus("notes/my.txt")     # any UTF-8 text file

Downloads land in the cache folder `$RNNLAB_CACHE` (default ~/.cache/rnnlab). Before
downloading, a local data folder is searched for the file: `$RNNLAB_DATA_DIR` when set, and
`../shared/data` beside the repository when it exists. Offline, a DataError says where to
put the file. Every text comes back with "\\r\\n" turned into "\\n" and without a UTF-8 BOM.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import numpy as np

from data.errors import DataError

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared" / "data"  # test and offline copies, when present
MAX_FILE_BYTES = 512 * 2**20  # a text file named by path may be this large
BINARY_CONTROL_SHARE = 0.1  # more control bytes than this (besides \t \n \f \r) means binary
DOWNLOAD_TIMEOUT_S = 30


@dataclass(frozen=True)
class Download:
    """A public corpus: where it is published and the file names it has on disk."""

    url: str
    cache_name: str  # name in the cache folder
    local_name: str  # name in a local data folder ($RNNLAB_DATA_DIR, ../shared/data)


DOWNLOADS = {
    "tinyshakespeare": Download(
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        "tinyshakespeare.txt",
        "tinyshakespeare.txt",
    ),
    "tinystories": Download(
        "https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main/TinyStories-valid.txt",
        "tinystories.txt",
        "tinystories_train.txt",
    ),
}
CORPORA = ("pydoc", *DOWNLOADS)


def load_corpus(name_or_path: str) -> str:
    """The text of a corpus by name (pydoc, tinyshakespeare, tinystories) or of a UTF-8 file by path."""
    if name_or_path == "pydoc":
        return pydoc_text()
    if name_or_path in DOWNLOADS:
        text = read_text_file(find_or_download(name_or_path))
        return clean_tinystories(text) if name_or_path == "tinystories" else text
    return read_text_file(Path(name_or_path).expanduser())


@functools.cache  # the same text for the life of the process; a tenth of a second to join
def pydoc_text() -> str:
    """The prose of Python's help topics (about 465k characters), joined in sorted key order."""
    from pydoc_data.topics import topics  # a dict: topic name -> text

    return "\n".join(topics[k] for k in sorted(topics))


def cache_dir() -> Path:
    """Where downloads are kept: $RNNLAB_CACHE, or ~/.cache/rnnlab."""
    return Path(os.environ.get("RNNLAB_CACHE") or Path.home() / ".cache" / "rnnlab").expanduser()


def local_data_dirs() -> list[Path]:
    """Folders searched before downloading: $RNNLAB_DATA_DIR when set, ../shared/data when it exists."""
    dirs = []
    if os.environ.get("RNNLAB_DATA_DIR"):
        dirs.append(Path(os.environ["RNNLAB_DATA_DIR"]).expanduser())
    if SHARED_DIR.is_dir():
        dirs.append(SHARED_DIR)
    return dirs


def find_or_download(name: str) -> Path:
    """The path of a public corpus: cached, in a local data folder, or freshly downloaded."""
    spec = DOWNLOADS[name]
    cached = cache_dir() / spec.cache_name
    if cached.is_file():
        return cached
    for folder in local_data_dirs():
        if (folder / spec.local_name).is_file():
            return folder / spec.local_name
    download(spec.url, cached, name)
    return cached


def download(url: str, dest: Path, name: str) -> None:
    """Fetch `url` into `dest` (via a temporary file, so a broken download leaves nothing behind)."""
    tmp = dest.with_suffix(".part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            tmp.write_bytes(response.read())
        tmp.replace(dest)
    except (URLError, OSError) as e:
        tmp.unlink(missing_ok=True)
        raise DataError(
            name,
            f"could not download {url} ({getattr(e, 'reason', e)}). Without network, save that file as "
            f"{dest} (the cache folder is $RNNLAB_CACHE), or set corpus to the path of a local copy.",
        ) from e


def read_text_file(path: Path) -> str:
    """The text of a UTF-8 file; a DataError names the file when it is missing, empty, binary or not UTF-8."""
    if not path.exists():
        raise DataError(
            str(path), f"no such file. Set corpus to {', '.join(CORPORA)}, or to the path of a UTF-8 text file."
        )
    if not path.is_file():
        raise DataError(str(path), "is not a file; set corpus to the path of a UTF-8 text file.")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DataError(str(path), f"is {size / 2**20:.0f} MiB, above {MAX_FILE_BYTES // 2**20} MiB; use a part of it.")
    return validate_text_bytes(path.read_bytes(), str(path), MAX_FILE_BYTES)


def validate_text_bytes(raw: bytes, name: str, max_bytes: int) -> str:
    """Decode an uploaded or read file as UTF-8 text; a DataError names it when it is empty, too large, binary or not UTF-8."""
    if len(raw) > max_bytes:
        raise DataError(name, f"is {len(raw):,} bytes, above the limit of {max_bytes:,}; use a shorter text.")
    if not raw.strip():
        raise DataError(name, "is empty; choose a file with some text in it.")
    if b"\x00" in raw or control_share(raw) > BINARY_CONTROL_SHARE:
        raise DataError(name, "looks binary, not text; choose a plain UTF-8 text file (.txt).")
    try:
        text = raw.decode("utf-8-sig")  # -sig: drop a byte-order mark if an editor wrote one
    except UnicodeDecodeError as e:
        raise DataError(
            name, f"is not UTF-8 (byte {raw[e.start]:#04x} at offset {e.start}); re-save it with UTF-8 encoding."
        ) from None
    return text.replace("\r\n", "\n")


def control_share(raw: bytes) -> float:
    """Share of control bytes other than tab, newline, form feed and carriage return."""
    b = np.frombuffer(raw, dtype=np.uint8)
    control = ((b < 32) & ~np.isin(b, (9, 10, 12, 13))) | (b == 127)
    return float(control.mean()) if len(b) else 0.0


def clean_tinystories(text: str) -> str:
    """One paragraph per line: drop empty lines and <|endoftext|> markers (as ../shared/data/SOURCES.md does)."""
    keep = [line for line in text.split("\n") if line.strip() and line.strip() != "<|endoftext|>"]
    return "\n".join(keep) + "\n"
