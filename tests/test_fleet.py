"""Fleet review: local, process pool and Dask executors give the same results, in order."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from analyzer import fleet
from analyzer.analysis import analyze_run
from analyzer.fleet import ExecutorSpec, parse_executor, review
from analyzer.readers import read_sources
from analyzer.report import build_document
from tests.conftest import SAMPLE_RUNS
from tests.fixtures_mlflow import file_store, log_run


def _reference(sources: list[str]) -> list[dict]:
    """What reading everything, then analyzing, gives (the CLI's path)."""
    result = read_sources(sources)
    return [analyze_run(r).to_dict() for r in result.runs]


@pytest.fixture(scope="module")
def local() -> fleet.FleetReview:
    return review([str(SAMPLE_RUNS)])


def test_local_matches_read_then_analyze(local: fleet.FleetReview) -> None:
    assert local.errors == []
    assert len(local.analyses) >= 10
    assert local.to_dicts() == _reference([str(SAMPLE_RUNS)])
    assert local.executor == "local"


def test_process_pool_is_identical_and_in_order(local: fleet.FleetReview) -> None:
    got = review([str(SAMPLE_RUNS)], executor="processes:2")
    assert got.executor == "processes:2"
    assert got.to_dicts() == local.to_dicts()
    assert got.errors == local.errors


def test_dask_local_cluster_is_identical(local: fleet.FleetReview) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        got = review([str(SAMPLE_RUNS)], executor=f"dask://{address}")
    assert got.executor == f"dask://{address}"
    assert got.to_dicts() == local.to_dicts()


def test_dask_threads_in_process_cluster(local: fleet.FleetReview) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        dashboard_address=None,
    ) as cluster:
        got = review([str(SAMPLE_RUNS)], executor=cluster.scheduler_address)
    assert got.to_dicts() == local.to_dicts()


def test_sources_keep_their_order_and_bad_ones_are_errors(tmp_path: Path) -> None:
    plain = SAMPLE_RUNS / "plain_csv" / "resnet18_cifar_cosine.csv"
    keras = SAMPLE_RUNS / "keras" / "cnn_overfit.log"
    broken = tmp_path / "broken.csv"
    broken.write_text("step,loss\n1,0.5\n2,\n", encoding="utf-8")
    sources = [str(keras), str(tmp_path / "missing.csv"), str(plain)]
    for ex in ("local", "processes:2"):
        got = review(sources, executor=ex)
        assert [a.meta.location for a in got.analyses] == [str(keras), str(plain)]
        assert got.errors == [
            {"location": str(tmp_path / "missing.csv"), "error": "no such file or folder"}
        ]


def test_role_override_error_and_extra_hook() -> None:
    plain = str(SAMPLE_RUNS / "plain_csv" / "resnet18_cifar_cosine.csv")
    got = review([plain], train_loss="no_such_metric")
    assert got.analyses == [] and len(got.errors) == 1
    assert "no_such_metric" in got.errors[0]["error"]
    got = review([plain], extra=_point_count, executor="processes:1")
    (a,) = got.analyses
    assert got.extras[a.meta.id] > 0


def _point_count(run, analysis) -> int:  # module level: picklable
    return len(run.frame)


def test_since_filters_file_runs(local: fleet.FleetReview) -> None:
    assert review([str(SAMPLE_RUNS)], since=time.time() + 10 * 86400).analyses == []


def test_mlflow_file_store_batches_match_read_mlflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, uri, client = file_store(tmp_path, monkeypatch)
    exp = client.create_experiment("fleet")
    rng = np.random.default_rng(3)
    now = time.time()
    for i in range(5):
        n = 80 + 10 * i
        loss = 2.0 * np.exp(-np.arange(n) / 30) + 0.02 * rng.standard_normal(n)
        log_run(
            client,
            exp,
            f"run-{i}",
            {"loss": list(loss), "lr": [0.01] * n},
            start_time=now - 600 + i,
        )
    expected = _reference([uri])
    assert len(expected) == 5
    for ex, batch in (("local", 2), ("processes:2", 1)):
        got = review([uri], executor=ex, mlflow_batch=batch)
        assert got.errors == []
        assert got.to_dicts() == expected
    doc = build_document(review([uri]).analyses, [])
    assert [r["run"]["name"] for r in doc["runs"]] == [f"run-{i}" for i in range(4, -1, -1)]


