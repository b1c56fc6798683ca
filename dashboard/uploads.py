"""Uploaded files → runs, safely.

Each upload goes into its own private ``tempfile.mkdtemp()`` folder (mode 0700) under
a name made only of ``[A-Za-z0-9._-]`` (the original's, cleaned, extension kept, so
the readers' sniffing by name still works). A ``.zip`` of a run folder is extracted
there entry by entry with checks: no absolute paths, no ``..``, no links, at most
:data:`MAX_ZIP_ENTRIES` entries, declared sizes within a cap (zipfile never yields more
than an entry declares), and the bytes actually written are counted against the same
cap. A zip inside the zip stays a file (never extracted). Errors name the original file.

Decompression is budgeted while it happens (:func:`analyzer.readers._io.decompression_budget`):
the bytes a zip unpacks and the bytes any gzip file inflates to (a ``.csv.gz``, a gzip
named ``plain.csv``, a gzip inside the zip) count against one budget per request
(:data:`ZIP_EXPANSION` x the upload limit), each gzip file against the upload limit, and
all requests together against the process's :data:`UPLOAD_BUDGET_MB` (configurable), which
an upload reserves its own size from before reading. At most :data:`UPLOAD_READERS`
upload requests are read at once (parsing takes ~13x a file's size); others wait.

Runs are named after the uploaded file, or for files in a zip after their folder (the
zip's name for its top level), never after the private folder. A run's id comes from the
upload's content (:func:`content_key`, kept in the private folder's name so a re-read
gives the same ids) and its place in the upload, so the same content uploaded twice is
one run (:func:`dashboard.upload_views.handle_uploads` shows the first one again).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from analyzer.errors import ReaderError
from analyzer.model import Run
from analyzer.readers import read_file, read_sources
from analyzer.readers._io import _BUDGET, ByteBudget, charge, decompression_budget

ALLOWED_SUFFIXES = (".csv", ".log", ".json", ".jsonl", ".txt", ".zip", ".tsv")
MAX_ZIP_ENTRIES = 2000
MAX_DEPTH, MAX_PATH = 32, 1024  # folders and characters of an entry's path
ZIP_EXPANSION = 4  # an archive may unpack to at most this many times the upload limit
#: Decompressed bytes all uploads being read at once may hold together (MiB, default).
UPLOAD_BUDGET_MB = 1024
#: Upload requests read at the same time (each may take ~13x its size while parsed);
#: more wait up to :data:`UPLOAD_WAIT` seconds for a slot, then are told to try again.
UPLOAD_READERS = 2
UPLOAD_WAIT = 120.0
#: A request body at least this large (an upload) waits for a slot before it is read.
BIG_BODY = 1 << 20


def gate_big_bodies(server: Any, slots: int, wait: float = UPLOAD_WAIT) -> None:
    """Let at most ``slots`` requests with a body ≥ :data:`BIG_BODY` into a Flask
    ``server``'s views at once; the others wait (up to ``wait`` s, then 503 "busy")
    *before* their body is read, after the Host and credential checks (hooks registered
    earlier). Flask parses a whole callback body (an upload's base64 JSON, ~4/3 of the
    files, held two or three times over) before any callback can refuse it, so without
    this gate 20 uploads of 40 MiB at once hold every body in memory together."""
    import threading

    import flask

    gate = threading.BoundedSemaphore(max(1, int(slots)))

    def enter() -> Any:
        if (flask.request.content_length or 0) < BIG_BODY:
            return None
        if not gate.acquire(timeout=wait):
            return flask.Response(
                "The server is busy reading other uploads; try again in a minute.\n",
                503,
                {"Content-Type": "text/plain; charset=utf-8", "Retry-After": "60"},
            )
        flask.g.lrtempo_big_body = True
        return None

    def leave(_exc: BaseException | None) -> None:
        if flask.g.pop("lrtempo_big_body", False):
            gate.release()

    server.before_request(enter)
    server.teardown_request(leave)


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UploadError(ValueError):
    """An upload that cannot be read; the message names the file and the problem."""


@dataclass
class UploadResult:
    filename: str
    runs: list[Run] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    folder: Path | None = None  # the kept private folder (``keep_in``), runs re-readable


MAX_NAME = 120


def safe_name(filename: str) -> str:
    """A file name safe to create: base name only, ``[A-Za-z0-9._-]``, no leading dot,
    at most :data:`MAX_NAME` characters with the extension kept (readers sniff by it)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    clean = _SAFE.sub("_", base).lstrip(".")
    if len(clean) > MAX_NAME:
        stem, dot, ext = clean.rpartition(".")
        suffix = "." + ext[:16] if dot and stem else ""
        clean = clean[: MAX_NAME - len(suffix)].rstrip(".") + suffix
    return clean or "upload"


