"""Time windows: ``--since 24h`` and friends."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from .model import Run

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d|day|days|w|wk|weeks?)\s*$", re.I)
_SECONDS = {
    "s": 1,
    "sec": 1,
    "m": 60,
    "min": 60,
    "h": 3600,
    "hr": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "wk": 604800,
    "week": 604800,
    "weeks": 604800,
}


def parse_since(text: str, now: float | None = None) -> float:
    """Epoch seconds for ``24h``/``7d``/``90m``/``2w`` ago, or an ISO date/time (UTC if naive).

    Raises ``ValueError`` naming the bad value.
    """
    now = time.time() if now is None else now
    m = _DURATION.match(text)
    if m:
        return now - float(m.group(1)) * _SECONDS[m.group(2).lower()]
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since {text!r}: use a duration such as 24h, 7d, 90m or a date such "
            "as 2026-11-24T08:00"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def run_time(run: Run) -> float | None:
    """When a run was last known active: its start, else its last write (files)."""
    return run.meta.start_time if run.meta.start_time is not None else run.meta.end_time


def started_since(run: Run, since: float) -> bool:
    """True when the run started (or, for files, was last written) at or after ``since``."""
    t = run_time(run)
    return t is None or t >= since
