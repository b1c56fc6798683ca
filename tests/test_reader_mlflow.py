"""The MLflow reader against a real ``mlflow server``, its sqlite file and a file store.

Runs are logged through the real ``MlflowClient``; the reader must give them back
complete (histories longer than one REST page included), with their metadata, and must
never write to a local store. A tiny stub server covers the HTTP failure modes a real
MLflow server does not produce on demand (401, 503, HTML answers, a broken history).
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest

from lrtempo.cli import main
from analyzer.errors import SourceError
from analyzer.model import Run
from analyzer.readers import mlflow_store, read_sources
from analyzer.readers.mlflow_store import check_connection, list_runs, read_mlflow
from analyzer.readers.mlflow_store import http_store, http_transport
from tests.fixtures_mlflow import (
    AUTH_PASSWORD,
    AUTH_USER,
    MlflowServer,
    file_store,
    free_port,
    log_run,
)

needs_server = pytest.mark.mlflow_server
DAY = 86_400.0
PAGE = 1_000  # get-history page size during these tests (MLflow's own is 25,000)
LONG = 2_500  # points in one metric: three pages


@dataclass
class Logged:
    """What the module fixture logged, to compare the reader's output with."""

    server: MlflowServer
    now: float
    exp_ids: dict[str, str]
    long_loss: list[float]


