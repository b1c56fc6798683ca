"""TensorBoard event files → :class:`~analyzer.model.Run` (scalars only).

Format: an event file (``events.out.tfevents.<unix_ts>.<host>…``) is a TFRecord
stream. Each record is ``uint64 length``, ``uint32 masked CRC32C(length bytes)``,
``length`` bytes of a serialized ``tensorflow.Event`` proto, ``uint32 masked
CRC32C(data)``; all little-endian, mask = ``((crc >> 15 | crc << 17) + 0xa282ead8)``.
The file is read in one ``read`` (a large one in windows of whole records); one
tight loop walks the framing and computes the data CRCs, the CRCs are compared in bulk,
and events of the usual one-scalar layout are decoded in bulk with numpy. Other records are parsed with TensorBoard's
compiled ``Event`` proto (no ``EventAccumulator``, which is many times slower).

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
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import crc32c
import numpy as np
import pandas as pd
from google.protobuf.message import DecodeError
from numpy.lib.stride_tricks import sliding_window_view
from tensorboard.compat.proto import event_pb2

from ..errors import ReaderError
from ..model import Run, RunMeta, finalize_frame, frame_from_columns
from . import _io
from ._io import MEMORY_SHARE, human_bytes, open_regular, run_id_for

HEADER_BYTES = 12  # uint64 length + uint32 length CRC
FOOTER_BYTES = 4  # uint32 data CRC
CRC_MASK_DELTA = 0xA282EAD8
SCALARS_PLUGIN = "scalars"
_TS_RE = re.compile(r"tfevents\.(\d+)")
_LENGTH = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_BULK_TAG_BYTES = 256  # longer tags are coded in Python
_PAD = 32  # zero bytes after the buffer, so bulk decoding may read past a record
#: Bytes of a file scanned at once; larger files are read in windows of this size.
WINDOW_BYTES = 16 * 2**20
#: A record longer than this is taken as a broken length, not waited for.
MAX_RECORD_BYTES = 2**30
#: Memory one scalar point takes in a run's frame (measured, with some slack).
POINT_BYTES = 128

# TensorFlow DataType enum → (TensorProto repeated field, numpy dtype of tensor_content).
_DT_FIELDS: dict[int, tuple[str, str]] = {
    1: ("float_val", "<f4"),  # DT_FLOAT
    2: ("double_val", "<f8"),  # DT_DOUBLE
    3: ("int_val", "<i4"),  # DT_INT32
    4: ("int_val", "u1"),  # DT_UINT8
    5: ("int_val", "<i2"),  # DT_INT16
    6: ("int_val", "i1"),  # DT_INT8
    9: ("int64_val", "<i8"),  # DT_INT64
    14: ("half_val", "<u2"),  # DT_BFLOAT16 (bits in half_val / content)
    17: ("int_val", "<u2"),  # DT_UINT16
    19: ("half_val", "<f2"),  # DT_HALF (bits in half_val)
    22: ("uint32_val", "<u4"),  # DT_UINT32
    23: ("uint64_val", "<u8"),  # DT_UINT64
}
_DT_BFLOAT16 = 14
_DT_HALF = 19


def is_event_file(path: Path) -> bool:
    """True for a regular file whose name contains ``tfevents``."""
    return "tfevents" in path.name and path.is_file()


def masked_crc(data: bytes | memoryview) -> int:
    """TFRecord's masked CRC32C of ``data``."""
    crc = crc32c.crc32c(data)
    return ((crc >> 15 | crc << 17) + CRC_MASK_DELTA) & 0xFFFFFFFF


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

    @property
    def stopped_early(self) -> bool:
        return self.problem is not None


@dataclass
class _Framing:
    """Where the valid records of a buffer are, and why framing stopped (if it did)."""

    starts: np.ndarray  # int64 offsets of record data
    ends: np.ndarray  # int64 offsets one past record data
    crcs: np.ndarray  # uint64 CRC32C of each record's data (not yet masked)
    problem: str | None = None
    problem_at: int | None = None

    def cut(self, n: int, problem: str) -> None:
        """Keep the first ``n`` records; record ``n`` is bad."""
        self.problem, self.problem_at = problem, int(self.starts[n]) - HEADER_BYTES
        self.starts, self.ends, self.crcs = self.starts[:n], self.ends[:n], self.crcs[:n]


