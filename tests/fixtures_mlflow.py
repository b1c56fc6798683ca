"""A real MLflow tracking server for tests, and helpers that log runs to it.

``mlflow_server`` (session scope) starts ``python -m mlflow server`` on a free local
port with a sqlite backend in a temporary folder, in its own process group, waits for
``/health`` and kills the whole group at teardown (the server itself:
:mod:`benchmarks.mlflow_server`, shared with the benchmarks). :func:`log_run` logs a run
through the real ``MlflowClient`` (``log_batch`` in chunks), with a chosen start time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from benchmarks.mlflow_server import (
    STARTUP_TIMEOUT,
    MlflowServer,
    free_port,
    start_server,
    stop_server,
)

#: MLflow accepts at most 1,000 metrics per log_batch call.
BATCH = 1000


def _running(root: Path, **options: Any) -> Iterator[MlflowServer]:
    """A real server under ``root`` (``start_server`` options) until the generator closes;
    a server that does not start fails the test that asked for it."""
    try:
        server, proc = start_server(root, **options)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One real MLflow server for the whole test session."""
    yield from _running(tmp_path_factory.mktemp("mlflow_server"))


#: The admin of :func:`auth_server` (MLflow ships no default password).
AUTH_USER, AUTH_PASSWORD = "admin", "Adm1n-pass-for-tests"


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real ``mlflow server --app-name basic-auth`` (admin :data:`AUTH_USER`); skipped
    when MLflow's auth extra (Flask-WTF, ``pip install 'mlflow[auth]'``) is missing."""
    import importlib.util

    if importlib.util.find_spec("flask_wtf") is None:
        pytest.skip("mlflow[auth] is not installed (Flask-WTF missing): no basic-auth server")
    env = {"MLFLOW_AUTH_ADMIN_PASSWORD": AUTH_PASSWORD, "MLFLOW_FLASK_SERVER_SECRET_KEY": "tests"}
    yield from _running(tmp_path_factory.mktemp("mlflow_auth"), app_name="basic-auth", env=env)


def file_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, Any]:
    """A fresh MLflow file store under ``tmp_path/mlruns``: (root, its URI, a client on it)."""
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    root = tmp_path / "mlruns"
    return root, root.as_uri(), MlflowClient(tracking_uri=root.as_uri())


def log_run(
    client: Any,
    experiment_id: str,
    name: str,
    metrics: Mapping[str, Sequence[float]],
    *,
    start_time: float | None = None,
    steps: Sequence[int] | None = None,
    seconds_per_step: float = 1.0,
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    status: str | None = "FINISHED",
) -> str:
    """Log one run through the real client; returns its run id.

    ``metrics`` maps a key to its values at ``steps`` (default ``0..n-1``); point ``i`` is
    stamped ``start_time + steps[i] * seconds_per_step``. ``status=None`` leaves it RUNNING.
    """
    from mlflow.entities import Metric, Param

    start = time.time() if start_time is None else start_time
    run = client.create_run(
        experiment_id, start_time=int(start * 1000), run_name=name, tags=dict(tags or {})
    )
    run_id = run.info.run_id
    points = []
    for key, values in metrics.items():
        at = list(range(len(values))) if steps is None else list(steps)
        points += [
            Metric(key, float(v), int((start + s * seconds_per_step) * 1000), int(s))
            for s, v in zip(at, values)
        ]
    param_list = [Param(k, str(v)) for k, v in (params or {}).items()]
    client.log_batch(run_id, params=param_list)
    for i in range(0, len(points), BATCH):
        client.log_batch(run_id, metrics=points[i : i + BATCH])
    if status is not None:
        end = (
            start
            + max((max(len(v) for v in metrics.values()) if metrics else 0), 1) * seconds_per_step
        )
        client.set_terminated(run_id, status=status, end_time=int(end * 1000))
    return run_id


__all__ = [
    "AUTH_PASSWORD",
    "AUTH_USER",
    "STARTUP_TIMEOUT",
    "MlflowServer",
    "auth_server",
    "free_port",
    "log_run",
    "mlflow_server",
    "start_server",
    "stop_server",
]
