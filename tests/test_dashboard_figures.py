"""Dashboard figure builders, data layer, uploads and callbacks as plain functions."""

from __future__ import annotations

import base64
import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analyzer.findings import Finding, Suggestion, worst
from analyzer.model import Run, RunMeta, frame_from_columns
from dashboard import compare_figure as C
from dashboard import figures as F
from dashboard import series as S
from dashboard import theme as T
from dashboard.review_rows import format_duration, mlflow_run_url, review_row
from dashboard.store import DataStore
from dashboard.uploads import UploadError, decode_contents, extract_zip, read_upload, safe_name
from dashboard.windows import window_key


def series(steps, values) -> pd.DataFrame:
    steps = np.asarray(steps, dtype=np.int64)
    return pd.DataFrame(
        {
            "step": steps,
            "value": np.asarray(values, dtype=float),
            "wall_time": 1.7e9 + steps.astype(float) * 2.0,
        }
    )


def finding(kind="overfitting", metric="val_loss", start=400, end=900, severity="warning"):
    return Finding(
        kind=kind,
        metric=metric,
        start_step=start,
        end_step=end,
        severity=severity,
        confidence=0.93,
        evidence={"p_value": 1e-9, "slope": 0.0012},
        message="Validation loss rises while train loss falls.",
    )


@pytest.fixture
def curves():
    steps = np.arange(0, 1000)
    rng = np.random.default_rng(0)
    train = series(steps, 2 * np.exp(-steps / 300) + 0.3 + 0.05 * rng.standard_normal(steps.size))
    vsteps = np.arange(0, 1000, 100)
    val = series(vsteps, 2 * np.exp(-vsteps / 300) + 0.4 + 0.0008 * np.clip(vsteps - 400, 0, None))
    lr = series(steps, 1e-3 * (0.5 + 0.5 * np.cos(np.pi * steps / 1000)) + 1e-6)
    return train, val, lr


def metas(fig) -> list:
    return [t.meta for t in fig.data]


# ----------------------------------------------------------------------------- EMA


def test_ema_is_tensorboards_debiased_average() -> None:
    v = [1.0, 2.0, 3.0]
    w = 0.5
    # last_1 = 0.5, /(1-0.5)   = 1.0
    # last_2 = 1.25, /(1-0.25) = 5/3
    # last_3 = 2.125, /(1-0.125) = 17/7
    np.testing.assert_allclose(S.ema(v, w), [1.0, 5 / 3, 17 / 7])


def test_ema_of_a_constant_is_the_constant_from_the_first_point() -> None:
    np.testing.assert_allclose(S.ema(np.full(50, 4.2), 0.99), 4.2)


def test_ema_zero_weight_returns_values_and_nan_passes_through() -> None:
    np.testing.assert_array_equal(S.ema([3.0, 1.0], 0.0), [3.0, 1.0])
    out = S.ema([1.0, float("nan"), 3.0], 0.5)
    assert out[0] == 1.0 and math.isnan(out[1])
    assert out[2] == pytest.approx((0.25 + 1.5) / 0.75)  # NaN did not enter the average


def test_ema_rejects_bad_weight() -> None:
    with pytest.raises(ValueError, match="1.0"):
        S.ema([1.0], 1.0)


# ------------------------------------------------------------------ downsampling


def test_downsample_caps_points_and_keeps_extremes() -> None:
    x = np.arange(100_000)
    y = np.sin(x / 1000.0)
    y[54_321] = 50.0  # a spike must survive
    dx, dy = S.downsample(x, y, 2000)
    assert len(dx) <= 2000
    assert np.all(np.diff(dx) > 0)
    assert 50.0 in dy and 54_321 in dx


def test_downsample_short_series_untouched_and_drops_nan() -> None:
    x = np.arange(10)
    y = np.arange(10, dtype=float)
    y[3] = np.nan
    dx, _ = S.downsample(x, y, 2000)
    assert list(dx) == [0, 1, 2, 4, 5, 6, 7, 8, 9]


