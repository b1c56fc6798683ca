"""The MLflow history cache file: where it is (:func:`cache_path`), its size cap, and
:class:`MetricCache`, the open SQLite file (WAL journal; each history one blob of
little-endian ``step int64, value float64, timestamp_ms int64`` arrays with a CRC), whose
every method degrades to "no cache" instead of raising. See :mod:`analyzer.readers.mlflow_cache`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger("lrtempo.mlflow_cache")

CACHE_ENV = "LRTEMPO_MLFLOW_CACHE"
CACHE_MB_ENV = "LRTEMPO_MLFLOW_CACHE_MB"
DEFAULT_CAP_MB = 1024.0
FILE_NAME = "mlflow-histories.sqlite"
SCHEMA_VERSION = "1"
TERMINAL = frozenset({"FINISHED", "FAILED", "KILLED"})
#: After an eviction the cache holds at most this share of the cap (room for the next read).
EVICT_TO = 0.8
_OFF = frozenset({"off", "0", "false", "no", "none"})
#: SQLite errors that say "not now" (another process, a full disk), not "broken file".
_TRANSIENT = ("locked", "busy", "disk is full", "readonly", "unable to open", "disk i/o")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS servers(
    id INTEGER PRIMARY KEY, uri TEXT UNIQUE NOT NULL, last_used REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs(
    server INTEGER NOT NULL, run_id TEXT NOT NULL, status TEXT, end_ms INTEGER,
    last_used REAL NOT NULL, nbytes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY(server, run_id));
CREATE INDEX IF NOT EXISTS runs_lru ON runs(last_used);
CREATE TABLE IF NOT EXISTS series(
    server INTEGER NOT NULL, run_id TEXT NOT NULL, key TEXT NOT NULL,
    latest_step INTEGER, latest_ts INTEGER, n INTEGER NOT NULL, crc INTEGER NOT NULL,
    data BLOB NOT NULL, PRIMARY KEY(server, run_id, key));
"""

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # step, value, timestamp_ms


def lrtempo_home() -> Path:
    """``$LRTEMPO_HOME``, else ``$XDG_DATA_HOME/lrtempo``, else ``~/.local/share/lrtempo``."""
    if os.environ.get("LRTEMPO_HOME"):
        return Path(os.environ["LRTEMPO_HOME"])
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "lrtempo"


def enabled() -> bool:
    """False when ``$LRTEMPO_MLFLOW_CACHE`` is ``off`` (``--no-cache``)."""
    return os.environ.get(CACHE_ENV, "").strip().lower() not in _OFF


def cache_path() -> Path:
    """The cache file: ``$LRTEMPO_MLFLOW_CACHE`` when it names one, else under the home."""
    raw = os.environ.get(CACHE_ENV, "").strip()
    return Path(raw).expanduser() if raw else lrtempo_home() / "cache" / FILE_NAME


def cap_bytes() -> int:
    """The size cap: ``$LRTEMPO_MLFLOW_CACHE_MB`` (MiB), else :data:`DEFAULT_CAP_MB`."""
    raw = os.environ.get(CACHE_MB_ENV, "").strip()
    try:
        mb = float(raw) if raw else DEFAULT_CAP_MB
    except ValueError:
        log.warning("%s=%r is not a number of MiB; using %g", CACHE_MB_ENV, raw, DEFAULT_CAP_MB)
        mb = DEFAULT_CAP_MB
    return max(int(mb * 2**20), 0)


@contextmanager
def bypassed() -> Iterator[None]:
    """Within the block (this process and the workers it starts) the cache is not used."""
    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = "off"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = old


@dataclass(frozen=True)
class Series:
    """One cached metric history and the latest point ``runs/search`` reported for it."""

    arrays: Arrays
    latest_step: int | None
    latest_ts: int | None


@dataclass(frozen=True)
class Entry:
    """A cached run: its status and end time when cached, and its histories by key."""

    status: str | None
    end_ms: int | None
    series: dict[str, Series]


def _pack(arrays: Arrays) -> bytes:
    step, value, stamp = arrays
    return (
        np.ascontiguousarray(step, "<i8").tobytes()
        + np.ascontiguousarray(value, "<f8").tobytes()
        + np.ascontiguousarray(stamp, "<i8").tobytes()
    )