@dataclass
class _Points:
    """Scalar points with the index of the record each came from."""

    record: np.ndarray  # int64
    tags: np.ndarray  # object, raw tag names
    steps: np.ndarray
    values: np.ndarray
    walls: np.ndarray


def tensor_scalar(tensor: object) -> float | None:
    """The value of a one-element numeric ``TensorProto``; ``None`` for anything else."""
    dtype = tensor.dtype  # type: ignore[attr-defined]
    spec = _DT_FIELDS.get(dtype)
    if spec is None:
        return None
    dims = tensor.tensor_shape.dim  # type: ignore[attr-defined]
    if any(d.size != 1 for d in dims):
        return None
    content = tensor.tensor_content  # type: ignore[attr-defined]
    if content:
        np_dtype = np.dtype(spec[1])
        if len(content) != np_dtype.itemsize:
            return None
        raw = np.frombuffer(content, dtype=np_dtype)[0]
        if dtype == _DT_BFLOAT16:
            return _bfloat16(int(raw))
        return float(raw)
    vals = getattr(tensor, spec[0])
    if len(vals) != 1:
        return None
    if dtype == _DT_HALF:
        return float(np.array([vals[0]], dtype="<u2").view("<f2")[0])
    if dtype == _DT_BFLOAT16:
        return _bfloat16(vals[0])
    return float(vals[0])


def _bfloat16(bits: int) -> float:
    return float(struct.unpack("<f", struct.pack("<I", (bits & 0xFFFF) << 16))[0])


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
                str(path), f"{points:,} scalar points by byte {offset + len(data)} are more "
                f"than fit in memory ({human_bytes(avail)} available)")
        if part.problem_at is not None:
            part.problem_at += offset
        if not chunk or offset + len(data) >= size or part.problem not in (None, "truncated"):
            break  # the end, or a bad record: the rest of the file is not read
        cut = len(data) if part.problem is None else part.problem_at - offset
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
    )


def frame_records(buf: bytes) -> _Framing:
    """Walk the TFRecord framing (see :func:`_walk`), then check the CRCs.

    The walk only follows the lengths; each record's data CRC32C is computed in C
    (``crc32c`` mapped over the records), and the length and data CRCs are compared in
    bulk afterwards. The framing is cut at the first bad record (records walked after a
    bad length are garbage and dropped with it).
    """
    size = len(buf)
    starts_arr, pos = _walk(buf)
    ends_arr = _ends_from(buf, starts_arr)
    if len(starts_arr):
        crc = crc32c.crc32c
        crcs_arr = np.fromiter(
            map(crc, map(buf.__getitem__, map(slice, starts_arr.tolist(), ends_arr.tolist()))),
            dtype=np.uint64,
            count=len(starts_arr),
        )
    else:
        crcs_arr = np.zeros(0, np.uint64)
    framing = _Framing(starts_arr, ends_arr, crcs_arr)
    if pos < size:  # an incomplete record, or a length that points past the end
        bad_length = (
            size - pos >= HEADER_BYTES
            and masked_crc(buf[pos : pos + 8]) != _U32.unpack_from(buf, pos + 8)[0]
        )
        framing.problem = "CRC mismatch (record length)" if bad_length else "truncated"
        framing.problem_at = pos
    _check_length_crcs(buf, framing)
    return framing


#: Attempts of the bulk walk per file before the rest is walked record by record.
_BULK_ATTEMPTS = 16