def test_run_figure_sends_at_most_max_points_per_trace() -> None:
    steps = np.arange(50_000)
    train = series(
        steps, np.exp(-steps / 1e4) + 0.01 * np.random.default_rng(1).standard_normal(steps.size)
    )
    lr = series(steps, np.full(steps.size, 1e-3))
    fig = F.run_figure(train, None, lr, smoothing=0.9)
    for t in fig.data:
        assert len(t.x) <= S.MAX_POINTS, t.name


# -------------------------------------------------------------------- run figure


def test_run_figure_traces_and_lr_on_its_own_log_axis(curves) -> None:
    train, val, lr = curves
    fig = F.run_figure(train, val, lr, smoothing=0.6)
    assert metas(fig)[:4] == ["train_raw", "train_smooth", "val", "lr"]
    lr_trace = next(t for t in fig.data if t.meta == "lr")
    loss_trace = next(t for t in fig.data if t.meta == "val")
    assert lr_trace.yaxis == "y2" and loss_trace.yaxis == "y"
    assert fig.layout.yaxis2.type == "log"
    assert fig.layout.yaxis.type == "linear"
    raw = next(t for t in fig.data if t.meta == "train_raw")
    assert raw.opacity < 0.5  # raw is faint under the smoothed line
    smooth = next(t for t in fig.data if t.meta == "train_smooth")
    np.testing.assert_allclose(smooth.y[:5], S.ema(train["value"].to_numpy(), 0.6)[:5])


def test_run_figure_log_y_and_no_smoothing(curves) -> None:
    train, val, lr = curves
    fig = F.run_figure(train, val, lr, smoothing=0.0, log_y=True)
    assert fig.layout.yaxis.type == "log"
    assert "train_smooth" not in metas(fig)


def test_findings_are_shaded_by_kind_on_both_rows_with_hover(curves) -> None:
    train, val, lr = curves
    fs = [
        finding("oscillation", "train_loss", 100, 300),
        finding("overfitting", "val_loss", 400, 900),
    ]
    fig = F.run_figure(train, val, lr, findings=fs)
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(rects) == 4  # two findings × two rows
    osc = [s for s in rects if s.fillcolor == T.KIND_COLORS["oscillation"]]
    assert {(s.x0, s.x1) for s in osc} == {(100.0, 300.0)}
    assert {s.yref for s in osc} == {"y domain", "y2 domain"}
    over = [s for s in rects if s.fillcolor == T.KIND_COLORS["overfitting"]]
    assert {(s.x0, s.x1) for s in over} == {(400.0, 900.0)}
    hover = next(t for t in fig.data if t.meta == "finding:overfitting")
    assert hover.hoveron == "fills" and "p_value" in hover.text and "400–900" in hover.text
    assert fig.layout.yaxis3.overlaying == "y" and fig.layout.yaxis3.visible is False


def test_markers_best_val_and_oscillation_onset(curves) -> None:
    train, val, lr = curves
    sug = Suggestion(
        action="early_stop",
        current_lr=1e-3,
        suggested_lr=5e-4,
        factor=0.5,
        early_stop_step=400,
        rationale="val bottomed out",
    )
    fig = F.run_figure(
        train, val, lr, findings=[finding("oscillation", "train_loss", 150, 300)], suggestion=sug
    )
    best = next(t for t in fig.data if t.meta == "best_val")
    assert list(best.x) == [400.0]
    assert best.y[0] == pytest.approx(float(val.loc[val.step == 400, "value"].iloc[0]))
    onset = next(t for t in fig.data if t.meta == "oscillation_onset")
    assert list(onset.x) == [150.0]
    assert any(s.type == "line" and s.x0 == 400 for s in fig.layout.shapes)


def test_best_val_marker_from_data_when_overfitting_without_stop_step(curves) -> None:
    train, val, lr = curves
    fig = F.run_figure(train, val, lr, findings=[finding()])
    best = next(t for t in fig.data if t.meta == "best_val")
    assert best.x[0] == S.best_val_step(val)


def test_one_step_finding_still_visible(curves) -> None:
    train, val, lr = curves
    fig = F.run_figure(
        train, val, lr, findings=[finding("divergence", "train_loss", 500, 500, "critical")]
    )
    rect = next(s for s in fig.layout.shapes if s.type == "rect")
    assert rect.x1 > rect.x0


