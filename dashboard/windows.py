"""The Review page's time windows: preset keys (``24h``), durations (``36h``) and date
ranges (``2026-11-01..2026-11-30``) as epoch-second bounds."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from analyzer.timewindow import parse_since

_DAY = 86400.0
#: Time-window presets of the Review page (``None``: no limit).
WINDOWS: dict[str, float | None] = {"24h": _DAY, "7d": 7 * _DAY, "30d": 30 * _DAY, "all": None}
#: How the pages' window pickers name the presets.
WINDOW_LABELS: dict[str, str] = {
    "24h": "Last 24 h",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "all": "All",
}
#: The longest window accepted (years back), as for ``--since``.
MAX_WINDOW_YEARS = 1000
_MAX_SECONDS = MAX_WINDOW_YEARS * 365.25 * _DAY


def window_seconds(window: str | None) -> float | None:
    """Seconds of a window key (``24h``, ``7d``, ``36h``, ``all``); ``ValueError`` if bad or
    more than :data:`MAX_WINDOW_YEARS` years long."""
    if not window or window == "all":
        return None
    if not isinstance(window, str):
        raise ValueError(  # noqa: TRY004 - callers report every bad window the same way
            f"time window {window!r}: use 24h, 7d, 30d, all or a duration such as 36h"
        )
    if window in WINDOWS:
        return WINDOWS[window]
    try:
        seconds = time.time() - parse_since(window)
    except OverflowError:
        seconds = float("inf")
    if not 0 <= seconds <= _MAX_SECONDS:
        raise ValueError(f"time window {window!r}: at most {MAX_WINDOW_YEARS} years back (or all)")
    return seconds


def parse_date_range(window: str) -> tuple[float, float] | None:
    """``2026-11-01..2026-11-30`` → epoch seconds of 00:00 UTC on the first day and of
    the end of the last day; ``None`` when ``window`` is not a range; ``ValueError``
    when it is one with a bad or reversed date."""
    if not isinstance(window, str) or ".." not in window:
        return None
    a, _, b = window.partition("..")
    try:
        start = datetime.strptime(a.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
        end = datetime.strptime(b.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"date range {window!r}: use YYYY-MM-DD..YYYY-MM-DD") from None
    if end < start:
        raise ValueError(f"date range {window!r}: the end is before the start")
    if start.timestamp() < time.time() - _MAX_SECONDS:
        raise ValueError(f"date range {window!r}: starts more than {MAX_WINDOW_YEARS} years back")
    return start.timestamp(), end.timestamp() + _DAY


def window_bounds(window: str | None) -> tuple[float | None, float | None]:
    """``(since, until)`` epoch seconds of a window key or date range (``None``: open)."""
    rng = parse_date_range(window or "")
    if rng is not None:
        return rng
    seconds = window_seconds(window)
    return (None if seconds is None else time.time() - seconds), None


def window_key(hours: float) -> str:
    """The window key for ``since_hours`` (``24`` → ``24h``, ``168`` → ``7d``)."""
    if hours <= 0:
        return "all"
    for key, sec in WINDOWS.items():
        if sec is not None and abs(sec - hours * 3600) < 1:
            return key
    return f"{hours:g}h"
