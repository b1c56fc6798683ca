"""The Review's column chooser keeps every pick, whatever the server is doing (real Chromium).

The known column-chooser race: a pick (or a removal) made while the Review callback was
reading the runs stayed in the chooser but never reached the grid nor this browser's
saved choice, when the callback was asked for again meanwhile (a refresh, a tick, a
filter). Here the server's read of the runs is held on a gate (a slow MLflow server in
real life) while the page is used, so the timing is the same on every run.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_fixtures import open_page, pick_column

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
SHOWN = (
    "() => dash_ag_grid.getApi('review-grid').getColumnDefs()"
    ".filter(c => !c.hide && (c.colId || '').includes(':')).map(c => c.colId)"
)
SAVED = "() => JSON.parse(localStorage.getItem('review-columns-saved'))"


@pytest.fixture(scope="module")
def app_args() -> tuple[list[str], dict[str, Any]]:
    return [str(ROOT / "sample_runs" / "plain_csv"), str(ROOT / "sample_runs" / "jsonl")], {
        "since_hours": 0
    }


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch, page) -> Iterator[threading.Event]:
    """The Review callback's read of the runs waits while this event is clear."""
    review = sys.modules["pages.review"]
    read = review.review_data
    gate = threading.Event()
    gate.set()

    def gated(*args: Any, **kwargs: Any) -> Any:
        gate.wait(60)
        return read(*args, **kwargs)

    monkeypatch.setattr(review, "review_data", gated)
    yield gate
    gate.set()


def _shown(page, cols: list[str]) -> None:
    page.wait_for_function(f"() => JSON.stringify(({SHOWN})()) === JSON.stringify({cols!r})")


def test_a_pick_made_while_the_runs_are_read_again_reaches_the_grid(page, held) -> None:
    open_page(page, "/?window=all")
    page.wait_for_selector(".ag-row")
    pick_column(page, "metric: loss")
    _shown(page, ["metric:loss"])
    held.clear()  # the server is slow from now on
    page.locator("#review-refresh").click()  # a read of the runs under way
    page.wait_for_timeout(300)
    pick_column(page, "metric: val_loss")
    assert page.evaluate(SAVED) == ["metric:loss", "metric:val_loss"]  # saved at once
    page.locator("#review-refresh").click()  # asked again meanwhile (a tick, a filter…)
    page.wait_for_timeout(300)
    held.set()
    _shown(page, ["metric:loss", "metric:val_loss"])
    assert "2 selected" in page.locator("#review-columns").inner_text()
    # A removal made the same way is kept too, and the choice comes back on a new visit.
    held.clear()
    page.locator("#review-refresh").click()
    page.wait_for_timeout(300)
    page.locator("#review-columns .dash-dropdown-clear").click()
    page.locator("#review-refresh").click()
    page.wait_for_timeout(300)
    held.set()
    _shown(page, [])
    assert page.evaluate(SAVED) == []
    pick_column(page, "metric: val_loss")
    _shown(page, ["metric:val_loss"])
    page.reload()
    page.wait_for_selector(".ag-row")
    _shown(page, ["metric:val_loss"])
    assert "metric: val_loss" in page.locator("#review-columns").inner_text()


def test_the_saved_choice_comes_back_before_the_runs_are_read(page, held) -> None:
    """The chooser shows this browser's saved columns at once, even while the server is
    still reading the runs, and a pick made then is added to them, not lost."""
    open_page(page, "/?window=all")
    page.wait_for_selector(".ag-row")
    page.evaluate("() => localStorage.setItem('review-columns-saved', '[\"metric:loss\"]')")
    held.clear()
    page.reload()
    page.wait_for_selector("#review-columns")
    page.locator("#review-columns", has_text="metric: loss").wait_for()
    pick_column(page, "Source")
    held.set()
    page.wait_for_function(
        "() => dash_ag_grid.getApi('review-grid').getColumnDefs()"
        ".some(c => c.colId === 'source' && !c.hide)"
    )
    _shown(page, ["metric:loss"])
    assert page.evaluate(SAVED) == ["metric:loss", "col:source"]