def test_wall_time_axis_maps_findings(curves) -> None:
    train, val, lr = curves
    fig = F.run_figure(train, val, lr, findings=[finding(start=360, end=720)], x_mode="time")
    assert fig.layout.xaxis2.title.text == "hours since start"
    rect = next(s for s in fig.layout.shapes if s.type == "rect")
    assert rect.x0 == pytest.approx(360 * 2 / 3600) and rect.x1 == pytest.approx(720 * 2 / 3600)


def test_epoch_axis_maps_steps_to_epochs(curves) -> None:
    train, val, lr = curves
    epoch = series([0, 500, 1000], [0.0, 1.0, 2.0])
    fig = F.run_figure(
        train, val, lr, findings=[finding(start=250, end=750)], x_mode="epoch", epoch=epoch
    )
    assert fig.layout.xaxis2.title.text == "epoch"
    rect = next(s for s in fig.layout.shapes if s.type == "rect")
    assert rect.x0 == pytest.approx(0.5) and rect.x1 == pytest.approx(1.5)
    fig = F.run_figure(train, val, lr, x_mode="epoch", epoch=None)  # no epochs: steps
    assert fig.layout.xaxis2.title.text == "step"


def test_missing_lr_and_nonpositive_lr(curves) -> None:
    train, val, _ = curves
    fig = F.run_figure(train, val, None)
    assert "lr" not in metas(fig)
    assert any("no learning rate" in a.text for a in fig.layout.annotations)
    fig = F.run_figure(train, val, series([0, 1, 2], [0.0, 1e-3, 1e-3]))
    assert list(next(t for t in fig.data if t.meta == "lr").x) == [1, 2]


