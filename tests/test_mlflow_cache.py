"""The local MLflow history cache, against a real ``mlflow server`` on loopback.

Requests are counted by wrapping the reader's one transport method (``_HttpStore._call``,
which still sends every request to the real server); nothing of MLflow is mocked.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analyzer.readers import mlflow_store as ms
from analyzer.readers.mlflow_cache import (
    Entry,
    MetricCache,
    Plan,
    Series,
    bypassed,
    cache_path,
    merge,
    plan,
)
from lrtempo.cli import main
from tests.fixtures_mlflow import MlflowServer, log_run

HISTORY = {"metrics/get-history", "metrics/get-history-bulk", "metrics/get-history-bulk-interval"}
REPO = Path(__file__).resolve().parents[1]
_names = itertools.count()


@pytest.fixture
def cache_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home" / "mlflow.sqlite"
    monkeypatch.setenv("LRTEMPO_MLFLOW_CACHE", str(path))
    return path


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict]]:
    """Every REST call the reader makes: (method, endpoint, params)."""
    seen: list[tuple[str, str, dict]] = []
    real = ms._HttpStore._call

    def counting(self, method, endpoint, **kw):  # type: ignore[no-untyped-def]
        seen.append((method, endpoint, dict(kw.get("params") or {})))
        return real(self, method, endpoint, **kw)

    monkeypatch.setattr(ms._HttpStore, "_call", counting)
    return seen


def _history_calls(calls: list[tuple[str, str, dict]]) -> list[tuple[str, str]]:
    return [(ep, p.get("run_id") or p.get("run_ids")) for _, ep, p in calls if ep in HISTORY]


_created: list[tuple[object, str]] = []


@pytest.fixture(autouse=True)
def _delete_experiments() -> Iterator[None]:
    """The server is shared with the reader tests: experiments made here are deleted."""
    yield
    while _created:
        client, exp_id = _created.pop()
        client.delete_experiment(exp_id)


def _experiment(server: MlflowServer) -> tuple[str, str, object]:
    name = f"cache-{os.getpid()}-{next(_names)}-{time.time_ns()}"
    client = server.client()
    exp_id = client.create_experiment(name)
    _created.append((client, exp_id))
    return name, exp_id, client


START = time.time() - 86_400


def _curve(n: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(2.0 * np.exp(-np.arange(n) / 50) + 0.05 * rng.standard_normal(n))


def _log(
    client, exp_id: str, name: str, n: int, *, status: str | None = "FINISHED", start: float = START
) -> str:
    return log_run(
        client,
        exp_id,
        name,
        {"loss": _curve(n, 1), "val_loss": _curve(n, 2)},
        start_time=start,
        status=status,
    )


def _read(server: MlflowServer, exp: str) -> dict[str, pd.DataFrame]:
    res = ms.read_mlflow(server.url, experiment=exp)
    assert not res.errors, res.errors
    return {r.meta.id: r.frame for r in res.runs}


def _fresh(server: MlflowServer, exp: str) -> dict[str, pd.DataFrame]:
    with bypassed():
        return _read(server, exp)


def _same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for rid, frame in a.items():
        pd.testing.assert_frame_equal(frame, b[rid])


def _only_reads(calls: list[tuple[str, str, dict]]) -> None:
    """Nothing is ever written to the user's server."""
    assert all(m == "GET" or ep in ms.READ_ONLY_POSTS for m, ep, _ in calls), calls


@pytest.mark.mlflow_server
def test_second_read_fetches_nothing_for_finished_runs(
    mlflow_server: MlflowServer, cache_file: Path, calls: list
) -> None:
    exp, exp_id, client = _experiment(mlflow_server)
    ids = [_log(client, exp_id, f"r{i}", 120, start=START + i) for i in range(3)]
    first = _read(mlflow_server, exp)
    assert sorted(r for _, r in _history_calls(calls)) == sorted(ids * 2)  # 3 runs x 2 keys
    assert cache_file.is_file()
    calls.clear()
    second = _read(mlflow_server, exp)
    assert _history_calls(calls) == []
    assert {ep for _, ep, _ in calls} <= {"experiments/get-by-name", "runs/search"}
    _same(first, second)
    _same(second, _fresh(mlflow_server, exp))
    assert all(len(f) == 240 for f in second.values())
    _only_reads(calls)


