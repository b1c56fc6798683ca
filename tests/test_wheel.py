"""Packaging: the wheel demos outside the checkout; the Dash private API we lean on.

The wheel is built from a copy of the packaging inputs (nothing is written into the
checkout) and installed into a fresh virtual environment in a temporary folder, without
the system's site-packages. Its dependencies come from this test run's own environment
through a ``.pth`` line (pip installs with ``--no-index``, so a runtime dependency that is
missing or out of its range there fails the install); lrtempo itself, its code and its
sample runs, come from the wheel only: the demo runs with its working directory outside
the checkout, and the test checks where each module was imported from. The wheel is
installed with its ``mlflow`` extra (the demo seeds its store with MLflow's client), as the
README tells a user to; without the extra, reading and analysing (MLflow stores included)
need no ``mlflow`` nor ``tensorboard`` package, and what needs MLflow's client says in one
line what to install.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest
import requests

from analyzer import read_sources
from tests.conftest import REPO, SAMPLE_RUNS

#: What ``pip wheel`` reads: the packaging files and the packages (with sample_runs/).
BUILD_INPUTS = (
    "pyproject.toml",
    "setup.py",
    "README.md",
    "analyzer",
    "dashboard",
    "lrtempo",
    "sample_runs",
)
DEMO_STARTUP_S = 120.0


def _run(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, cwd=cwd, env=env, check=False
    )
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the demo's process group, SIGKILL it if still there after 10 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue
        return


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lrtempo's wheel, built from a copy of the checkout's packaging inputs."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in BUILD_INPUTS:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=skip)
        else:
            shutil.copy2(path, src / name)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(root / "dist"),
            str(src),
        ],
        cwd=root,
    )
    [built] = (root / "dist").glob("lrtempo-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout with the wheel installed; returns its bin/."""
    root = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(root)])
    [site] = root.glob("lib/python*/site-packages")
    deps = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    (site / "_lrtempo_test_dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(root / "bin" / "python"),
            "install",
            "-q",
            "--no-index",
            f"{wheel}[mlflow]",  # the demo's extra (pip checks its dependencies are there)
        ],
        cwd=root,
    )
    return root / "bin"


def test_wheel_ships_code_assets_and_every_sample(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    samples = {
        p.relative_to(SAMPLE_RUNS).as_posix()
        for p in SAMPLE_RUNS.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert samples and {f"lrtempo/sample_runs/{s}" for s in samples} <= names
    assets = {p.name for p in (REPO / "dashboard" / "assets").iterdir() if p.is_file()}
    assert {f"dashboard/assets/{a}" for a in assets} <= names
    code = {
        p.relative_to(REPO).as_posix()
        for pkg in ("analyzer", "dashboard", "lrtempo")
        for p in (REPO / pkg).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert code <= names
    assert not any(n.startswith(("tests/", "benchmarks/", "sample_runs/")) for n in names)


def test_installed_wheel_runs_the_demo_outside_the_checkout(venv: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["LRTEMPO_HOME"] = str(tmp_path / "home")
    script = (
        "import analyzer, dashboard, lrtempo.cli as c; "
        "print(analyzer.__file__, dashboard.__file__, c.__file__, c.sample_runs())"
    )
    where = _run([str(venv / "python"), "-c", script], cwd=tmp_path, env=env).stdout.split()
    assert all(Path(p).is_relative_to(venv.parent) for p in where), where
    assert Path(where[-1]).name == "sample_runs"

    port = _free_port()
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(venv / "lrtempo"), "demo", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        layout = None
        deadline = time.monotonic() + DEMO_STARTUP_S
        while layout is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                resp = requests.get(f"http://127.0.0.1:{port}/_dash-layout", timeout=5)
                layout = resp.json() if resp.status_code == 200 else None
            except requests.RequestException:
                time.sleep(0.5)
        assert layout is not None, (
            f"the demo did not serve /_dash-layout:\n{log.read_text(errors='replace')[-3000:]}"
        )
        assert "LR Tempo" in json.dumps(layout)
    finally:
        _stop(proc)
    seeded = json.loads((tmp_path / "home" / "demo" / "seeded.json").read_text())
    assert seeded["runs"] == len(read_sources([str(SAMPLE_RUNS)]).runs)


def test_dash_private_setup_server_still_collects_page_callbacks() -> None:
    """``create_app`` calls Dash's private ``Dash._setup_server()`` (so ``dash`` has an upper
    bound in pyproject.toml): each of two apps in one process must get every page callback,
    once. This fails when a Dash release changes that private behaviour."""
    from dashboard.app import create_app

    apps = [create_app([]), create_app([])]
    deps = [app.server.test_client().get("/_dash-dependencies").get_json() for app in apps]
    outputs = [sorted(d["output"] for d in dep) for dep in deps]
    assert outputs[0] and outputs[0] == outputs[1]
    assert all(len(out) == len(set(out)) for out in outputs)
    pages = {p.stem for p in (REPO / "dashboard" / "pages").glob("*.py") if p.stem[0] != "_"}
    for app in apps:  # Dash loads the page modules under its own names (pages.review)
        modules = {
            str(getattr(c.get("callback"), "__module__", "")).rsplit(".", 1)[-1]
            for c in app.callback_map.values()
        }
        assert pages <= modules, f"page callbacks missing from an app: {sorted(pages - modules)}"


def test_workers_without_gunicorn_name_the_serve_extra() -> None:
    script = (
        "import sys; sys.modules['gunicorn'] = None; from lrtempo.cli import main; "
        "sys.exit(main(['dashboard', '--workers', '2']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        "lrtempo: --workers 2 needs gunicorn: pip install 'lrtempo[serve]' (or serve with "
        "--workers 1)"
    )


def _without(
    modules: tuple[str, ...], *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``lrtempo args`` in a fresh interpreter where ``modules`` cannot be imported."""
    script = (
        "import sys; "
        + "".join(f"sys.modules[{m!r}] = None; " for m in modules)
        + "from lrtempo.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )


def test_demo_without_mlflow_names_the_extra(tmp_path: Path) -> None:
    env = {**os.environ, "LRTEMPO_HOME": str(tmp_path / "home")}
    proc = _without(("mlflow",), "demo", "--no-serve", env=env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        "lrtempo: the demo (seeding its MLflow store) needs MLflow's client: "
        "pip install 'lrtempo[mlflow]'"
    )
    assert not (tmp_path / "home" / "demo").exists()  # nothing created, nothing deleted


def test_mlflow_store_is_reviewed_without_mlflow_and_write_tags_names_the_extra(
    tmp_path: Path,
) -> None:
    """A sqlite MLflow store (seeded here with MLflow's client) is read and analysed with
    ``mlflow`` and ``tensorboard`` unimportable; ``--write-tags`` then names the extra."""
    from dashboard.demo import seed_store

    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    n = seed_store(uri, SAMPLE_RUNS / "tensorboard")
    blocked = ("mlflow", "tensorboard", "tensorboardX")
    proc = _without(blocked, "analyze", uri, "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    assert len(json.loads(proc.stdout)["runs"]) == n == 1
    before = db.read_bytes()
    proc = _without(blocked, "review", uri, "--write-tags", "--format", "json")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "lrtempo: writing MLflow tags needs MLflow's client: pip install 'lrtempo[mlflow]'"
    )
    assert db.read_bytes() == before
