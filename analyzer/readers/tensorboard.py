"""TensorBoard event files → :class:`~analyzer.model.Run` (scalars only).

Format: an event file (``events.out.tfevents.<unix_ts>.<host>…``) is a TFRecord
stream. Each record is ``uint64 length``, ``uint32 masked CRC32C(length bytes)``,
``length`` bytes of a serialized ``tensorflow.Event`` proto, ``uint32 masked
CRC32C(data)``; all little-endian, mask = ``((crc >> 15 | crc << 17) + 0xa282ead8)``.
The file is read in one ``read`` (a large one in windows of whole records); one
tight loop walks the framing and computes the data CRCs, the CRCs are compared in bulk,
and events of the usual one-scalar layout are decoded in bulk with numpy. Other records
are parsed with TensorBoard's ``Event`` proto, from generated classes kept in the package
(:mod:`._tb_pb2`: protobuf only, no ``tensorboard`` package; no ``EventAccumulator``,
which is many times slower).

Scalars are ``Summary.Value.simple_value`` (TF1, tensorboardX, PyTorch, Lightning)
or one-element tensors whose plugin is ``scalars`` (TF2). TF2 writes the plugin
metadata only with the first value of each tag, so the plugin is remembered per tag
for the whole run (a tensor whose tag never named a plugin is not a scalar). Other
plugins (text, images, histograms, hparams, graphs) are skipped.

A run folder's files are read oldest first (timestamp in the name, then name) and
their points concatenated, so a resumed run's later values replace rewound steps
(:func:`~analyzer.model.finalize_frame`). Files in a split sub-folder (``train/``,
``validation/``, …) prefix their tags with ``<sub-folder>/``.

Failure behaviour: a record whose CRC does not match, or that does not parse, ends
the reading of that file; the records before it are kept and a warning names the
file and byte offset. So does a truncated tail (a run still being written). A run
in which no file yields any record raises :class:`~analyzer.errors.ReaderError`
naming the file and byte; a run with events but no scalar summary raises one too.

Here: files and runs (windows, merging, warnings). The TFRecord framing and its CRCs are
:mod:`._tfrecord`; decoding the records into scalar points is :mod:`._tb_events`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import ReaderError
from ..model import Run, RunMeta, finalize_frame, frame_from_columns
from . import _io
from ._io import MEMORY_SHARE, human_bytes, open_regular, run_id_for
from ._tb_events import _decode_fast, _decode_slow, _edge_walls, _merge, tensor_scalar
from ._tfrecord import _LENGTH, _check_data_crcs, frame_records, masked_crc

_TS_RE = re.compile(r"tfevents\.(\d+)")
_PAD = 32  # zero bytes after the buffer, so bulk decoding may read past a record
#: Bytes of a file scanned at once; larger files are read in windows of this size.
WINDOW_BYTES = 16 * 2**20
#: A record longer than this is taken as a broken length, not waited for.
MAX_RECORD_BYTES = 2**30
#: Memory one scalar point takes in a run's frame (measured, with some slack).
POINT_BYTES = 128


def is_event_file(path: Path) -> bool:
    """True for a regular file whose name contains ``tfevents``."""
    return "tfevents" in path.name and path.is_file()


@dataclass
class EventFileScalars:
    """The scalar points of one event file in write order, and how reading ended."""

    path: Path
    tags: np.ndarray  # object array of str (prefixed)
    steps: np.ndarray  # int64
    values: np.ndarray  # float64
    wall_times: np.ndarray  # float64
    records: int = 0  # valid records read
    first_wall: float | None = None
    last_wall: float | None = None
    problem: str | None = None  # why reading stopped early, e.g. "CRC mismatch"
    problem_at: int | None = None  # byte offset of the bad record
    skipped: int = 0  # records skipped for a bad data CRC (the records after them read)
    skipped_at: int | None = None  # byte offset of the first of them

    @property
    def stopped_early(self) -> bool:
        return self.problem is not None


def read_event_file(
    path: Path, plugins: dict[str, str] | None = None, prefix: str = ""
) -> EventFileScalars:
    """Scalar points of one event file; stops at the first bad or incomplete record.

    ``plugins`` maps tag → plugin name and is updated in place, so the plugin named by
    a tag's metadata applies to all its values (in this and later files of a run).
    ``prefix`` is put before every tag. A file larger than :data:`WINDOW_BYTES` is read
    window by window (whole records each), so memory holds one window and the points;
    raises :class:`ReaderError` if the file cannot be read, is not a regular file, or its
    points outgrow the memory available (see :mod:`._io`).
    """
    plugins = {} if plugins is None else plugins
    fh, size = open_regular(path)
    with fh:
        if size <= WINDOW_BYTES:
            return scan_buffer(fh.read(size), path, plugins, prefix)
        return _scan_windows(fh, size, path, plugins, prefix)


def _scan_windows(
    fh: BinaryIO, size: int, path: Path, plugins: dict[str, str], prefix: str
) -> EventFileScalars:
    """:func:`scan_buffer` over consecutive windows; a record cut by a window's end is
    carried into the next one, so only the last window may end truncated."""
    parts: list[EventFileScalars] = []
    offset, carry, points = 0, b"", 0
    while True:
        chunk = fh.read(WINDOW_BYTES)
        data = carry + chunk
        part = scan_buffer(data, path, plugins, prefix)
        parts.append(part)
        points += len(part.tags)
        avail = _io.available_memory()
        if avail is not None and points * POINT_BYTES > avail * MEMORY_SHARE:
            raise ReaderError(
                str(path),
                f"{points:,} scalar points by byte {offset + len(data)} are more "
                f"than fit in memory ({human_bytes(avail)} available)",
            )
        if part.problem_at is not None:
            part.problem_at += offset
        if part.skipped_at is not None:
            part.skipped_at += offset
        if not chunk or offset + len(data) >= size or part.problem not in (None, "truncated"):
            break  # the end, or a bad record: the rest of the file is not read
        at = part.problem_at  # set with every problem (see _tfrecord._Framing)
        cut = len(data) if part.problem is None or at is None else at - offset
        if len(data) - cut >= 8 and _LENGTH.unpack_from(data, cut)[0] > MAX_RECORD_BYTES:
            part.problem = f"record over {human_bytes(MAX_RECORD_BYTES)}"
            break
        part.problem = part.problem_at = None
        offset, carry = offset + cut, data[cut:]
    last = parts[-1]
    return EventFileScalars(
        path=path,
        tags=np.concatenate([p.tags for p in parts]),
        steps=np.concatenate([p.steps for p in parts]),
        values=np.concatenate([p.values for p in parts]),
        wall_times=np.concatenate([p.wall_times for p in parts]),
        records=sum(p.records for p in parts),
        first_wall=next((p.first_wall for p in parts if p.records), None),
        last_wall=next((p.last_wall for p in reversed(parts) if p.records), None),
        problem=last.problem,
        problem_at=last.problem_at,
        skipped=sum(p.skipped for p in parts),
        skipped_at=next((p.skipped_at for p in parts if p.skipped), None),
    )


def scan_buffer(
    buf: bytes, path: Path, plugins: dict[str, str], prefix: str = ""
) -> EventFileScalars:
    """Scalar points of an event file's bytes (see :func:`read_event_file`)."""
    framing = frame_records(buf)
    padded = np.zeros(len(buf) + _PAD, dtype=np.uint8)
    padded[: len(buf)] = np.frombuffer(buf, dtype=np.uint8)
    _check_data_crcs(padded, framing)
    fast = _decode_fast(buf, padded, framing.starts, framing.ends)
    slow = _decode_slow(buf, framing, ~(fast.simple | fast.tensor), plugins)
    points = _merge(buf, fast, slow, plugins, len(framing.starts))
    first, last = _edge_walls(buf, framing)
    return EventFileScalars(
        path=path,
        tags=_prefixed(points.tags, prefix),
        steps=points.steps,
        values=points.values,
        wall_times=points.walls,
        records=len(framing.starts),
        first_wall=first,
        last_wall=last,
        problem=framing.problem,
        problem_at=framing.problem_at,
        skipped=framing.skipped,
        skipped_at=framing.skipped_at,
    )


