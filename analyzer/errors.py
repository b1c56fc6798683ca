"""Errors raised by LR Tempo.

    LRTempoError
    ├── ReaderError        a source could not be read (names the file and the place)
    └── SourceError        a source or URI that no reader accepts / cannot be reached

Every error message is one line a person can act on; the CLI prints it as is.
"""

from __future__ import annotations


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
