"""Small I/O helpers shared by the file readers: open (gzip aware), decode, name runs."""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

from ..errors import ReaderError

#: File names too generic to name a run; the run is named after its folder instead.
GENERIC_NAMES = {
    "metrics", "results", "trainer_state", "trainer_log", "log", "training", "train",
    "history", "events", "progress", "all_results", "train_results",
}
GZIP_MAGIC = b"\x1f\x8b"
MAX_TEXT_BYTES = 512 * 1024 * 1024


def open_bytes(path: Path, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The file's bytes, gunzipped when it is gzip; refuses files over ``limit``."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise ReaderError(str(path), f"cannot open: {exc.strerror or exc}") from None
    if data[:2] == GZIP_MAGIC:
        try:
            with gzip.open(path, "rb") as gz:
                data = gz.read(limit + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise ReaderError(str(path), f"broken gzip data: {exc}") from None
    if len(data) > limit:
        raise ReaderError(str(path), f"larger than the {limit // 2**20} MiB limit for text logs")
    return data


def head_bytes(path: Path, n: int = 4096) -> bytes:
    """The first ``n`` bytes of the (gunzipped) file, or ``b""`` if it cannot be read."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(n)
        if data[:2] == GZIP_MAGIC:
            with gzip.open(path, "rb") as gz:
                data = gz.read(n)
        return data
    except (OSError, EOFError, zlib.error):
        return b""


def decode_text(data: bytes, location: str) -> str:
    """UTF-8 text without BOM; names the byte offset of the first bad byte."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    nul = data.find(b"\x00", 0, 65536)
    if nul >= 0:
        raise ReaderError(location, "binary data, not a text log", f"byte {nul}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            raise ReaderError(location, "not UTF-8 text", f"byte {exc.start}") from None


def read_text(path: Path) -> str:
    """Decoded text of a (possibly gzipped) file."""
    return decode_text(open_bytes(path), str(path))


def strip_suffixes(path: Path) -> str:
    """``run.csv.gz`` → ``run``; ``events.out.tfevents.1.host`` stays as is."""
    name = path.name
    for suffix in (".gz", ".csv", ".tsv", ".log", ".jsonl", ".json", ".txt"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name


def run_name_for(path: Path) -> str:
    """A readable run name: the file stem, or the folder's name for generic file names."""
    stem = strip_suffixes(path)
    if stem.lower() in GENERIC_NAMES and path.parent.name:
        return path.parent.name
    return stem


def run_id_for(location: str | os.PathLike[str], segment: int | str | None = None) -> str:
    """A stable id from the absolute location (and segment, for files holding several runs)."""
    key = os.path.abspath(str(location)) if not str(location).startswith(("http", "sqlite", "file:")) else str(location)
    if segment is not None:
        key = f"{key}#{segment}"
    return hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def file_mtime(path: Path) -> float | None:
    """The file's modification time, or ``None``."""
    try:
        return path.stat().st_mtime
    except OSError:
        return None
