"""A real PostgreSQL server for tests: the team backend behind ``mlflow server``.

:func:`start_postgres` finds PostgreSQL's own binaries (Debian's package puts them in
``/usr/lib/postgresql/<major>/bin``; else ``pg_config --bindir``, else ``initdb`` on the
PATH), runs ``initdb`` into a fresh folder under the system temp dir and starts
``postgres`` on a free loopback port (its Unix socket in that folder, fsync off), in its
own process group, and creates the database :data:`DATABASE`. PostgreSQL refuses to run
as root: as root, both run as the ``postgres`` user (``nobody`` if there is none), which
owns the folder. Without the binaries, the ``pgserver`` wheel (its own binaries) is used
if it is installed (or when ``$LRTEMPO_TEST_POSTGRES`` is ``pgserver``). :func:`unavailable`
says why neither can be used (the tests skip).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.fixtures_mlflow import free_port

#: The database the MLflow server keeps its runs in.
DATABASE = "mlflow"
#: The superuser ``initdb`` creates (trust authentication, loopback only).
SUPERUSER = "lrtempo"
#: ``pgserver`` here uses the pgserver wheel even where the system's binaries are.
FORCE_ENV = "LRTEMPO_TEST_POSTGRES"
#: Seconds to wait for the server to accept connections.
STARTUP_TIMEOUT = 60.0


def bindir() -> Path | None:
    """The folder of ``initdb`` and ``postgres`` (the newest Debian major first)."""
    majors = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if majors:
        return Path(majors[-1]).parent
    config = shutil.which("pg_config")
    if config:
        try:
            out = subprocess.run(
                [config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and (Path(out) / "initdb").is_file():
            return Path(out)
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("postgres") else None


def has_pgserver() -> bool:
    import importlib.util

    return importlib.util.find_spec("pgserver") is not None


def unavailable() -> str | None:
    """Why no PostgreSQL server can be started here, or ``None``."""
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is None:
        return "no PostgreSQL driver for SQLAlchemy: pip install 'lrtempo[test]' (psycopg)"
    if os.environ.get(FORCE_ENV) == "pgserver" and not has_pgserver():
        return f"${FORCE_ENV}=pgserver but pgserver is not installed (pip install pgserver)"
    if bindir() is None and not has_pgserver():
        return (
            "no PostgreSQL server binaries (apt-get install postgresql-15, giving "
            "/usr/lib/postgresql/15/bin) and no pgserver wheel (pip install pgserver)"
        )
    return None


def _run_as() -> str | None:
    """The user PostgreSQL runs as: ``None`` (this one) unless this is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError(
        "running as root with neither a 'postgres' nor a 'nobody' user: "
        "PostgreSQL refuses to run as root"
    )


def _connect(uri: str):  # type: ignore[no-untyped-def]
    try:
        import psycopg

        return psycopg.connect(uri, connect_timeout=3, autocommit=True)
    except ImportError:
        import psycopg2

        conn = psycopg2.connect(uri, connect_timeout=3)
        conn.autocommit = True
        return conn


def _tail(path: Path, n: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def start_postgres() -> tuple[str, Callable[[], None]]:
    """A running PostgreSQL with an empty :data:`DATABASE`: (its ``postgresql://`` URI,
    a function that stops it and deletes its folder). ``RuntimeError`` if it does not
    start (with the end of its log)."""
    bins = None if os.environ.get(FORCE_ENV) == "pgserver" else bindir()
    if bins is None:
        return _start_pgserver()
    user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="lrtempo-pg-"))
    if user:
        pw = pwd.getpwnam(user)
        os.chown(root, pw.pw_uid, pw.pw_gid)
    data, log_path = root / "data", root / "postgres.log"
    init = subprocess.run(
        [
            str(bins / "initdb"),
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        user=user,
        cwd=root,
        check=False,
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed ({init.returncode}): {init.stderr[-2000:]}")
    port = free_port()
    with open(log_path, "wb") as log:
        if user:
            os.chown(log_path, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
        proc = subprocess.Popen(
            [
                str(bins / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-k",
                str(root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=root,
            user=user,
            start_new_session=True,
        )

    def stop() -> None:
        for sig, wait in ((signal.SIGINT, 15.0), (signal.SIGKILL, 5.0)):  # SIGINT: fast
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        shutil.rmtree(root, ignore_errors=True)

    admin = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if proc.poll() is not None:
            tail = _tail(log_path)
            stop()
            raise RuntimeError(f"postgres exited with {proc.returncode}:\n{tail}")
        try:
            conn = _connect(admin)
            break
        except Exception as exc:
            if time.monotonic() > deadline:
                tail = _tail(log_path)
                stop()
                raise RuntimeError(
                    f"postgres not ready after {STARTUP_TIMEOUT:.0f} s ({exc}):\n{tail}"
                ) from None
            time.sleep(0.3)
    try:
        conn.cursor().execute(f"CREATE DATABASE {DATABASE}")  # autocommit: no transaction
    finally:
        conn.close()
    return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}", stop


def _start_pgserver() -> tuple[str, Callable[[], None]]:
    """The same from the ``pgserver`` wheel (a Unix socket; it handles root itself)."""
    import pgserver

    root = Path(tempfile.mkdtemp(prefix="lrtempo-pgserver-"))
    server = pgserver.get_server(str(root / "data"), cleanup_mode="stop")
    server.psql(f"CREATE DATABASE {DATABASE};")

    def stop() -> None:
        try:
            server.cleanup()
        finally:
            shutil.rmtree(root, ignore_errors=True)

    return str(server.get_uri(DATABASE)), stop