@pytest.mark.mlflow_server
def test_a_running_run_fetches_only_its_new_steps(
    mlflow_server: MlflowServer, cache_file: Path, calls: list
) -> None:
    from mlflow.entities import Metric

    exp, exp_id, client = _experiment(mlflow_server)
    done = _log(client, exp_id, "done", 80)
    live = _log(client, exp_id, "live", 60, status=None, start=START + 5)
    _read(mlflow_server, exp)
    calls.clear()
    new = [
        Metric(k, 0.5 + s / 1000, int((START + 5 + s) * 1000), s)
        for k in ("loss", "val_loss")
        for s in range(60, 100)
    ]
    client.log_batch(live, metrics=new)
    second = _read(mlflow_server, exp)
    got = _history_calls(calls)
    assert sorted(got) == [("metrics/get-history-bulk-interval", live)] * 2, got
    intervals = [p for _, ep, p in calls if ep == "metrics/get-history-bulk-interval"]
    assert all(p["start_step"] == 59 and p["end_step"] == 99 for p in intervals), intervals
    frame = second[live]
    assert len(frame) == 200 and frame["step"].max() == 99
    assert frame.loc[frame["step"] == 99, "value"].tolist() == [0.599, 0.599]
    assert len(second[done]) == 160
    _same(second, _fresh(mlflow_server, exp))
    calls.clear()  # nothing new: nothing fetched, not even for the running run
    _same(_read(mlflow_server, exp), second)
    assert _history_calls(calls) == []
    _only_reads(calls)


@pytest.mark.mlflow_server
def test_a_finished_run_whose_end_time_changed_is_fetched_again(
    mlflow_server: MlflowServer, cache_file: Path, calls: list
) -> None:
    exp, exp_id, client = _experiment(mlflow_server)
    a = _log(client, exp_id, "a", 50)
    b = _log(client, exp_id, "b", 50, start=START + 1)
    _read(mlflow_server, exp)
    client.set_terminated(a, status="FINISHED", end_time=int((START + 9_999) * 1000))
    calls.clear()
    second = _read(mlflow_server, exp)
    assert sorted(_history_calls(calls)) == [("metrics/get-history-bulk", a)] * 2
    assert b in second
    calls.clear()
    _read(mlflow_server, exp)
    assert _history_calls(calls) == []


@pytest.mark.mlflow_server
def test_no_cache_reads_fresh_and_leaves_the_cache_alone(
    mlflow_server: MlflowServer,
    cache_file: Path,
    calls: list,
    capsys: pytest.CaptureFixture[str],
) -> None:
    exp, exp_id, client = _experiment(mlflow_server)
    rid = _log(client, exp_id, "a", 100)
    args = ["analyze", mlflow_server.url, "--experiment", exp, "--format", "json", "-q"]
    assert main([*args, "--no-cache"]) == 0
    assert len(_history_calls(calls)) == 2 and not cache_file.exists()
    assert os.environ["LRTEMPO_MLFLOW_CACHE"] == str(cache_file)  # restored
    calls.clear()
    assert main(args) == 0 and len(_history_calls(calls)) == 2  # fills the cache
    # The cache now says the loss diverged; the server does not: only --no-cache sees that.
    cache = MetricCache.open()
    assert cache is not None
    entry = cache.load(mlflow_server.url, rid, ["loss"])
    assert entry is not None
    s = entry.series["loss"]
    cache.save(
        mlflow_server.url,
        rid,
        entry.status,
        entry.end_ms,
        {
            "loss": Series(
                (s.arrays[0], np.exp(s.arrays[0] / 5.0), s.arrays[2]), s.latest_step, s.latest_ts
            )
        },
        reset=False,
    )
    cache.close()
    capsys.readouterr()
    calls.clear()
    assert main(args) == 0 and _history_calls(calls) == []
    cached = json.loads(capsys.readouterr().out)
    assert main([*args, "--no-cache"]) == 0 and len(_history_calls(calls)) == 2
    fresh = json.loads(capsys.readouterr().out)
    assert cached["runs"][0]["status"] == "divergence"  # the doctored cache was read
    assert fresh["runs"][0]["status"] == "healthy"  # and bypassed


