"""``--since`` parsing and the run-time rule used to filter file runs."""

from __future__ import annotations

import pytest

from analyzer.model import Run, RunMeta, empty_frame
from analyzer.timewindow import parse_since, started_since

NOW = 1_764_000_000.0


@pytest.mark.parametrize(
    ("text", "ago"),
    [("24h", 86400), ("90m", 5400), ("7d", 604800), ("2w", 1209600), ("30 s", 30), ("1.5h", 5400)],
)
def test_durations(text: str, ago: float) -> None:
    assert parse_since(text, now=NOW) == NOW - ago


def test_iso_dates_are_utc_when_naive() -> None:
    assert parse_since("2025-11-24T16:00", now=NOW) == 1_764_000_000.0
    assert parse_since("2025-11-24T17:00+01:00", now=NOW) == 1_764_000_000.0


@pytest.mark.parametrize("text", ["yesterday", "24", "h24", ""])
def test_bad_values_name_the_value(text: str) -> None:
    with pytest.raises(ValueError, match="--since"):
        parse_since(text, now=NOW)


def run_at(start: float | None, end: float | None) -> Run:
    return Run(
        RunMeta(id="r", name="r", source="csv", location="r", start_time=start, end_time=end),
        empty_frame(),
    )


def test_started_since_uses_start_then_last_write() -> None:
    assert started_since(run_at(NOW, None), NOW - 1)
    assert not started_since(
        run_at(NOW - 10, NOW), NOW - 1
    )  # started before, even if written since
    assert started_since(run_at(None, NOW), NOW - 1)
    assert started_since(run_at(None, None), NOW)  # unknown time: kept, never silently dropped
