"""Review page logic as plain functions: windows, filters, export, write-back, zoom."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analyzer.model import Run, RunMeta, frame_from_columns
from dashboard import figures as F
from dashboard import series as S
from dashboard import zoom as Z
from dashboard.review_rows import run_user, spark_values
from dashboard.store import DataStore
from dashboard.tag_filter import matches_tags, parse_tag_filter
from dashboard.views import effective_window, refresh_seconds
from dashboard.windows import parse_date_range, window_bounds
from tests.fixtures_mlflow import MlflowServer, log_run


def _run(name: str, start: float | None, *, user: str | None = None, tags=None, n: int = 50) -> Run:
    steps = np.arange(n)
    frame = frame_from_columns(["loss"] * n, steps, 2.0 * np.exp(-steps / 10) + 0.1)
    meta = RunMeta(
        id=f"id-{name}",
        name=name,
        source="csv",
        location=f"/logs/{name}.csv",
        start_time=start,
        user=user,
        tags=tags or {},
    )
    return Run(meta, frame)


def _day(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()


# ----------------------------------------------------------------------- windows


def test_date_range_covers_whole_days_in_utc() -> None:
    assert parse_date_range("24h") is None
    since, until = parse_date_range("2026-11-01..2026-11-30")
    assert since == _day("2026-11-01") and until == _day("2026-12-01")
    assert parse_date_range("2026-11-05..2026-11-05") == (_day("2026-11-05"), _day("2026-11-06"))
    with pytest.raises(ValueError, match="end is before"):
        parse_date_range("2026-11-30..2026-11-01")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_date_range("yesterday..today")
    since, until = window_bounds("24h")
    assert until is None and abs(since - (time.time() - 86400)) < 5
    assert window_bounds("all") == (None, None)


def test_store_keeps_only_runs_started_inside_the_range() -> None:
    store = DataStore(sources=[])
    store._file_runs = [
        _run("oct", _day("2026-10-31") + 3600),
        _run("nov", _day("2026-11-10")),
        _run("last-day", _day("2026-11-30") + 86000),
        _run("dec", _day("2026-12-01")),
    ]
    runs, _ = store.runs("2026-11-01..2026-11-30")
    assert [r.meta.name for r in runs] == ["nov", "last-day"]
    with pytest.raises(ValueError):
        store.runs("2026-13-01..2026-13-02")


def test_effective_window_and_refresh_seconds() -> None:
    assert effective_window("7d", None, None) == "7d"
    assert effective_window("custom", "2026-11-01", None) is None
    assert (
        effective_window("custom", "2026-11-01T00:00:00", "2026-11-03") == "2026-11-01..2026-11-03"
    )
    assert [refresh_seconds(v) for v in (None, "x", "0", "-5", "2", "30", 60)] == [
        0,
        0,
        0,
        0,
        5,
        30,
        60,
    ]


# ------------------------------------------------------------------ user and tags


def test_tag_filter_parsing_and_matching() -> None:
    assert parse_tag_filter(" team=cv , sweep,, ") == [("team", "cv"), ("sweep", None)]
    assert parse_tag_filter(None) == []
    run = _run("a", None, tags={"team": "CV", "sweep": "7", "mlflow.user": "ana"})
    assert matches_tags(run, parse_tag_filter("team=cv"))
    assert matches_tags(run, parse_tag_filter("sweep"))
    assert not matches_tags(run, parse_tag_filter("team=nlp"))
    assert not matches_tags(run, parse_tag_filter("team=cv, owner"))
    assert run_user(run) == "ana"
    assert run_user(_run("b", None, user="bo", tags={"mlflow.user": "x"})) == "bo"
    assert run_user(_run("c", None)) == ""


def test_spark_values_are_scaled_bucket_means() -> None:
    s = pd.DataFrame({"step": np.arange(400), "value": np.linspace(4.0, 1.0, 400)})
    v = spark_values(s, n=40)
    assert len(v) == 40 and v[0] == 1.0 and v[-1] == 0.0
    assert all(a >= b for a, b in itertools.pairwise(v))  # a falling loss falls
    flat = pd.DataFrame({"step": np.arange(10), "value": np.full(10, 2.0)})
    assert spark_values(flat) == [0.5] * 10
    assert spark_values(pd.DataFrame({"step": [1, 2], "value": [1.0, 2.0]})) is None
    assert spark_values(None) is None


@pytest.fixture
def app_with_people(tmp_path: Path):
    """File runs by two users (HF ``trainer_state.json`` carries no user: set via tags)."""
    from dashboard.app import create_app

    for name, rise in (("ana_overfit", True), ("bo_fine", False)):
        rows = []
        for s in range(1, 201):
            row = {"step": s * 10, "loss": math.exp(-s / 40) + 0.2, "lr": 1e-3}
            if s % 10 == 0:
                row["val_loss"] = (
                    math.exp(-s / 40) + 0.3 + (0.03 * max(s - 60, 0) / 10 if rise else 0)
                )
            rows.append(row)
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return create_app([str(tmp_path)], since_hours=0)


def test_review_filters_by_user_and_tag(app_with_people) -> None:
    import dataclasses

    from dashboard.store import current_store
    from dashboard.views import ReviewFilters, review_data

    with app_with_people.server.app_context():
        store = current_store()
        runs, _ = store.runs("all")
        for r in runs:  # give each file run a user and a tag, as an MLflow run would have
            user = r.meta.name.split("_")[0]
            r.meta = dataclasses.replace(
                r.meta, user=user, tags={"team": "cv" if user == "ana" else "nlp"}
            )
        all_rows = review_data(ReviewFilters("all"))
        assert all_rows.users == ["ana", "bo"]
        assert sorted(r["user"] for r in all_rows.rows) == ["ana", "bo"]
        only_bo = review_data(ReviewFilters("all", user="bo"))
        assert [r["run"] for r in only_bo.rows] == ["bo_fine"]
        assert sum(only_bo.counts.values()) == 1  # counts follow the filters
        cv = review_data(ReviewFilters("all", tag="team=CV"))
        assert [r["run"] for r in cv.rows] == ["ana_overfit"]
        assert review_data(ReviewFilters("all", tag="owner")).rows == []
        bad = review_data(ReviewFilters("2026-12-31..2026-01-01"))
        assert bad.rows == [] and "end is before" in bad.errors[0]["error"]


# ------------------------------------------------------------------------- export


def test_export_html_and_markdown_of_the_current_review(app_with_people) -> None:
    from dashboard.views import ReviewFilters, export_report

    with app_with_people.server.app_context():
        html_doc = export_report(ReviewFilters("all"), "html", now=_day("2026-12-01"))
        assert html_doc["filename"] == "lrtempo-review-2026-12-01.html"
        assert html_doc["type"] == "text/html"
        text = html_doc["content"]
        assert text.startswith("<!doctype html>") and "ana_overfit" in text and "bo_fine" in text
        assert "<svg" in text  # sparklines inline
        assert (
            "<script" not in text and "src=" not in text and "href=" not in text
        )  # self-contained
        md = export_report(ReviewFilters("all"), "markdown")
        assert md["filename"].endswith(".md") and md["type"] == "text/markdown"
        assert md["content"].startswith("# LR Tempo review")
        assert "| ana\\_overfit |" in md["content"] and "| bo\\_fine |" in md["content"]
        with pytest.raises(ValueError, match="pdf"):
            export_report(ReviewFilters("all"), "pdf")


def test_export_follows_the_status_filter(app_with_people) -> None:
    from dashboard.views import ReviewFilters, export_report, review_data

    with app_with_people.server.app_context():
        data = review_data(ReviewFilters("all"))
        status = {r["run"]: r["status"] for r in data.rows}
        chosen = status["ana_overfit"]
        md = export_report(ReviewFilters("all", status=chosen), "markdown")["content"]
        table = md.split("\n## ")[0]
        assert "ana\\_overfit" in table  # Markdown-escaped
        if status["bo_fine"] != chosen:
            assert "bo\\_fine" not in md


# --------------------------------------------------------------------- write-back


@pytest.mark.mlflow_server
def test_write_tags_view_tags_only_the_shown_mlflow_runs(mlflow_server: MlflowServer) -> None:
    from dashboard.app import create_app
    from dashboard.views import ReviewFilters, review_data, write_tags_view

    client = mlflow_server.client()
    stamp = time.time_ns()
    shown = client.create_experiment(f"dash-wb-{stamp}")
    other = client.create_experiment(f"dash-wb-other-{stamp}")
    loss = [2.0 * math.exp(-i / 60) + 0.2 for i in range(400)]
    rid = log_run(client, shown, "shown-run", {"loss": loss, "lr": [1e-3] * 400})
    hidden = log_run(client, other, "hidden-run", {"loss": loss, "lr": [1e-3] * 400})
    try:
        app = create_app([mlflow_server.url], since_hours=24)
        with app.server.app_context():
            filters = ReviewFilters("24h", experiment=f"dash-wb-{stamp}")
            rows = review_data(filters).rows
            assert [r["run"] for r in rows] == ["shown-run"] and rows[0]["source"] == "mlflow"
            assert not any(
                k.startswith("lrtempo.") for k in client.get_run(rid).data.tags
            )  # not yet
            alert = write_tags_view(filters)
            assert "1 written" in str(alert.children) and alert.color == "success"
            tags = client.get_run(rid).data.tags
            assert tags["lrtempo.status"] == rows[0]["status"] and "lrtempo.analyzed_at" in tags
            assert not any(k.startswith("lrtempo.") for k in client.get_run(hidden).data.tags)
            again = write_tags_view(filters)
            assert "1 unchanged" in str(again.children)
            assert client.get_run(rid).data.tags == tags
    finally:  # other tests read every active experiment of this shared server
        client.delete_experiment(shown)
        client.delete_experiment(other)


def test_write_tags_view_without_mlflow_runs_writes_nothing(app_with_people) -> None:
    from dashboard.views import ReviewFilters, write_tags_view

    with app_with_people.server.app_context():
        alert = write_tags_view(ReviewFilters("all"))
        assert "nothing was written" in str(alert.children) and alert.color == "warning"


# ----------------------------------------------------------------- zoom re-sampling


def _long(n: int = 200_000):
    steps = np.arange(n)
    rng = np.random.default_rng(1)
    train = pd.DataFrame(
        {
            "step": steps,
            "value": 2 * np.exp(-steps / (n / 4)) + 0.3 + 0.05 * rng.standard_normal(n),
            "wall_time": 1.7e9 + steps * 0.5,
        }
    )
    lr = pd.DataFrame({"step": steps, "value": np.full(n, 1e-3), "wall_time": 1.7e9 + steps * 0.5})
    return train, lr


def test_relayout_x_range_events() -> None:
    assert Z.relayout_x_range({"xaxis.range[0]": 10, "xaxis.range[1]": 5.5}) == (True, (5.5, 10.0))
    assert Z.relayout_x_range({"xaxis2.range": [1, 2]}) == (True, (1.0, 2.0))
    assert Z.relayout_x_range({"xaxis.autorange": True, "xaxis2.autorange": True}) == (True, None)
    assert Z.relayout_x_range({"yaxis.range[0]": 1, "yaxis.range[1]": 2}) == (False, None)
    assert Z.relayout_x_range({"autosize": True}) == (False, None)
    assert Z.relayout_x_range(None) == (False, None)
    assert Z.relayout_x_range({"xaxis.range[0]": "bad", "xaxis.range[1]": 3}) == (False, None)


def test_zoomed_figure_is_resampled_with_full_detail() -> None:
    train, lr = _long()
    full = F.run_figure(train, None, lr, smoothing=0.6)
    zoomed = F.run_figure(train, None, lr, smoothing=0.6, x_range=(100_000, 101_000))
    raw_full = next(t for t in full.data if t.meta == "train_raw")
    raw = next(t for t in zoomed.data if t.meta == "train_raw")
    x = np.asarray(raw.x)
    assert len(x) <= S.MAX_POINTS and x.min() >= 99_999 and x.max() <= 101_001
    # every step in the range is there (1,001 points fit), where the full view had ~1 in 100
    assert len(x) == 1003
    in_full = np.asarray(raw_full.x)
    assert ((in_full >= 100_000) & (in_full <= 101_000)).sum() < 40
    # the EMA is the whole series' EMA, not restarted at the range's edge
    sm = next(t for t in zoomed.data if t.meta == "train_smooth")
    expected = S.ema(train["value"].to_numpy(), 0.6)
    np.testing.assert_allclose(np.asarray(sm.y), expected[np.asarray(sm.x).astype(int)])
    assert len(next(t for t in zoomed.data if t.meta == "lr").x) == 1003


def test_zoom_in_wall_time_units() -> None:
    train, lr = _long(20_000)
    fig = F.run_figure(train, None, lr, x_mode="time", x_range=(1.0, 1.5))
    x = np.asarray(next(t for t in fig.data if t.meta == "train_raw").x)
    assert x.min() >= 1.0 - 1e-3 and x.max() <= 1.5 + 1e-3
    assert len(x) == S.MAX_POINTS  # 3,602 points in the range: downsampled to the cap


def test_zoom_from_url_and_figure_range() -> None:
    from dashboard.zoom import zoom_from_url

    assert zoom_from_url("500,200", "step", False) == {"rev": "step-False", "range": [200.0, 500.0]}
    assert zoom_from_url("1.5,2", "time", True) == {"rev": "time-True", "range": [1.5, 2.0]}
    for bad in (None, "", "1", "a,b", "1,2,3", "5,5", "nan,3", "inf,1"):
        assert zoom_from_url(bad, "step", False) is None, bad
    train, lr = _long(5000)
    assert list(F.run_figure(train, None, lr, x_range=(100, 200)).layout.xaxis2.range) == [100, 200]
    assert F.run_figure(train, None, lr).layout.xaxis2.range is None


def test_zoom_state_belongs_to_its_view() -> None:
    z = Z.zoom_state({"xaxis.range[0]": 10, "xaxis.range[1]": 20}, None, "step", False)
    assert z == {"rev": "step-False", "range": [10.0, 20.0]}
    assert Z.zoom_state({"xaxis.range[0]": 10, "xaxis.range[1]": 20}, z, "step", False) is None
    assert Z.zoom_state({"yaxis.range[0]": 1, "yaxis.range[1]": 2}, z, "step", False) is None
    assert Z.zoom_state({"xaxis.autorange": True}, z, "step", False) == {
        "rev": "step-False",
        "range": None,
    }


def test_run_graph_applies_zoom_only_in_its_own_view(tmp_path: Path) -> None:
    from dashboard.app import create_app
    from dashboard.store import current_store
    from dashboard.views import run_graph

    rows = [{"step": s, "loss": 2 * math.exp(-s / 3000) + 0.3, "lr": 1e-3} for s in range(20_000)]
    (tmp_path / "long.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    app = create_app([str(tmp_path)], since_hours=0)
    with app.server.app_context():
        rid = current_store().runs("all")[0][0].meta.id
        zoom = {"rev": "step-False", "range": [5000, 5500]}
        x = np.asarray(
            next(
                t for t in run_graph(rid, 0.6, False, "step", zoom).data if t.meta == "train_raw"
            ).x
        )
        assert x.min() >= 4999 and x.max() <= 5501 and len(x) == 503
        other = run_graph(rid, 0.6, True, "step", zoom)  # log y: another view, zoom ignored
        x = np.asarray(next(t for t in other.data if t.meta == "train_raw").x)
        assert x.min() == 0 and x.max() == 19_999


def test_review_row_early_stop_without_lr_change_names_the_step() -> None:
    from analyzer.analysis import RunAnalysis
    from analyzer.findings import Suggestion
    from analyzer.roles import resolve_roles
    from dashboard.review_rows import review_row

    run = _run("a", None)
    roles = resolve_roles(run)
    same = Suggestion(action="early_stop", current_lr=0.0, suggested_lr=0.0, early_stop_step=1000)
    row = review_row(run, RunAnalysis(run.meta, roles, "overfitting", (), same))
    assert row["lr"] == "stop at step 1000" and row["best_val_step"] == 1000
    lower = Suggestion(action="early_stop", current_lr=3e-3, suggested_lr=1e-3, early_stop_step=10)
    assert (
        review_row(run, RunAnalysis(run.meta, roles, "overfitting", (), lower))["lr"]
        == "stop at step 10, LR 3e-3 → 1e-3 (×0.333)"
    )


def test_suggestion_card_early_stop_shows_the_step_not_an_unchanged_lr() -> None:
    from analyzer.findings import Suggestion
    from dashboard.layout import suggestion_card

    card = str(
        suggestion_card(
            Suggestion(
                action="early_stop",
                current_lr=0.0,
                suggested_lr=0.0,
                early_stop_step=1000,
                rationale="keep that checkpoint",
            ),
            "overfitting",
        )
    )
    assert "1000" in card and "→" not in card and "Stop early" in card
    card = str(
        suggestion_card(
            Suggestion(action="decrease_lr", current_lr=0.5, suggested_lr=0.05, factor=0.1),
            "divergence",
        )
    )
    assert "→" in card and "0.05" in card


def test_zoom_outside_the_data_keeps_the_edge_point_and_ema_matches_the_slow_loop() -> None:
    train, lr = _long(5000)
    fig = F.run_figure(train, None, lr, x_range=(1e9, 2e9))
    assert [len(t.x) for t in fig.data if t.meta in ("train_raw", "train_smooth", "lr")] == [
        1,
        1,
        1,
    ]
    v = train["value"].to_numpy()[:3000]
    last, slow = 0.0, []
    for i, x in enumerate(v):  # TensorBoard's definition, point by point
        last = 0.99 * last + 0.01 * x
        slow.append(last / (1 - 0.99 ** (i + 1)))
    np.testing.assert_allclose(S.ema(v, 0.99), slow, rtol=1e-10)


def test_store_refresh_min_age_rate_limits_rereads(tmp_path: Path) -> None:
    log = tmp_path / "run1.jsonl"
    log.write_text("".join(json.dumps({"step": s, "loss": 1 / (s + 1)}) + "\n" for s in range(20)))
    store = DataStore(sources=[str(tmp_path)])
    store.runs("all")
    assert store.refresh(min_age=60) is True and store._file_runs is None  # first: refreshes
    store.runs("all")
    assert store.refresh(min_age=60) is False and store._file_runs is not None  # too soon
    assert store.refresh() is True and store._file_runs is None  # the button always does


def test_role_series_cache_is_keyed_by_growth_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from analyzer.roles import resolve_roles
    from dashboard import store as D

    store = DataStore(sources=[])
    run = _run("a", None, n=100)
    roles = resolve_roles(run)
    first = store.role_series(run, roles)
    assert store.role_series(run, roles) is first  # a zoom re-uses the series
    assert len(first[0]) == 100 and first[1] is None and first[2] is None
    grown = _run("a", None, n=150)  # same id, more steps: read again
    again = store.role_series(grown, roles)
    assert again is not first and len(again[0]) == 150
    monkeypatch.setattr(D, "SERIES_CACHE_RUNS", 3)
    store = DataStore(sources=[])  # a store's bounds are those when it is made
    runs = [_run(f"r{i}", None, n=100) for i in range(5)]
    for r in runs:
        store.role_series(r, roles)
    assert len(store._series) == 3  # least recently used dropped
    kept = store.role_series(runs[-1], roles)
    assert store.role_series(runs[-1], roles) is kept
    monkeypatch.setattr(D, "SERIES_CACHE_POINTS", 250)  # bounded by points too
    store = DataStore(sources=[])
    for r in runs[:2]:
        store.role_series(r, roles)
    store.role_series(_run("big", None, n=200), roles)
    assert sum(len(s[0]) for s in store._series.values()) <= 250
    huge = _run("huge", None, n=300)  # bigger than the whole cache: served, not kept
    assert len(store.role_series(huge, roles)[0]) == 300
    assert all(k[0] != "id-huge" for k in store._series)


def test_review_rows_are_cached_per_run_and_analysis() -> None:
    store = DataStore(sources=[])
    run = _run("a", None, n=100)
    analysis = store.analyze(run)
    row = store.review_row(run, analysis, False)
    assert store.review_row(run, analysis, False) is row  # a re-render reuses it
    assert store.review_row(run, analysis, True)["source"] == "upload"  # its own key
    other = dataclasses.replace(analysis)  # re-analyzed: a new object, equal values
    assert store.review_row(run, other, False) is not row
    grown = _run("a", None, n=120)
    assert store.review_row(grown, store.analyze(grown), False) is not row


def test_a_fleet_bigger_than_any_small_cache_is_analyzed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Review page walks every run of its window in order: an LRU smaller than the
    fleet would miss on every run of every re-render."""
    from analyzer import analysis

    calls: list[str] = []
    monkeypatch.setattr(analysis, "analyze_run", lambda run: calls.append(run.meta.id) or object())
    store = DataStore(sources=[])
    runs = [_run(f"r{i}", 0.0, n=5) for i in range(3000)]
    for _ in range(2):
        for run in runs:
            store.analyze(run)
    assert len(calls) == 3000  # the second pass is all cache hits