def _walk(buf: bytes) -> tuple[np.ndarray, int]:
    """Data offsets of the records the lengths chain through, and where the chain stops.

    Same result as following ``pos += 16 + length`` from byte 0 while a whole record
    fits. Long stretches are walked in bulk: every offset whose 8-byte length is below
    2**24 and whose next 4 bytes are that length's masked CRC is a header candidate
    (found with numpy over the whole buffer); from ``pos``, the candidates that follow
    each other exactly (``next == this + 16 + length``) and fit in the buffer are taken
    at once. Where that chain breaks (a candidate inside a record's data, a longer
    record, a bad length CRC, the end), one record is walked in Python, as before, and
    the bulk walk resumes.
    """
    size = len(buf)
    last = size - HEADER_BYTES - FOOTER_BYTES  # last offset where a record can begin
    heads, lengths = _header_candidates(buf)
    parts: list[np.ndarray] = []
    unpack_length = _LENGTH.unpack_from
    attempts = _BULK_ATTEMPTS if len(heads) else 0
    pos = 0
    while pos <= last:
        if attempts:
            chain, pos_after = _chain_from(heads, lengths, pos, size)
            if len(chain):
                parts.append(chain + HEADER_BYTES)
                pos = pos_after
                continue
            attempts -= 1
        start = pos + HEADER_BYTES
        end = start + unpack_length(buf, pos)[0]
        if end > size - FOOTER_BYTES:
            break
        parts.append(np.array([start], dtype=np.int64))
        pos = end + FOOTER_BYTES
    starts = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return starts, pos


def _chain_from(
    heads: np.ndarray, lengths: np.ndarray, pos: int, size: int
) -> tuple[np.ndarray, int]:
    """Header offsets chained from ``pos`` (empty unless ``pos`` is a candidate), next pos."""
    i = int(np.searchsorted(heads, pos))
    if i == len(heads) or heads[i] != pos:
        return heads[:0], pos
    h, n = heads[i:], lengths[i:]
    nxt = h + HEADER_BYTES + FOOTER_BYTES + n
    k = len(h)
    broken = np.flatnonzero(nxt[:-1] != h[1:])
    if len(broken):
        k = int(broken[0]) + 1
    over = np.flatnonzero(nxt[:k] > size)  # a record that does not fit: the walk ends there
    if len(over):
        k = int(over[0])
    if k == 0:
        return heads[:0], pos
    return h[:k], int(nxt[k - 1])


def _crc32c_table() -> np.ndarray:
    """CRC-32C (Castagnoli, reflected 0x82F63B78) lookup table."""
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0x82F63B78), table >> 1)
    return table.astype(np.uint32)


_CRC_TABLE = _crc32c_table()


