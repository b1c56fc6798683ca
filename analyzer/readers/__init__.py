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

MLFLOW_PREFIXES = ("http://", "https://", "sqlite:///", "file:", "databricks", "postgresql", "mysql")


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


def _looks_like_log(path: Path, reader: ModuleType, head: bytes) -> bool:
    """Stricter than ``sniff`` for folder scans: a CSV must name a step, epoch, loss or LR."""
    if reader is not csvlogs:
        return True
    header = head.split(b"\n", 1)[0].lower()
    return any(w in header for w in _LOG_HEADER_WORDS)


def read_file(path: Path) -> list[Run]:
    """Read one log file (any supported format, event files included)."""
    if tensorboard.is_event_file(path):
        return [tensorboard.read_run(path.parent, [path])]
    reader = _file_reader(path)
    if reader is None:
        if path.name.lower().endswith((".txt", ".txt.gz")):
            raise ReaderError(str(path), "not a training log: a .txt log must hold one JSON "
                              "object per line (DETR/Deformable-DETR/MAE log.txt) or start "
                              "with a CSV header")
        raise ReaderError(str(path), "not a log format LR Tempo knows (CSV, trainer_state.json, "
                          "JSON lines, TensorBoard event file)")
    return reader.read(path)


@dataclass(frozen=True)
class LogSource:
    """One unit to read: a log file, or a TensorBoard run folder with its event files."""

    path: Path
    event_files: tuple[Path, ...] = ()

    @property
    def location(self) -> str:
        return str(self.path)


def _walk(root: Path, onerror: Callable[[OSError], None] | None = None
          ) -> Iterator[tuple[Path, list[str]]]:
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
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and _within(os.path.join(dirpath, d), inside))
        yield Path(dirpath), sorted(filenames)


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


def discover(root: Path, problems: list[BadSource] | None = None) -> list[LogSource]:
    """Every log under ``root``: files a reader sniffs, and TensorBoard run folders.

    Event files in ``train/``/``validation/`` sub-folders belong to their parent's run.
    A ``log.txt`` is a log when its first line is a JSON object (DETR, Deformable-DETR,
    MAE/DeiT); a console ``log.txt`` is not. Files no reader recognises are skipped
    silently (stray READMEs, console logs, images, CSV data sets
    whose header names no step, epoch, loss or LR), and so are pipes, devices and
    sockets (never opened), and symlinks to folders outside ``root``. Folders that cannot
    be listed go to ``problems`` if given.
    """
    def unreadable(exc: OSError) -> None:
        if problems is not None:
            problems.append(BadSource(str(exc.filename or root),
                                      f"cannot read this folder: {exc.strerror or exc}"))

    tb_runs: dict[Path, list[Path]] = {}
    files: list[LogSource] = []
    for dirpath, filenames in _walk(root, unreadable):
        for fname in filenames:
            path = dirpath / fname
            if not _is_regular(path):
                continue
            if tensorboard.is_event_file(path):
                run_dir = dirpath.parent if dirpath.name.lower() in SPLIT_DIRS and dirpath != root else dirpath
                tb_runs.setdefault(run_dir, []).append(path)
            elif (reader := _file_reader(path)) is not None and _looks_like_log(path, reader, head_bytes(path)):
                files.append(LogSource(path))
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


def expand_sources(sources: list[str]) -> list[Unit]:
    """Turn CLI sources into readable units, in the order given (folders expanded)."""
    units: list[Unit] = []
    for src in sources:
        path = Path(src)
        if is_mlflow_uri(src):
            units.append(src)
        elif path.is_dir():
            problems: list[BadSource] = []
            found: list[Unit] = [*discover(path, problems), *problems]
            units.extend(found or [BadSource(src, "no training log found in this folder")])
        elif path.is_file():
            units.append(LogSource(path))
        else:
            units.append(BadSource(src, "not a regular file or folder" if path.exists() else "no such file or folder"))
    return units


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

        store = mlflow_store.read_mlflow(unit, experiment=experiment, since=since, progress=progress)
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
) -> ReadResult:
    """Read every source; a source that fails is reported and the others go on.

    Runs and errors come in the order of the sources. ``since`` (epoch seconds) and
    ``experiment`` filter MLflow runs. ``progress(done, total)`` is called after each
    unit (file, TensorBoard run, URI), and per run while an MLflow URI is read.
    """
    result = ReadResult()
    units = expand_sources(sources)
    for i, unit in enumerate(units, 1):
        try:
            _read_unit(unit, result, since, experiment, progress)
        except LRTempoError as exc:
            location = getattr(exc, "location", str(unit))
            result.add_error(location, str(exc).removeprefix(f"{location}: "))
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
    "SourceError",
    "discover",
    "expand_sources",
    "is_mlflow_uri",
    "read_file",
    "read_log_source",
    "read_sources",
]
