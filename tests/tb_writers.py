"""Write real TensorBoard event files for the reader tests.

Records are framed by TensorBoard's own ``RecordWriter`` and events are built from
its compiled protos, so the bytes are what TF2 / PyTorch writers produce; file names
are chosen by the test (the creation timestamp in the name orders a run's files).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.summary.writer.record_writer import RecordWriter
from tensorboard.util import tensor_util

WALL0 = 1_700_000_000.0


def event_name(ts: int, host: str = "host") -> str:
    """``events.out.tfevents.<ts>.<host>`` as TensorFlow names files."""
    return f"events.out.tfevents.{ts}.{host}"


def write_events(path: Path, events: Iterable[event_pb2.Event], *, header: bool = True) -> Path:
    """Frame ``events`` into ``path`` (with the ``file_version`` event first, as writers do)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        writer = RecordWriter(fh)
        if header:
            writer.write(
                event_pb2.Event(wall_time=WALL0, file_version="brain.Event:2").SerializeToString()
            )
        for ev in events:
            writer.write(ev.SerializeToString())
    return path


def simple_event(tag: str, value: float, step: int, wall: float | None = None) -> event_pb2.Event:
    """A TF1 / PyTorch style scalar (``simple_value``)."""
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
    return event_pb2.Event(
        wall_time=WALL0 + step if wall is None else wall, step=step, summary=summary
    )


def tensor_event(
    tag: str,
    value: float,
    step: int,
    *,
    dtype: str = "float32",
    first: bool = False,
    content: bool = False,
    plugin: str = "scalars",
    wall: float | None = None,
) -> event_pb2.Event:
    """A TF2 style scalar: a 0-d tensor; plugin metadata only when ``first`` is true.

    ``content=True`` stores the value as ``tensor_content`` bytes (TF2's C++ writer).
    """
    arr = np.asarray(value, dtype=dtype)
    if content:
        tensor = tensor_pb2.TensorProto(
            dtype=tensor_util.make_tensor_proto(arr).dtype,
            tensor_shape=tensor_shape_pb2.TensorShapeProto(),
            tensor_content=arr.tobytes(),
        )
    else:
        tensor = tensor_util.make_tensor_proto(arr)
    val = summary_pb2.Summary.Value(tag=tag, tensor=tensor)
    if first:
        if plugin == "scalars":
            val.metadata.CopyFrom(scalar_metadata.create_summary_metadata("", ""))
        else:
            val.metadata.plugin_data.plugin_name = plugin
    return event_pb2.Event(
        wall_time=WALL0 + step if wall is None else wall,
        step=step,
        summary=summary_pb2.Summary(value=[val]),
    )


def tf2_series(
    tag: str, values: list[float], *, dtype: str = "float32", start: int = 0, content: bool = False
) -> list[event_pb2.Event]:
    """One tag's TF2 events: metadata on the first only, as ``tf.summary.scalar`` does."""
    return [
        tensor_event(tag, v, start + i, dtype=dtype, first=i == 0, content=content)
        for i, v in enumerate(values)
    ]


def record_offsets(path: Path) -> list[int]:
    """Byte offset of every record in an event file (from the lengths)."""
    data = path.read_bytes()
    offsets, pos = [], 0
    while pos + 12 <= len(data):
        offsets.append(pos)
        (length,) = struct.unpack_from("<Q", data, pos)
        pos += 16 + length
    return offsets


def f32(x: float) -> float:
    """``x`` rounded to float32, as a ``simple_value`` stores it."""
    return float(np.float32(x))
