"""Generate ``analyzer/readers/_tb_pb2.py``: TensorBoard's ``Event`` proto, without TensorBoard.

The TensorBoard reader parses event records with protobuf classes of TensorBoard's own
``Event`` message. Rather than depend on the ``tensorboard`` package (a web server, grpcio,
werkzeug, …) for them, the package keeps a generated module: this script copies, from the
installed TensorBoard's compiled protos (``tensorboard/compat/proto/*.proto``), ``Event``
and every message and enum it refers to — same names, field numbers, types, labels and
options — into one proto3 file of package ``lrtempo.tb`` (so it never clashes with
TensorBoard's or tensorboardX's classes in protobuf's default pool), and writes the module
that protoc's Python generator would write for it (the serialized ``FileDescriptorProto``
as hex, built by ``google.protobuf.internal.builder``; protobuf >= 4.21). Run
``python -m tests.tb_proto_gen`` after upgrading TensorBoard;
``tests/test_reader_tensorboard.py`` checks the module is what this script writes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2

MODULE = Path(__file__).resolve().parent.parent / "analyzer" / "readers" / "_tb_pb2.py"
PACKAGE = "lrtempo.tb"
FILE_NAME = "lrtempo/tb/event.proto"
ROOT = "tensorboard.Event"
CHUNK = 44  # bytes of the serialized descriptor per source line (88 hex digits)


def _closure(root: Any) -> list[Any]:
    """``root`` and the top-level messages/enums it refers to, in first-reached order."""
    from google.protobuf.descriptor import Descriptor

    seen: dict[str, Any] = {}

    def top(d: Any) -> Any:
        while getattr(d, "containing_type", None) is not None:
            d = d.containing_type
        return d

    def visit(d: Any) -> None:
        d = top(d)
        name = d.full_name
        if name in seen:
            return
        seen[name] = d
        if isinstance(d, Descriptor):
            for msg in _all_messages(d):
                for field in msg.fields:
                    ref = field.message_type or field.enum_type
                    if ref is not None:
                        visit(ref)

    visit(root)
    return list(seen.values())


def _all_messages(d: Any) -> list[Any]:
    out = [d]
    for nested in d.nested_types:
        out += _all_messages(nested)
    return out


def file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """One proto3 file with ``Event``'s closure, renamed into :data:`PACKAGE`."""
    from google.protobuf.descriptor import Descriptor
    from tensorboard.compat.proto import event_pb2

    fd = descriptor_pb2.FileDescriptorProto(name=FILE_NAME, package=PACKAGE, syntax="proto3")
    for d in _closure(event_pb2.Event.DESCRIPTOR):
        if d.file.package != "tensorboard":
            raise SystemExit(f"unexpected package of {d.full_name}")
        if isinstance(d, Descriptor):
            d.CopyToProto(fd.message_type.add())
        else:
            d.CopyToProto(fd.enum_type.add())

    def rename(msg: descriptor_pb2.DescriptorProto) -> None:
        for field in msg.field:
            if field.type_name.startswith(".tensorboard."):
                field.type_name = f".{PACKAGE}." + field.type_name[len(".tensorboard.") :]
        for nested in msg.nested_type:
            rename(nested)

    for msg in fd.message_type:
        rename(msg)
    return fd


def source() -> str:
    """The text of the generated module."""
    import tensorboard

    data = file_descriptor().SerializeToString(deterministic=True)
    lines = "\n".join(f'    "{data[i : i + CHUNK].hex()}"' for i in range(0, len(data), CHUNK))
    return f'''"""TensorBoard's ``Event`` protobuf classes (generated: do not edit).

Written by ``python -m tests.tb_proto_gen`` from TensorBoard {tensorboard.__version__}'s
``tensorboard/compat/proto/*.proto``: ``Event`` and the messages and enums it refers to,
same fields, in package ``{PACKAGE}``. Needs protobuf >= 4.21 (tested to 7.36).
"""

from typing import Any

from google.protobuf import descriptor_pool
from google.protobuf.internal import builder

_SERIALIZED = bytes.fromhex(
{lines}
)
DESCRIPTOR = descriptor_pool.Default().AddSerializedFile(_SERIALIZED)
_classes: dict[str, Any] = {{}}
builder.BuildMessageAndEnumDescriptors(DESCRIPTOR, _classes)
builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, __name__, _classes)

Event: Any = _classes["Event"]  # the one the reader needs; the others are in _classes
'''


def main() -> None:
    MODULE.write_text(source())
    print(f"wrote {MODULE}", file=sys.stderr)


if __name__ == "__main__":
    main()
