"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

The app is served by werkzeug in a background thread over a small folder of logs made
here and analyzed by the real analyzer (the curves are built so that its verdict is
clear: a validation loss that turns up at a known step, or keeps falling).
Each test saves a screenshot to ``tests/screenshots/``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.browser_fixtures import SHOTS, grid_row, guarded_page, open_page
from tests.serving import serve_app

pytestmark = pytest.mark.browser

XSS_NAME = "<img src=x onerror=alert(1)>"
PAGE_TIMEOUT_MS = 20_000  # the page fixture's (tests/browser_fixtures.py)


# --------------------------------------------------------------------------- data


def _curves(n: int, overfit_at: int | None, seed: int, lr: float) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        step = (i + 1) * 10
        train = 0.3 + 2.0 * math.exp(-4 * i / n) + 0.05 * rng.standard_normal()
        row: dict[str, float] = {"step": step, "loss": round(train, 5), "lr": lr}
        if step % 100 == 0:
            val = 0.45 + 2.0 * math.exp(-4 * i / n)
            if overfit_at is not None and step > overfit_at:
                val += 0.008 * (step - overfit_at) / 10
            row["val_loss"] = round(val + 0.01 * rng.standard_normal(), 5)
        rows.append(row)
    return rows


def write_jsonl(path: Path, rows: list[dict[str, float]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_csv(path: Path, rows: list[dict[str, float]]) -> Path:
    cols = ["step", "loss", "val_loss", "lr"]
    lines = [",".join(cols)] + [
        ",".join("" if r.get(c) is None else str(r[c]) for c in cols) for r in rows
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    write_jsonl(root / "resnet_overfit.jsonl", _curves(300, overfit_at=1200, seed=1, lr=3e-3))
    write_jsonl(root / "vit_healthy.jsonl", _curves(300, overfit_at=None, seed=2, lr=1e-3))
    write_jsonl(root / f"{XSS_NAME}.jsonl", _curves(120, overfit_at=None, seed=3, lr=1e-3))
    write_csv(root / "bert_csv_overfit.csv", _curves(300, overfit_at=1500, seed=4, lr=5e-4))
    return root


@pytest.fixture(scope="module")
def app_args(logs: Path) -> tuple[list[str], dict[str, Any]]:
    # The operator lets visitors enter local stores (the Settings tests use a sqlite one).
    return [str(logs)], {"since_hours": 0, "upload_limit_mb": 1, "allow_uri_schemes": "sqlite"}


# --------------------------------------------------------------------------- tests


def test_review_lists_runs_with_status(page) -> None:
    open_page(page, "/?window=all")
    page.wait_for_selector(".ag-row")
    row = grid_row(page, "resnet_overfit")
    row.wait_for()
    assert "overfitting" in row.inner_text()
    assert "overfitting in val_loss, steps 1200–3000" in row.inner_text()
    healthy = grid_row(page, "vit_healthy")
    assert "healthy" in healthy.inner_text()
    counts = page.locator(".status-counts").inner_text()
    assert "overfitting" in counts and "healthy" in counts


def test_open_run_shows_curves_and_suggestion(page) -> None:
    open_page(page, "/?window=all")
    page.get_by_role("link", name="resnet_overfit", exact=True).click()
    page.wait_for_url("**/run?id=*")
    page.wait_for_selector("#run-graph .main-svg")
    page.wait_for_function(
        "() => { const g = document.querySelector('#run-graph .js-plotly-plot');"
        " return g && g.data && g.data.some(t => t.meta === 'lr'); }"
    )
    traces = page.evaluate(
        "() => document.querySelector('#run-graph .js-plotly-plot').data.map(t => t.meta)"
    )
    assert {"train_raw", "train_smooth", "val", "lr"} <= set(traces)
    assert "finding:overfitting" in traces and "best_val" in traces
    yaxis2 = page.evaluate(
        "() => document.querySelector('#run-graph .js-plotly-plot').layout.yaxis2.type"
    )
    assert yaxis2 == "log"
    card = page.locator("#suggestion-card").inner_text()
    assert "Stop early" in card and "Stop at step 1200" in card  # the analyzer's own verdict
    assert page.locator("#run-status").inner_text() == "overfitting"
    assert "overfitting" in page.locator("#findings").inner_text()
    # Hovering the shaded range shows the finding's evidence.
    box = page.locator("#run-graph .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.15)
    page.wait_for_function(
        "() => document.querySelector('#run-graph .hoverlayer').textContent.includes('p_value')"
    )


def test_run_page_controls_update_url(page) -> None:
    open_page(page, "/?window=all")
    page.get_by_role("link", name="vit_healthy", exact=True).click()
    page.wait_for_selector("#run-graph .main-svg")
    page.locator("#run-logy").get_by_text("log y").click()
    page.wait_for_function("() => window.location.search.includes('logy=1')")
    page.wait_for_function(
        "() => document.querySelector('#run-graph .js-plotly-plot').layout.yaxis.type === 'log'"
    )


def test_upload_jsonl_is_analyzed_and_listed(page, tmp_path: Path) -> None:
    f = write_jsonl(
        tmp_path / "uploaded_overfit.jsonl", _curves(200, overfit_at=800, seed=5, lr=2e-3)
    )
    open_page(page, "/upload")
    page.locator("#upload-files input[type=file]").set_input_files(str(f))
    ok = page.locator(".upload-ok").first
    ok.wait_for()
    assert "uploaded_overfit" in ok.inner_text() and "overfitting" in ok.inner_text()
    open_page(page, "/?window=24h")
    row = grid_row(page, "uploaded_overfit")
    row.wait_for()
    assert "overfitting" in row.inner_text()


def test_upload_csv_is_analyzed(page, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "csv_overfit.csv", _curves(200, overfit_at=800, seed=6, lr=2e-3))
    open_page(page, "/upload")
    page.locator("#upload-files input[type=file]").set_input_files(str(f))
    ok = page.locator(".upload-ok").first
    ok.wait_for()
    assert "csv_overfit" in ok.inner_text() and "overfitting" in ok.inner_text()


def test_upload_broken_file_names_it_and_others_load(page, tmp_path: Path) -> None:
    bad = tmp_path / "broken_log.csv"
    bad.write_bytes(b"\x00\x01\x02 this is not a training log \xff\xfe")
    big = tmp_path / "huge.jsonl"
    big.write_text("x" * (1024 * 1024 + 10))
    good = write_jsonl(tmp_path / "good_one.jsonl", _curves(100, overfit_at=None, seed=7, lr=1e-3))
    open_page(page, "/upload")
    page.locator("#upload-files input[type=file]").set_input_files([str(bad), str(big), str(good)])
    page.locator(".upload-ok").first.wait_for()
    errors = page.locator(".upload-error").all_inner_texts()
    assert any(e.startswith("broken_log.csv:") for e in errors), errors
    assert any("huge.jsonl" in e and "limit" in e for e in errors), errors
    assert "good_one" in page.locator(".upload-ok").first.inner_text()
    assert "/tmp" not in " ".join(errors)


def test_compare_two_runs(page) -> None:
    open_page(page, "/?window=all")
    for name in ("resnet_overfit", "vit_healthy"):
        grid_row(page, name).locator("input[type=checkbox]").check()
    link = page.locator("#review-compare-link")
    page.wait_for_function(
        "() => document.querySelector('#review-compare-link').textContent.includes('(2)')"
    )
    link.click()
    page.wait_for_url("**/compare?ids=*")
    page.wait_for_function(
        "() => { const g = document.querySelector('#compare-graph .js-plotly-plot');"
        " return g && g.data && g.data.length >= 6; }"
    )
    names = page.evaluate(
        "() => document.querySelector('#compare-graph .js-plotly-plot').data.map(t => t.name)"
    )
    assert any("resnet_overfit [overfitting]" in n for n in names)
    assert any("vit_healthy [healthy]" in n for n in names)
    table = page.locator("#compare-status-table").inner_text()
    assert "overfitting" in table and "healthy" in table
    # The URL alone reproduces the view (shareable link).
    url = page.url
    page.goto(url)
    page.wait_for_function(
        "() => { const g = document.querySelector('#compare-graph .js-plotly-plot');"
        " return g && g.data && g.data.length >= 6; }"
    )


def test_run_name_with_html_renders_as_text(page) -> None:
    open_page(page, "/?window=all")
    page.get_by_text(XSS_NAME, exact=True).first.wait_for()
    assert page.locator("img[src=x]").count() == 0
    page.get_by_role("link", name=XSS_NAME, exact=True).click()
    page.wait_for_selector("#run-name")
    assert page.locator("#run-name").inner_text() == XSS_NAME
    page.wait_for_selector("#run-graph .main-svg")
    assert page.locator("img[src=x]").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []


def test_review_names_a_dead_mlflow_server_and_lists_the_file_runs(browser, logs, request) -> None:
    from dashboard.app import create_app
    from tests.test_dashboard_security import _free_port

    dead = f"http://127.0.0.1:{_free_port()}"
    app = create_app([str(logs)], tracking_uri=dead, since_hours=0)
    with serve_app(app) as url, guarded_page(browser, url, request.node.name, 30_000) as pg:
        open_page(pg, "/?window=all")
        alert = pg.locator("#mlflow-status .alert")
        alert.wait_for()
        text = alert.inner_text()
        assert f"MLflow server {dead} is unreachable" in text and "cannot connect" in text
        assert "Traceback" not in pg.content()
        grid_row(pg, "resnet_overfit").wait_for()  # the file runs are still reviewed


def test_settings_test_connection_reports_failure(page, tmp_path: Path) -> None:
    open_page(page, "/settings")
    page.locator("#settings-uri").fill(f"sqlite:///{tmp_path / 'nothing-here.db'}")
    page.locator("#settings-test").click()
    alert = page.locator("#settings-test-alert")
    alert.wait_for()
    assert "Could not connect" in alert.inner_text() and "nothing-here.db" in alert.inner_text()


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small MLflow sqlite store: one overfitting run 2 h ago, one healthy run 4 days ago."""
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("vision")
    now = time.time()
    for name, hours, overfit in (
        ("mlflow-recent-overfit", 2, 1200),
        ("mlflow-last-week", 96, None),
    ):
        start = now - hours * 3600
        run = client.create_run(exp, start_time=int(start * 1000), run_name=name)
        metrics = [
            Metric(k, float(v), int((start + r["step"]) * 1000), int(r["step"]))
            for r in _curves(300, overfit_at=overfit, seed=hours, lr=1e-3)
            for k, v in r.items()
            if k != "step"
        ]
        for i in range(0, len(metrics), 1000):
            client.log_batch(run.info.run_id, metrics=metrics[i : i + 1000])
        client.set_terminated(run.info.run_id, end_time=int((start + 3600) * 1000))
    return uri


def test_settings_point_at_mlflow_and_review_its_window(page, mlflow_uri: str) -> None:
    open_page(page, "/settings")
    page.locator("#settings-uri").fill(mlflow_uri)
    page.locator("#settings-test").click()
    alert = page.locator("#settings-test-alert")
    alert.wait_for()
    assert "Could not connect" not in alert.inner_text()
    page.locator("#settings-save").click()
    page.get_by_text("Saved.").wait_for()
    try:
        open_page(page, "/?window=24h")
        row = grid_row(page, "mlflow-recent-overfit")
        row.wait_for()
        assert "overfitting" in row.inner_text() and "vision" in row.inner_text()
        assert page.get_by_text("mlflow-last-week", exact=True).count() == 0
        page.locator("#review-window").get_by_text("Last 7 days").click()
        grid_row(page, "mlflow-last-week").wait_for()
        page.wait_for_function("() => window.location.search.includes('window=7d')")
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "mlflow_review_7d.png"), full_page=True)
    finally:
        open_page(page, "/settings")
        page.locator("#settings-uri").fill("")
        page.locator("#settings-save").click()
        page.get_by_text("Saved.").wait_for()