def test_text_from_runs_is_escaped() -> None:
    assert T.plain("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    r = C.CompareRun("<b>x</b>", "healthy", series([0, 1, 2], [3, 2, 1]), None, None)
    fig = C.compare_figure([r])
    assert "<b>" not in fig.data[0].name and "&lt;b&gt;x&lt;/b&gt; [healthy]" in fig.data[0].name


def test_compare_figure_overlays_runs_with_status(curves) -> None:
    train, val, lr = curves
    runs = [
        C.CompareRun("a", "overfitting", train, val, lr),
        C.CompareRun("b", "healthy", train, None, lr),
    ]
    fig = C.compare_figure(runs)
    assert metas(fig) == ["run0:train", "run0:val", "run0:lr", "run1:train", "run1:lr"]
    assert fig.data[0].name == "a [overfitting] train"
    assert fig.data[0].line.color != fig.data[3].line.color
    assert {t.yaxis for t in fig.data if t.meta.endswith(":lr")} == {"y2"}
    assert fig.layout.yaxis2.type == "log"


def test_log_ticks_short_range_and_decades() -> None:
    ticks, labels, rng = T.log_ticks(np.array([1.5e-3, 3e-2]))
    assert 2 <= len(ticks) <= 4 and all(1e-3 <= t <= 5e-2 for t in ticks)
    ticks, labels, _ = T.log_ticks(np.array([1e-6, 1e-3]))
    assert ticks == [1e-6, 1e-5, 1e-4, 1e-3] and labels == ["1e-6", "1e-5", "1e-4", "1e-3"]
    ticks, _, rng = T.log_ticks(np.array([1e-3, 1e-3]))
    assert ticks == [1e-3] and rng[0] < -3 < rng[1]


def test_format_lr() -> None:
    """One format everywhere: 3 significant digits, e-notation below 0.01."""
    assert T.format_lr(3e-4) == "3e-4" and T.format_lr(3.5e-5) == "3.5e-5"
    assert T.format_lr(0.003) == "3e-3" and T.format_lr(0.00314159) == "3.14e-3"
    assert T.format_lr(0.1) == "0.1" and T.format_lr(0.05) == "0.05"
    assert T.format_lr(None) == "—" and T.format_lr(float("nan")) == "—"


# ------------------------------------------------------------------- data layer


def make_run(name="r", n=50, overfit=False, start=None, location=None, experiment=None):
    steps = np.arange(1, n + 1) * 10
    train = np.exp(-steps / 200) + 0.2
    val = np.exp(-steps / 200) + 0.3 + (0.002 * np.clip(steps - 200, 0, None) if overfit else 0)
    metric = ["loss"] * n + ["val_loss"] * n + ["lr"] * n
    frame = frame_from_columns(
        metric, np.concatenate([steps] * 3), np.concatenate([train, val, np.full(n, 1e-3)])
    )
    meta = RunMeta(
        id=f"id-{name}",
        name=name,
        source="mlflow" if location else "csv",
        location=location or f"/logs/{name}.csv",
        start_time=start,
        end_time=(start + 3600) if start else None,
        experiment=experiment,
        tags={"mlflow.experiment_id": "7"} if location else {},
    )
    return Run(meta=meta, frame=frame)


class FakeAnalysis:
    def __init__(self, run: Run) -> None:
        from analyzer.roles import resolve_roles

        self.meta = run.meta
        self.warnings = ()
        self.roles = resolve_roles(run)
        self.findings = (finding(severity="info", start=1, end=2), finding(start=200, end=500))
        self.status = "overfitting"
        self.suggestion = Suggestion(
            action="early_stop",
            current_lr=1e-3,
            suggested_lr=3e-4,
            early_stop_step=200,
            rationale="stop",
        )


def test_review_row_fields() -> None:
    run = make_run(
        "bert", overfit=True, start=1.7e9, location="http://mlflow:5000", experiment="llm"
    )
    row = review_row(run, FakeAnalysis(run))
    assert row["run"] == "bert" and row["experiment"] == "llm" and row["status"] == "overfitting"
    assert row["finding"] == "overfitting in val_loss, steps 200–500"
    assert row["lr"] == "stop at step 200, LR 1e-3 → 3e-4 (×0.3)"
    assert row["lr_current"] == 1e-3 and row["lr_suggested"] == 3e-4
    assert row["best_val_step"] == 200
    assert row["duration"] == "1h 00m"
    assert row["mlflow_url"] == "http://mlflow:5000/#/experiments/7/runs/id-bert"


def test_mlflow_url_only_for_http_locations() -> None:
    assert mlflow_run_url(make_run("x")) is None
    assert mlflow_run_url(make_run("x", location="javascript:alert(1)")) is None


def test_worst_finding_and_helpers() -> None:
    fs = [
        finding("stagnation", severity="warning"),
        finding("divergence", severity="critical"),
        finding("oscillation", severity="critical"),
    ]
    assert worst(fs).kind == "divergence"
    assert worst([]) is None and worst([finding("divergence", severity="info")]) is None
    assert format_duration(0, 59) == "59s" and format_duration(0, 3660) == "1h 01m"
    assert window_key(24) == "24h" and window_key(168) == "7d" and window_key(0) == "all"
    assert window_key(36) == "36h"


def test_store_caches_analyses_by_run_and_last_step(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake(run):
        calls.append(run.meta.id)
        return FakeAnalysis(run)

    monkeypatch.setattr("analyzer.analysis.analyze_run", fake)
    store = DataStore(sources=[])
    run = make_run("a")
    store.analyze(run)
    store.analyze(run)
    assert calls == ["id-a"]
    grown = make_run("a", n=60)  # same id, more steps: analyzed again
    store.analyze(grown)
    assert calls == ["id-a", "id-a"]


def test_store_reads_lazily_filters_window_and_keeps_uploads(tmp_path: Path) -> None:
    log = tmp_path / "run1.jsonl"
    log.write_text("".join(json.dumps({"step": s, "loss": 1 / (s + 1)}) + "\n" for s in range(20)))
    store = DataStore(sources=[str(tmp_path), str(tmp_path / "missing")])
    assert store._file_runs is None  # nothing read yet
    runs, errors = store.runs("all")
    assert [r.meta.name for r in runs] == ["run1"]
    assert any("missing" in e["location"] for e in errors)
    up = make_run("uploaded")
    store.add_upload(up, "uploaded.csv")
    runs, _ = store.runs("24h")
    assert runs[0].meta.name == "uploaded" and store.is_upload("id-uploaded")
    assert store.get("id-uploaded") is up
    store.refresh()
    assert store._file_runs is None and store.get("id-uploaded") is up


# ---------------------------------------------------------------------- uploads


def test_safe_name() -> None:
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\x\\my run (1).csv") == "my_run_1_.csv"
    assert safe_name(".hidden") == "hidden"
    assert safe_name("<img>") == "_img_"
    assert safe_name("...") == "upload"


def test_decode_contents_limits() -> None:
    data = b"step,loss\n1,2\n"
    url = "data:text/csv;base64," + base64.b64encode(data).decode()
    assert decode_contents(url, "a.csv", 100) == data
    with pytest.raises(UploadError, match="a.csv.*limit"):
        decode_contents(url, "a.csv", 5)
    with pytest.raises(UploadError, match="b.csv"):
        decode_contents("data:text/csv;base64,!!!", "b.csv", 100)


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("bad", ["../evil.jsonl", "/abs/evil.jsonl", "a/../../evil.jsonl"])
def test_zip_entries_outside_are_refused(tmp_path: Path, bad: str) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip({bad: b"{}"}))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UploadError, match="a.zip"):
        extract_zip(archive, dest, max_bytes=10_000, display="a.zip")
    assert not (tmp_path / "evil.jsonl").exists()


