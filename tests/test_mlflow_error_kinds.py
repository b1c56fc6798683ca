"""Every error of the MLflow reader carries a machine-readable ``kind``.

The HTTP paths (auth, timeouts, rate limits, cut-off answers, limits) are checked against
live stub servers in ``test_reader_mlflow.py``; here the URI, setting and local-store
paths, with real files, and a scan of the package proving no ``SourceError`` is raised
without a kind.
"""

from __future__ import annotations

import ast
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from analyzer.errors import SOURCE_ERROR_KINDS, SourceError
from analyzer.readers import mlflow_store
from analyzer.readers.mlflow_store import check_connection, list_runs, read_mlflow
from tests.fixtures_mlflow import free_port

PACKAGE = Path(mlflow_store.__file__).parent


def _kind(call: Callable[..., object], *args: object, **kwargs: object) -> str | None:
    """The kind of the :class:`SourceError` that ``call(*args, **kwargs)`` raises."""
    with pytest.raises(SourceError) as info:
        call(*args, **kwargs)
    return info.value.kind


def _file_store_with(root: Path, name: str) -> Path:
    """An ``mlruns`` folder with one empty experiment, written as MLflow lays it out."""
    exp = root / "1"
    exp.mkdir(parents=True)
    (exp / "meta.yaml").write_text(f"experiment_id: '1'\nname: {name}\nlifecycle_stage: active\n")
    return root


def test_uri_and_setting_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from analyzer.readers.mlflow_store import postgres_store

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert _kind(read_mlflow, "mlflow") == "config"
    assert _kind(read_mlflow, "mysql://bob:pw@db/mlflow") == "bad_uri"  # not read directly
    from tests.fixtures_mlflow import free_port

    dead = f"postgresql://bob:pw@127.0.0.1:{free_port()}/mlflow"  # read directly: nobody there
    assert _kind(read_mlflow, dead) == ("unreachable" if postgres_store._psycopg() else "config")
    assert _kind(read_mlflow, "databricks") == "bad_uri"
    assert _kind(read_mlflow, "http:///no-host") == "bad_uri"
    assert _kind(read_mlflow, "http://[::1") == "bad_uri"  # urlsplit: invalid IPv6 URL
    assert _kind(read_mlflow, "sqlite:/relative-without-slashes.db") == "bad_uri"
    assert _kind(read_mlflow, "sqlite:///:memory:") == "bad_uri"
    assert _kind(read_mlflow, "file://otherhost/mlruns") == "bad_uri"
    monkeypatch.setenv("LRTEMPO_MLFLOW_TIMEOUT", "soon")
    assert _kind(read_mlflow, "http://127.0.0.1:9") == "config"
    monkeypatch.delenv("LRTEMPO_MLFLOW_TIMEOUT")
    monkeypatch.setenv("LRTEMPO_MLFLOW_MAX_RUNS", "lots")
    assert _kind(mlflow_store.max_listed_runs) == "config"


def test_unreachable_server() -> None:
    assert _kind(check_connection, f"http://127.0.0.1:{free_port()}") == "unreachable"


def test_sqlite_store_errors(tmp_path: Path) -> None:
    assert _kind(read_mlflow, f"sqlite:///{tmp_path / 'missing.db'}") == "unreachable"
    assert _kind(read_mlflow, f"sqlite:///{tmp_path}") == "bad_uri"  # a folder, not a file
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert _kind(read_mlflow, f"sqlite:///{other}") == "not_mlflow"
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    assert _kind(read_mlflow, f"sqlite:///{junk}") == "bad_data"


def test_file_store_errors(tmp_path: Path) -> None:
    assert _kind(read_mlflow, (tmp_path / "missing").as_uri()) == "unreachable"
    (tmp_path / "a-file").write_text("x")
    assert _kind(read_mlflow, (tmp_path / "a-file").as_uri()) == "bad_uri"
    (tmp_path / "empty").mkdir()
    assert _kind(read_mlflow, (tmp_path / "empty").as_uri()) == "not_mlflow"
    store = _file_store_with(tmp_path / "mlruns", "vision").as_uri()
    assert list_runs(store, experiment="vision") == []
    assert _kind(list_runs, store, experiment="nope") == "not_found"


def kindless(source: str, name: str) -> list[str]:
    """``name:line`` of each ``SourceError(...)`` in ``source`` without a known kind (one
    re-raised as ``SourceError(location, *saved)`` keeps the kind it saved)."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "SourceError"
        ):
            continue
        if node.args and isinstance(node.args[-1], ast.Starred):
            continue
        kind = node.args[2] if len(node.args) > 2 else None
        kind = next((k.value for k in node.keywords if k.arg == "kind"), kind)
        if not (isinstance(kind, ast.Constant) and kind.value in SOURCE_ERROR_KINDS) and not (
            kind is not None and not isinstance(kind, ast.Constant)  # computed: typed Literal
        ):
            bad.append(f"{name}:{node.lineno}")
    return bad


def test_every_source_error_in_the_package_names_a_known_kind() -> None:
    sources = {p.name: p.read_text(encoding="utf-8") for p in sorted(PACKAGE.glob("*.py"))}
    assert sum(s.count("SourceError(") for s in sources.values()) >= 25  # not vacuous
    assert [bad for name, src in sources.items() for bad in kindless(src, name)] == []


def test_the_scan_catches_a_missing_or_unknown_kind() -> None:
    src = (
        "raise SourceError(loc, 'no kind')\n"
        "raise SourceError(loc, 'typo', 'timout')\n"
        "raise SourceError(loc, 'fine', kind='timeout')\n"
        "raise SourceError(loc, *self._down)\n"
    )
    assert kindless(src, "fake.py") == ["fake.py:1", "fake.py:2"]


def test_read_sources_keeps_the_kind_beside_the_error(tmp_path: Path) -> None:
    """Code reads a failed store's kind from ``ReadResult.error_kinds``; the error entries
    (what the JSON report holds) are unchanged."""
    from analyzer.readers import read_sources

    dead, missing = f"http://127.0.0.1:{free_port()}", f"sqlite:///{tmp_path / 'no.db'}"
    result = read_sources([dead, missing])
    assert [sorted(e) for e in result.errors] == [["error", "location"]] * 2
    assert result.error_kinds == {dead: "unreachable", missing: "unreachable"}
