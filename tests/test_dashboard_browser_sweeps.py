"""The Sweeps page, the Review's sweep column and the Run page's range-test plot, on a real
MLflow server and a folder of files, in a real headless Chromium.

The sweep is 5 really trained runs (corpus 1's numpy trainer on digits, Adam, LRs 1e-4
to 1) logged to an MLflow experiment with their ``learning_rate`` param; the range test
is torch-lr-finder's loop on digits saved as its ``lr,loss`` CSV. Both are analyzed by
the real analyzer; the page must show what the analyzer found. The experiment is deleted
at the end (other tests read every active experiment of the shared server).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser_fixtures import grid_row, open_page
from tests.fixtures_mlflow import MlflowServer, log_run

pytestmark = [pytest.mark.browser, pytest.mark.mlflow_server]
PAGE_TIMEOUT_MS = 60_000  # the page fixture's (tests/browser_fixtures.py)

EXPERIMENT = "sweeps-page/digits-adam"
LRS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


@pytest.fixture(scope="module")
def sweep_store(mlflow_server: MlflowServer):
    """The sweep's runs in :data:`EXPERIMENT`: ``{lr: run id}``."""
    pytest.importorskip("mlflow")
    from tests.test_sweeps import trained

    client = mlflow_server.client()
    exp = client.create_experiment(EXPERIMENT)
    ids = {}
    for lr in LRS:
        res = trained(lr)
        ids[lr] = log_run(
            client,
            exp,
            f"digits-adam-lr{lr:g}",
            {"train_loss": res.train_loss, "lr": res.lr},
            steps=[int(s) for s in res.train_step],
            params={"learning_rate": str(lr), "optimizer": "adam", "seed": "0"},
        )
        for s, v in zip(res.val_step, res.val_loss):
            client.log_metric(ids[lr], "val_loss", float(v), step=int(s))
    yield ids
    client.delete_experiment(exp)