def _unpack(blob: bytes, n: int) -> Arrays:
    if len(blob) != 24 * n:
        raise ValueError("blob size")
    step = np.frombuffer(blob, "<i8", n, 0).astype(np.int64)
    value = np.frombuffer(blob, "<f8", n, 8 * n).astype(np.float64)
    stamp = np.frombuffer(blob, "<i8", n, 16 * n).astype(np.int64)
    return step, value, stamp


class MetricCache:
    """The open cache file; every method degrades to "no cache" instead of raising."""

    def __init__(self, path: Path, cap: int) -> None:
        self.path, self.cap = path, cap
        self.conn: sqlite3.Connection | None = None
        self._servers: dict[str, int] = {}
        self.written = 0

    @classmethod
    def open(cls, path: Path | None = None, cap: int | None = None) -> MetricCache | None:
        """The cache at ``path`` (default :func:`cache_path`), created when missing and
        rebuilt when unreadable; ``None`` when it is off or cannot be used now."""
        if path is None and not enabled():
            return None
        self = cls(path or cache_path(), cap_bytes() if cap is None else cap)
        for attempt in (1, 2):
            try:
                self._connect()
            except (sqlite3.DatabaseError, ValueError, OSError) as exc:
                self._close_conn()
                if attempt == 2 or isinstance(exc, OSError) or _transient(exc):
                    log.warning(
                        "lrtempo: the MLflow cache %s cannot be used now (%s); "
                        "histories are fetched from the server",
                        self.path,
                        exc,
                    )
                    return None
                self._discard(exc)
            else:
                return self
        return None

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        new = not self.path.exists()
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self.conn = conn
        if new:  # metric values of private servers: for this user only
            os.chmod(self.path, 0o600)
        conn.execute("PRAGMA busy_timeout=30000")
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # only takes on a new file
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        with self._write():
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES('schema', ?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise ValueError(f"cache schema {row[0]!r}, expected {SCHEMA_VERSION!r}")

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE``: waits for another writer)."""
        assert self.conn is not None
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _close_conn(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self.conn.close()
            self.conn = None

    def _discard(self, exc: BaseException) -> None:
        """Delete an unreadable cache file (and its WAL) with a warning."""
        self._close_conn()
        log.warning(
            "lrtempo: the MLflow cache %s is not readable (%s); discarded, it is "
            "rebuilt from the server",
            self.path,
            exc,
        )
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                Path(f"{self.path}{suffix}").unlink()
            except FileNotFoundError:
                pass
            except OSError as err:
                log.warning("lrtempo: cannot delete %s%s: %s", self.path, suffix, err)

    def _failed(self, exc: BaseException) -> None:
        """An error mid-use: a broken file is discarded, a busy one left; the cache is off
        for the rest of this read either way."""
        if isinstance(exc, sqlite3.DatabaseError) and not _transient(exc):
            self._discard(exc)
        else:
            log.warning("lrtempo: the MLflow cache %s cannot be used now (%s)", self.path, exc)
            self._close_conn()

    def close(self) -> None:
        """Evict past the cap, then close."""
        if self.conn is not None and self.written:
            self.evict()
        self._close_conn()

    # -- reading and writing

    def _server_id(self, uri: str, create: bool) -> int | None:
        assert self.conn is not None
        if uri in self._servers:
            return self._servers[uri]
        row = self.conn.execute("SELECT id FROM servers WHERE uri=?", (uri,)).fetchone()
        if row is None and create:
            cur = self.conn.execute(
                "INSERT INTO servers(uri, last_used) VALUES(?, ?)", (uri, time.time())
            )
            row = (cur.lastrowid,)
        if row is not None:
            self._servers[uri] = int(row[0])
        return None if row is None else int(row[0])

    def load(self, server: str, run_id: str, keys: Sequence[str]) -> Entry | None:
        """The cached run (only ``keys``), or ``None``; a damaged history is left out."""
        if self.conn is None:
            return None
        try:
            sid = self._server_id(server, create=False)
            if sid is None:
                return None
            run = self.conn.execute(
                "SELECT status, end_ms FROM runs WHERE server=? AND run_id=?", (sid, run_id)
            ).fetchone()
            if run is None:
                return None
            series: dict[str, Series] = {}
            rows = self.conn.execute(
                "SELECT key, latest_step, latest_ts, n, crc, data FROM series "
                "WHERE server=? AND run_id=?",
                (sid, run_id),
            ).fetchall()
        except sqlite3.Error as exc:
            self._failed(exc)
            return None
        wanted = set(keys)
        for key, latest_step, latest_ts, n, crc, data in rows:
            if key not in wanted:
                continue
            if zlib.crc32(data) != crc:
                log.warning(
                    "lrtempo: the MLflow cache holds a damaged history (%s, %s); fetched again",
                    run_id,
                    key,
                )
                continue
            try:
                series[key] = Series(_unpack(data, int(n)), latest_step, latest_ts)
            except ValueError:
                continue
        return Entry(run[0], run[1], series)

    def save(
        self,
        server: str,
        run_id: str,
        status: str | None,
        end_ms: int | None,
        series: dict[str, Series],
        reset: bool,
    ) -> None:
        """Store the run's histories (``reset``: drop its other cached histories first)."""
        if self.conn is None:
            return
        now = time.time()
        try:
            with self._write():
                sid = self._server_id(server, create=True)
                self.conn.execute("UPDATE servers SET last_used=? WHERE id=?", (now, sid))
                if reset:
                    self.conn.execute(
                        "DELETE FROM series WHERE server=? AND run_id=?", (sid, run_id)
                    )
                for key, s in series.items():
                    blob = _pack(s.arrays)
                    self.conn.execute(
                        "INSERT OR REPLACE INTO series VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            sid,
                            run_id,
                            key,
                            s.latest_step,
                            s.latest_ts,
                            len(s.arrays[0]),
                            zlib.crc32(blob),
                            blob,
                        ),
                    )
                    self.written += len(blob)
                nbytes = self.conn.execute(
                    "SELECT COALESCE(SUM(LENGTH(data)), 0) FROM series WHERE server=? AND run_id=?",
                    (sid, run_id),
                ).fetchone()[0]
                self.conn.execute(
                    "INSERT OR REPLACE INTO runs VALUES(?, ?, ?, ?, ?, ?)",
                    (sid, run_id, status, end_ms, now, int(nbytes)),
                )
        except sqlite3.Error as exc:
            self._servers.clear()
            self._failed(exc)

    def touch(self, server: str, run_ids: Sequence[str]) -> None:
        """Mark runs read from the cache as recently used (for the LRU eviction)."""
        if self.conn is None or not run_ids:
            return
        now = time.time()
        try:
            with self._write():
                sid = self._server_id(server, create=False)
                if sid is None:
                    return
                self.conn.execute("UPDATE servers SET last_used=? WHERE id=?", (now, sid))
                self.conn.executemany(
                    "UPDATE runs SET last_used=? WHERE server=? AND run_id=?",
                    [(now, sid, r) for r in run_ids],
                )
        except sqlite3.Error as exc:
            self._failed(exc)

    def size(self) -> int:
        """Bytes of history held (what the cap bounds)."""
        if self.conn is None:
            return 0
        return int(self.conn.execute("SELECT COALESCE(SUM(nbytes), 0) FROM runs").fetchone()[0])

    def evict(self) -> int:
        """Drop least recently used runs until the cache holds at most :data:`EVICT_TO` of
        the cap (when it is over the cap); servers left empty go too. Runs evicted."""
        if self.conn is None:
            return 0
        try:
            total = self.size()
            if total <= self.cap:
                return 0
            gone: list[tuple[int, str]] = []
            for sid, run_id, nbytes in self.conn.execute(
                "SELECT server, run_id, nbytes FROM runs ORDER BY last_used, run_id"
            ):
                if total <= self.cap * EVICT_TO:
                    break
                gone.append((sid, run_id))
                total -= int(nbytes)
            with self._write():
                self.conn.executemany("DELETE FROM series WHERE server=? AND run_id=?", gone)
                self.conn.executemany("DELETE FROM runs WHERE server=? AND run_id=?", gone)
                self.conn.execute(
                    "DELETE FROM servers WHERE id NOT IN (SELECT DISTINCT server FROM runs)"
                )
            self._servers.clear()
            self.conn.execute("PRAGMA incremental_vacuum")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return len(gone)
        except sqlite3.Error as exc:
            self._failed(exc)
            return 0


def _transient(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and any(t in text for t in _TRANSIENT)
