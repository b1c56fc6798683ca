"""The Review page's tag filter: ``team=cv, sweep`` read, checked (a one-line error
naming the bad part) and matched against a run's tags."""

from __future__ import annotations

from analyzer.model import Run


class TagFilterError(ValueError):
    """A tag filter that cannot be read; the message says what is wrong and how to write it."""


def check_tag_filter(text: str | None) -> list[tuple[str, str | None]]:
    """:func:`parse_tag_filter`, or :class:`TagFilterError` naming the bad part."""
    how = "write key=value or key, separated by commas (e.g. team=cv, sweep)"
    for part in (text or "").split(","):
        raw = part.strip()
        if not raw:
            continue
        key, eq, value = raw.partition("=")
        if not key.strip():
            raise TagFilterError(f"tag filter {raw!r}: no tag key before '='; {how}")
        if eq and ("=" in value or not value.strip()):
            what = "two '='" if "=" in value else "no value after '='"
            raise TagFilterError(f"tag filter {raw!r}: {what}; {how}")
        if any(c in key for c in "<>!~*\"'") or key.strip().count(" "):
            raise TagFilterError(
                f"tag filter {raw!r}: {key.strip()!r} is not a tag key "
                f"(no spaces, quotes or comparison signs); {how}"
            )
    return parse_tag_filter(text)


def parse_tag_filter(text: str | None) -> list[tuple[str, str | None]]:
    """``team=cv, sweep`` → ``[("team", "cv"), ("sweep", None)]`` (``None``: any value)."""
    out: list[tuple[str, str | None]] = []
    for raw in (text or "").split(","):
        part = raw.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        out.append((key.strip(), value.strip() if eq else None))
    return out


def matches_tags(run: Run, wanted: list[tuple[str, str | None]]) -> bool:
    """True when the run has every wanted tag (and value; values compare case-insensitively)."""
    tags = run.meta.tags or {}
    for key, value in wanted:
        if key not in tags:
            return False
        if value is not None and str(tags[key]).strip().lower() != value.lower():
            return False
    return True