@pytest.fixture(scope="module")
def range_test_folder(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """A folder with torch-lr-finder's CSV (``None`` without PyTorch)."""
    try:
        from tests.test_range_test import write_lr_find_csv
    except pytest.skip.Exception:
        return None
    root = tmp_path_factory.mktemp("range_test")
    write_lr_find_csv(root / "lr_find.csv")
    return root


@pytest.fixture(scope="module")
def app_args(mlflow_server, sweep_store, range_test_folder) -> tuple[list[str], dict[str, Any]]:
    sources = [mlflow_server.url] + ([str(range_test_folder)] if range_test_folder else [])
    return sources, {"since_hours": 0}


def _expected_sweep(url: str):
    """The sweep as the analyzer finds it (what the page must show)."""
    from analyzer.analysis import analyze_run
    from analyzer.readers import read_sources
    from analyzer.sweeps import sweeps_of

    runs = read_sources([url], experiment=EXPERIMENT).runs
    sweeps = sweeps_of(runs, [analyze_run(r) for r in runs])
    assert len(sweeps) == 1
    return sweeps[0]


def _traces(page, sel: str):
    return page.evaluate(
        f"() => document.querySelector('{sel} .js-plotly-plot')._fullData.map(t => ("
        "{meta: t.meta, x: Array.from(t.x || []), y: Array.from(t.y || []),"
        " color: t.marker ? t.marker.color : null,"
        " ids: t.customdata ? Array.from(t.customdata).map(c => c[0]) : []}))"
    )


SWEEP_GRAPH = ".sweep-card"


def _wait_sweep_graph(page) -> None:
    page.wait_for_function(
        "() => { const g = document.querySelector('.sweep-card .js-plotly-plot');"
        " return g && g._fullData && g._fullData.some(t => t.meta === 'recommended'); }"
    )


def test_sweeps_page_plots_the_sweep_and_a_click_opens_the_run(
    page, mlflow_server, sweep_store
) -> None:
    from dashboard.theme import STATUS_COLORS

    expected = _expected_sweep(mlflow_server.url)
    open_page(page, f"/sweeps?window=all&experiment={EXPERIMENT}")
    _wait_sweep_graph(page)
    assert page.locator(".sweep-card").count() == 1
    traces = _traces(page, SWEEP_GRAPH)
    points = [t for t in traces if str(t["meta"]).startswith("points:")]
    # every run is a point at its LR, coloured by the status the analyzer gave it
    shown = {
        rid: (x, t["meta"].split(":", 1)[1], t["color"])
        for t in points
        for rid, x in zip(t["ids"], t["x"])
    }
    assert sorted(shown) == sorted(sweep_store.values())
    by_id = {p.id: p for p in expected.points}
    for rid, (x, status, color) in shown.items():
        assert x == pytest.approx(by_id[rid].lr)
        assert status == by_id[rid].status
        assert color == STATUS_COLORS[status]
    assert {s for _, s, _ in shown.values()} != {"healthy"}, "LR 1 should not look healthy"
    rec = next(t for t in traces if t["meta"] == "recommended")
    assert rec["x"] == [pytest.approx(expected.recommended_lr)] * 2
    assert any(t["meta"] == "fit" for t in traces) and any(t["meta"] == "band" for t in traces)
    if expected.stability_edge_lr is not None:
        edge = next(t for t in traces if t["meta"] == "edge")
        assert edge["x"][0] == pytest.approx(expected.stability_edge_lr)
    assert (
        page.evaluate(
            "() => document.querySelector('.sweep-card .js-plotly-plot')._fullLayout.xaxis.type"
        )
        == "log"
    )
    card = page.locator(".sweep-card").inner_text()
    assert expected.rationale in card
    assert "learning_rate" in card and f"{expected.confidence:.2f}" in card
    # hover shows the run's name, status and suggestion
    first = points[0]
    target, status = first["ids"][0], first["meta"].split(":", 1)[1]
    index = [t["meta"] for t in traces].index(first["meta"])  # traces are in DOM order
    box = (
        page.locator(f"{SWEEP_GRAPH} .scatterlayer .trace")
        .nth(index)
        .locator("path.point")
        .first.bounding_box()
    )
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    hover = page.locator(".hoverlayer .hovertext").first
    hover.wait_for()
    text = hover.text_content() or ""
    name = by_id[target].name
    assert name in text and f"status {status.replace('_', ' ')}" in text
    assert "suggestion:" in text
    # a click opens that run's page
    page.mouse.click(x, y)
    page.wait_for_url(f"**/run?id={target}*")
    page.locator("#run-name").wait_for()
    assert page.locator("#run-name").inner_text() == name


def test_review_names_the_sweep_and_links_to_it(page, mlflow_server, sweep_store) -> None:
    from dashboard.sweep_views import sweep_short

    expected = _expected_sweep(mlflow_server.url)
    open_page(page, f"/?window=all&experiment={EXPERIMENT}")
    row = grid_row(page, f"digits-adam-lr{LRS[0]:g}")
    row.wait_for()
    link = row.locator("a.sweep-link")
    link.wait_for()
    assert link.inner_text() == sweep_short(expected)
    assert page.locator("a.sweep-link").count() == len(LRS)
    link.click()
    page.wait_for_url(f"**/sweeps?*id={expected.id}*")
    _wait_sweep_graph(page)
    assert page.locator(".sweep-card").count() == 1
    # grouped by a run parameter instead of the experiment (as --group-by)
    open_page(page, f"/sweeps?window=all&experiment={EXPERIMENT}&group_by=optimizer")
    _wait_sweep_graph(page)
    assert page.locator(".sweep-card .card-header").inner_text().startswith("optimizer=adam")
    assert page.locator("#sweeps-group-by").input_value() == "optimizer"
    # the nav reaches the page too
    page.locator("#nav-sweeps").click()
    page.wait_for_url("**/sweeps*")
    page.locator("#sweeps-content .sweep-card, #sweeps-none").first.wait_for()


def test_run_page_plots_a_range_test_with_its_suggested_lr(page, range_test_folder) -> None:
    if range_test_folder is None:
        pytest.skip("PyTorch is not installed: no lr finder run")
    from analyzer.analysis import analyze_run
    from analyzer.readers import read_sources

    run = read_sources([str(range_test_folder / "lr_find.csv")]).runs[0]
    test = analyze_run(run).lr_range_test
    assert test is not None
    open_page(page, "/?window=all")
    page.get_by_role("link", name=run.meta.name, exact=True).click()
    page.wait_for_url("**/run?id=*")
    page.wait_for_function(
        "() => { const g = document.querySelector('#range-test-graph .js-plotly-plot');"
        " return g && g._fullData && g._fullData.some(t => t.meta === 'suggested'); }"
    )
    traces = _traces(page, "#range-test-graph")
    star = next(t for t in traces if t["meta"] == "suggested")
    assert star["x"] == [pytest.approx(test.suggested_lr)]
    loss = next(t for t in traces if t["meta"] == "loss")
    assert len(loss["x"]) == len(run.series("loss"))
    assert min(loss["x"]) < test.suggested_lr < max(loss["x"])
    assert (
        page.evaluate(
            "() => document.querySelector('#range-test-graph .js-plotly-plot')"
            "._fullLayout.xaxis.type"
        )
        == "log"
    )
    text = page.locator("#range-test-text").inner_text()
    assert "LR range test: suggested" in text and test.rule in text