def _prefixed(tags: np.ndarray, prefix: str) -> np.ndarray:
    """Tags with ``prefix`` (each distinct name is built once)."""
    if not prefix or not len(tags):
        return tags
    names = {t: prefix + t for t in set(tags.tolist())}
    return np.array([names[t] for t in tags.tolist()], dtype=object)


def file_order_key(path: Path) -> tuple[float, str, str]:
    """Sort key: creation timestamp in the name (files without one last), name, path."""
    match = _TS_RE.search(path.name)
    ts = float(match.group(1)) if match else math.inf
    return ts, path.name, str(path)


def tag_prefix(run_dir: Path, path: Path) -> str:
    """``"validation/"`` for ``run_dir/validation/events…``; ``""`` for files in ``run_dir``."""
    parent = path.parent
    if parent == run_dir:
        return ""
    try:
        rel = parent.relative_to(run_dir).as_posix()
    except ValueError:
        rel = parent.name
    return f"{rel}/" if rel and rel != "." else ""


def read_run(run_dir: Path, event_files: list[Path]) -> Run:
    """One run from its event files (merged oldest first); see the module docstring."""
    if not event_files:
        raise ReaderError(str(run_dir), "no TensorBoard event files")
    plugins: dict[str, str] = {}
    parts: list[EventFileScalars] = []
    warnings: list[str] = []
    for path in sorted(event_files, key=file_order_key):
        try:
            part = read_event_file(path, plugins, tag_prefix(run_dir, path))
        except ReaderError as exc:
            if len(event_files) == 1:
                raise
            warnings.append(f"{exc}; file skipped")
            continue
        parts.append(part)
        if part.skipped:
            warnings.append(
                f"{part.path}: byte {part.skipped_at}: CRC mismatch (record data) in "
                f"{part.skipped} record(s), skipped; the records after read"
            )
        if part.stopped_early:
            warnings.append(_problem_text(part))
    _check_readable(run_dir, event_files, parts)
    frame = frame_from_columns(
        np.concatenate([p.tags for p in parts]),
        np.concatenate([p.steps for p in parts]),
        np.concatenate([p.values for p in parts]),
        np.concatenate([p.wall_times for p in parts]),
    )
    start, end = _time_span(parts)
    meta = RunMeta(
        id=run_id_for(run_dir),
        name=run_dir.name or str(run_dir),
        source="tensorboard",
        location=str(run_dir),
        start_time=start,
        end_time=end,
        step_axis="step",
    )
    return Run(meta=meta, frame=finalize_frame(frame), warnings=warnings)


