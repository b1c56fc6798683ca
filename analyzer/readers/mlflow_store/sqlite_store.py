"""An MLflow sqlite database (``sqlite:///path.db``) read directly with the stdlib
:mod:`sqlite3`, opened ``mode=ro`` (no MLflow client, which would run migrations): the
tables ``experiments, runs, metrics, params, tags``; deleted experiments and runs skipped."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd

from ...errors import SourceError
from ...model import empty_frame
from .shared import _frame, _meta, _Query, _Record

#: Run ids per ``IN (...)`` query (sqlite allows 999 parameters in old builds).
_SQL_CHUNK = 500


def _sqlite_path(uri: str) -> Path:
    """``sqlite:///rel.db`` / ``sqlite:////abs.db`` → the database file path."""
    rest = uri.split(":", 1)[1]
    if not rest.startswith("///"):
        raise SourceError(
            uri, "expected sqlite:///relative.db or sqlite:////absolute/path.db", "bad_uri"
        )
    path = unquote(rest[3:].split("?", 1)[0])
    if not path or path == ":memory:":
        raise SourceError(uri, "an in-memory sqlite database holds no runs", "bad_uri")
    return Path(path)


class _SqlStore:
    """The queries of an MLflow tracking database (its ``experiments, runs, metrics,
    params, tags`` tables), whatever the engine: a subclass opens ``conn`` (a DB-API
    connection with ``execute``; ``?`` placeholders, see :meth:`_rows`), sets
    ``location``, ``label`` and ``_is_nan`` and names its engine's errors in ``errors``."""

    location: str
    label: str
    conn: Any
    _is_nan: bool
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def _check_tables(self, tables: set[str]) -> None:
        missing = {"experiments", "runs", "metrics", "params", "tags"} - tables
        if missing:
            self.conn.close()
            raise SourceError(
                self.location,
                f"not an MLflow tracking database (no {', '.join(sorted(missing))} table)",
                "not_mlflow",
            )

    def close(self) -> None:
        self.conn.close()

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.conn.execute(sql, tuple(args)).fetchall()

    def describe(self) -> str:
        n_runs = self._rows(
            "SELECT COUNT(*) FROM runs WHERE COALESCE(lifecycle_stage, 'active') != 'deleted'"
        )[0][0]
        n_exps = len(self.experiments())
        return f"MLflow {self.label}: {n_exps} experiment(s), {n_runs} run(s)"

    def experiments(self) -> dict[str, str]:
        rows = self._rows(
            "SELECT experiment_id, name FROM experiments "
            "WHERE COALESCE(lifecycle_stage, 'active') != 'deleted' ORDER BY experiment_id"
        )
        return {str(i): str(n) for i, n in rows}

    def find_experiment(self, key: str) -> tuple[str, str] | None:
        exps = self.experiments()
        for exp_id, name in exps.items():
            if name == key:
                return exp_id, name
        return (key, exps[key]) if key in exps else None

    def search(self, exps: dict[str, str], query: _Query) -> list[_Record]:
        where = [
            "COALESCE(lifecycle_stage, 'active') != 'deleted'",
            f"CAST(experiment_id AS TEXT) IN ({', '.join('?' * len(exps))})",
        ]
        args: list[Any] = list(exps)
        if query.since is not None:
            where.append("start_time > ?")
            args.append(int(query.since * 1000))
        sql = (
            "SELECT run_uuid, name, status, start_time, end_time, user_id, experiment_id FROM runs "
            f"WHERE {' AND '.join(where)}"
        )
        rows: list[tuple[Any, ...]] = []
        for chunk in _chunks(list(query.run_ids) if query.run_ids else [None]):
            ids = [c for c in chunk if c is not None]
            extra = f" AND run_uuid IN ({', '.join('?' * len(ids))})" if ids else ""
            rows += self._rows(
                sql
                + extra
                + " ORDER BY start_time DESC, run_uuid"
                + (f" LIMIT {int(query.max_runs)}" if query.max_runs is not None else ""),
                args + ids,
            )
        run_ids = [r[0] for r in rows]
        params, tags = self._key_values("params", run_ids), self._key_values("tags", run_ids)
        return [
            _Record(
                _meta(
                    run_id=rid,
                    name=name,
                    location=f"{self.location}#{rid}",
                    params=params.get(rid, {}),
                    tags=tags.get(rid, {}),
                    start_ms=start,
                    end_ms=end,
                    user_id=user,
                    experiment=exps.get(str(exp)),
                    status=status,
                ),
                str(exp),
            )
            for rid, name, status, start, end, user, exp in rows
        ]

    def _key_values(self, table: str, run_ids: list[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for chunk in _chunks(run_ids):
            rows = self._rows(
                f"SELECT run_uuid, key, value FROM {table} WHERE run_uuid IN "
                f"({', '.join('?' * len(chunk))}) ORDER BY run_uuid, key",
                chunk,
            )
            for rid, key, value in rows:
                out.setdefault(rid, {})[key] = "" if value is None else str(value)
        return out

    def histories(
        self, records: Sequence[_Record], metrics: Sequence[str] | None
    ) -> Iterator[tuple[_Record, pd.DataFrame | str]]:
        nan = "is_nan" if self._is_nan else "0"
        key_filter = f" AND key IN ({', '.join('?' * len(metrics))})" if metrics is not None else ""
        for rec in records:
            try:
                rows = self._rows(
                    f"SELECT key, step, value, timestamp, {nan} FROM metrics WHERE run_uuid = ?"
                    f"{key_filter} ORDER BY key, timestamp, step, value",
                    [rec.meta.id, *(metrics or [])],
                )
            except self.errors as exc:
                yield rec, f"cannot read the metric history: {exc}"
                continue
            yield rec, _rows_frame(rows)


class _SqliteStore(_SqlStore):
    """An MLflow sqlite database read directly, read-only."""

    def __init__(self, uri: str) -> None:
        super().__init__()
        self.location = uri
        path = _sqlite_path(uri)
        if not path.is_file():
            absent = not path.exists()
            raise SourceError(
                self.location,
                f"no such database file: {path}" if absent else f"not a file: {path}",
                "unreachable" if absent else "bad_uri",
            )
        self.path = path
        self.label = f"sqlite store {path}"
        try:
            self.conn = sqlite3.connect(
                f"file:{quote(str(path.absolute()))}?mode=ro",
                uri=True,
                timeout=30.0,
                check_same_thread=False,
            )
            tables = {
                r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.Error as exc:
            raise SourceError(
                self.location, f"cannot open the database read-only: {exc}", "bad_data"
            ) from None
        self._check_tables(tables)
        cols = {r[1] for r in self.conn.execute("PRAGMA table_info(metrics)")}
        self._is_nan = "is_nan" in cols


def _rows_frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """``(key, step, value, timestamp_ms, is_nan)`` rows sorted by key → canonical frame."""
    if not rows:
        return empty_frame()
    keys, step, value, stamp, is_nan = zip(*rows)
    val = np.asarray([np.nan if v is None else v for v in value], dtype=np.float64)
    val[np.asarray(is_nan, dtype=bool)] = np.nan
    keys_arr = np.asarray(keys, dtype=object)
    bounds = np.flatnonzero(keys_arr[1:] != keys_arr[:-1]) + 1
    step_arr = np.asarray([s or 0 for s in step], dtype=np.int64)
    stamp_arr = np.asarray([t or 0 for t in stamp], dtype=np.int64)
    parts = [
        (keys_arr[s], step_arr[s:e], val[s:e], stamp_arr[s:e])
        for s, e in zip(np.r_[0, bounds], np.r_[bounds, len(keys_arr)])
    ]
    return _frame(parts)


def _chunks(items: list[Any], size: int = _SQL_CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
