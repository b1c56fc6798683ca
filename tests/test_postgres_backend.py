"""PostgreSQL as the team backend: a real PostgreSQL (tests/fixtures_postgres.py) behind a
real ``mlflow server --backend-store-uri postgresql://…``, runs logged through the real
``MlflowClient`` (one left RUNNING), reviewed with ``lrtempo review``.

Skipped, with the reason, when neither PostgreSQL's binaries nor the ``pgserver`` wheel
(nor a driver) are installed here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import curves as synthetic
from tests.fixtures_mlflow import MlflowServer, _running, log_run
from tests.fixtures_postgres import start_postgres, unavailable

pytestmark = pytest.mark.mlflow_server

#: The runs logged, with the status each synthetic series was made to have (ground truth).
TRUTH = {"steady": "healthy", "blowup": "divergence", "wobbly": "oscillation", "live": "healthy"}
EXPERIMENT = "team/pg-review"


@pytest.fixture(scope="module")
def postgres_uri() -> Iterator[str]:
    why = unavailable()
    if why:
        pytest.skip(why)
    try:
        uri, stop = start_postgres()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield uri
    finally:
        stop()


@pytest.fixture(scope="module")
def pg_server(
    postgres_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlflowServer]:
    """``mlflow server`` on the PostgreSQL database, holding the :data:`TRUTH` runs."""
    for server in _running(tmp_path_factory.mktemp("mlflow_pg"), backend_uri=postgres_uri):
        client = server.client()
        exp = client.create_experiment(EXPERIMENT)
        series = {
            "steady": synthetic.healthy(600, seed=11),
            "blowup": synthetic.divergence(500, seed=12, variant="explosion"),
            "wobbly": synthetic.oscillation(1000, seed=13),
            "live": synthetic.healthy(400, seed=14),
        }
        start = time.time() - 4 * 3600
        for i, (name, s) in enumerate(series.items()):
            log_run(
                client,
                exp,
                name,
                {"loss": list(s.values), "lr": list(s.lr)},
                steps=list(s.steps),
                start_time=start + 900 * i,
                params={"lr": "0.001", "batch_size": "64"},
                tags={"mlflow.user": "alice"},
                status=None if name == "live" else "FINISHED",
            )
        yield server


def lrtempo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lrtempo", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_runs_live_in_postgresql(postgres_uri: str, pg_server: MlflowServer) -> None:
    """The server really keeps them in PostgreSQL (not a sqlite file beside it)."""
    from tests.fixtures_postgres import _connect

    conn = _connect(postgres_uri)
    try:
        cur = conn.cursor()
        cur.execute("SELECT name, status FROM runs ORDER BY name")
        rows = dict(cur.fetchall())
        cur.execute("SELECT count(*) FROM metrics WHERE key = 'loss'")
        (points,) = cur.fetchone()
    finally:
        conn.close()
    assert rows == {
        "blowup": "FINISHED",
        "live": "RUNNING",
        "steady": "FINISHED",
        "wobbly": "FINISHED",
    }
    assert points == 600 + 500 + 1000 + 400
    assert not (pg_server.root / "mlflow.db").exists()


def test_review_of_the_postgresql_backed_server(pg_server: MlflowServer, tmp_path: Path) -> None:
    """``lrtempo review`` of the server: the health table, the RUNNING run "so far"."""
    out = tmp_path / "review.json"
    proc = lrtempo("review", pg_server.url, "--experiment", EXPERIMENT, "-q", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "wrote the json report of 4 run(s)" in proc.stderr
    doc = json.loads(out.read_text())
    assert doc["errors"] == []
    table = {r["run"]["name"]: r["status"] for r in doc["runs"]}
    assert table == TRUTH
    for r in doc["runs"]:
        assert r["run"]["source"] == "mlflow"
        assert r["run"]["location"].startswith(f"{pg_server.url}/#/experiments/")
        assert r["metrics"] == {"train_loss": "loss", "lr": "lr"}
    text = lrtempo("review", pg_server.url, "--experiment", EXPERIMENT, "-q")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("LR Tempo: 4 run(s) — 1 divergence, 1 oscillation, 2 healthy")
    assert re.search(r"^live  \[healthy \(so far\), RUNNING\]", text.stdout, re.MULTILINE)
    assert re.search(r"^blowup  \[divergence, FINISHED\]", text.stdout, re.MULTILINE)


def test_analyze_reads_a_postgresql_uri(postgres_uri: str, pg_server: MlflowServer) -> None:
    """The same table from the database URI itself (no server in between), read-only."""
    proc = lrtempo("analyze", postgres_uri, "--experiment", EXPERIMENT, "--format", "json", "-q")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert {r["run"]["name"]: r["status"] for r in doc["runs"]} == TRUTH


def test_the_skip_reason_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without PostgreSQL's binaries and without pgserver the tests above skip, saying how
    to get either (the fixture skips with exactly this reason)."""
    import tests.fixtures_postgres as fp

    monkeypatch.delenv(fp.FORCE_ENV, raising=False)
    monkeypatch.setattr(fp, "bindir", lambda: None)
    monkeypatch.setattr(fp, "has_pgserver", lambda: False)
    why = fp.unavailable()
    assert why is not None
    assert "apt-get install postgresql-15" in why and "pip install pgserver" in why
    monkeypatch.setattr(fp, "has_pgserver", lambda: True)
    assert fp.unavailable() is None
    monkeypatch.setenv(fp.FORCE_ENV, "pgserver")
    monkeypatch.setattr(fp, "has_pgserver", lambda: False)
    assert "pgserver is not installed" in (fp.unavailable() or "")


def test_without_psycopg_a_postgresql_uri_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """psycopg is optional: without it the URI is refused in one line (no traceback), with
    the password left out."""
    from analyzer.errors import SourceError
    from analyzer.readers.mlflow_store import postgres_store, read_mlflow

    monkeypatch.setattr(postgres_store, "_psycopg", lambda: None)
    with pytest.raises(SourceError) as err:
        read_mlflow("postgresql+psycopg2://bob:s3cret@db.internal:5432/mlflow")
    assert err.value.kind == "config" and "pip install 'psycopg[binary]'" in str(err.value)
    assert "s3cret" not in str(err.value)
