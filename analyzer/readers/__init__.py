"""Readers: every supported log format → :class:`~analyzer.model.Run`.

File readers are modules with two functions, registered explicitly in
:data:`FILE_READERS` (first match wins):

- ``sniff(path: Path, head: bytes) -> bool`` — cheap: name and first bytes only;
- ``read(path: Path) -> list[Run]`` — raises :class:`~analyzer.errors.ReaderError`.

TensorBoard runs are folders of event files (see :func:`discover`); MLflow sources
are URIs handled by :mod:`analyzer.readers.mlflow_store`.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ..errors import LRTempoError, ReaderError, SourceError
from ..model import ReadResult, Run
from . import csvlogs, hf_trainer, jsonl, tensorboard
from ._io import head_bytes

#: File readers in the order they are tried.
FILE_READERS: tuple[ModuleType, ...] = (hf_trainer, jsonl, csvlogs)

#: Sub-folders that hold one split of a run (Keras writes ``train/`` and ``validation/``).
SPLIT_DIRS = {"train", "training", "validation", "val", "valid", "eval", "test"}

MLFLOW_PREFIXES = (
    "http://",
    "https://",
    "sqlite:///",
    "file:",
    "databricks",
    "postgresql",
    "mysql",
)


def is_mlflow_uri(source: str) -> bool:
    """True for tracking URIs (and the bare word ``mlflow``)."""
    return source == "mlflow" or source.startswith(MLFLOW_PREFIXES)


def _file_reader(path: Path) -> ModuleType | None:
    head = head_bytes(path)
    for reader in FILE_READERS:
        if reader.sniff(path, head):
            return reader
    return None


#: Words a training log's CSV header holds; folder scans skip CSVs without any (data sets).
_LOG_HEADER_WORDS = (b"step", b"epoch", b"loss", b"iter", b"lr", b"learning_rate")
#: Names that say "training log" by themselves: in a folder scan such a file is always
#: read, so one that cannot be (empty, binary, corrupt) is reported, never dropped.
LOG_NAMES = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
#: Names that may or may not be a log (read when their content says so); the others
#: are counted as skipped in the scan's summary (:class:`Skipped`).
MAYBE_LOG_NAMES = (".json", ".txt", ".log", ".json.gz", ".txt.gz", ".log.gz")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _is_data_set(head: bytes) -> bool:
    """A CSV whose first line is a readable, delimited header naming no step, epoch, loss
    or LR (a data set, not a log). Empty, binary or undecodable heads are not: the reader
    reports them."""
    first = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r")
    if not first.strip() or _CONTROL_BYTES.search(first):
        return False
    try:
        first.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not any(sep in first for sep in (b",", b";", b"\t", b"|")):
        return False
    return not any(w in first.lower() for w in _LOG_HEADER_WORDS)


def _scan_kind(path: Path) -> str:
    """How a folder scan treats a regular file: ``"log"`` (read it, report failures),
    ``"skip"`` (not a log; counted in the summary) or ``"ignore"`` (not log-like at all:
    images, code, checkpoints)."""
    name = path.name.lower()
    if name.startswith("trainer_state") and name.endswith((".json", ".json.gz")):
        return "log"
    if name.endswith(LOG_NAMES):
        return "skip" if _is_data_set(head_bytes(path)) else "log"
    if not name.endswith(MAYBE_LOG_NAMES):
        return "ignore"
    return "log" if _file_reader(path) is not None else "skip"


def read_file(path: Path) -> list[Run]:
    """Read one log file (any supported format, event files included)."""
    if tensorboard.is_event_file(path):
        return [tensorboard.read_run(path.parent, [path])]
    reader = _file_reader(path)
    if reader is None:
        if path.name.lower().endswith((".txt", ".txt.gz")):
            raise ReaderError(
                str(path),
                "not a training log: a .txt log must hold one JSON "
                "object per line (DETR/Deformable-DETR/MAE log.txt) or start "
                "with a CSV header",
            )
        raise ReaderError(
            str(path),
            "not a log format LR Tempo knows (CSV, trainer_state.json, "
            "JSON lines, TensorBoard event file)",
        )
    return reader.read(path)


@dataclass(frozen=True)
class LogSource:
    """One unit to read: a log file, or a TensorBoard run folder with its event files."""

    path: Path
    event_files: tuple[Path, ...] = ()

    @property
    def location(self) -> str:
        return str(self.path)


def _walk(
    root: Path,
    onerror: Callable[[OSError], None] | None = None,
    prune: Callable[[str, list[str]], bool] | None = None,
) -> Iterator[tuple[Path, list[str]]]:
    """Folders under ``root`` with their files, symlink loops and links out of ``root``
    not followed; a folder ``prune(path, sub_folders)`` is true for is neither yielded
    nor entered."""
    seen: set[tuple[int, int]] = set()
    inside = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=onerror):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:  # symlink loop
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".") and _within(os.path.join(dirpath, d), inside)
        )
        if prune is not None and prune(dirpath, dirnames):
            dirnames[:] = []
            continue
        yield Path(dirpath), sorted(filenames)


def _names_experiment(meta: str) -> bool:
    """Whether a ``meta.yaml`` is an MLflow experiment's (``experiment_id`` and no
    ``run_id``: a run's names both); only its first 4 KB are read."""
    try:
        with open(meta, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    keys = {line.split(b":", 1)[0].strip() for line in head.splitlines() if b":" in line}
    return b"experiment_id" in keys and b"run_id" not in keys


def _is_mlflow_file_store(folder: str, sub_folders: list[str]) -> bool:
    """Whether ``folder`` is an MLflow file store (an ``mlruns`` folder): one of its
    sub-folders holds an experiment's ``meta.yaml``."""
    for d in sub_folders:
        meta = os.path.join(folder, d, "meta.yaml")
        if os.path.isfile(meta):
            return _names_experiment(meta)
    return False


def _within(path: str, root: str) -> bool:
    """Whether ``path`` (after symlinks) lies inside ``root``: a link to a folder outside
    the scanned one (``/``, a home folder) is not followed."""
    real = os.path.realpath(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


@dataclass(frozen=True)
class Skipped:
    """Files a folder scan left out because they are not training logs (a ``.json``
    config, a ``notes.txt``, a CSV data set): counted, so nothing goes unmentioned."""

    location: str  # the folder scanned
    files: tuple[str, ...]  # paths relative to it

    @property
    def message(self) -> str:
        """``3 files skipped, not training logs: a.json, notes.txt, data.csv``."""
        shown = ", ".join(self.files[:3])
        more = f" and {len(self.files) - 3} more" if len(self.files) > 3 else ""
        n = len(self.files)
        return f"{n} file{'s' if n != 1 else ''} skipped, not training logs: {shown}{more}"


def discover(
    root: Path,
    problems: list[BadSource] | None = None,
    skipped: list[Skipped] | None = None,
    stores: list[str] | None = None,
) -> list[LogSource]:
    """Every log under ``root``: log files, and TensorBoard run folders.

    An MLflow file store in it (an ``mlruns`` folder committed beside the code) is not
    scanned file by file: its ``file://`` URI goes to ``stores`` if given (it is read as
    the store it is, :mod:`~analyzer.readers.mlflow_store`), and nothing inside it is a
    log of its own (artifacts included).

    Event files in ``train/``/``validation/`` sub-folders belong to their parent's run.
    A file whose name says log (``.csv``, ``.tsv``, ``.jsonl``, ``trainer_state.json``,
    an event file) is always a unit, so one that cannot be read (empty, binary, corrupt)
    is reported by its reader, never dropped; only a CSV whose readable header names no
    step, epoch, loss or LR (a data set) is left out. A ``.json``/``.txt``/``.log`` is a
    log when its content says so (a ``log.txt`` whose first line is a JSON object, as
    DETR/MAE write; a HF state holding ``log_history``). The files left out that could
    have been logs go to ``skipped`` (one :class:`Skipped` for ``root``) if given; others
    (READMEs, images, code) are ignored, and so are pipes, devices and sockets (never
    opened), and symlinks to folders outside ``root``. Folders that cannot be listed go
    to ``problems`` if given.
    """

    def unreadable(exc: OSError) -> None:
        if problems is not None:
            problems.append(
                BadSource(
                    str(exc.filename or root), f"cannot read this folder: {exc.strerror or exc}"
                )
            )

    tb_runs: dict[Path, list[Path]] = {}
    files: list[LogSource] = []
    left_out: list[str] = []

    def store(folder: str, sub_folders: list[str]) -> bool:
        if not _is_mlflow_file_store(folder, sub_folders):
            return False
        if stores is not None:
            stores.append(Path(folder).resolve().as_uri())
        return True

    for dirpath, filenames in _walk(root, unreadable, store):
        for fname in filenames:
            path = dirpath / fname
            if not _is_regular(path):
                continue
            if tensorboard.is_event_file(path):
                run_dir = (
                    dirpath.parent
                    if dirpath.name.lower() in SPLIT_DIRS and dirpath != root
                    else dirpath
                )
                tb_runs.setdefault(run_dir, []).append(path)
                continue
            kind = _scan_kind(path)
            if kind == "log":
                files.append(LogSource(path))
            elif kind == "skip":
                left_out.append(os.path.relpath(path, root))
    if skipped is not None and left_out:
        skipped.append(Skipped(str(root), tuple(sorted(left_out))))
    tb = [LogSource(d, tuple(sorted(fs))) for d, fs in tb_runs.items()]
    return sorted(files + tb, key=lambda s: str(s.path))


def read_log_source(source: LogSource) -> list[Run]:
    """Read one discovered unit."""
    if source.event_files:
        return [tensorboard.read_run(source.path, list(source.event_files))]
    return read_file(source.path)


@dataclass(frozen=True)
class BadSource:
    """A source that cannot be read at all (missing path, empty folder)."""

    location: str
    error: str


Unit = LogSource | BadSource | str  # str: an MLflow URI


def expand_sources(sources: list[str], skipped: list[Skipped] | None = None) -> list[Unit]:
    """Turn CLI sources into readable units, in the order given (folders expanded; what
    a folder scan left out goes to ``skipped``, see :func:`discover`)."""
    units: list[Unit] = []
    for src in sources:
        path = Path(src)
        if not src.strip():  # Path("") is the current folder: an unset variable, not "."
            units.append(BadSource(repr(src), "an empty source name (an unset path variable?)"))
        elif is_mlflow_uri(src):
            units.append(src)
        elif path.is_dir():
            problems: list[BadSource] = []
            stores: list[str] = []
            found: list[Unit] = [*discover(path, problems, skipped, stores), *stores, *problems]
            units.extend(found or [BadSource(src, "no training log found in this folder")])
        elif path.is_file():
            units.append(LogSource(path))
        else:
            units.append(BadSource(src, _why_unreadable(path)))
    return units


def _why_unreadable(path: Path) -> str:
    """Why a source that is neither a file nor a folder cannot be read."""
    if path.exists():
        return "not a regular file or folder"
    if path.is_symlink():
        return "a symbolic link that leads nowhere (a loop, or its target is gone)"
    return "no such file or folder"


def _read_unit(
    unit: Unit,
    result: ReadResult,
    since: float | None,
    experiment: str | None,
    progress: Callable[[int, int], None] | None,
) -> None:
    if isinstance(unit, BadSource):
        result.add_error(unit.location, unit.error)
    elif isinstance(unit, str):
        from . import mlflow_store

        store = mlflow_store.read_mlflow(
            unit, experiment=experiment, since=since, progress=progress
        )
        result.runs.extend(store.runs)
        result.errors.extend(store.errors)
    else:
        result.runs.extend(read_log_source(unit))


def read_sources(
    sources: list[str],
    *,
    since: float | None = None,
    experiment: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    skipped: list[Skipped] | None = None,
) -> ReadResult:
    """Read every source; a source that fails is reported and the others go on.

    Runs and errors come in the order of the sources. ``since`` (epoch seconds) and
    ``experiment`` filter MLflow runs. ``progress(done, total)`` is called after each
    unit (file, TensorBoard run, URI), and per run while an MLflow URI is read.
    Files a folder scan left out (not logs) go to ``skipped`` if given.
    """
    return read_units(
        expand_sources(sources, skipped), since=since, experiment=experiment, progress=progress
    )


def read_units(
    units: list[Unit],
    *,
    since: float | None = None,
    experiment: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReadResult:
    """:func:`read_sources` of units already expanded (:func:`expand_sources`)."""
    result = ReadResult()
    for i, unit in enumerate(units, 1):
        try:
            _read_unit(unit, result, since, experiment, progress)
        except LRTempoError as exc:
            location = getattr(exc, "location", str(unit))
            result.add_error(
                location, str(exc).removeprefix(f"{location}: "), getattr(exc, "kind", None)
            )
        except (OSError, RecursionError, MemoryError) as exc:
            loc = unit if isinstance(unit, str) else unit.location
            result.add_error(loc, f"cannot read: {exc}")
        if progress:
            progress(i, len(units))
    return result


__all__ = [
    "FILE_READERS",
    "BadSource",
    "LogSource",
    "ReadResult",
    "Skipped",
    "SourceError",
    "discover",
    "expand_sources",
    "is_mlflow_uri",
    "read_file",
    "read_log_source",
    "read_sources",
    "read_units",
]