def test_unreachable_mlflow_is_an_error_entry() -> None:
    got = review(["http://127.0.0.1:9/", str(SAMPLE_RUNS / "keras" / "cnn_overfit.log")])
    assert len(got.analyses) == 1
    assert got.errors and got.errors[0]["location"].startswith("http://127.0.0.1:9")


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        ("local", ExecutorSpec("local")),
        (" LOCAL ", ExecutorSpec("local")),
        ("processes:3", ExecutorSpec("processes", 3)),
        ("dask://10.0.0.5:8786", ExecutorSpec("dask", address="10.0.0.5:8786")),
        ("tcp://sched:8786/", ExecutorSpec("dask", address="sched:8786")),
    ],
)
def test_parse_executor(value: str, spec: ExecutorSpec) -> None:
    assert parse_executor(value) == spec
    assert parse_executor(str(spec)) == spec


def test_parse_executor_bare_processes_uses_the_cores() -> None:
    spec = parse_executor("processes")
    assert spec.kind == "processes" and spec.workers >= 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("processes:0", "at least 1 worker"),
        ("processes:two", "'two' is not a whole number"),
        ("dask://", "expected dask://HOST:PORT"),
        ("dask://host", "expected dask://HOST:PORT"),
        ("dask://host:99999", "not a TCP port"),
        ("threads:4", "unknown kind"),
        ("ray://x:1", "unknown kind"),
    ],
)
def test_parse_executor_errors_name_the_value(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_executor(value)
    assert repr(value) in str(info.value)
    assert "processes:N" in str(info.value) or "dask://" in str(info.value)


def test_bad_executor_and_batch_raise_before_any_work() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        review([str(SAMPLE_RUNS)], executor="gpu")
    with pytest.raises(ValueError, match="mlflow_batch"):
        review([str(SAMPLE_RUNS)], mlflow_batch=0)


def test_unreachable_dask_scheduler_is_a_value_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    import distributed

    def refuse(*args, **kwargs):
        raise OSError("Timed out trying to connect to tcp://127.0.0.1:9")

    monkeypatch.setattr(distributed, "Client", refuse)
    with pytest.raises(ValueError, match="cannot reach the Dask scheduler"):
        review([str(SAMPLE_RUNS)], executor="dask://127.0.0.1:9")


def test_a_wide_scan_is_batched_and_stays_in_order(tmp_path: Path) -> None:
    """Issue 14 row 8: many small files go 32 to a task on a pool; results, errors and
    their order are those of reading them one after another; units pass as they are."""
    from analyzer.readers import expand_sources

    for i in range(75):  # 2 full batches and a part, with bad files between them
        (tmp_path / f"run_{i:03d}.csv").write_text(
            "step,loss\n" + "".join(f"{s},{2 / (s + 1) + 0.01 * (i % 5)}\n" for s in range(30))
        )
    for i in (10, 40, 70):
        (tmp_path / f"run_{i:03d}b.csv").write_bytes(b"")  # unreadable, between good ones
    tasks = list(fleet._file_batches(iter(expand_sources([str(tmp_path)])), fleet.FILE_BATCH))
    assert [len(t.units) for t in tasks] == [32, 32, 14]
    got = review([str(tmp_path)], executor="processes:2")
    assert got.to_dicts() == _reference([str(tmp_path)])
    assert [e["location"] for e in got.errors] == [
        str(tmp_path / f"run_{i:03d}b.csv") for i in (10, 40, 70)
    ]
    units = expand_sources([str(tmp_path)])
    assert review(units, executor="processes:2").to_dicts() == got.to_dicts()


def test_the_cli_reads_a_wide_scan_on_every_core_with_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import subprocess
    import sys

    from analyzer import cli

    for i in range(210):
        (tmp_path / f"run_{i:03d}.csv").write_text(
            "step,loss,lr\n"
            + "".join(
                f"{s},{2 / (s + 1) + 0.01 * (i % 7)},{1e-3 * (1 + i % 3)}\n" for s in range(30)
            )
        )
    units = cli.expand_sources([str(tmp_path)])
    monkeypatch.setattr(cli, "_cores", lambda: 2)
    assert cli.auto_executor(units) == "processes:2"
    assert cli.auto_executor(units[:199]) is None
    assert cli.auto_executor([*units, "http://mlflow:5000"]) is None
    monkeypatch.setattr(cli, "_cores", lambda: 1)
    assert cli.auto_executor(units) is None
    docs = []
    for extra in ([], ["sequential"]):  # on 2 processes, then one file after another
        code = (
            "import sys, analyzer.cli as c\n"
            "if len(sys.argv) > 2: c.PARALLEL_MIN_FILES = 10**9\n"
            "from lrtempo.cli import main\n"
            "sys.exit(main(['analyze', sys.argv[1], '--format', 'json', '-q']))"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path), *extra],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        docs.append(json.loads(proc.stdout))
    assert len(docs[0]["runs"]) == 210 and docs[0] == docs[1]
