"""Errors raised by LR Tempo.

    LRTempoError
    ├── ReaderError        a source could not be read (names the file and the place)
    └── SourceError        a source or URI that no reader accepts / cannot be reached

Every error message is one line a person can act on; the CLI prints it through
:func:`printable`, so a file name cannot break that line or drive the terminal.
A :class:`SourceError` also carries a ``kind`` (one of :data:`SOURCE_ERROR_KINDS`) that
code reads instead of the message's words.
"""

from __future__ import annotations

import math
import os
import re
from typing import Literal, get_args

#: What went wrong with a source, for code (the message is for people):
#: ``bad_uri`` the URI or path names no store LR Tempo reads; ``config`` a setting
#: (environment variable) is invalid; ``unreachable`` no connection, or no such local
#: store; ``timeout`` the server did not answer in time; ``rate_limited`` HTTP 429 after
#: the retries; ``auth`` access refused (HTTP 401/403); ``not_found`` the experiment
#: (or other resource asked for) does not exist; ``not_mlflow`` the address answers but
#: is not an MLflow store; ``server_error`` the server failed (HTTP 5xx, an MLflow error,
#: a connection dropped mid-answer); ``bad_data`` the store's content or an answer cannot
#: be read; ``limit`` a safety limit stopped the read (too large, too many pages or runs).
SourceErrorKind = Literal[
    "bad_uri",
    "config",
    "unreachable",
    "timeout",
    "rate_limited",
    "auth",
    "not_found",
    "not_mlflow",
    "server_error",
    "bad_data",
    "limit",
]
SOURCE_ERROR_KINDS: frozenset[str] = frozenset(get_args(SourceErrorKind))

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


def utf8_safe(text: str) -> str:
    """``text`` with the lone surrogates of undecodable file-name bytes (``caf\\udce9``)
    written as ``\\xe9``: a report must be valid UTF-8 whatever a file was called."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "backslashreplace")


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
    """A source that is not a log LR Tempo knows, or a server that cannot be used.

    ``kind`` says what went wrong (:data:`SourceErrorKind`), ``None`` when unclassified.
    """

    def __init__(self, location: str, message: str, kind: SourceErrorKind | None = None) -> None:
        self.location = location
        self.reason = message
        self.kind = kind
        super().__init__(f"{location}: {message}")


def env_seconds(name: str, default: float) -> float:
    """A number of seconds above 0 from the environment variable ``name`` (unset or
    empty: ``default``); ``ValueError`` saying what is wrong with any other value."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"must be a number of seconds above 0, not {raw!r}")
    return value