def _loss(n: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(2.5 * np.exp(-np.arange(n) / (n / 4)) + 0.02 * rng.standard_normal(n))


@pytest.fixture(scope="module")
def logged(mlflow_server: MlflowServer) -> Logged:
    """Three experiments (one deleted later), six live runs, one deleted run."""
    client = mlflow_server.client()
    now = time.time()
    exps = {name: client.create_experiment(name) for name in ("vision", "llm-finetune", "trash")}
    vision, hour = exps["vision"], 3600
    log_run(
        client,
        vision,
        "resnet-a",
        {"loss": _loss(300, 1), "lr": [0.1] * 300},
        start_time=now - 2 * hour,
        params={"learning_rate": "0.1", "optimizer": "sgd"},
        tags={"team": "cv", "mlflow.user": "alice"},
    )
    log_run(client, vision, "empty-run", {}, start_time=now - 2 * hour - 1, status=None)
    log_run(
        client,
        vision,
        "resnet-val",
        {"val_loss": _loss(30, 2)},
        steps=range(0, 300, 10),
        start_time=now - 1.5 * hour,
        params={"learning_rate": "0.01", "optimizer": "adam"},
    )
    broken = _loss(100, 3)
    broken[40] = float("nan")
    log_run(
        client,
        vision,
        "resnet-b",
        {"loss": broken},
        start_time=now - hour,
        status="FAILED",
        tags={"mlflow.user": "bob"},
    )
    log_run(client, vision, "old-run", {"loss": _loss(50, 4)}, start_time=now - 3 * DAY)
    long_loss = _loss(LONG, 5)
    log_run(
        client,
        exps["llm-finetune"],
        "llm-long",
        {"loss": long_loss, "lr": list(np.linspace(1e-3, 0, 40))},
        start_time=now - 1800,
        status=None,
        params={"learning_rate": "0.001", "optimizer": "adamw"},
    )
    client.delete_run(log_run(client, vision, "deleted-run", {"loss": [1.0]}, start_time=now))
    log_run(client, exps["trash"], "in-deleted-exp", {"loss": [1.0]}, start_time=now - 60)
    client.delete_experiment(exps["trash"])
    return Logged(mlflow_server, now, exps, long_loss)


def _by_name(runs: list[Run]) -> dict[str, Run]:
    return {r.meta.name: r for r in runs}


VISION = {"resnet-a", "resnet-val", "resnet-b", "old-run", "empty-run"}
LIVE = VISION | {"llm-long"}


# --------------------------------------------------------------------------- HTTP, real server


@needs_server
def test_reads_every_active_run(logged: Logged) -> None:
    res = read_mlflow(logged.server.url)
    assert res.errors == []
    runs = _by_name(res.runs)
    assert len(res.runs) == len(runs) and set(runs) == LIVE  # deleted run and experiment left out
    assert runs["empty-run"].frame.empty and list(runs["empty-run"].frame.columns) == [
        "metric",
        "step",
        "value",
        "wall_time",
    ]
    assert [r.meta.start_time for r in res.runs] == sorted(
        (r.meta.start_time for r in res.runs), reverse=True
    )


@needs_server
@pytest.mark.parametrize("key", ["name", "id"])
def test_filter_by_experiment(logged: Logged, key: str) -> None:
    vision = "vision" if key == "name" else logged.exp_ids["vision"]
    llm = "llm-finetune" if key == "name" else logged.exp_ids["llm-finetune"]
    assert {r.meta.name for r in read_mlflow(logged.server.url, experiment=vision).runs} == VISION
    [run] = read_mlflow(logged.server.url, experiment=llm).runs
    assert run.meta.name == "llm-long" and run.meta.experiment == "llm-finetune"


@needs_server
def test_unknown_or_deleted_experiment_is_a_source_error(logged: Logged) -> None:
    for exp in ("no-such-exp", "trash", "987654"):
        with pytest.raises(
            SourceError, match=f"experiment '{exp}' not found on {logged.server.url}"
        ):
            read_mlflow(logged.server.url, experiment=exp)


@needs_server
def test_since_keeps_only_recent_runs(logged: Logged) -> None:
    since = logged.now - DAY
    recent = read_mlflow(logged.server.url, since=since).runs
    assert {r.meta.name for r in recent} == LIVE - {"old-run"}
    assert all(r.meta.start_time > since for r in recent)
    assert {m.name for m in list_runs(logged.server.url, since=since)} == LIVE - {"old-run"}


@needs_server
def test_histories_are_complete_and_in_step_order(
    logged: Logged, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_store, "HISTORY_PAGE_SIZE", PAGE)
    pages: list[str | None] = []
    call = mlflow_store._HttpStore._call

    def spy(self: object, method: str, endpoint: str, **kw: dict) -> dict:
        if endpoint == "metrics/get-history" and kw["params"]["metric_key"] == "loss":
            pages.append(kw["params"].get("page_token"))
        return call(self, method, endpoint, **kw)

    monkeypatch.setattr(mlflow_store._HttpStore, "_call", spy)
    runs = _by_name(read_mlflow(logged.server.url, experiment="llm-finetune").runs)
    assert len(pages) == 3 and pages[0] is None and None not in pages[1:]
    loss = runs["llm-long"].series("loss")
    steps, values = list(range(LONG)), logged.long_loss
    assert len(loss) == LONG > PAGE
    assert loss["step"].tolist() == steps
    np.testing.assert_allclose(loss["value"].to_numpy(), values)
    start = runs["llm-long"].meta.start_time
    np.testing.assert_allclose(loss["wall_time"].to_numpy(), start + np.asarray(steps), atol=1e-3)
    assert runs["llm-long"].metric_names == ["loss", "lr"]
    assert runs["llm-long"].frame.dtypes.astype(str).tolist() == [
        "object",
        "int64",
        "float64",
        "float64",
    ]


@needs_server
def test_sparse_steps_and_nan_survive(logged: Logged) -> None:
    runs = _by_name(read_mlflow(logged.server.url, experiment="vision").runs)
    val = runs["resnet-val"].series("val_loss")
    assert val["step"].tolist() == list(range(0, 300, 10))
    loss = runs["resnet-b"].series("loss")
    assert len(loss) == 100 and np.isnan(loss["value"][40])
    assert np.isfinite(np.delete(loss["value"].to_numpy(), 40)).all()


@needs_server
def test_metadata_is_kept(logged: Logged) -> None:
    url = logged.server.url
    meta = _by_name(read_mlflow(url).runs)["resnet-a"].meta
    assert meta.source == "mlflow" and meta.step_axis == "step"
    assert meta.params == {"learning_rate": "0.1", "optimizer": "sgd"}
    assert meta.tags["team"] == "cv" and meta.tags["mlflow.runName"] == "resnet-a"
    assert meta.user == "alice" and meta.status == "FINISHED" and meta.experiment == "vision"
    assert meta.start_time == pytest.approx(logged.now - 2 * 3600, abs=0.01)
    assert meta.end_time == pytest.approx(meta.start_time + 300, abs=0.01)
    assert meta.location == f"{url}/#/experiments/{logged.exp_ids['vision']}/runs/{meta.id}"
    statuses = {r.meta.name: r.meta.status for r in read_mlflow(url).runs}
    assert statuses["resnet-b"] == "FAILED" and statuses["llm-long"] == "RUNNING"
    assert _by_name(read_mlflow(url).runs)["resnet-b"].meta.user == "bob"


@needs_server
def test_run_ids_max_runs_metrics_and_progress(logged: Logged) -> None:
    url = logged.server.url
    every = read_mlflow(url).runs
    target = _by_name(every)["resnet-val"].meta.id
    res = read_mlflow(url, run_ids=[target, "0" * 32], metrics=["val_loss", "absent"])
    assert [r.meta.id for r in res.runs] == [target]
    assert res.runs[0].metric_names == ["val_loss"]
    assert [e["location"] for e in res.errors] == [f"{url}#{'0' * 32}"]
    newest = read_mlflow(url, max_runs=2).runs
    assert [r.meta.id for r in newest] == [r.meta.id for r in every[:2]]
    calls: list[tuple[int, int]] = []
    read_mlflow(url, experiment="vision", progress=lambda d, t: calls.append((d, t)))
    assert calls == [(i, 5) for i in range(1, 6)]


@needs_server
def test_check_connection_and_list_runs(logged: Logged) -> None:
    assert "3 active experiment" in check_connection(logged.server.url)  # Default, vision, llm
    metas = list_runs(logged.server.url, experiment="vision")
    assert {m.name for m in metas} == VISION
    assert all(m.params is not None and m.location.startswith(logged.server.url) for m in metas)


@needs_server
def test_credentials_in_the_uri_never_leak(logged: Logged, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_url = logged.server.url.replace("http://", "http://alice:s3cr%40t@")
    res = read_mlflow(secret_url, experiment="vision")
    assert res.runs and res.errors == []
    for run in res.runs:
        assert "s3cr" not in run.meta.location and "alice" not in run.meta.location
        assert run.meta.location.startswith(logged.server.url)
    dead = f"http://alice:s3cr3t@127.0.0.1:{free_port()}/mlflow"
    monkeypatch.setattr(http_transport, "BACKOFF", 0.0)
    with pytest.raises(SourceError) as info:
        read_mlflow(dead)
    assert "s3cr3t" not in str(info.value) and "alice" not in str(info.value)
    assert info.value.location == dead.replace("alice:s3cr3t@", "")
    errors = read_sources([dead]).errors
    assert errors and "s3cr3t" not in json.dumps(errors) and "alice" not in json.dumps(errors)


@needs_server
def test_mlflow_word_uses_the_environment(logged: Logged, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(SourceError, match="MLFLOW_TRACKING_URI is not set"):
        read_mlflow("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", logged.server.url)
    assert {r.meta.name for r in read_mlflow("mlflow", experiment="llm-finetune").runs} == {
        "llm-long"
    }


def test_unreachable_server_fails_fast_and_clearly() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(SourceError, match="cannot connect.*is the MLflow server running") as info:
        read_mlflow(url)
    assert time.monotonic() - started < 10 and info.value.kind == "unreachable"
    started = time.monotonic()
    with pytest.raises(SourceError, match="cannot connect") as info:
        check_connection(url)
    assert info.value.kind == "unreachable"
    assert time.monotonic() - started < 5


# --------------------------------------------------------------------------- sqlite, direct


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@needs_server
def test_sqlite_direct_read_matches_http_and_writes_nothing(logged: Logged) -> None:
    db = logged.server.db_path
    before, files_before = _sha256(db), sorted(p.name for p in db.parent.iterdir())
    direct = read_mlflow(logged.server.sqlite_uri)
    assert _sha256(db) == before
    assert sorted(p.name for p in db.parent.iterdir()) == files_before
    http = read_mlflow(logged.server.url)
    assert direct.errors == [] and len(direct.runs) == len(http.runs)
    by_id = {r.meta.id: r for r in http.runs}
    for run in direct.runs:
        other = by_id[run.meta.id]
        assert run.meta.location == f"{logged.server.sqlite_uri}#{run.meta.id}"
        for field in (
            "name",
            "params",
            "tags",
            "start_time",
            "end_time",
            "user",
            "experiment",
            "status",
        ):
            assert getattr(run.meta, field) == getattr(other.meta, field), field
        pd.testing.assert_frame_equal(run.frame, other.frame)
    assert [r.meta.id for r in direct.runs] == [r.meta.id for r in http.runs]
    since = {
        r.meta.name for r in read_mlflow(logged.server.sqlite_uri, since=logged.now - DAY).runs
    }
    assert since == LIVE - {"old-run"}
    assert {
        r.meta.name for r in read_mlflow(logged.server.sqlite_uri, experiment="vision").runs
    } == VISION
    assert "sqlite store" in check_connection(logged.server.sqlite_uri)
    assert _sha256(db) == before


def _server_files(server: MlflowServer) -> dict[str, str]:
    """Hash of every file of the server's backend database and artifact root (not its log)."""
    return {k: v for k, v in _tree(server.root).items() if k != server.log_path.name}


@needs_server
def test_review_over_http_and_sqlite_leaves_the_store_byte_identical(
    logged: Logged, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = logged.server
    run_id = _by_name(read_mlflow(server.url).runs)["resnet-a"].meta.id
    server.client().log_text(run_id, "a note", "notes/readme.txt")  # through the server's proxy
    before = _server_files(server)  # after startup and logging, with the server up
    assert "mlflow.db" in before and any(
        k.startswith("artifacts/") and k.endswith("readme.txt") for k in before
    )
    for source in (server.url, server.sqlite_uri):
        report = tmp_path / "review.html"
        assert main(["review", source, "--since", "100000d", "--out", str(report), "-q"]) == 0
        assert "resnet-a" in report.read_text()
        assert main(["analyze", source, "--format", "json", "-q"]) == 0
        assert json.loads(capsys.readouterr().out)["errors"] == []
        assert _server_files(server) == before, source


def test_missing_sqlite_file_is_an_error_and_not_created(tmp_path: Path) -> None:
    for db in (tmp_path / "missing.db", tmp_path / "no" / "such" / "dir" / "mlflow.db"):
        with pytest.raises(SourceError, match="no such database file"):
            read_mlflow(f"sqlite:///{db}")
        with pytest.raises(SourceError):
            check_connection(f"sqlite:///{db}")
    assert list(tmp_path.iterdir()) == []


def test_sqlite_file_that_is_not_mlflow(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(SourceError, match="not an MLflow tracking database"):
        read_mlflow(f"sqlite:///{db}")
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(SourceError):
        read_mlflow(f"sqlite:///{tmp_path / 'junk.db'}")


# --------------------------------------------------------------------------- file store


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): _sha256(p) if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def test_file_store_round_trip_is_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, uri, client = file_store(tmp_path, monkeypatch)
    exp = client.create_experiment("local exp")
    now = time.time()
    a = log_run(
        client,
        exp,
        "local-a",
        {"train/loss": _loss(120, 7), "lr": [0.01] * 120},
        start_time=now - 600,
        params={"learning_rate": "0.01", "optimizer": "adam"},
        tags={"mlflow.user": "carol"},
        steps=list(range(0, 1200, 10)),
    )
    log_run(
        client, exp, "local-old", {"loss": _loss(10, 8)}, start_time=now - 5 * DAY, status="KILLED"
    )
    client.delete_run(log_run(client, exp, "local-deleted", {"loss": [1.0]}, start_time=now))
    snapshot = _tree(root)

    res = read_mlflow(uri)
    assert res.errors == []
    runs = _by_name(res.runs)
    assert set(runs) == {"local-a", "local-old"}
    meta = runs["local-a"].meta
    assert meta.id == a and meta.location == f"{uri}#{a}"
    assert meta.params == {"learning_rate": "0.01", "optimizer": "adam"}
    assert meta.user == "carol" and meta.status == "FINISHED" and meta.experiment == "local exp"
    assert meta.start_time == pytest.approx(now - 600, abs=0.01)
    assert runs["local-old"].meta.status == "KILLED"
    loss = runs["local-a"].series("train/loss")
    assert loss["step"].tolist() == list(range(0, 1200, 10))
    np.testing.assert_allclose(loss["value"].to_numpy(), _loss(120, 7))
    assert {r.meta.name for r in read_mlflow(uri, since=now - DAY).runs} == {"local-a"}
    assert {r.meta.name for r in read_mlflow(uri, experiment=exp).runs} == {"local-a", "local-old"}
    assert [m.name for m in list_runs(uri, experiment="local exp")] == ["local-a", "local-old"]
    assert "file store" in check_connection(uri)
    with pytest.raises(SourceError, match="experiment 'nope' not found"):
        read_mlflow(uri, experiment="nope")
    report = tmp_path / "review.html"
    assert main(["review", uri, "--since", "100000d", "--out", str(report), "-q"]) == 0
    assert "local-a" in report.read_text()
    assert _tree(root) == snapshot


def test_a_folder_holding_an_mlruns_store_reads_it_as_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``lrtempo analyze project/``: an ``mlruns`` folder committed beside the code (as
    MLflow writes it, metric keys with ``/`` nested) is read as the store, once, beside the
    other logs; a CSV among its artifacts is not a run of its own; nothing is written."""
    project = tmp_path / "project"
    root, _, client = file_store(project, monkeypatch)
    exp = client.create_experiment("mnist")
    run_id = log_run(
        client,
        exp,
        "mnist-a",
        {"train/loss": _loss(60, 3), "val/loss": _loss(60, 4)},
        params={"lr": "0.001", "optimizer": "adam"},
    )
    art = root / exp / run_id / "artifacts"
    art.mkdir(parents=True, exist_ok=True)
    (art / "history.csv").write_text(
        "epoch,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(30))
    )
    (project / "logs").mkdir()
    (project / "logs" / "other.csv").write_text(
        "step,loss\n" + "".join(f"{i},{2 / (i + 1)}\n" for i in range(40))
    )
    snapshot = _tree(root)

    out = tmp_path / "health.json"
    assert main(["analyze", str(project), "--format", "json", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["errors"] == []
    sources = sorted((r["run"]["source"], r["run"]["name"]) for r in doc["runs"])
    assert sources == [("csv", "other"), ("mlflow", "mnist-a")]
    mnist = next(r for r in doc["runs"] if r["run"]["source"] == "mlflow")
    assert mnist["metrics"]["train_loss"] == "train/loss"
    assert mnist["metrics"]["val_loss"] == "val/loss"
    assert mnist["suggestion"]["current_lr"] == pytest.approx(1e-3)
    assert _tree(root) == snapshot


def test_missing_folder_is_an_error_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "mlruns"
    with pytest.raises(SourceError, match="no such folder"):
        read_mlflow(missing.as_uri())
    with pytest.raises(SourceError, match="not an MLflow file store"):
        read_mlflow(tmp_path.as_uri())
    assert list(tmp_path.iterdir()) == []


def test_unsupported_uris_are_source_errors() -> None:
    with pytest.raises(SourceError, match="does not read 'mysql' stores") as info:
        read_mlflow("mysql://bob:pw@db/mlflow")
    assert "pw" not in str(info.value)
    with pytest.raises(SourceError, match="Databricks"):
        read_mlflow("databricks")


# --------------------------------------------------------------------------- HTTP failure modes


#: ``(path, query, body) -> (status, content type, text[, extra headers])``
Route = Callable[[str, dict[str, list[str]], dict], tuple]


@dataclass
class Stub:
    url: str
    requests: list[tuple[str, dict[str, str]]]


@pytest.fixture
def stub() -> Iterator[Callable[[Route], Stub]]:
    """A local HTTP server answering every request with ``route(path, query, body)``."""
    servers: list[ThreadingHTTPServer] = []

    def start(route: Route) -> Stub:
        seen: list[tuple[str, dict[str, str]]] = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                seen.append((parts.path, dict(self.headers)))
                status, ctype, text, *extra = route(parts.path, parse_qs(parts.query), body)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        servers.append(server)
        return Stub(f"http://127.0.0.1:{server.server_address[1]}", seen)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


JSON = "application/json"


def _fake_mlflow(path: str, query: dict[str, list[str]], body: dict) -> tuple[int, str, str]:
    """Two runs; the history of run ``bad`` fails."""
    if path.endswith("experiments/search"):
        return 200, JSON, json.dumps({"experiments": [{"experiment_id": "1", "name": "e"}]})
    if path.endswith("runs/search"):
        runs = [
            {
                "info": {
                    "run_id": rid,
                    "experiment_id": "1",
                    "status": "FINISHED",
                    "start_time": 1000 * i,
                },
                "data": {"metrics": [{"key": "loss"}]},
            }
            for i, rid in enumerate(["good", "bad"])
        ]
        return 200, JSON, json.dumps({"runs": runs})
    if path.endswith("metrics/get-history"):
        if query["run_id"] == ["bad"]:
            return 400, JSON, json.dumps({"error_code": "INVALID_STATE", "message": "db hiccup"})
        points = [
            {"key": "loss", "value": v, "timestamp": 5000 + s, "step": s}
            for s, v in enumerate([1.0, "NaN", 0.5, "Infinity"])
        ]
        return 200, JSON, json.dumps({"metrics": points})
    return 404, "text/html", "<h1>nope</h1>"


def test_a_failing_history_is_reported_and_others_go_on(stub: Callable[[Route], Stub]) -> None:
    fake = stub(_fake_mlflow)
    res = read_mlflow(fake.url)
    assert [r.meta.id for r in res.runs] == ["good"]
    values = res.runs[0].series("loss")["value"].to_numpy()
    assert values[0] == 1.0 and np.isnan(values[1]) and values[3] == np.inf
    assert res.errors == [
        {
            "location": f"{fake.url}/#/experiments/1/runs/bad",
            "error": "cannot read metric 'loss': INVALID_STATE: db hiccup",
        }
    ]


@pytest.mark.parametrize(
    ("status", "ctype", "text", "expected", "kind"),
    [
        (
            401,
            JSON,
            '{"error_code": "UNAUTHENTICATED", "message": "login"}',
            r"access refused \(HTTP 401\).*MLFLOW_TRACKING_USERNAME.*MLFLOW_TRACKING_TOKEN",
            "auth",
        ),
        (403, "text/plain", "forbidden", r"access refused \(HTTP 403\)", "auth"),
        (404, "text/html", "<html>x</html>", r"no MLflow REST API here \(HTTP 404", "not_mlflow"),
        (
            503,
            "text/plain",
            "busy",
            r"server error \(HTTP 503, still failing after 3",
            "server_error",
        ),
        (
            429,
            JSON,
            "{}",
            r"rate-limiting requests \(HTTP 429, still refused after 3",
            "rate_limited",
        ),
        (
            200,
            "text/html",
            "<html>login page</html>",
            r"not MLflow JSON \(got text/html",
            "not_mlflow",
        ),
        (200, JSON, "[1, 2]", r"not MLflow JSON", "not_mlflow"),
        (200, JSON, '{"experiments": [}', r"not MLflow JSON", "not_mlflow"),
        (
            200,
            JSON,
            '{"experiments": [1, 2',
            r"in the middle of its JSON \(4 attempt",
            "server_error",
        ),
        (400, JSON, '{"error_code": "INVALID_PARAMETER_VALUE"}', r"INVALID_PARAM", "server_error"),
        (418, "text/plain", "teapot", r"unexpected HTTP 418", "not_mlflow"),
    ],
)
def test_http_failures_say_what_to_do(
    stub: Callable[[Route], Stub],
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    ctype: str,
    text: str,
    expected: str,
    kind: str,
) -> None:
    monkeypatch.setattr(http_transport, "BACKOFF", 0.01)
    fake = stub(lambda path, query, body: (status, ctype, text))
    with pytest.raises(SourceError, match=expected) as info:
        read_mlflow(fake.url)
    assert info.value.kind == kind
    retried = status in (429, 503) or text.startswith('{"experiments": [1')
    assert len(fake.requests) == (4 if retried else 1)  # 429, 5xx and cut-off JSON retried


def test_auth_from_environment_and_uri(
    stub: Callable[[Route], Stub], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = stub(_fake_mlflow)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-123")
    read_mlflow(fake.url)
    assert {h.get("Authorization") for _, h in fake.requests} == {"Bearer tok-123"}
    fake.requests.clear()
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "u")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "p")
    read_mlflow(fake.url)
    assert {h.get("Authorization") for _, h in fake.requests} == {"Basic dTpw"}  # u:p
    fake.requests.clear()
    read_mlflow(fake.url.replace("http://", "http://x:y@"))
    assert {h.get("Authorization") for _, h in fake.requests} == {"Basic eDp5"}  # x:y


def test_rate_limit_is_retried_after_the_servers_retry_after(
    stub: Callable[[Route], Stub], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_transport, "BACKOFF", 0.01)
    refused: dict[str, int] = {}

    def route(path: str, query: dict[str, list[str]], body: dict) -> tuple:
        refused[path] = refused.get(path, 0) + 1
        if path.endswith("experiments/search") and refused[path] <= 2:
            return 429, JSON, '{"error_code": "RESOURCE_EXHAUSTED"}', {"Retry-After": "1"}
        return _fake_mlflow(path, query, body)

    fake = stub(route)
    started = time.monotonic()
    res = read_mlflow(fake.url)
    assert [r.meta.id for r in res.runs] == ["good"]
    assert refused["/api/2.0/mlflow/experiments/search"] == 3  # two 429s, then the answer
    assert time.monotonic() - started >= 2.0  # waited Retry-After (1 s) twice, not 0.01 s


# --------------------------------------------------------------------------- broken transports


@dataclass
class Request:
    """One request as the raw server saw it (``n`` counts requests to the same path)."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: dict
    n: int


Behaviour = Callable[[socket.socket, Request, threading.Event], None]


@contextmanager
def serving(behaviour: Behaviour) -> Iterator[Stub]:
    """A TCP server on loopback that reads each HTTP request and lets ``behaviour`` answer
    on the socket as it likes (late, cut off, endless, not at all); the event it gets is
    set when the server stops."""
    stop = threading.Event()
    threads: list[threading.Thread] = []
    seen: list[tuple[str, dict[str, str]]] = []
    counts: dict[str, int] = {}
    lsock = socket.create_server(("127.0.0.1", 0))
    lsock.settimeout(0.05)

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = dict(ln.split(": ", 1) for ln in lines[1:] if ": " in ln)
            length = int(headers.get("Content-Length", 0))
            while len(rest) < length and (chunk := conn.recv(65536)):
                rest += chunk
            parts = urlsplit(target)
            counts[parts.path] = counts.get(parts.path, 0) + 1
            seen.append((parts.path, headers))
            body = json.loads(rest) if rest else {}
            req = Request(method, parts.path, parse_qs(parts.query), body, counts[parts.path])
            try:
                behaviour(conn, req, stop)
            except OSError:  # the client hung up: fine
                pass

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except (TimeoutError, OSError):
                continue
            t = threading.Thread(target=handle, args=(conn,), daemon=True)
            threads.append(t)
            t.start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield Stub(f"http://127.0.0.1:{lsock.getsockname()[1]}", seen)
    finally:
        stop.set()
        for t in [server, *threads]:
            t.join(timeout=5)
        lsock.close()


@pytest.fixture
def raw() -> Iterator[Callable[[Behaviour], Stub]]:
    """Start :func:`serving` servers, stopped at teardown."""
    with ExitStack() as stack:
        yield lambda behaviour: stack.enter_context(serving(behaviour))


def _head(status: int = 200, length: int | None = None, ctype: str = JSON) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Type: {ctype}", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(conn: socket.socket, req: Request) -> None:
    """A complete answer from the fake MLflow of :func:`_fake_mlflow`."""
    status, ctype, text = _fake_mlflow(req.path, req.query, req.body)
    data = text.encode()
    conn.sendall(_head(status, len(data), ctype) + data)


def _cut(conn: socket.socket, req: Request) -> None:
    """Headers promise the whole answer; a third of it arrives, then the connection closes."""
    data = _fake_mlflow(req.path, req.query, req.body)[2].encode() or b"{}"
    conn.sendall(_head(200, len(data)) + data[: max(1, len(data) // 3)])


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Half a second of timeout and hardly any backoff, so failures come fast."""
    monkeypatch.setenv("LRTEMPO_MLFLOW_TIMEOUT", "0.5")
    monkeypatch.setattr(http_transport, "BACKOFF", 0.01)


def _never(conn: socket.socket, req: Request, stop: threading.Event) -> None:
    stop.wait(30)


def _late(conn: socket.socket, req: Request, stop: threading.Event) -> None:
    if not stop.wait(1.5):
        _answer(conn, req)


def _trickle(conn: socket.socket, req: Request, stop: threading.Event) -> None:
    conn.sendall(_head(200, 10_000))
    while not stop.wait(0.1):
        conn.sendall(b" ")


@pytest.mark.parametrize(
    ("behaviour", "expected", "attempts"),
    [
        (_never, r"did not answer within 0.5 s \(after 3 retries\).*LRTEMPO_MLFLOW_TIMEOUT", 4),
        (_late, r"did not answer within 0.5 s", 4),
        (_trickle, r"did not arrive in full within 2 s.*LRTEMPO_MLFLOW_TIMEOUT", 1),
    ],  # every one of kind "timeout"
    ids=["never-answers", "answers-too-late", "trickles"],
)
@pytest.mark.usefixtures("quick")
def test_slow_server_times_out_clearly_and_in_bounded_time(
    raw: Callable[[Behaviour], Stub], behaviour: Behaviour, expected: str, attempts: int
) -> None:
    slow = raw(behaviour)
    started = time.monotonic()
    with pytest.raises(SourceError, match=expected) as info:
        read_mlflow(slow.url)
    assert time.monotonic() - started < 6  # 4 x 0.5 s (+ backoff), not 4 x 30 s
    assert info.value.location == slow.url and str(info.value).startswith(slow.url)
    assert info.value.kind == "timeout"
    assert len(slow.requests) == attempts


def test_timeout_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LRTEMPO_MLFLOW_TIMEOUT", raising=False)
    assert mlflow_store.timeout_setting() == mlflow_store.TIMEOUT == 30.0
    monkeypatch.setenv("LRTEMPO_MLFLOW_TIMEOUT", "2.5")
    assert mlflow_store.timeout_setting() == 2.5
    for bad in ("soon", "0", "-1", "inf"):
        monkeypatch.setenv("LRTEMPO_MLFLOW_TIMEOUT", bad)
        with pytest.raises(SourceError, match="LRTEMPO_MLFLOW_TIMEOUT: must be a number") as info:
            read_mlflow("http://127.0.0.1:9")
        assert info.value.kind == "config"


@pytest.mark.usefixtures("quick")
def test_an_answer_cut_off_mid_body_is_asked_for_again(raw: Callable[[Behaviour], Stub]) -> None:
    def twice_cut(conn: socket.socket, req: Request, stop: threading.Event) -> None:
        (_cut if req.n <= 2 else _answer)(conn, req)

    flaky = raw(twice_cut)
    res = read_mlflow(flaky.url)
    assert [r.meta.id for r in res.runs] == ["good"]  # "bad" fails on its own, as before
    paths = [p for p, _ in flaky.requests]
    assert paths.count("/api/2.0/mlflow/experiments/search") == 3  # POST search: a read
    assert paths.count("/api/2.0/mlflow/runs/search") == 3


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        (lambda c, r, s: _cut(c, r), r"answer to experiments/search was cut off after \d+ bytes"),
        (lambda c, r, s: None, r"closed the connection without answering \(after 3 retries\)"),
    ],
    ids=["always-cut", "closes-without-answer"],
)
@pytest.mark.usefixtures("quick")
def test_a_connection_that_keeps_breaking_is_a_clear_error(
    raw: Callable[[Behaviour], Stub], behaviour: Behaviour, expected: str
) -> None:
    broken = raw(behaviour)
    with pytest.raises(SourceError, match=expected) as info:
        read_mlflow(broken.url)
    assert info.value.kind == "server_error"
    assert len(broken.requests) == 4


@pytest.mark.usefixtures("quick")
def test_only_reads_are_sent_again(raw: Callable[[Behaviour], Stub]) -> None:
    broken = raw(lambda c, r, s: _cut(c, r))
    store = mlflow_store._HttpStore(broken.url, timeout=0.5)
    with pytest.raises(SourceError, match=r"cut off.*\(1 attempt"):
        store._call("POST", "runs/set-tag", body={"run_id": "r", "key": "k", "value": "v"})
    assert len(broken.requests) == 1
    with pytest.raises(SourceError, match=r"cut off.*\(4 attempt"):
        store._call("GET", "experiments/get", params={"experiment_id": "1"})
    assert len(broken.requests) == 5


def _endless(conn: socket.socket, req: Request, stop: threading.Event) -> None:
    conn.sendall(_head(200) + b'{"experiments": [')
    item = b'{"experiment_id": "1", "name": "e"},' * 1000
    while not stop.is_set():
        conn.sendall(item)


def _declared_huge(conn: socket.socket, req: Request, stop: threading.Event) -> None:
    conn.sendall(_head(200, 50 * 2**30) + b'{"experiments": [')


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [(_endless, r"too large \(endless; at most 1 MiB is read\)"), (_declared_huge, r"51200 MiB")],
    ids=["endless-body", "declares-50-GiB"],
)
@pytest.mark.usefixtures("quick")
def test_a_huge_answer_is_refused_with_bounded_memory(
    raw: Callable[[Behaviour], Stub],
    monkeypatch: pytest.MonkeyPatch,
    behaviour: Behaviour,
    expected: str,
) -> None:
    import tracemalloc

    monkeypatch.setattr(http_transport, "MAX_ANSWER_BYTES", 2**20)
    huge = raw(behaviour)
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match=expected) as info:
            read_mlflow(huge.url)
        assert info.value.kind == "limit"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20
    assert len(huge.requests) == 1  # too large is not retried


# --------------------------------------------------------------------------- basic auth, real


@needs_server
def test_basic_auth_server_refuses_wrong_credentials_and_reads_with_right_ones(
    auth_server: MlflowServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = auth_server.url
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", AUTH_USER)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", AUTH_PASSWORD)
    client = auth_server.client()
    log_run(client, client.create_experiment("secured"), "guarded", {"loss": _loss(60, 9)})
    res = read_mlflow(url, experiment="secured")
    assert [r.meta.name for r in res.runs] == ["guarded"] and res.errors == []
    assert len(res.runs[0].series("loss")) == 60

    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong-pass")
    with pytest.raises(SourceError, match=r"access refused \(HTTP 401\).*USERNAME") as info:
        read_mlflow(url)
    assert info.value.location == url and "wrong-pass" not in str(info.value)
    assert info.value.kind == "auth"
    assert main(["analyze", url]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"lrtempo: {url}: {info.value.reason}"]

    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    with pytest.raises(SourceError, match=r"access refused \(HTTP 401\)"):
        read_mlflow(url)
    in_uri = url.replace("http://", f"http://{AUTH_USER}:{AUTH_PASSWORD}@")
    assert [r.meta.name for r in read_mlflow(in_uri, experiment="secured").runs] == ["guarded"]


@pytest.mark.usefixtures("quick")
def test_an_endless_version_page_does_not_hang_check_connection(
    raw: Callable[[Behaviour], Stub],
) -> None:
    def route(conn: socket.socket, req: Request, stop: threading.Event) -> None:
        if req.path == "/version":
            _endless(conn, req, stop)
        else:
            _answer(conn, req)

    server = raw(route)
    started = time.monotonic()
    assert check_connection(server.url).startswith(f"MLflow server at {server.url}: 1 active")
    assert time.monotonic() - started < 5


def test_a_server_that_never_stops_paging_is_cut_off(
    stub: Callable[[Route], Stub], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_store, "MAX_PAGES", 5)
    pages = iter(range(10**6))

    def route(path: str, query: dict[str, list[str]], body: dict) -> tuple:
        token = f"page-{next(pages)}"  # always a new token, never the last page
        return 200, JSON, json.dumps({"experiments": [], "next_page_token": token})

    endless = stub(route)
    with pytest.raises(SourceError, match="more than 5 pages for one listing; paging") as info:
        read_mlflow(endless.url)
    assert info.value.kind == "limit"
    assert len(endless.requests) == 5


def test_a_server_that_repeats_its_page_token_is_cut_off(stub: Callable[[Route], Stub]) -> None:
    def route(path: str, query: dict[str, list[str]], body: dict) -> tuple:
        return 200, JSON, json.dumps({"experiments": [], "next_page_token": "same"})

    looping = stub(route)
    with pytest.raises(SourceError, match="repeated a page token; paging stopped") as info:
        read_mlflow(looping.url)
    assert info.value.kind == "bad_data"
    assert len(looping.requests) == 2
