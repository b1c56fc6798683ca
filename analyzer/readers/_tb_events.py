"""Scalar points from the records of a TensorBoard event file.

Events of the usual one-scalar layout (``Event{wall_time, step, summary{value{tag,
simple_value | one-element float tensor}}}``, as every known writer writes them) are
decoded in bulk with numpy; other records are parsed with TensorBoard's ``Event`` proto
(generated classes kept in :mod:`._tb_pb2`, no ``tensorboard`` package; no
``EventAccumulator``, which is many times slower). Scalars are ``simple_value`` (TF1,
tensorboardX, PyTorch, Lightning) or one-element tensors whose plugin is ``scalars`` (TF2;
the plugin is remembered per tag, see :func:`_summary_scalar`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from google.protobuf.message import DecodeError

from ._tb_pb2 import Event
from ._tfrecord import _Framing, _gather

SCALARS_PLUGIN = "scalars"
_BULK_TAG_BYTES = 256  # longer tags are coded in Python

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


@dataclass
class _Points:
    """Scalar points with the index of the record each came from."""

    record: np.ndarray  # int64
    tags: np.ndarray  # object, raw tag names
    steps: np.ndarray
    values: np.ndarray
    walls: np.ndarray


def tensor_scalar(tensor: Any) -> float | None:
    """The value of a one-element numeric ``TensorProto``; ``None`` for anything else."""
    dtype = tensor.dtype
    spec = _DT_FIELDS.get(dtype)
    if spec is None:
        return None
    dims = tensor.tensor_shape.dim
    if any(d.size != 1 for d in dims):
        return None
    content = tensor.tensor_content
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
    # bytes of records of other layouts are read as floats too (then masked out): their
    # signalling NaNs must not warn
    with np.errstate(invalid="ignore"):
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
    parse = Event.FromString
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


def _summary_scalar(v: Any, plugins: dict[str, str]) -> float | None:
    """The scalar of one ``Summary.Value``, remembering the tag's plugin; else ``None``."""
    kind = v.WhichOneof("value")
    if kind == "simple_value":
        return float(v.simple_value)
    if kind != "tensor":
        if v.HasField("metadata") and v.metadata.plugin_data.plugin_name:
            plugins[v.tag] = v.metadata.plugin_data.plugin_name
        return None
    tag = v.tag
    if v.HasField("metadata") and v.metadata.plugin_data.plugin_name:
        plugins[tag] = v.metadata.plugin_data.plugin_name
    if plugins.get(tag) != SCALARS_PLUGIN:
        return None
    return tensor_scalar(v.tensor)


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


def _edge_walls(buf: bytes, framing: _Framing) -> tuple[float | None, float | None]:
    """Wall times of the first and last kept records (``None`` when unknown)."""
    if not len(framing.starts):
        return None, None
    out: list[float | None] = []
    for i in (0, len(framing.starts) - 1):
        try:
            ev = Event.FromString(buf[framing.starts[i] : framing.ends[i]])
        except DecodeError:
            out.append(None)
            continue
        out.append(ev.wall_time or None)
    return out[0], out[1]
