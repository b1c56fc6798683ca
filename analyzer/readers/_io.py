"""Small I/O helpers shared by the file readers: open (gzip aware), decode, name runs.

Every file is opened without blocking and must be a regular file (a FIFO or a device
named ``x.csv`` is refused, never waited on). A file is read whole only when it fits:
its size (and a gzip file's decompressed size, counted while decompressing) must be at
most ``$LRTEMPO_MAX_FILE_MB`` (default 2048) and at most what the memory available now
holds at the reader's measured cost per byte; else a :class:`ReaderError` says so.

A server reading files on behalf of others (the dashboard's uploads) also opens a
:func:`decompression_budget`: every decompressed byte (a gzip file, a gzip inside a zip,
the zip's own entries via :func:`charge`) then counts, while decompressing, against one
budget for the request and one shared by every request of the process (reserved before
reading, released after), so concurrent uploads cannot together fill the memory.
Sizes in messages are binary: KiB, MiB, GiB.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..errors import ReaderError

#: File names too generic to name a run; the run is named after its folder instead.
GENERIC_NAMES = {
    "metrics",
    "results",
    "trainer_state",
    "trainer_log",
    "log",
    "training",
    "train",
    "history",
    "events",
    "progress",
    "all_results",
    "train_results",
}
GZIP_MAGIC = b"\x1f\x8b"
#: Default cap on a log file's size (decompressed); ``$LRTEMPO_MAX_FILE_MB`` overrides it.
MAX_FILE_MB = 2048
MAX_FILE_ENV = "LRTEMPO_MAX_FILE_MB"
#: Peak memory per byte of file while a CSV or JSON reader turns it into a run, measured
#: (peak RSS: ~26x for text, parser and long frame). TensorBoard files are read in windows.
TEXT_MEMORY_PER_BYTE = 28
#: Share of the memory available now that reading one file may take.
MEMORY_SHARE = 0.75
_CHUNK = 1 << 16


def human_bytes(n: float) -> str:
    """``5.2 GiB`` / ``12.0 MiB`` / ``3 KiB`` (binary units, named as such)."""
    if n >= 2**30:
        return f"{n / 2**30:.1f} GiB"
    if n >= 2**20:
        return f"{n / 2**20:.1f} MiB"
    return f"{n / 2**10:.0f} KiB"


class ByteBudget:
    """Bytes in use against a limit, shared by threads (the process-wide upload budget)."""

    def __init__(self, limit: int) -> None:
        self.limit = int(limit)
        self.used = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bool:
        """Reserve ``n`` bytes; ``False`` (nothing reserved) when they do not fit."""
        with self._lock:
            if self.used + n > self.limit:
                return False
            self.used += n
            return True

    def give(self, n: int) -> None:
        with self._lock:
            self.used = max(0, self.used - n)


@dataclass
class _Account:
    """One request's decompression budget: its own limit, a per-file limit, and what it
    holds of the shared process budget (given back when the request ends)."""

    limit: int
    file_limit: int
    shared: ByteBudget | None
    what: str
    used: int = 0
    held: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def charge(self, location: str, n: int, file_total: int | None = None) -> None:
        """Count ``n`` more decompressed bytes (``file_total``: the file's so far)."""
        with self._lock:
            if file_total is not None and file_total > self.file_limit:
                raise ReaderError(
                    location,
                    f"decompresses to more than {human_bytes(self.file_limit)}, "
                    f"the {self.what} limit for one file",
                )
            if self.used + n > self.limit:
                raise ReaderError(
                    location,
                    f"decompresses to more than {human_bytes(self.limit)}, "
                    f"the {self.what} limit for one request",
                )
            if self.shared is not None:
                if not self.shared.take(n):
                    raise ReaderError(
                        location,
                        "the server is reading other uploads now (they "
                        f"may decompress to {human_bytes(self.shared.limit)} "
                        "together); try again in a moment",
                    )
                self.held += n
            self.used += n

    def release(self) -> None:
        with self._lock:
            if self.shared is not None:
                self.shared.give(self.held)
            self.held = 0


_BUDGET: ContextVar[_Account | None] = ContextVar("lrtempo_decompression_budget", default=None)


@contextmanager
def decompression_budget(
    limit: int,
    *,
    file_limit: int | None = None,
    shared: ByteBudget | None = None,
    reserve: int = 0,
    what: str = "upload",
) -> Iterator[_Account]:
    """Within the block (this thread), decompressed bytes count against ``limit`` (one
    request), ``file_limit`` (one file) and the ``shared`` process budget, of which
    ``reserve`` bytes (e.g. the upload itself) are taken first; all given back at the end.
    A :class:`ReaderError` (location ``what``) when ``reserve`` does not fit."""
    acct = _Account(int(limit), int(file_limit if file_limit is not None else limit), shared, what)
    if reserve:
        acct.charge(what, reserve)
        acct.used -= reserve  # the upload itself is the process's concern, not the request's
    token = _BUDGET.set(acct)
    try:
        yield acct
    finally:
        _BUDGET.reset(token)
        acct.release()


def charge(location: str, n: int, file_total: int | None = None) -> None:
    """Count ``n`` decompressed bytes against the active :func:`decompression_budget` (if any)."""
    acct = _BUDGET.get()
    if acct is not None:
        acct.charge(location, n, file_total)


def available_memory() -> int | None:
    """Bytes of memory available now: ``MemAvailable``, capped by the cgroup's limit."""
    avail: int | None = None
    try:
        with open("/proc/meminfo", "rb") as fh:
            for line in fh:
                if line.startswith(b"MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    try:
        cg = Path("/sys/fs/cgroup")
        limit = (cg / "memory.max").read_text().strip()
        if limit.isdigit():
            avail = min(avail, int(limit) - int((cg / "memory.current").read_text()))
    except (OSError, ValueError):
        pass
    return max(avail, 0)


def size_limit(location: str, per_byte: int) -> tuple[int, str]:
    """The largest file (bytes) a reader needing ``per_byte`` x its size may take now, and
    what to say when a file is over it."""
    raw = os.environ.get(MAX_FILE_ENV, "").strip()
    try:
        cap_mb = float(raw) if raw else float(MAX_FILE_MB)
    except ValueError:
        cap_mb = -1.0
    if not (0 < cap_mb < float("inf")):
        raise ReaderError(location, f"{MAX_FILE_ENV} must be a number of MB above 0, not {raw!r}")
    cap = int(cap_mb * 2**20)
    avail = available_memory()
    if avail is not None and avail * MEMORY_SHARE / per_byte < cap:
        fits = int(avail * MEMORY_SHARE / per_byte)
        return fits, (
            f"the {human_bytes(fits)} that fit in memory now (reading needs about {per_byte}x "
            f"the file's size; {human_bytes(avail)} is available)"
        )
    return cap, f"the {human_bytes(cap)} limit (set {MAX_FILE_ENV} to raise it)"


def check_size(location: str, size: int, per_byte: int) -> None:
    """Raise unless a file of ``size`` bytes is within :func:`size_limit`."""
    limit, why = size_limit(location, per_byte)
    if size > limit:
        raise ReaderError(location, f"{human_bytes(size)} is more than {why}")


def open_regular(path: Path) -> tuple[BinaryIO, int]:
    """The open file and its size; refuses FIFOs, devices and sockets without blocking."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ReaderError(str(path), f"cannot open: {exc.strerror or exc}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise ReaderError(str(path), "not a regular file (a pipe, device or socket); not read")
    return os.fdopen(fd, "rb"), st.st_size


def read_regular(path: Path, per_byte: int) -> bytes:
    """The raw bytes of a regular file within :func:`size_limit` (as large as when opened)."""
    fh, size = open_regular(path)
    with fh:
        check_size(str(path), size, per_byte)
        try:
            return fh.read(size)
        except OSError as exc:
            raise ReaderError(str(path), f"cannot read: {exc.strerror or exc}") from None


def open_bytes(path: Path, per_byte: int = TEXT_MEMORY_PER_BYTE) -> bytes:
    """The file's bytes, gunzipped when it is gzip; a file (or its gunzipped content) over
    :func:`size_limit` is refused before it fills memory."""
    data = read_regular(path, per_byte)
    if data[:2] != GZIP_MAGIC:
        return data
    limit, why = size_limit(str(path), per_byte)
    chunks: list[bytes] = []
    size = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            while chunk := gz.read(_CHUNK):
                size += len(chunk)
                if size > limit:  # a gzip bomb, or just too large: stop before memory runs out
                    raise ReaderError(str(path), f"decompresses to more than {why}")
                charge(str(path), len(chunk), size)  # a server's budgets, counted as we go
                chunks.append(chunk)
    except EOFError:
        raise ReaderError(
            str(path),
            "truncated gzip data: the file ends before the gzip end "
            f"marker ({human_bytes(size)} decompressed)",
            f"byte {len(data)}",
        ) from None
    except (OSError, zlib.error) as exc:
        raise ReaderError(
            str(path), f"broken gzip data: {exc}", f"decompressed byte {size}"
        ) from None
    return b"".join(chunks)


def head_bytes(path: Path, n: int = 4096) -> bytes:
    """The first ``n`` bytes of the (gunzipped) file, or ``b""`` if it cannot be read
    (or is not a regular file)."""
    try:
        fh, _ = open_regular(path)
        with fh:
            data = fh.read(n)
            if data[:2] == GZIP_MAGIC:
                fh.seek(0)
                with gzip.GzipFile(fileobj=fh) as gz:
                    data = gz.read(n)
        return data
    except (ReaderError, OSError, EOFError, zlib.error):
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
    key = (
        os.path.abspath(str(location))
        if not str(location).startswith(("http", "sqlite", "file:"))
        else str(location)
    )
    if segment is not None:
        key = f"{key}#{segment}"
    return hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def file_mtime(path: Path) -> float | None:
    """The file's modification time, or ``None``."""
    try:
        return path.stat().st_mtime
    except OSError:
        return None