MB = 1024 * 1024


def size_text(nbytes: float) -> str:
    """Bytes in binary units, named as such: ``59.3 MiB``, ``1.5 GiB``, ``812 KiB``
    (two decimals at most, trailing zeros dropped: ``50 MiB``)."""
    for unit, scale, digits in (("GiB", 2**30, 2), ("MiB", 2**20, 2), ("KiB", 2**10, 0)):
        if nbytes >= scale:
            return f"{round(nbytes / scale, digits):g} {unit}"
    return f"{int(nbytes)} bytes"


def too_big(filename: str, size: int, limit_bytes: int) -> str:
    return f"{filename}: {size / MB:.2f} MiB is over the {limit_bytes / MB:g} MiB upload limit"


#: Hex digits of the content hash that start every run id of an upload.
KEY_LEN = 10
_KEY_DIR = re.compile(rf"^lrtempo-upload-([0-9a-f]{{{KEY_LEN}}})-")


def content_key(data: bytes | Path) -> str:
    """The start of the SHA-256 of an upload's bytes (or of a file's, read in chunks):
    the ids of its runs begin with it."""
    if isinstance(data, bytes):
        return hashlib.sha256(data).hexdigest()[:KEY_LEN]
    digest = hashlib.sha256()
    with open(data, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:KEY_LEN]


def _run_id(key: str, rel: str, k: int) -> str:
    """The id of the ``k``-th run read from ``rel`` in the upload with content ``key``."""
    return key + hashlib.sha1(f"{rel}#{k}".encode("utf-8", "surrogatepass")).hexdigest()[:6]


def is_event_file(name: str) -> bool:
    return "tfevents" in name


