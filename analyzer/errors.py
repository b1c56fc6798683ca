"""Errors raised by LR Tempo.

    LRTempoError
    ├── ReaderError        a source could not be read (names the file and the place)
    └── SourceError        a source or URI that no reader accepts / cannot be reached

Every error message is one line a person can act on; the CLI prints it through
:func:`printable`, so a file name cannot break that line or drive the terminal.
"""

from __future__ import annotations

import re

#: Control characters (C0 but tab, DEL, C1), Unicode line breaks and bidi overrides.
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_ESCAPES = {"\n": "\\n", "\r": "\\r"}


def printable(text: str) -> str:
    """``text`` as one line: control characters, line separators and bidi overrides shown
    as escapes (``\\n``, ``\\x1b``, ``\\u202e``) instead of acting on the terminal."""
    def escape(m: re.Match[str]) -> str:
        ch = m.group()
        return _ESCAPES.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")

    return _UNPRINTABLE.sub(escape, text)


class LRTempoError(Exception):
    """Base class of every error this package raises on purpose."""


class ReaderError(LRTempoError):
    """A log could not be read.

    ``location`` is the file or URI; ``where`` is the place inside it when known
    (``"line 12"``, ``"record 3"``, ``"byte 4096"``).
    """

    def __init__(self, location: str, message: str, where: str | None = None) -> None:
        self.location = location
        self.where = where
        self.reason = message
        super().__init__(f"{location}: {where}: {message}" if where else f"{location}: {message}")


class SourceError(LRTempoError):
    """A source that is not a log LR Tempo knows, or a server that cannot be used."""

    def __init__(self, location: str, message: str) -> None:
        self.location = location
        self.reason = message
        super().__init__(f"{location}: {message}")