def _time_span(parts: list[EventFileScalars]) -> tuple[float | None, float | None]:
    """Earliest and latest event wall time of the run (zero / missing times ignored)."""
    times = [t for p in parts for t in (p.first_wall, p.last_wall) if t]
    for p in parts:
        walls = p.wall_times[p.wall_times > 0]
        if len(walls):
            times += [float(walls.min()), float(walls.max())]
    return (min(times), max(times)) if times else (None, None)


def _problem_text(part: EventFileScalars) -> str:
    kept = f"kept the {part.records} records before it" if part.records else "no record kept"
    if part.problem == "truncated":
        return f"{part.path}: truncated at byte {part.problem_at} (incomplete last record); {kept}"
    return f"{part.path}: byte {part.problem_at}: {part.problem}; rest of the file skipped, {kept}"


def _check_readable(run_dir: Path, event_files: list[Path], parts: list[EventFileScalars]) -> None:
    """Raise when the run has no scalar point, naming the first unreadable file."""
    if any(len(p.tags) for p in parts):
        return
    if not parts:
        raise ReaderError(str(run_dir), "cannot open any of its event files")
    others = " (no other event file of the run has scalars)" if len(event_files) > 1 else ""
    if all(p.records == 0 for p in parts):
        part = parts[0]
        if part.problem is None:
            reason = "empty file, no event records"
        elif part.problem == "truncated":
            reason = "not a TensorBoard event file (too short for one record)"
        else:
            reason = f"not a TensorBoard event file ({_short(part.problem)})"
        raise ReaderError(str(part.path), reason + others, where=f"byte {part.problem_at or 0}")
    records = sum(p.records for p in parts)
    what = "only text, images, histograms, graphs or hparams"
    if len(parts) == 1:
        raise ReaderError(str(parts[0].path), f"no scalar summaries in {records} event(s) ({what})")
    raise ReaderError(
        str(run_dir),
        f"no scalar summaries in its {len(parts)} event files ({records} events: {what})",
    )


def _short(problem: str) -> str:
    return {
        "CRC mismatch (record length)": "bad record length/CRC",
        "CRC mismatch (record data)": "record CRC mismatch",
        "not an Event record": "record is not an Event",
    }.get(problem, problem)


__all__ = [
    "EventFileScalars",
    "file_order_key",
    "frame_records",
    "is_event_file",
    "masked_crc",
    "read_event_file",
    "read_run",
    "scan_buffer",
    "tag_prefix",
    "tensor_scalar",
]
