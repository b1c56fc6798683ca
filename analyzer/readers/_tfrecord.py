"""TFRecord framing of a TensorBoard event file, checked in bulk.

Each record is ``uint64 length``, ``uint32 masked CRC32C(length bytes)``, ``length``
bytes of data, ``uint32 masked CRC32C(data)``; all little-endian, mask =
``((crc >> 15 | crc << 17) + 0xa282ead8)``. :func:`frame_records` walks the lengths (long
stretches in bulk with numpy), computes each record's data CRC32C in C and compares the
CRCs in bulk, and cuts the framing at the first bad record.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import crc32c
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

HEADER_BYTES = 12  # uint64 length + uint32 length CRC
FOOTER_BYTES = 4  # uint32 data CRC
CRC_MASK_DELTA = 0xA282EAD8
_LENGTH = struct.Struct("<Q")
_U32 = struct.Struct("<I")


def masked_crc(data: bytes | memoryview) -> int:
    """TFRecord's masked CRC32C of ``data``."""
    crc = crc32c.crc32c(data)
    return ((crc >> 15 | crc << 17) + CRC_MASK_DELTA) & 0xFFFFFFFF


@dataclass
class _Framing:
    """Where the valid records of a buffer are, and why framing stopped (if it did)."""

    starts: np.ndarray  # int64 offsets of record data
    ends: np.ndarray  # int64 offsets one past record data
    crcs: np.ndarray  # uint64 CRC32C of each record's data (not yet masked)
    problem: str | None = None
    problem_at: int | None = None
    skipped: int = 0  # records dropped for a bad data CRC (the framing went on)
    skipped_at: int | None = None  # byte offset of the first of them

    def cut(self, n: int, problem: str) -> None:
        """Keep the first ``n`` records; record ``n`` is bad."""
        self.problem, self.problem_at = problem, int(self.starts[n]) - HEADER_BYTES
        self.starts, self.ends, self.crcs = self.starts[:n], self.ends[:n], self.crcs[:n]


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
    lengths = (
        b[:, 0].astype(np.uint32)
        | (b[:, 1].astype(np.uint32) << 8)
        | (b[:, 2].astype(np.uint32) << 16)
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
    """Drop the records whose data CRC does not match. Their lengths passed their own
    CRCs, so the framing after them holds (a flipped byte in one record's data, which
    TensorBoard also reads past): they are counted in ``skipped``, the rest is kept."""
    crcs = framing.crcs
    if not len(crcs):
        return
    masked = (
        ((crcs >> np.uint64(15)) | (crcs << np.uint64(17))) + np.uint64(CRC_MASK_DELTA)
    ) & np.uint64(0xFFFFFFFF)
    stored = _gather(padded, framing.ends, 4).view("<u4").ravel().astype(np.uint64)
    good = masked == stored
    if not good.all():
        framing.skipped = int((~good).sum())
        framing.skipped_at = int(framing.starts[int(np.argmin(good))]) - HEADER_BYTES
        framing.starts, framing.ends, framing.crcs = (
            framing.starts[good],
            framing.ends[good],
            framing.crcs[good],
        )


def _gather(data: np.ndarray, pos: np.ndarray, width: int) -> np.ndarray:
    """``width`` bytes at each position, as a contiguous ``(n, width)`` uint8 array."""
    return sliding_window_view(data, width)[pos]


__all__ = ["FOOTER_BYTES", "HEADER_BYTES", "frame_records", "masked_crc"]