def decode_contents(contents: str, filename: str, limit_bytes: int) -> bytes:
    """The bytes of a ``dcc.Upload`` data URL; ``UploadError`` when bad or too big."""
    if not contents or "," not in contents:
        raise UploadError(f"{filename}: the upload is empty")
    b64 = contents.split(",", 1)[1]
    if len(b64) * 3 // 4 > limit_bytes + 3:
        raise UploadError(too_big(filename, len(b64) * 3 // 4, limit_bytes))
    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise UploadError(f"{filename}: the upload is not valid base64 data") from None
    if not data:
        raise UploadError(f"{filename}: the file is empty")
    return data


def _shown(name: str, n: int = 80) -> str:
    """An entry name for a message: quoted, control characters escaped, long ones cut."""
    return repr(name[:n]) + ("…" if len(name) > n else "")


def extract_zip(
    archive: Path,
    dest: Path,
    *,
    max_bytes: int,
    max_entries: int = MAX_ZIP_ENTRIES,
    display: str = "archive",
) -> int:
    """Extract ``archive`` into ``dest`` with entry checks; returns the files written."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UploadError(f"{display}: not a readable zip archive ({exc})") from None
    written = 0
    files = 0
    made: dict[str, str] = {}  # cleaned relative path → the entry that made it
    with zf:
        infos = zf.infolist()
        if len(infos) > max_entries:
            raise UploadError(
                f"{display}: {len(infos)} entries, more than the {max_entries} allowed"
            )
        # zipfile never yields more than an entry's declared size, so an archive whose
        # entries declare more than the cap is refused before anything is written.
        declared = sum(i.file_size for i in infos)
        if declared > max_bytes:
            raise UploadError(
                f"{display}: unpacks to {declared / MB:,.0f} MiB, more than the "
                f"{max_bytes / MB:g} MiB allowed"
            )
        for info in infos:
            name = info.filename
            shown = _shown(name)
            pure = PurePosixPath(name.replace("\\", "/"))
            if name.startswith(("/", "\\")) or pure.is_absolute() or re.match(r"^[A-Za-z]:", name):
                raise UploadError(f"{display}: entry {shown} has an absolute path")
            if any(part == ".." for part in pure.parts):
                raise UploadError(f"{display}: entry {shown} leaves the archive folder ('..')")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UploadError(f"{display}: entry {shown} is a symbolic link")
            parts = [safe_name(p) for p in pure.parts if p not in ("", ".")]
            if not parts:
                continue
            if len(parts) > MAX_DEPTH or sum(len(p) + 1 for p in parts) > MAX_PATH:
                raise UploadError(f"{display}: entry {shown} has a path too long")
            target = dest.joinpath(*parts)
            if not str(target.resolve()).startswith(str(dest.resolve()) + os.sep):
                raise UploadError(f"{display}: entry {shown} leaves the archive folder")
            try:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                out_fh = open(target, "xb")  # noqa: SIM115 - closed by the with below
            except (FileExistsError, NotADirectoryError, IsADirectoryError):
                paths = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
                rel = next((p for p in paths if p in made), paths[-1])
                first = _shown(made[rel]) if rel in made else "an earlier one"
                raise UploadError(
                    f"{display}: entries {first} and {shown} both unpack to {rel!r} (names "
                    "keep only letters, digits, '.', '_' and '-'); rename one and upload "
                    "again"
                ) from None
            for k in range(1, len(parts) + 1):  # the file and the folders it made
                made.setdefault("/".join(parts[:k]), name)
            with zf.open(info) as src, out_fh as out:
                while True:
                    try:
                        chunk = src.read(1 << 16)
                    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                        raise UploadError(f"{display}: entry {shown} is corrupt ({exc})") from None
                    if not chunk:
                        break
                    written += len(chunk)
                    if written > max_bytes:  # a second guard: the bytes actually written
                        raise UploadError(f"{display}: unpacks to more than {max_bytes / MB:g} MiB")
                    try:  # the request's and the process's decompression budgets
                        charge(display, len(chunk))
                    except ReaderError as exc:
                        raise UploadError(f"{display}: {exc.reason}") from None
                    out.write(chunk)
            files += 1
    return files


def _display_name(run: Run, base: Path, filename: str) -> str:
    """The run's name, unless the reader named it after a private folder or the cleaned
    stored name: then the uploaded file's own (a TensorBoard event file read alone: its
    whole name) or the zip's name."""
    tmp = base if _KEY_DIR.match(base.name) else base.parent
    stored = Path(safe_name(filename)).stem  # a file read alone: named after its cleaned name
    if run.meta.name not in (tmp.name, base.name, "unzipped", stored):
        return run.meta.name
    if is_event_file(filename) and base == tmp:
        return filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem = Path(filename.replace("\\", "/").rsplit("/", 1)[-1]).stem
    return stem or filename


def _rename_runs(runs: list[Run], base: Path, filename: str) -> list[Run]:
    """Show the original file name instead of the private path in run locations, names
    and warnings; ids from the upload's content key (in the private folder's name) when
    known."""
    tmp = base if _KEY_DIR.match(base.name) else base.parent
    key = _KEY_DIR.match(tmp.name)
    seen: dict[str, int] = {}
    out = []
    for r in runs:
        loc = r.meta.location
        meta = r.meta
        if loc.startswith(str(base)):
            rel = os.path.relpath(loc, base)
            loc = (
                f"upload:{filename}"
                if rel in (".", safe_name(filename))
                else f"upload:{filename}/{rel}"
            )
            k = seen[rel] = seen.get(rel, -1) + 1
            new_id = _run_id(key.group(1), rel, k) if key else meta.id
            meta = replace(meta, id=new_id, name=_display_name(r, base, filename))
        warnings = [_clean_error(w, tmp, filename) for w in r.warnings]  # no private path
        out.append(
            Run(
                meta=replace(meta, location=loc), frame=r.frame, warnings=type(r.warnings)(warnings)
            )
        )
    return out


def _clean_error(text: str, tmp: Path, filename: str) -> str:
    text = text.replace(str(tmp / safe_name(filename)), filename)
    text = text.replace(str(tmp / "unzipped") + os.sep, f"{filename}/")
    text = text.replace(str(tmp / "unzipped"), filename).replace(str(tmp), filename)
    return text if text.startswith(filename) else f"{filename}: {text}"


def _read_kept(tmp: Path, filename: str, result: UploadResult) -> None:
    """Read the upload's private folder ``tmp`` (its file, or its ``unzipped`` folder)."""
    unzipped = tmp / "unzipped"
    if unzipped.is_dir():
        res = read_sources([str(unzipped)])
        result.runs.extend(_rename_runs(res.runs, unzipped, filename))
        result.errors.extend(
            _clean_error(f"{e['location']}: {e['error']}", tmp, filename) for e in res.errors
        )
        nested = sorted(str(p.relative_to(unzipped)) for p in unzipped.rglob("*.zip"))
        if nested and not result.runs:
            result.errors.append(
                f"{filename}: {', '.join(nested[:5])}: a zip inside the zip "
                "is not opened; upload it on its own"
            )
        return
    runs = read_file(tmp / safe_name(filename))
    if not runs:
        raise UploadError(f"{filename}: no training metrics found in the file")
    result.runs.extend(_rename_runs(runs, tmp, filename))


def reread_upload(folder: Path, filename: str) -> UploadResult:
    """The runs of an upload kept in ``folder`` by :func:`read_upload`, read again."""
    result = UploadResult(filename, folder=folder)
    try:
        _read_kept(folder, filename, result)
    except Exception as exc:  # noqa: BLE001 - a message, as at upload time
        result.errors.append(_clean_error(str(exc) or type(exc).__name__, folder, filename))
    return result


def upload_budget(limit_bytes: int, shared: ByteBudget | None, reserve: int = 0) -> Any:
    """The decompression budget of one upload request (see the module docstring)."""
    return decompression_budget(
        limit_bytes * ZIP_EXPANSION,
        file_limit=limit_bytes,
        shared=shared,
        reserve=reserve,
        what="upload",
    )


def read_upload(
    filename: str,
    data: bytes | Path,
    *,
    limit_bytes: int,
    shared: ByteBudget | None = None,
    keep_in: Path | None = None,
) -> UploadResult:
    """Read one uploaded file into runs; problems go to ``errors`` naming the file.

    ``data``: the file's bytes, or a file holding them (an upload streamed to disk by
    :mod:`dashboard.upload_route`), which is moved into the upload's private folder.

    Within a request's :func:`upload_budget` it counts against it; else against its own
    (with ``shared``, the process's). With ``keep_in``, the private folder is made there
    and kept when runs were read (``result.folder``; :func:`reread_upload` reads it again);
    else it is removed."""
    size = len(data) if isinstance(data, bytes) else data.stat().st_size
    if _BUDGET.get() is None:
        try:
            with upload_budget(limit_bytes, shared, reserve=size):
                return read_upload(filename, data, limit_bytes=limit_bytes, keep_in=keep_in)
        except ReaderError as exc:  # the reservation did not fit
            return UploadResult(filename, errors=[f"{filename}: {exc.reason}"])
    result = UploadResult(filename)
    name = safe_name(filename)
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES and not is_event_file(name):
        result.errors.append(
            f"{filename}: unsupported file type {suffix or '(no extension)'!r}; "
            "upload .csv, .log, .json, .jsonl, .txt, a TensorBoard event file "
            "or a .zip of a run folder"
        )
        return result
    if size > limit_bytes:
        result.errors.append(too_big(filename, size, limit_bytes))
        return result
    prefix = f"lrtempo-upload-{content_key(data)}-"
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=keep_in))
    try:
        path = tmp / name
        if isinstance(data, bytes):
            with open(path, "xb") as fh:
                fh.write(data)
        else:
            shutil.move(data, path)
        if suffix == ".zip":
            unzipped = tmp / "unzipped"
            unzipped.mkdir(mode=0o700)
            n = extract_zip(path, unzipped, max_bytes=limit_bytes * ZIP_EXPANSION, display=filename)
            path.unlink()  # the extracted files are what is read (again)
            if n == 0:
                raise UploadError(f"{filename}: the archive has no files")
        _read_kept(tmp, filename, result)
    except UploadError as exc:
        result.errors.append(str(exc))
    except Exception as exc:  # noqa: BLE001 - any reader failure becomes a message
        msg = str(exc) or type(exc).__name__
        result.errors.append(_clean_error(msg, tmp, filename))
    finally:
        if keep_in is not None and result.runs:
            result.folder = tmp
        else:  # runs are in memory now; the private copy is not needed any more
            shutil.rmtree(tmp, ignore_errors=True)
    if not result.runs and not result.errors:
        result.errors.append(f"{filename}: no training log found")
    return result