@pytest.mark.mlflow_server
def test_a_corrupt_cache_file_is_discarded_with_a_warning(
    mlflow_server: MlflowServer,
    cache_file: Path,
    calls: list,
    caplog: pytest.LogCaptureFixture,
) -> None:
    exp, exp_id, client = _experiment(mlflow_server)
    _log(client, exp_id, "a", 300)
    _log(client, exp_id, "b", 300, start=START + 1)
    expected = _fresh(mlflow_server, exp)
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(b"this is not a database\n" * 500)
    with caplog.at_level("WARNING", logger="lrtempo.mlflow_cache"):
        _same(_read(mlflow_server, exp), expected)
    assert "not readable" in caplog.text and "discarded" in caplog.text
    calls.clear()
    _same(_read(mlflow_server, exp), expected)  # rebuilt: now it serves
    assert _history_calls(calls) == []

    # A cache cut short (a full disk, a copy gone wrong): discarded too.
    size = cache_file.stat().st_size
    assert size > 8192 and not Path(f"{cache_file}-wal").exists()
    with open(cache_file, "r+b") as fh:
        fh.truncate(size // 3)
    caplog.clear()
    with caplog.at_level("WARNING", logger="lrtempo.mlflow_cache"):
        _same(_read(mlflow_server, exp), expected)
    assert "not readable" in caplog.text

    # One damaged history (its CRC no longer matches): only that one is fetched again.
    _read(mlflow_server, exp)
    with sqlite3.connect(cache_file) as db:
        db.execute(
            "UPDATE series SET data = zeroblob(LENGTH(data)) WHERE key = 'loss' AND "
            "rowid = (SELECT MIN(rowid) FROM series WHERE key = 'loss')"
        )
    db.close()
    calls.clear()
    caplog.clear()
    with caplog.at_level("WARNING", logger="lrtempo.mlflow_cache"):
        _same(_read(mlflow_server, exp), expected)
    assert len(_history_calls(calls)) == 1 and "damaged" in caplog.text


_WORKER = """
import sys
from analyzer.readers.mlflow_store import read_mlflow
url, exps = sys.argv[1], sys.argv[2:]
for _ in range(3):
    for exp in exps:
        res = read_mlflow(url, experiment=exp)
        assert not res.errors, res.errors
        print(exp, sum(len(r.frame) for r in res.runs), flush=True)
"""


@pytest.mark.mlflow_server
def test_two_processes_share_the_cache_without_corrupting_it(
    mlflow_server: MlflowServer, cache_file: Path, calls: list
) -> None:
    exps = []
    for _ in range(2):
        exp, exp_id, client = _experiment(mlflow_server)
        for i in range(4):
            _log(client, exp_id, f"r{i}", 400, start=START + i)
        exps.append(exp)
    env = {**os.environ, "LRTEMPO_MLFLOW_CACHE": str(cache_file), "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, mlflow_server.url, *order],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for order in (exps, exps[::-1])
    ]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "warning" not in err.lower() and "cannot be used" not in err, err
        assert {line.split()[1] for line in out.splitlines()} == {str(4 * 2 * 400)}
    with sqlite3.connect(cache_file) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM series").fetchone()[0] == 16
    db.close()
    calls.clear()
    for exp in exps:
        _same(_read(mlflow_server, exp), _fresh(mlflow_server, exp))
    assert list(_history_calls(calls)) == [
        ("metrics/get-history-bulk", c[1]) for c in _history_calls(calls)
    ]
    assert len(_history_calls(calls)) == 16  # the two fresh reads only


def test_the_cache_is_bounded_least_recently_used_first(tmp_path: Path) -> None:
    cache = MetricCache.open(tmp_path / "c.sqlite", cap=10 * 24_000)
    assert cache is not None
    n = 1000  # 24,000 bytes a history
    arrays = (np.arange(n, dtype=np.int64), np.ones(n), np.arange(n, dtype=np.int64))
    for i in range(8):
        cache.save(
            "http://a:5000" if i % 2 else "http://b:5000",
            f"run{i}",
            "FINISHED",
            1,
            {"loss": Series(arrays, n - 1, n - 1)},
            reset=False,
        )
        time.sleep(0.01)
    cache.touch("http://b:5000", ["run0"])  # read again: most recently used
    assert cache.evict() == 0  # 8 x 24 kB is under the cap
    for i in range(8, 12):
        cache.save(
            "http://c:5000",
            f"run{i}",
            "FINISHED",
            1,
            {"loss": Series(arrays, n - 1, n - 1)},
            reset=False,
        )
        time.sleep(0.01)
    assert cache.size() == 12 * 24_000
    assert cache.evict() == 4 and cache.size() <= 0.8 * cache.cap
    kept = {r for (r,) in cache.conn.execute("SELECT run_id FROM runs")}
    assert kept == {"run0", *(f"run{i}" for i in range(5, 12))}
    cache.close()
    again = MetricCache.open(tmp_path / "c.sqlite", cap=48_000)
    assert again is not None and again.load("http://b:5000", "run0", ["loss"]) is not None
    assert again.evict() == 7 and again.size() <= 48_000
    servers = {u for (u,) in again.conn.execute("SELECT uri FROM servers")}
    assert servers == {"http://c:5000"}  # servers left without runs are dropped
    again.close()


def test_the_cache_lives_under_lrtempo_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LRTEMPO_MLFLOW_CACHE", raising=False)
    monkeypatch.setenv("LRTEMPO_HOME", str(tmp_path))
    assert cache_path() == tmp_path / "cache" / "mlflow-histories.sqlite"
    monkeypatch.setenv("LRTEMPO_MLFLOW_CACHE", "off")
    assert MetricCache.open() is None


def test_plan_fetches_only_what_the_listing_says_changed() -> None:
    arrays = (np.arange(3), np.ones(3), np.arange(3) + 1000)
    running = Entry("RUNNING", None, {"loss": Series(arrays, 2, 1002)})
    finished = Entry("FINISHED", 5000, {"loss": Series(arrays, 2, 1002)})
    assert plan(None, "FINISHED", 5000, "loss", (2, 1002)) == Plan("full")
    assert plan(finished, "FINISHED", 5000, "val", (2, 1002)) == Plan("full")  # new key
    assert plan(finished, "FINISHED", 5000, "loss", (2, 1002)) == Plan("hit")
    assert plan(finished, "FINISHED", 6000, "loss", (2, 1002)) == Plan("full")  # end moved
    assert plan(finished, "FAILED", 5000, "loss", (2, 1002)) == Plan("full")
    assert plan(finished, "FINISHED", 5000, "loss", (2, 1003)) == Plan("full")  # re-logged
    assert plan(running, "RUNNING", None, "loss", (2, 1002)) == Plan("hit")
    assert plan(running, "RUNNING", None, "loss", (9, 1009)) == Plan("after", 2, 9)
    assert plan(running, "FINISHED", 7000, "loss", (9, 1009)) == Plan("after", 2, 9)
    assert plan(running, "RUNNING", None, "loss", (1, 1009)) == Plan("full")  # went back
    assert plan(running, "RUNNING", None, "loss", None) == Plan("full")


def test_merge_replaces_the_last_cached_step_and_keeps_mlflow_order() -> None:
    old = (np.array([0, 1, 2]), np.array([1.0, 0.9, 0.8]), np.array([10, 11, 12]))
    new = (np.array([2, 3]), np.array([0.7, 0.6]), np.array([13, 14]))
    step, value, stamp = merge(old, new, 2)
    assert step.tolist() == [0, 1, 2, 3] and value.tolist() == [1.0, 0.9, 0.7, 0.6]
    assert stamp.tolist() == [10, 11, 13, 14]