def _header_candidates(buf: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (sorted) and lengths of every possible record header (see :func:`_walk`)."""
    size = len(buf)
    if size < HEADER_BYTES + FOOTER_BYTES:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    view = np.frombuffer(buf, dtype=np.uint8)
    n = size - HEADER_BYTES - FOOTER_BYTES + 1  # offsets 0..last
    zero = view == 0
    small = zero[3 : 3 + n].copy()
    for k in range(4, 8):
        small &= zero[k : k + n]
    heads = np.flatnonzero(small)
    if not len(heads):
        return heads.astype(np.int64), heads.astype(np.int64)
    b = _gather(view, heads, 12)
    lengths = b[:, 0].astype(np.uint32) | (b[:, 1].astype(np.uint32) << 8) | (
        b[:, 2].astype(np.uint32) << 16
    )
    crc = np.full(len(heads), 0xFFFFFFFF, dtype=np.uint32)
    for k in range(8):  # table-driven CRC-32C of the 8 length bytes, all candidates at once
        crc = _CRC_TABLE[(crc ^ b[:, k]) & 0xFF] ^ (crc >> 8)
    crc ^= np.uint32(0xFFFFFFFF)
    masked = ((crc >> 15) | (crc << 17)) + np.uint32(CRC_MASK_DELTA)  # uint32 wraps
    stored = b[:, 8:12].copy().view("<u4").ravel()
    ok = masked == stored
    return heads[ok].astype(np.int64), lengths[ok].astype(np.int64)


def _check_length_crcs(buf: bytes, framing: _Framing) -> None:
    """Cut the framing at the first record whose length CRC does not match."""
    if not len(framing.starts):
        return
    view = np.frombuffer(buf, dtype=np.uint8)
    lengths = framing.ends - framing.starts
    stored = _gather(view, framing.starts - 4, 4).view("<u4").ravel()
    distinct, inverse = np.unique(lengths, return_inverse=True)
    expected = np.array([masked_crc(struct.pack("<Q", int(n))) for n in distinct], dtype=np.uint32)
    bad = np.flatnonzero(expected[inverse] != stored)
    if len(bad):
        framing.cut(int(bad[0]), "CRC mismatch (record length)")


def _ends_from(buf: bytes, starts: np.ndarray) -> np.ndarray:
    """Record data ends from the starts (each record's length sits 12 bytes before it)."""
    if not len(starts):
        return starts.copy()
    view = np.frombuffer(buf, dtype=np.uint8)
    lengths = _gather(view, starts - HEADER_BYTES, 8).view("<u8").ravel()
    return starts + lengths.astype(np.int64)


def _check_data_crcs(padded: np.ndarray, framing: _Framing) -> None:
    """Cut the framing at the first record whose data CRC does not match."""
    crcs = framing.crcs
    if not len(crcs):
        return
    masked = (
        ((crcs >> np.uint64(15)) | (crcs << np.uint64(17))) + np.uint64(CRC_MASK_DELTA)
    ) & np.uint64(0xFFFFFFFF)
    stored = _gather(padded, framing.ends, 4).view("<u4").ravel().astype(np.uint64)
    bad = np.flatnonzero(masked != stored)
    if len(bad):
        framing.cut(int(bad[0]), "CRC mismatch (record data)")


def _gather(data: np.ndarray, pos: np.ndarray, width: int) -> np.ndarray:
    """``width`` bytes at each position, as a contiguous ``(n, width)`` uint8 array."""
    return sliding_window_view(data, width)[pos]


def _varints(
    data: np.ndarray, pos: np.ndarray, max_bytes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Protobuf varints at ``pos``: (value uint64, byte count, ended within max_bytes)."""
    byte = data[pos]
    value = (byte & 0x7F).astype(np.uint64)
    count = np.ones(len(pos), dtype=np.int64)
    ended = byte < 0x80
    todo = np.flatnonzero(~ended)  # only the longer varints go on
    for k in range(1, max_bytes):
        if not len(todo):
            break
        byte = data[pos[todo] + k]
        value[todo] |= (byte & 0x7F).astype(np.uint64) << np.uint64(7 * k)
        count[todo] += 1
        done = byte < 0x80
        ended[todo[done]] = True
        todo = todo[~done]
    return value, count, ended


@dataclass
class _Fast:
    """Records decoded without protobuf: one simple_value or one tensor scalar each."""

    simple: np.ndarray  # bool per record
    tensor: np.ndarray  # bool per record
    steps: np.ndarray
    walls: np.ndarray
    values: np.ndarray
    tag_starts: np.ndarray
    tag_ends: np.ndarray


def _decode_fast(buf: bytes, data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> _Fast:
    """Decode, in bulk, the common layout of scalar events written by every known writer.

    ``Event{wall_time, [step], summary{value{tag, simple_value | tensor{dtype, shape{},
    float/double scalar}}}}`` in field order; anything else is left to protobuf.
    """
    limit = len(buf)
    s, e = starts, ends

    def clip(pos: np.ndarray) -> np.ndarray:
        return np.minimum(pos, limit)

    ok = (e - s >= 16) & (data[s] == 0x09)
    walls = _gather(data, s + 1, 8).view("<f8").ravel()
    p = s + 9
    has_step = data[p] == 0x10
    step_raw, step_len, step_ok = _varints(data, p + 1, 10)
    steps = np.where(has_step, step_raw.view(np.int64), 0)
    ok &= ~has_step | step_ok
    q = np.where(has_step, p + 1 + step_len, p)
    ok &= data[q] == 0x2A  # Event.summary
    summary_len, n, valid = _varints(data, q + 1, 5)
    r = clip(q + 1 + n)
    ok &= valid & (r + summary_len.astype(np.int64) == e) & (data[r] == 0x0A)  # one Summary.value
    value_len, n, valid = _varints(data, r + 1, 5)
    u = clip(r + 1 + n)
    ok &= valid & (u + value_len.astype(np.int64) == e) & (data[u] == 0x0A)  # Value.tag first
    tag_len, n, valid = _varints(data, u + 1, 3)
    t0 = clip(u + 1 + n)
    t1 = clip(t0 + tag_len.astype(np.int64))
    ok &= valid & (t1 < e)
    simple = ok & (data[t1] == 0x15) & (t1 + 5 == e)
    values = _gather(data, t1 + 1, 4).view("<f4").ravel().astype(np.float64)
    tensor, tensor_values = _fast_tensor(data, t1, e, ok)
    values = np.where(tensor, tensor_values, values)
    return _Fast(simple, tensor, steps, walls, values, t0, t1)


def _fast_tensor(
    data: np.ndarray, t1: np.ndarray, e: np.ndarray, ok: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``Value.tensor`` = ``{dtype: FLOAT|DOUBLE, tensor_shape: {}, one value}`` at ``t1``."""
    ok = ok & (data[t1] == 0x42) & (data[t1 + 1].astype(np.int64) == e - t1 - 2)
    ok &= (data[t1 + 2] == 0x08) & (data[t1 + 4] == 0x12) & (data[t1 + 5] == 0x00)
    dtype, field_tag, width = data[t1 + 3], data[t1 + 6], data[t1 + 7]
    is_f32 = (
        ok
        & (dtype == 1)
        & ((field_tag == 0x3A) | (field_tag == 0x2A))
        & (width == 4)
        & (t1 + 12 == e)
    )
    is_f64 = (
        ok
        & (dtype == 2)
        & ((field_tag == 0x3A) | (field_tag == 0x32))
        & (width == 8)
        & (t1 + 16 == e)
    )
    f32 = _gather(data, t1 + 8, 4).view("<f4").ravel().astype(np.float64)
    f64 = _gather(data, t1 + 8, 8).view("<f8").ravel()
    return is_f32 | is_f64, np.where(is_f64, f64, f32)


def _decode_slow(
    buf: bytes, framing: _Framing, todo: np.ndarray, plugins: dict[str, str]
) -> _Points:
    """Parse the other records with protobuf, in order; cuts the framing at a bad one."""
    parse = event_pb2.Event.FromString
    rec: list[int] = []
    tags: list[str] = []
    steps: list[int] = []
    values: list[float] = []
    walls: list[float] = []
    starts, ends = framing.starts, framing.ends
    for i in np.flatnonzero(todo).tolist():
        try:
            ev = parse(buf[starts[i] : ends[i]])
        except DecodeError:
            framing.cut(i, "not an Event record")
            break
        if not ev.HasField("summary"):
            continue
        for v in ev.summary.value:
            value = _summary_scalar(v, plugins)
            if value is not None:
                rec.append(i)
                tags.append(v.tag)
                steps.append(ev.step)
                values.append(value)
                walls.append(ev.wall_time)
    return _Points(
        np.array(rec, dtype=np.int64),
        np.array(tags, dtype=object),
        np.array(steps, dtype=np.int64),
        np.array(values, dtype=np.float64),
        np.array(walls, dtype=np.float64),
    )


def _summary_scalar(v: object, plugins: dict[str, str]) -> float | None:
    """The scalar of one ``Summary.Value``, remembering the tag's plugin; else ``None``."""
    kind = v.WhichOneof("value")  # type: ignore[attr-defined]
    if kind == "simple_value":
        return float(v.simple_value)  # type: ignore[attr-defined]
    if kind != "tensor":
        if v.HasField("metadata") and v.metadata.plugin_data.plugin_name:  # type: ignore[attr-defined]
            plugins[v.tag] = v.metadata.plugin_data.plugin_name  # type: ignore[attr-defined]
        return None
    tag = v.tag  # type: ignore[attr-defined]
    if v.HasField("metadata") and v.metadata.plugin_data.plugin_name:  # type: ignore[attr-defined]
        plugins[tag] = v.metadata.plugin_data.plugin_name  # type: ignore[attr-defined]
    if plugins.get(tag) != SCALARS_PLUGIN:
        return None
    return tensor_scalar(v.tensor)  # type: ignore[attr-defined]


def _merge(
    buf: bytes, fast: _Fast, slow: _Points, plugins: dict[str, str], n_records: int
) -> _Points:
    """Fast and protobuf points of the kept records, in write order."""
    idx = np.flatnonzero(fast.simple[:n_records] | fast.tensor[:n_records])
    codes, names = _tag_codes(buf, fast.tag_starts[idx], fast.tag_ends[idx])
    scalar_tag = np.array([plugins.get(t) == SCALARS_PLUGIN for t in names], dtype=bool)
    use = fast.simple[idx] | (scalar_tag[codes] if len(names) else False)
    idx, codes = idx[use], codes[use]
    fast_pts = _Points(
        idx,
        np.array(names, dtype=object)[codes] if len(names) else np.zeros(0, dtype=object),
        fast.steps[idx],
        fast.values[idx],
        fast.walls[idx],
    )
    kept = slow.record < n_records
    if not kept.any():
        return fast_pts
    parts = [fast_pts, _Points(*(col[kept] for col in _columns(slow)))]
    merged = [np.concatenate(cols) for cols in zip(*(_columns(p) for p in parts))]
    order = np.argsort(merged[0], kind="stable")
    return _Points(*(col[order] for col in merged))


def _columns(points: _Points) -> tuple[np.ndarray, ...]:
    return points.record, points.tags, points.steps, points.values, points.walls


def _tag_codes(buf: bytes, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Per-point codes into the list of distinct tag names (decoded from the buffer)."""
    bulk = _tag_codes_bulk(buf, starts, ends)
    if bulk is not None:
        return bulk
    raw = [buf[a:b] for a, b in zip(starts.tolist(), ends.tolist())]
    seen: dict[bytes, int] = {}
    codes = np.fromiter(
        (seen.setdefault(t, len(seen)) for t in raw), dtype=np.int64, count=len(raw)
    )
    return codes, [t.decode("utf-8", "replace") for t in seen]


def _tag_codes_bulk(
    buf: bytes, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, list[str]] | None:
    """:func:`_tag_codes` with numpy for tags up to ``_BULK_TAG_BYTES`` long, else ``None``.

    Rows of tag bytes are hashed, factorized, then checked byte for byte against each
    code's first row, so a hash collision falls back to the exact path.
    """
    lengths = ends - starts
    if not len(starts) or lengths.max() > _BULK_TAG_BYTES:
        return None
    width = -(-int(lengths.max()) // 8) * 8 or 8
    view = np.frombuffer(buf, dtype=np.uint8)
    padded = np.concatenate([view, np.zeros(width, dtype=np.uint8)])
    rows = _gather(padded, starts, width)
    rows[np.arange(width) >= lengths[:, None]] = 0
    words = rows.view("<u8")
    key = lengths.astype(np.uint64)
    for k in range(words.shape[1]):
        key = (key * np.uint64(0x100000001B3)) ^ words[:, k]
    codes, _ = pd.factorize(key)
    # codes come in order of first appearance: the running maximum grows at first rows
    first = np.flatnonzero(np.diff(np.maximum.accumulate(codes), prepend=-1) > 0)
    if not ((rows == rows[first[codes]]).all() and (lengths == lengths[first[codes]]).all()):
        return None
    names = [buf[starts[i] : ends[i]].decode("utf-8", "replace") for i in first.tolist()]
    return codes.astype(np.int64), names


def _prefixed(tags: np.ndarray, prefix: str) -> np.ndarray:
    """Tags with ``prefix`` (each distinct name is built once)."""
    if not prefix or not len(tags):
        return tags
    names = {t: prefix + t for t in set(tags.tolist())}
    return np.array([names[t] for t in tags.tolist()], dtype=object)


def _edge_walls(buf: bytes, framing: _Framing) -> tuple[float | None, float | None]:
    """Wall times of the first and last kept records (``None`` when unknown)."""
    if not len(framing.starts):
        return None, None
    out: list[float | None] = []
    for i in (0, len(framing.starts) - 1):
        try:
            ev = event_pb2.Event.FromString(buf[framing.starts[i] : framing.ends[i]])
        except DecodeError:
            out.append(None)
            continue
        out.append(ev.wall_time or None)
    return out[0], out[1]


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