def test_zip_bomb_is_stopped_by_its_declared_size(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.txt", b"0" * 2_000_000)
    archive.write_bytes(buf.getvalue())
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UploadError, match="bomb.zip: unpacks to 2 MiB, more than the"):
        extract_zip(archive, dest, max_bytes=100_000, display="bomb.zip")
    assert list(dest.iterdir()) == []  # refused before writing


def test_read_upload_zip_of_run_folder() -> None:
    line = "".join(
        json.dumps({"step": s, "loss": 1 / (s + 1), "lr": 1e-3}) + "\n" for s in range(30)
    )
    data = _zip({"exp/run_a/log.jsonl": line.encode(), "exp/README.md": b"hello"})
    res = read_upload("runs.zip", data, limit_bytes=1 << 20)
    assert res.errors == []
    assert len(res.runs) == 1
    assert res.runs[0].meta.location.startswith("upload:runs.zip/")


def test_read_upload_errors_name_the_file() -> None:
    res = read_upload("notes.pdf", b"%PDF", limit_bytes=1000)
    assert res.errors and res.errors[0].startswith("notes.pdf: unsupported file type")
    res = read_upload("bad.jsonl", b"not json at all\n", limit_bytes=1000)
    assert res.errors and res.errors[0].startswith("bad.jsonl") and "/tmp" not in res.errors[0]
    res = read_upload("big.csv", b"x" * 2000, limit_bytes=1000)
    assert "limit" in res.errors[0]


# -------------------------------------------------------------- callbacks / app


@pytest.fixture
def app_with_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from dashboard.app import create_app

    for name, rise in (("overfit", True), ("fine", False)):
        rows = []
        for s in range(1, 101):
            row = {"step": s * 10, "loss": math.exp(-s / 30) + 0.2, "lr": 1e-3}
            if s % 10 == 0:
                row["val_loss"] = math.exp(-s / 30) + 0.3 + (0.02 * max(s - 40, 0) if rise else 0)
            rows.append(row)
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr("analyzer.analysis.analyze_run", lambda run: FakeAnalysis(run))
    return create_app([str(tmp_path)], since_hours=24)


def test_create_app_does_no_reading_and_serves_locally(app_with_logs) -> None:
    from dashboard.store import STORE_KEY

    app = app_with_logs
    assert app.server.config[STORE_KEY]._file_runs is None
    html = app.server.test_client().get("/").get_data(as_text=True)
    assert "cdn" not in html.lower() and "https://" not in html
    assert "/assets/00_bootstrap.min.css" in html
    assert app.server.config[STORE_KEY]._file_runs is None  # still lazy after the page load


