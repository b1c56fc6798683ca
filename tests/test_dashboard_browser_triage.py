"""The Review leads with trouble: a real MLflow server, a real headless Chromium.

The session's ``mlflow server`` holds the sample runs (``triage/…`` experiments), one run
left RUNNING by the client, two runs of the same name in two experiments and two long
names that differ only at their end. The tests read the grid through its own API
(``forEachNodeAfterFilterAndSort``: the order a person sees) and its rendered cells.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from typing import Any

import pytest

from analyzer.lrtext import format_lr
from analyzer.theme import STATUS_ORDER
from tests.browser_fixtures import grid_row, open_page, pick_column
from tests.fixtures_mlflow import MlflowServer, log_run

pytestmark = [pytest.mark.browser, pytest.mark.mlflow_server]

PREFIX = "triage/"
LIVE = "live-finetune"
DUP = "brain_tumor_cnn_fold"
LONG = "two_runs_appended_together_with_seed_"
ROWS_JS = (
    "() => { const out = []; dash_ag_grid.getApi('review-grid')"
    ".forEachNodeAfterFilterAndSort(n => out.push(n.data)); return out; }"
)


def _loss(n: int, floor: float) -> list[float]:
    return [2.0 * math.exp(-i / 40) + floor for i in range(n)]


@pytest.fixture(scope="module")
def seeded(mlflow_server: MlflowServer):
    pytest.importorskip("mlflow")
    from dashboard.demo import seed_store

    client = mlflow_server.client()
    seed_store(mlflow_server.url, prefix=PREFIX)
    start = time.time() - 3600
    live_exp = client.create_experiment(PREFIX + "live")
    live = log_run(
        client,
        live_exp,
        LIVE,
        {"loss": _loss(80, 0.3), "lr": [1e-3] * 80},
        start_time=start,
        status=None,
        params={"lr": "0.001", "batch_size": "32"},
    )
    dups, longs = {}, []
    for team in ("teamA", "teamB"):
        exp = client.create_experiment(PREFIX + team)
        dups[team] = log_run(
            client,
            exp,
            DUP,
            {"loss": _loss(60, 0.2), "lr": [3e-4] * 60},
            start_time=start,
            params={"lr": "0.0003", "batch_size": "64"},
        )
        longs.append(
            log_run(client, exp, LONG + team[-1], {"loss": _loss(60, 0.25)}, start_time=start)
        )
    yield {
        "client": client,
        "url": mlflow_server.url,
        "live": live,
        "dups": dups,
        "live_exp": live_exp,
        "longs": longs,
    }
    for exp in client.search_experiments():
        if exp.name.startswith(PREFIX):
            client.delete_experiment(exp.experiment_id)


@pytest.fixture(scope="module")
def app_args(seeded) -> tuple[list[str], dict[str, Any]]:
    return [seeded["url"]], {"since_hours": 24}


def _rows(page) -> list[dict]:
    return page.evaluate(ROWS_JS)


def test_trouble_first_with_state_so_far_and_best_val(page, seeded) -> None:
    open_page(page, "/?window=24h")
    grid_row(page, LIVE).wait_for()
    rows = _rows(page)
    assert len(rows) >= 10
    ranks = [STATUS_ORDER.index(r["status"]) for r in rows]
    assert ranks == sorted(ranks), [r["status"] for r in rows]
    assert rows[0]["status"] == "divergence" and rows[-1]["status"] == "healthy"
    for a, b in itertools.pairwise(rows):  # then the most confident finding first
        if a["status"] == b["status"]:
            assert a["confidence"] >= b["confidence"], (a["run"], b["run"])
    fits = (
        "() => { const v = document.querySelector('#review-grid .ag-center-cols-viewport');"
        " return [v.scrollWidth, v.clientWidth]; }"
    )
    scroll, width = page.evaluate(fits)
    assert scroll <= width + 1, (scroll, width)  # every column in view at 1440 px
    page.locator('.ag-header-cell[col-id="mlflow_url"]').wait_for()
    shown = page.locator(".ag-center-cols-container .ag-row").all_inner_texts()
    assert len(shown) == len(rows)
    # the live run: RUNNING, its verdict "so far"; finished MLflow runs FINISHED
    live = grid_row(page, LIVE)
    assert live.locator('.ag-cell[col-id="state"]').inner_text().strip() == "RUNNING"
    assert "so far" in live.locator('.ag-cell[col-id="status"]').inner_text()
    live.get_by_role("link", name=LIVE, exact=True).click()  # the Run page says so too
    page.locator("#run-so-far").wait_for()
    assert "still running" in page.locator("#run-so-far").inner_text()
    page.go_back()
    grid_row(page, LIVE).wait_for()
    live = grid_row(page, LIVE)
    done = grid_row(page, "vit_lr3e-2_oscillating")
    assert done.locator('.ag-cell[col-id="state"]').inner_text().strip() == "FINISHED"
    assert "so far" not in done.locator('.ag-cell[col-id="status"]').inner_text()
    # best val: the loss and its step; the column sorts by the loss as a number
    with_val = [r for r in rows if r["best_val"] is not None]
    assert len(with_val) >= 4
    for r in with_val:
        assert re.fullmatch(r"\S+ @ \d+", r["best_val_text"]), r["best_val_text"]
        assert float(r["best_val_text"].split(" @ ")[0]) == pytest.approx(r["best_val"], rel=5e-3)
    page.locator('.ag-header-cell[col-id="best_val"]').click()
    page.wait_for_function(
        "() => dash_ag_grid.getApi('review-grid').getColumnState()"
        ".some(c => c.colId === 'best_val' && c.sort === 'asc')"
    )
    values = [r["best_val"] for r in _rows(page) if r["best_val"] is not None]
    assert values == sorted(values) and len(set(values)) >= 3, values
    # one LR format: every number of the LR line is format_lr's (3 significant digits)
    changes = [(r, re.search(r"(\S+) → (\S+)", r["lr"])) for r in rows]
    changes = [(r, m) for r, m in changes if m]
    assert len(changes) >= 3
    for r, m in changes:
        assert m.groups() == (format_lr(r["lr_current"]), format_lr(r["lr_suggested"])), r["lr"]
        for num in m.groups():
            assert len(re.sub(r"e-?\d+$", "", num).replace(".", "").strip("0")) <= 3, r["lr"]


def test_same_names_are_told_apart_and_long_names_keep_their_end(page, seeded) -> None:
    open_page(page, "/?window=24h")
    cells = page.locator('.ag-cell[col-id="run"]', has=page.get_by_text(DUP, exact=True))
    cells.first.wait_for()
    assert cells.count() == 2
    suffixes = sorted(c.locator(".run-suffix").inner_text() for c in cells.all())
    assert suffixes == ["teamA", "teamB"]  # their experiments' last parts
    for end in ("A", "B"):  # the end of a long name stays visible; the full name on hover
        cell = page.locator('.ag-cell[col-id="run"]', has=page.get_by_text(LONG + end, exact=True))
        tail = cell.locator(".run-tail")
        assert tail.inner_text().endswith("seed_" + end) and tail.is_visible()
        box, tail_box = cell.bounding_box(), tail.bounding_box()
        assert tail_box["x"] + tail_box["width"] <= box["x"] + box["width"] + 1
        cell.hover()
        tip = page.locator(".ag-tooltip")
        tip.wait_for()
        assert tip.inner_text().strip() == LONG + end
        page.mouse.move(0, 0)
        tip.wait_for(state="detached")


def test_new_runs_since_the_last_review_are_marked(page, seeded) -> None:
    open_page(page, "/?window=24h")  # the first review in this browser marks nothing
    grid_row(page, LIVE).wait_for()
    page.wait_for_timeout(500)
    assert page.locator(".run-new").count() == 0
    page.reload()  # a later review: nothing new yet
    grid_row(page, LIVE).wait_for()
    page.wait_for_timeout(500)
    assert page.locator(".run-new").count() == 0
    client = seeded["client"]
    rid = log_run(
        client,
        seeded["live_exp"],
        "fresh-run",
        {"loss": _loss(60, 0.3)},
        start_time=time.time() - 600,
    )
    page.locator("#review-refresh").click()
    grid_row(page, "fresh-run").wait_for()
    row = grid_row(page, "fresh-run")
    row.locator(".run-new").wait_for()
    assert page.locator(".run-new").count() == 1
    assert page.locator("#review-new").inner_text().startswith("1 run new since your last review")
    page.reload()  # seen now
    grid_row(page, "fresh-run").wait_for()
    page.wait_for_timeout(500)
    assert page.locator(".run-new").count() == 0
    client.delete_run(rid)


def _choose_column(page, label: str, col: str) -> None:
    """Pick ``label`` in the column chooser and wait until the grid shows ``col``. Once:
    a pick is kept whatever the server is doing (tests/test_dashboard_browser_columns.py
    holds the server's reads to show it)."""
    pick_column(page, label)
    page.wait_for_function(
        "() => dash_ag_grid.getApi('review-grid').getColumnDefs()"
        f".some(c => c.colId === '{col}' && !c.hide)"
    )


def test_column_chooser_adds_params_and_metrics_and_is_kept(page, seeded) -> None:
    open_page(page, "/?window=24h")
    grid_row(page, LIVE).wait_for()
    for label, col in (
        ("param: batch_size", "param:batch_size"),
        ("metric: loss", "metric:loss"),
        ("Source", "source"),
    ):
        _choose_column(page, label, col)
    key = "param:batch_size"
    has_columns = (
        "() => { const ids = dash_ag_grid.getApi('review-grid').getColumnDefs()"
        ".map(c => c.colId); return ids.includes('param:batch_size')"
        " && ids.includes('metric:loss'); }"
    )
    page.wait_for_function(has_columns)
    page.locator('.ag-header-cell[col-id="source"]').wait_for()  # an optional column shown
    for col in (key, "metric:loss"):  # scrolled into view (the grid renders what is in view)
        page.evaluate(f"() => dash_ag_grid.getApi('review-grid').ensureColumnVisible('{col}')")
        page.locator(f'.ag-header-cell[col-id="{col}"]').wait_for()
    live = grid_row(page, LIVE)
    assert live.locator(f'.ag-cell[col-id="{key}"]').inner_text().strip() == "32"
    last = float(live.locator('.ag-cell[col-id="metric:loss"]').inner_text())
    assert last == pytest.approx(_loss(80, 0.3)[-1], rel=5e-3)
    page.locator(f'.ag-header-cell[col-id="{key}"]').click()  # numbers sort as numbers
    page.wait_for_function(
        "() => dash_ag_grid.getApi('review-grid').getColumnState()"
        f".some(c => c.colId === '{key}' && c.sort === 'asc')"
    )
    sizes = [r[key] for r in _rows(page) if isinstance(r.get(key), (int, float))]
    assert sizes == sorted(sizes) and {32, 64} <= set(sizes), sizes
    page.reload()  # the choice is kept in this browser
    grid_row(page, LIVE).wait_for()
    page.wait_for_function(has_columns)


def test_bad_tag_filters_say_what_is_wrong(page, seeded) -> None:
    open_page(page, "/?window=24h&tag=%3Dcv")
    notice = page.locator(".review-notice")
    notice.wait_for()
    assert "no tag key before '='" in notice.inner_text()
    open_page(page, "/?window=24h&tag=team%3D%3Dcv")
    page.locator(".review-notice", has_text="two '='").wait_for()
    open_page(page, "/?window=24h&tag=no_such_tag")
    page.locator(".review-notice", has_text="has the tag 'no_such_tag'").wait_for()
    assert "lrtempo.sample" in page.locator(".review-notice").inner_text()  # tags they have
    open_page(page, "/?window=24h&tag=lrtempo.sample%3Dnope")
    page.locator(".review-notice", has_text="(not 'nope')").wait_for()
    open_page(page, "/?window=24h&tag=lrtempo.sample")
    grid_row(page, "vit_lr3e-2_oscillating").wait_for()
    assert page.locator(".review-notice").count() == 0


def _layout(page) -> dict:
    return page.evaluate(
        "() => { const g = document.querySelector('#compare-graph .js-plotly-plot');"
        " return g && g._fullLayout ? {x1: g._fullLayout.xaxis.title.text,"
        " x2: g._fullLayout.xaxis2 ? g._fullLayout.xaxis2.title.text : null,"
        " y2: !!g._fullLayout.yaxis2, ylog: g._fullLayout.yaxis.type,"
        " n: g.data.length} : null; }"
    )


def test_compare_smoothing_axis_and_log_y_live_in_the_url(page, seeded) -> None:
    ids = ",".join(seeded["dups"].values())
    open_page(page, f"/compare?ids={ids}&x=time&smoothing=0.9&logy=1")
    page.wait_for_function(
        "() => { const g = document.querySelector('#compare-graph .js-plotly-plot');"
        " return g && g._fullLayout && g._fullLayout.xaxis2"
        " && g._fullLayout.xaxis2.title.text === 'hours since start'; }"
    )
    shown = _layout(page)
    assert shown["y2"] and shown["ylog"] == "log", shown
    assert page.locator("#compare-x input[value=time]").is_checked()
    assert page.locator("#compare-logy input").is_checked()
    page.locator("#compare-x").get_by_text("step", exact=True).click()
    page.wait_for_function("() => !window.location.search.includes('x=')")
    page.wait_for_function(
        "() => document.querySelector('#compare-graph .js-plotly-plot')"
        "._fullLayout.xaxis2.title.text === 'step'"
    )
    query = page.evaluate("() => window.location.search")
    assert "smoothing=0.9" in query and "logy=1" in query, query
    page.reload()  # the URL gives back the same view
    page.wait_for_function(
        "() => { const g = document.querySelector('#compare-graph .js-plotly-plot');"
        " return g && g._fullLayout && g._fullLayout.xaxis2"
        " && g._fullLayout.xaxis2.title.text === 'step'; }"
    )
    assert page.locator("#compare-logy input").is_checked()


def test_compare_without_lr_has_no_empty_lr_panel(page, seeded) -> None:
    open_page(page, "/compare?ids=" + ",".join(seeded["longs"]))
    page.wait_for_function(
        "() => { const g = document.querySelector('#compare-graph .js-plotly-plot');"
        " return g && g.data && g.data.length >= 2; }"
    )
    shown = _layout(page)
    assert shown["x2"] is None and not shown["y2"] and shown["x1"] == "step", shown
