"""A real MLflow tracking server in a subprocess, for the tests and the benchmarks.

:func:`start_server` starts ``python -m mlflow server`` on a free local port with a
sqlite backend under a folder, in its own process group, and waits for ``/health``;
:func:`stop_server` kills the whole group; :func:`running` does both around a block.

It lives here, not in ``tests/``, so that benchmarks (which never import the tests) and
the tests (``tests/fixtures_mlflow.py``, which adds the pytest fixtures) share one copy;
and not in the runtime packages, which ship no test-only code.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Seconds to wait for the server's /health (startup takes 10–45 s on a busy machine).
STARTUP_TIMEOUT = 120.0


@dataclass(frozen=True)
class MlflowServer:
    """A running server: its base URL, backend database and log file."""

    url: str
    db_path: Path
    root: Path
    log_path: Path

    @property
    def sqlite_uri(self) -> str:
        return f"sqlite:///{self.db_path}"

    def client(self) -> Any:
        """A real ``mlflow.MlflowClient`` talking to this server."""
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.url)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    import requests

    try:
        return requests.get(f"{url}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL what is left."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            # the leader is gone; uvicorn workers may linger in the group
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue
        return


def start_server(
    root: Path,
    *,
    workers: int = 1,
    timeout: float = STARTUP_TIMEOUT,
    app_name: str | None = None,
    env: Mapping[str, str] | None = None,
    backend_uri: str | None = None,
) -> tuple[MlflowServer, subprocess.Popen[bytes]]:
    """Start ``mlflow server`` under ``root`` and wait until it answers ``/health``.

    ``app_name`` picks a server app (``basic-auth``); ``env`` adds ``MLFLOW_*`` settings
    (every other ``MLFLOW_*`` variable of this process is left out); ``backend_uri``
    replaces the sqlite backend under ``root`` (e.g. ``postgresql://…``).
    """
    port = free_port()
    db = root / "mlflow.db"
    artifacts = root / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        backend_uri or f"sqlite:///{db}",
        "--artifacts-destination",
        str(artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        *(["--app-name", app_name] if app_name else []),
    ]
    server_env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    server_env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no huey job workers: faster
    server_env.update(env or {})
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=root,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = MlflowServer(f"http://127.0.0.1:{port}", db, root, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {proc.returncode}:\n{_tail(log_path)}")
        if _healthy(server.url):
            return server, proc
        time.sleep(0.5)
    stop_server(proc)
    raise RuntimeError(f"mlflow server not healthy after {timeout:.0f} s:\n{_tail(log_path)}")


@contextmanager
def running(root: Path, **options: Any) -> Iterator[MlflowServer]:
    """A server under ``root`` (:func:`start_server` options) for the block, then stopped."""
    server, proc = start_server(root, **options)
    try:
        yield server
    finally:
        stop_server(proc)


__all__ = ["STARTUP_TIMEOUT", "MlflowServer", "free_port", "running", "start_server", "stop_server"]
