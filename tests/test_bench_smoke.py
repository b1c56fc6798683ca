"""The performance suite's code paths on tiny sizes, and its JSON document (no timings)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.__main__ import main
from benchmarks.perf import (
    BENCHMARKS,
    SCHEMA,
    TINY,
    document,
    format_table,
    mlflow_fetch,
    mlflow_refresh,
    run_suite,
)
from benchmarks.perf.common import Result, best_of
from tests.fixtures_mlflow import MlflowServer

REQUIRED = {"name", "ours_s", "peer", "peer_s", "ratio"}
OFFLINE = [n for n in BENCHMARKS if not n.startswith("mlflow_")]


@pytest.fixture
def bench_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LRTEMPO_BENCH_DIR", str(tmp_path / "data"))
    return tmp_path


def _check_document(doc: dict) -> None:
    assert doc["schema"] == SCHEMA == "lrtempo.bench/1"
    assert doc["mode"] == "tiny" and doc["machine"]["cpus"]
    for r in doc["results"]:
        assert REQUIRED <= set(r), r
        assert isinstance(r["name"], str)
        for key in ("ours_s", "peer_s", "ratio"):
            assert r[key] is None or (isinstance(r[key], float) and r[key] >= 0), (key, r)
        assert r["peer"] is None or isinstance(r["peer"], str)
    json.dumps(doc, allow_nan=False)


def test_offline_benchmarks_run_and_the_document_has_the_schema(bench_dir: Path) -> None:
    plot = bench_dir / "scaling.png"
    lines: list[str] = []
    results = run_suite(TINY, OFFLINE, plot, log=lines.append)
    names = [r.name for r in results]
    assert names == [
        "tensorboard_read",
        "analyze_run",
        "analyze_vs_trainspotter",
        "fleet_review",
        "wide_scan",
        "dashboard_payload",
        "dashboard_zoom",
        "dashboard_review",
    ]
    assert all(r.ours_s is not None for r in results), [r.notes for r in results]
    by_name = {r.name: r for r in results}
    assert by_name["tensorboard_read"].peer == "tbparse" and by_name["tensorboard_read"].ratio
    assert by_name["analyze_vs_trainspotter"].peer_s is not None
    assert by_name["fleet_review"].extra["runs"] == TINY.fleet_runs
    assert by_name["fleet_review"].extra["peak_rss_mb"] > 0
    assert by_name["dashboard_payload"].extra["bytes"] > 0
    curve = by_name["analyze_run"].extra["scaling"]
    assert [p["points"] for p in curve] == list(TINY.scaling)
    assert plot.is_file() and plot.read_bytes()[:4] == b"\x89PNG"
    doc = document(results, TINY, 0.0)
    _check_document(doc)
    table = format_table(results, TINY)
    assert "| benchmark" in table and "TINY mode" in table and "tensorboard_read" in table


def test_a_failing_benchmark_is_a_result_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(sizes, plot):
        raise RuntimeError("no disk")

    monkeypatch.setitem(BENCHMARKS, "tensorboard_read", boom)
    (r,) = run_suite(TINY, ["tensorboard_read"], None, log=lambda s: None)
    assert r.ours_s is None and r.met is False and "no disk" in r.notes
    with pytest.raises(ValueError, match="unknown benchmark"):
        run_suite(TINY, ["nope"], None, log=lambda s: None)


def test_cli_writes_the_json(bench_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = bench_dir / "bench.json"
    assert main(["--size", "tiny", "--only", "tensorboard_read", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    _check_document(doc)
    assert [r["name"] for r in doc["results"]] == ["tensorboard_read"]
    printed = capsys.readouterr().out
    assert "scaled down" in printed and "| tensorboard_read" in printed
    assert main(["--size", "tiny", "--only", "nope"]) == 2


def test_best_of_stops_at_the_budget() -> None:
    calls: list[int] = []
    t = best_of(lambda: calls.append(1) or len(calls), repeats=5, budget_s=0.0)
    assert len(calls) == 1 and t.value == 1 and len(t.times) == 1
    assert Result("x", 1.0, ratio=2.0).as_json()["ratio"] == 2.0


@pytest.mark.mlflow_server
def test_mlflow_fetch_paths_on_the_shared_server(mlflow_server: MlflowServer) -> None:
    """The server is shared with the reader tests: the experiment is deleted afterwards."""
    exp = "bench-smoke"
    exp_id = mlflow_fetch.log_fleet(
        mlflow_server.url, 2, mlflow_fetch.METRIC_KEYS, 120, experiment=exp
    )
    try:
        expected = 2 * 3 * 120
        assert mlflow_fetch.fetch_ours(mlflow_server.url, exp) == expected
        assert mlflow_fetch.fetch_naive(mlflow_server.url, exp) == expected
        raw = mlflow_fetch.rest_floor(mlflow_server.url, mlflow_fetch.METRIC_KEYS, 120, exp)
        assert set(raw["bulk"]) == set(mlflow_fetch.FLOOR_THREADS)  # every count got all points
        assert raw["threads"] in mlflow_fetch.FLOOR_THREADS and raw["interval"] > 0
    finally:
        mlflow_server.client().delete_experiment(exp_id)


@pytest.mark.mlflow_server
def test_mlflow_refresh_paths_on_the_shared_server(mlflow_server: MlflowServer) -> None:
    """Quick mode of ``mlflow_refresh``: its measure() on a 2-run fleet of the shared server
    (one run set RUNNING and given new steps twice); the experiment is deleted afterwards."""
    exp = "bench-refresh-smoke"
    exp_id = mlflow_fetch.log_fleet(
        mlflow_server.url, 2, mlflow_fetch.METRIC_KEYS, 120, experiment=exp
    )
    try:
        sizes = replace(TINY, mlflow_runs=2, mlflow_steps=120, repeats=2)
        r = mlflow_refresh.measure(mlflow_server.url, sizes, exp)
        assert r.name == "mlflow_refresh" and r.ours_s and r.peer_s and r.ratio
        assert r.extra["running_runs"] == 1 and r.extra["new_steps"] == 10
        assert r.extra["points"] == 2 * 3 * 120 + 2 * 3 * 10  # every new point was read
        assert len(r.extra["ours_times"]) == 2 and r.extra["cache_mb"] > 0
    finally:
        mlflow_server.client().delete_experiment(exp_id)
