"""One palette: the statuses' order and badge colours in analyzer/theme.py are those of the
dashboard's stylesheet and of the reports."""

from __future__ import annotations

import re
from pathlib import Path

from analyzer import report, report_html, report_rows, theme
from dashboard import layout
from dashboard import theme as dash_theme

CSS = Path(__file__).resolve().parents[1] / "dashboard" / "assets" / "00_bootstrap.min.css"


def test_badge_colours_are_the_stylesheets() -> None:
    css = dict(re.findall(r"--bs-(\w+):(#[0-9a-fA-F]{6})", CSS.read_text(encoding="utf-8")))
    for name, hex_ in theme.BOOTSTRAP.items():
        assert css[name].lower() == hex_, name
    assert set(theme.STATUS_BADGE) == set(theme.STATUS_ORDER)


def test_reports_and_dashboard_share_the_palette() -> None:
    assert report_rows.STATUS_ORDER is theme.STATUS_ORDER
    assert report.KIND_COLOURS is theme.BADGE_HEX
    assert report_html.DARK_TEXT is theme.DARK_TEXT
    assert dash_theme.STATUS_BADGE is theme.STATUS_BADGE
    assert dash_theme.STATUS_COLORS is theme.STATUS_COLORS


def test_status_counts_follow_the_review_order() -> None:
    counts = dict.fromkeys(reversed(theme.STATUS_ORDER), 1) | {"unknown": 2}
    ids = [c.id for c in layout.status_counts(counts).children[1:]]
    assert ids == [f"count-{s}" for s in (*theme.STATUS_ORDER, "unknown")]