def test_review_callback_as_function(app_with_logs) -> None:
    from dashboard import views as review

    with app_with_logs.server.app_context():
        data = review.review_data(review.ReviewFilters("all"))
        assert sorted(r["run"] for r in data.rows) == ["fine", "overfit"]
        assert data.counts == {"overfitting": 2}
        assert [a.meta.name for a in data.analyses] == [r["run"] for r in data.rows]
        assert review.review_data(review.ReviewFilters("all", status="healthy")).rows == []


def test_run_and_compare_callbacks_as_functions(app_with_logs) -> None:
    from dashboard import views
    from dashboard.store import current_store

    compare = run = views

    with app_with_logs.server.app_context():
        runs, _ = current_store().runs("all")
        rid = runs[0].meta.id
        fig = run.run_graph(rid, 0.6, False, "step")
        assert {"train_raw", "val", "lr", "finding:overfitting"} <= set(metas(fig))
        _, side, findings = run.run_view(rid)
        assert side is not None and findings is not None
        missing, _, _ = run.run_view("nope")
        assert "nope" in str(missing.children)
        fig, _ = compare.compare_view([r.meta.id for r in runs], False)
        assert len([t for t in fig.data if t.meta and t.meta.endswith(":train")]) == 2


def test_run_page_survives_an_analyzer_error(
    app_with_logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import views
    from dashboard.store import current_store

    def boom(run):
        raise RuntimeError("detector crashed")

    monkeypatch.setattr("analyzer.analysis.analyze_run", boom)
    with app_with_logs.server.app_context():
        runs, _ = current_store().runs("all")
        header, _, _ = views.run_view(runs[0].meta.id)
        assert "detector crashed" in str(header)
        fig = views.run_graph(runs[0].meta.id, 0.6, False, "step")
        assert "train_raw" in metas(fig)


def test_upload_callback_as_function(app_with_logs) -> None:
    from dashboard import upload_views
    from dashboard.store import current_store

    good = "".join(json.dumps({"step": s, "loss": 1 / (s + 1)}) + "\n" for s in range(20)).encode()
    urls = [
        "data:;base64," + base64.b64encode(good).decode(),
        "data:;base64," + base64.b64encode(b"\x00garbage").decode(),
    ]
    with app_with_logs.server.app_context():
        items = upload_views.handle_uploads(urls, ["good.jsonl", "junk.csv"])
        text = str(items)
        assert "junk.csv" in text and "good" in text
        runs, _ = current_store().runs("24h")
        assert any(current_store().is_upload(r.meta.id) for r in runs)


def test_settings_check_uri_reports_failure() -> None:
    from dashboard.views import check_uri

    ok, msg = check_uri("")
    assert not ok and "Enter" in msg


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.9, 0.99, 0.999])
def test_ema_window_equals_the_whole_series_ema(weight: float) -> None:
    rng = np.random.default_rng(7)
    v = 5 + rng.standard_normal(300_000)
    v[rng.integers(0, v.size, 500)] = np.nan
    v[1000:1100] = np.inf
    full = S.ema(v, weight)
    for a, b in (
        (0, 10),
        (50, 300),
        (150, 5000),
        (1050, 1200),
        (100_000, 120_000),
        (299_990, 300_000),
        (299_999, 400_000),
        (7, 7),
    ):
        got = S.ema_window(v, weight, a, b)
        assert got.shape == full[a:b].shape
        np.testing.assert_allclose(got, full[a:b], rtol=1e-13, atol=0)


def test_visible_indices_of_integer_steps_match_float_steps() -> None:
    x = np.arange(0, 100, 3)
    for rng in [
        (0, 10),
        (1.5, 7.2),
        (-5, -1),
        (200, 300),
        (3, 3),
        (2.9, 3.1),
        (-1e30, 1e30),
        (1e30, 2e30),
        (50, 10),
    ]:
        want = S.visible_indices(x.astype(np.float64), rng)
        for dtype in (np.int64, np.int32, np.uint16):
            np.testing.assert_array_equal(S.visible_indices(x.astype(dtype), rng), want)
