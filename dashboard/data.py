"""The dashboard's data layer: runs from the sources and uploads, and their analyses.

One :class:`DataStore` per app (kept in ``app.server.config``; callbacks reach it
with :func:`current_store`). Nothing is read at import or at app creation: file
sources are read on the first request that needs them, MLflow stores once per time
window, and again only on :meth:`DataStore.refresh`. Analyses are cached in process,
keyed by ``(run id, last step)`` so a run that grew is analyzed again; the role series
the Run page plots are cached for a few runs (bounded by points), keyed the same way.
An MLflow read holds only its own lock, so a slow or dead server never blocks the
pages that do not need it; :func:`mlflow_problems` says what is wrong with one.
A read of the file sources (10,000 small files take minutes) runs outside the store's
lock too, one at a time, and is swapped in when done: meanwhile a Run page of a run
already read is served at once, and after a refresh the other requests see the
previous read until the new one is in. Auto-refresh skips a period while a read runs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from analyzer import analysis as _analysis
from analyzer.findings import worst
from analyzer.lrtext import finding_text, format_sig, lr_change
from analyzer.model import ReadResult, Run
from analyzer.readers import discover, is_mlflow_uri, read_log_source, read_sources
from analyzer.readers._io import ByteBudget
from analyzer.report import run_url
from analyzer.roles import RoleMap, role_series
from analyzer.timewindow import parse_since, run_time

from .figures import best_val_step
from .upload_store import UploadStore
from .uploads import UPLOAD_BUDGET_MB, UPLOAD_READERS, reread_upload
from .uri_policy import UriNotAllowed, UriPolicy, same_origin

log = logging.getLogger(__name__)

#: Time-window presets of the Review page (``None``: no limit).
WINDOWS: dict[str, float | None] = {"24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0, "all": None}
STORE_KEY = "LRTEMPO_STORE"
#: Analyses and review rows kept (LRU). Each is a few KB, and the Review page walks
#: every run of its window in order, so the cache must hold a whole fleet: an LRU
#: smaller than the window misses on every run (512 made a 1,000-run re-render
#: re-analyze all of them).
ANALYSIS_CACHE_SIZE = 20_000
#: The role-series cache keeps at most this many runs and points (24 bytes a point: a
#: 10M-step run with its LR, 20M points, is ~480 MB per worker; a bigger one is not kept).
SERIES_CACHE_RUNS = 8
SERIES_CACHE_POINTS = 25_000_000
#: MLflow reads kept, one per ``(uri, window)`` (LRU): each distinct window or visitor URI
#: is a read of its own, so the cache must not grow with the values people try.
MLFLOW_CACHE_ENTRIES = 16
#: Where a visitor's own tracking URI (from their browser's Settings) is named in errors.
USER_URI_LOCATION = "your tracking URI (Settings)"


#: The longest window accepted (years back), as for ``--since``.
MAX_WINDOW_YEARS = 1000


def str_list(value: Any) -> list[str]:
    """A callback's list-of-strings input as sent by a browser, else ``[]``: a forged
    payload (``-1``, ``{}``, a list of objects) is taken as nothing chosen, not a 500."""
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str)]


def window_seconds(window: str | None) -> float | None:
    """Seconds of a window key (``24h``, ``7d``, ``36h``, ``all``); ``ValueError`` if bad or
    more than :data:`MAX_WINDOW_YEARS` years long."""
    if not window or window == "all":
        return None
    if not isinstance(window, str):
        raise ValueError(  # noqa: TRY004 - callers report every bad window the same way
            f"time window {window!r}: use 24h, 7d, 30d, all or a duration such as 36h")
    if window in WINDOWS:
        return WINDOWS[window]
    try:
        seconds = time.time() - parse_since(window)
    except OverflowError:
        seconds = float("inf")
    if not 0 <= seconds <= MAX_WINDOW_YEARS * 365.25 * 86400:
        raise ValueError(f"time window {window!r}: at most {MAX_WINDOW_YEARS} years back "
                         "(or all)")
    return seconds


def parse_date_range(window: str) -> tuple[float, float] | None:
    """``2026-11-01..2026-11-30`` → epoch seconds of 00:00 UTC on the first day and of
    the end of the last day; ``None`` when ``window`` is not a range; ``ValueError``
    when it is one with a bad or reversed date."""
    if not isinstance(window, str) or ".." not in window:
        return None
    a, _, b = window.partition("..")
    try:
        start = datetime.strptime(a.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
        end = datetime.strptime(b.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"date range {window!r}: use YYYY-MM-DD..YYYY-MM-DD") from None
    if end < start:
        raise ValueError(f"date range {window!r}: the end is before the start")
    if start.timestamp() < time.time() - MAX_WINDOW_YEARS * 365.25 * 86400:
        raise ValueError(f"date range {window!r}: starts more than {MAX_WINDOW_YEARS} years back")
    return start.timestamp(), end.timestamp() + 86400.0


def window_bounds(window: str | None) -> tuple[float | None, float | None]:
    """``(since, until)`` epoch seconds of a window key or date range (``None``: open)."""
    rng = parse_date_range(window or "")
    if rng is not None:
        return rng
    seconds = window_seconds(window)
    return (None if seconds is None else time.time() - seconds), None


def window_key(hours: float) -> str:
    """The window key for ``since_hours`` (``24`` → ``24h``, ``168`` → ``7d``)."""
    if hours <= 0:
        return "all"
    for key, sec in WINDOWS.items():
        if sec is not None and abs(sec - hours * 3600) < 1:
            return key
    return f"{hours:g}h"


def _analysis_of(run: Run) -> Any:
    # Looked up at call time so the analyzer (or a test) can replace ``analyze_run``.
    return _analysis.analyze_run(run)


@dataclass
class DataStore:
    """Runs of the configured sources plus uploads, with cached analyses."""

    sources: list[str]
    tracking_uri: str | None = None
    since_hours: float = 24.0
    upload_limit_mb: int = 50
    experiment: str | None = None  # default experiment filter (Settings)
    mlflow_ttl: float = 300.0
    uri_policy: UriPolicy = field(default_factory=UriPolicy)
    uploads: UploadStore = field(default_factory=UploadStore)
    #: Decompressed bytes all uploads being read may hold together (see dashboard.uploads).
    upload_budget: ByteBudget = field(
        default_factory=lambda: ByteBudget(UPLOAD_BUDGET_MB * 2**20))
    #: Upload requests read at once (a 50 MiB CSV takes ~1.4 GiB while it is parsed);
    #: the others wait for a slot (see :func:`dashboard.views.handle_uploads`).
    upload_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(UPLOAD_READERS))
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _file_runs: list[Run] | None = field(default=None, repr=False)
    _file_errors: list[dict[str, str]] = field(default_factory=list, repr=False)
    #: One read of the file sources at a time (held while reading; never the store's lock).
    _files_reading: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: The previous read's runs and errors, shown while a re-read (after a refresh) runs.
    _stale_files: tuple[list[Run], list[dict[str, str]]] | None = field(default=None,
                                                                         repr=False)
    _files_gen: int = field(default=0, repr=False)  # bumped by every refresh
    _mlflow: OrderedDict[tuple[str, str], tuple[float, ReadResult]] = field(
        default_factory=OrderedDict, repr=False)
    _by_id: dict[str, Run] = field(default_factory=dict, repr=False)
    _analyses: OrderedDict[tuple[str, int], Any] = field(default_factory=OrderedDict, repr=False)
    _series: OrderedDict[tuple[Any, ...], tuple[Any, ...]] = field(default_factory=OrderedDict,
                                                                  repr=False)
    _mlflow_locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict, repr=False)
    _rows: OrderedDict[tuple[Any, ...], tuple[Any, dict[str, Any]]] = field(
        default_factory=OrderedDict, repr=False)
    _refreshed_at: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if self.uploads._reread is None:  # evicted uploads are read again from their files
            self.uploads._reread = lambda folder, name: reread_upload(folder, name).runs

    # ----------------------------------------------------------------- sources

    @property
    def file_sources(self) -> list[str]:
        return [s for s in self.sources if not is_mlflow_uri(s)]

    @property
    def mlflow_uris(self) -> list[str]:
        uris = [s for s in self.sources if is_mlflow_uri(s)]
        if self.tracking_uri and self.tracking_uri not in uris:
            uris.append(self.tracking_uri)
        return uris

    def trusted_uris(self) -> list[str]:
        """The operator's MLflow URIs (command line, ``$MLFLOW_TRACKING_URI``, an admin's
        Settings): the only origins the environment's credentials are sent to."""
        env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
        return self.mlflow_uris + ([env] if env else [])

    def check_user_uri(self, uri: str) -> None:
        """:class:`UriNotAllowed` unless a visitor may have this server read ``uri``."""
        self.uri_policy.check(uri, self.trusted_uris())

    def mlflow_uris_for(self, user_uri: str | None) -> list[str]:
        """The MLflow URIs a visitor's pages read: the sources', then the visitor's own
        tracking URI (kept in their browser) instead of the server-wide one. A visitor URI
        the policy refuses is left out (:meth:`runs` says why)."""
        user_uri = (user_uri or "").strip()
        if not user_uri:
            return self.mlflow_uris
        try:
            self.check_user_uri(user_uri)
        except UriNotAllowed:
            return self.mlflow_uris
        uris = [s for s in self.sources if is_mlflow_uri(s)]
        return uris + ([user_uri] if user_uri not in uris else [])

    @property
    def default_window(self) -> str:
        return window_key(self.since_hours)

    def _index(self, runs: list[Run]) -> None:
        for r in runs:
            self._by_id[r.meta.id] = r

    def _load_files(self) -> None:
        """Read the file sources if not read yet (see :meth:`file_data`)."""
        self.file_data()

    def file_data(self) -> tuple[list[Run], list[dict[str, str]]]:
        """The file sources' runs and read errors, read on first need.

        The read runs outside the store's lock (one at a time) and is swapped in when
        done. While a re-read after :meth:`refresh` runs, other callers get the previous
        read at once instead of waiting; only the first read is waited for.
        """
        with self._lock:
            if self._file_runs is not None:
                return self._file_runs, self._file_errors
            stale, gen = self._stale_files, self._files_gen
        if not self._files_reading.acquire(blocking=stale is None):
            return stale  # type: ignore[return-value]  # a re-read runs: the previous one
        try:
            with self._lock:
                if self._file_runs is not None:  # read by another caller meanwhile
                    return self._file_runs, self._file_errors
            result = _read_file_sources(self.file_sources)
            with self._lock:
                self._index(result.runs)
                if gen == self._files_gen:
                    self._file_runs, self._file_errors = result.runs, result.errors
                    self._stale_files = None
                else:  # refreshed while reading: shown meanwhile, read again on next need
                    self._stale_files = (result.runs, result.errors)
            return result.runs, result.errors
        finally:
            self._files_reading.release()

    def reading(self) -> bool:
        """Whether a read of the file sources or of an MLflow store is running now."""
        with self._lock:
            locks = list(self._mlflow_locks.values())
        return self._files_reading.locked() or any(lock.locked() for lock in locks)

    def _load_mlflow(self, uri: str, window: str, since: float | None) -> ReadResult:
        """One read per ``(uri, window)`` and TTL; concurrent callers wait for it."""
        key = (uri, window)
        with self._lock:
            lock = self._mlflow_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                hit = self._mlflow.get(key)
            if hit is not None and time.time() - hit[0] < self.mlflow_ttl:
                return hit[1]
            with self.credentials_for(uri):
                res = _probe_mlflow(uri) or _read_mlflow(uri, since)
            with self._lock:
                self._mlflow[key] = (time.time(), res)
                self._mlflow.move_to_end(key)
                self._index(res.runs)
                self._evict_mlflow()
        return res

    def credentials_for(self, uri: str) -> Any:
        """A context in which the environment's MLflow credentials are sent only when
        ``uri`` has the origin of one of the operator's URIs."""
        import contextlib

        if same_origin(uri, self.trusted_uris()):
            return contextlib.nullcontext()
        from analyzer.readers.mlflow_store import without_env_credentials

        return without_env_credentials()

    def _evict_mlflow(self) -> None:
        """Keep at most :data:`MLFLOW_CACHE_ENTRIES` reads (LRU; call with the lock held);
        runs only an evicted read held leave the id index too."""
        evicted = []
        while len(self._mlflow) > MLFLOW_CACHE_ENTRIES:
            key, (_, res) = self._mlflow.popitem(last=False)
            evicted.append(res)
            lock = self._mlflow_locks.get(key)
            if lock is not None and not lock.locked():
                del self._mlflow_locks[key]
        if evicted:
            kept = {r.meta.id for _, res in self._mlflow.values() for r in res.runs}
            kept |= {r.meta.id for r in self._file_runs or []}
            kept |= {r.meta.id for r in (self._stale_files or ([], []))[0]}
            for res in evicted:
                for r in res.runs:
                    if r.meta.id not in kept:
                        self._by_id.pop(r.meta.id, None)

    def runs(self, window: str | None = None, user_uri: str | None = None
             ) -> tuple[list[Run], list[dict[str, str]]]:
        """Runs started within ``window`` (uploads always), and the read errors.

        ``window`` is a preset key (``24h``), a duration (``36h``) or a date range
        (``2026-11-01..2026-11-30``); ``ValueError`` when it is none of these.
        ``user_uri`` is the visitor's own tracking URI (see :meth:`mlflow_uris_for`).
        """
        window = window or self.default_window
        since, until = window_bounds(window)

        def inside(r: Run) -> bool:
            t = run_time(r)
            return t is None or ((since is None or t >= since) and (until is None or t < until))

        file_runs, file_errors = self.file_data()  # outside the store's lock
        runs = [r for r in file_runs if inside(r)]
        errors = list(file_errors)
        uris = self.mlflow_uris_for(user_uri)
        if user_uri and (user_uri or "").strip() not in uris:
            try:
                self.check_user_uri(user_uri)
            except UriNotAllowed as exc:
                errors.append({"location": USER_URI_LOCATION,
                               "error": f"not allowed here: {exc}; showing the server's sources"})
        for uri in uris:  # outside the store's lock: a slow server blocks only this read
            res = self._load_mlflow(uri, window, since)
            runs.extend(r for r in res.runs if until is None or inside(r))
            errors.extend(res.errors)
        uploads = self.uploads.in_memory()
        seen: set[str] = set()
        out = []
        for r in uploads + runs:
            if r.meta.id not in seen:
                seen.add(r.meta.id)
                out.append(r)
        return out, errors

    def get(self, run_id: str, user_uri: str | None = None) -> Run | None:
        """A run by id: loaded ones first, then an MLflow look-up by id (in the visitor's
        URIs, see :meth:`mlflow_uris_for`)."""
        if not isinstance(run_id, str) or not run_id:
            return None  # a forged callback payload (a number, a list): no such run
        if run_id in self.uploads:
            return self._reread_upload(run_id)
        with self._lock:
            hit = self._by_id.get(run_id)
        if hit is not None:  # served at once, even while a read runs
            return hit
        self.file_data()  # waits only for the first read of the file sources
        with self._lock:
            if run_id in self._by_id:
                return self._by_id[run_id]
        down = {_plain_uri(p.uri) for p in self.problems(user_uri)}
        for uri in self.mlflow_uris_for(user_uri):
            if _plain_uri(uri) in down:
                continue  # known unusable: no minutes of retries for a run page
            with self.credentials_for(uri):
                failed = _probe_mlflow(uri)
            if failed is not None:
                with self._lock:
                    self._mlflow[(uri, "probe")] = (time.time(), failed)
                    self._evict_mlflow()
                continue
            with self.credentials_for(uri):
                run = _mlflow_run_by_id(uri, run_id)
            if run is not None:
                with self._lock:
                    self._by_id[run.meta.id] = run
                return run
        return None

    def problems(self, user_uri: str | None = None) -> list[MlflowProblem]:
        """The visitor's MLflow stores found unusable by the reads of the last TTL."""
        now = time.time()
        with self._lock:
            errors = [e for t, res in self._mlflow.values() if now - t < self.mlflow_ttl
                      for e in res.errors]
        return mlflow_problems(self.mlflow_uris_for(user_uri), errors)[0]

    def refresh(self, min_age: float = 0.0) -> bool:
        """Forget what was read (not uploads): the next request reads the sources again.

        With ``min_age`` (auto-refresh), only when the last refresh is at least that many
        seconds old (several browsers auto-refreshing then cause one re-read, not one
        each) and no read is running (a read longer than the period is not restarted
        over and over). The file runs read so far stay shown, and their Run pages
        served, until the re-read is swapped in. Returns whether it refreshed.
        """
        reading = self.reading()
        with self._lock:
            now = time.time()
            if min_age > 0 and (now - self._refreshed_at < min_age or reading):
                return False
            self._refreshed_at = now
            if self._file_runs is not None:
                self._stale_files = (self._file_runs, self._file_errors)
            self._files_gen += 1
            self._file_runs = None
            self._file_errors = []
            self._mlflow.clear()
            shown = self._stale_files[0] if self._stale_files else []
            self._by_id = {r.meta.id: r for r in shown}
        return True

    def set_tracking_uri(self, uri: str | None) -> None:
        """The server-wide tracking URI (command line, or an admin's Settings)."""
        with self._lock:
            self.tracking_uri = uri or None
            self._mlflow.clear()

    # ----------------------------------------------------------------- uploads

    def add_upload(self, run: Run, filename: str, folder: Path | None = None) -> None:
        """Keep an uploaded run (``folder``: its kept files, to read it again after it
        left memory; see :mod:`dashboard.upload_store`)."""
        self.uploads.add(run, filename, folder)

    def is_upload(self, run_id: str) -> bool:
        return run_id in self.uploads

    def _reread_upload(self, run_id: str) -> Run | None:
        """An uploaded run, read again from disk (within the upload budgets) if needed."""
        from .uploads import upload_budget

        limit = self.upload_limit_mb * 2**20
        try:
            with upload_budget(limit, self.upload_budget):
                return self.uploads.get(run_id)
        except Exception:
            log.debug("re-reading upload %s failed", run_id, exc_info=True)
            return None

    # ----------------------------------------------------------------- analyses

    def analyze(self, run: Run) -> Any:
        """``analyze_run(run)``, cached by ``(run id, last step)``."""
        key = _run_key(run)
        with self._lock:
            hit = self._analyses.get(key)
            if hit is not None:
                self._analyses.move_to_end(key)
                return hit
        result = _analysis_of(run)
        with self._lock:
            self._analyses[key] = result
            while len(self._analyses) > ANALYSIS_CACHE_SIZE:
                self._analyses.popitem(last=False)
        return result

    def review_row(self, run: Run, analysis: Any, uploaded: bool) -> dict[str, Any]:
        """:func:`review_row`, cached while the run and its analysis stay the same
        (callers must not modify the row)."""
        key = (*_run_key(run), len(run.frame), uploaded)
        with self._lock:
            hit = self._rows.get(key)
            if hit is not None and hit[0] is analysis:
                self._rows.move_to_end(key)
                return hit[1]
        row = review_row(run, analysis, uploaded=uploaded)
        with self._lock:
            self._rows[key] = (analysis, row)
            while len(self._rows) > ANALYSIS_CACHE_SIZE:
                self._rows.popitem(last=False)
        return row

    def extra_values(self, run: Run) -> dict[str, Any]:
        """:func:`extra_values`, cached while the run stays the same (do not modify)."""
        key = ("extra", *_run_key(run), len(run.frame))
        with self._lock:
            hit = self._rows.get(key)
            if hit is not None:
                self._rows.move_to_end(key)
                return hit[1]
        values = extra_values(run)
        with self._lock:
            self._rows[key] = (None, values)
            while len(self._rows) > ANALYSIS_CACHE_SIZE:
                self._rows.popitem(last=False)
        return values

    def role_series(self, run: Run, roles: RoleMap) -> tuple[Any, Any, Any]:
        """``(train, val, lr)`` series of ``roles``, cached per run (LRU, bounded by points).

        Keyed by run id, row count and last step, so a run that grew is read again.
        Callers must not modify the frames they get.
        """
        key = (*_run_key(run), len(run.frame), roles.train_loss, roles.val_loss, roles.lr)
        with self._lock:
            hit = self._series.get(key)
            if hit is not None:
                self._series.move_to_end(key)
                return hit
        series = tuple(role_series(run, name) for name in (roles.train_loss, roles.val_loss,
                                                           roles.lr))
        points = sum(len(s) for s in series if s is not None)
        if points > SERIES_CACHE_POINTS:
            return series  # type: ignore[return-value]
        with self._lock:
            self._series[key] = series
            while (len(self._series) > SERIES_CACHE_RUNS
                   or sum(len(x) for v in self._series.values() for x in v if x is not None)
                   > SERIES_CACHE_POINTS):
                self._series.popitem(last=False)
        return series  # type: ignore[return-value]


def _run_key(run: Run) -> tuple[str, int]:
    steps = run.frame["step"]
    return run.meta.id, int(steps.max()) if len(steps) else -1


def _read_mlflow(uri: str, since: float | None) -> ReadResult:
    try:
        return read_sources([uri], since=since)
    except Exception as exc:  # noqa: BLE001
        res = ReadResult()
        res.add_error(uri, f"cannot read the MLflow store: {exc}")
        return res


def _probe_mlflow(uri: str) -> ReadResult | None:
    """For an http(s) server, a quick check first (10 s, one retry): a dead or slow
    server is reported in seconds, not after the full read's retries. ``None``: go on."""
    if not uri.startswith(("http://", "https://")):
        return None
    from analyzer.errors import LRTempoError
    from analyzer.readers.mlflow_store import check_connection

    try:
        check_connection(uri)
    except LRTempoError as exc:
        res = ReadResult()
        location = getattr(exc, "location", uri)
        res.add_error(location, str(getattr(exc, "reason", exc)))
        return res
    except Exception:  # the read itself will say what is wrong
        log.debug("MLflow probe of %s failed", uri, exc_info=True)
    return None


@dataclass(frozen=True)
class MlflowProblem:
    """What is wrong with a configured MLflow store: ``state`` is ``unreachable``,
    ``slow``, ``refused`` or ``error``; ``message`` is the reader's explanation."""

    uri: str
    state: str
    message: str


_PROBLEM_WORDS = (
    ("refused", ("access refused", "HTTP 401", "HTTP 403")),
    ("slow", ("did not answer within", "rate-limiting")),
    ("unreachable", ("cannot connect", "no connection within", "TLS certificate",
                     "no such file", "does not exist")),
)


def _strip_userinfo(uri: str) -> str:
    """The URI without ``user:password@``."""
    scheme, sep, rest = uri.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}{sep}{host.rsplit('@', 1)[-1]}{slash}{path}" if sep else uri


def _plain_uri(uri: str) -> str:
    """A URI compared without credentials, case of the scheme, or a trailing slash."""
    scheme, sep, rest = _strip_userinfo(uri.strip()).partition("://")
    return (f"{scheme.lower()}{sep}{rest}" if sep else scheme).rstrip("/")


def mlflow_problems(uris: list[str], errors: list[dict[str, str]]
                    ) -> tuple[list[MlflowProblem], list[dict[str, str]]]:
    """Split read errors into one problem per unusable MLflow store and the others
    (a single run's history that failed stays an ordinary error)."""
    plain = {_plain_uri(u): u for u in uris}
    problems: list[MlflowProblem] = []
    rest: list[dict[str, str]] = []
    for e in errors:
        uri = plain.get(_plain_uri(e.get("location", "")))
        if uri is None or any(p.uri == uri for p in problems):
            rest.append(e)
            continue
        msg = e.get("error", "")
        state = next((st for st, words in _PROBLEM_WORDS
                      if any(w.lower() in msg.lower() for w in words)), "error")
        problems.append(MlflowProblem(_strip_userinfo(uri), state, msg))
    return problems, rest


def _read_file_sources(sources: list[str]) -> ReadResult:
    """Runs and errors of the file sources, one source after another."""
    result = ReadResult()
    for src in sources:
        try:
            part = read_sources([src])
        except Exception as exc:  # noqa: BLE001 - an unfinished reader must not stop the rest
            part = _read_units_one_by_one(src, exc)
        result.runs.extend(part.runs)
        result.errors.extend(part.errors)
    return result


def _read_units_one_by_one(src: str, first_error: Exception) -> ReadResult:
    """Fallback when ``read_sources`` raised: read a folder's logs one at a time."""
    result = ReadResult()
    path = Path(src)
    if not path.is_dir():
        result.add_error(src, f"cannot read: {type(first_error).__name__}: {first_error}")
        return result
    for unit in discover(path):
        try:
            result.runs.extend(read_log_source(unit))
        except Exception as exc:  # noqa: BLE001
            result.add_error(unit.location, f"cannot read: {type(exc).__name__}: {exc}".rstrip(": "))
    return result


def _mlflow_run_by_id(uri: str, run_id: str) -> Run | None:
    try:
        from analyzer.readers import mlflow_store
    except ImportError:
        return None
    reader: Callable[..., Any] | None = getattr(mlflow_store, "read_mlflow", None)
    if reader is None:
        return None
    try:
        res = reader(uri, run_ids=[run_id])
    except Exception:
        log.debug("MLflow look-up of %s in %s failed", run_id, uri, exc_info=True)
        return None
    for run in getattr(res, "runs", []):
        if run.meta.id == run_id:
            return run
    return None


def current_store() -> DataStore:
    """The store of the app serving this request."""
    import flask

    return flask.current_app.config[STORE_KEY]


# ----------------------------------------------------------------------- table rows


def format_time(ts: float | None, *, utc_suffix: bool = True) -> str:
    """``2026-11-25 06:23 UTC`` (the Review grid's column says UTC, so it leaves it off)."""
    if ts is None or not np.isfinite(ts):
        return ""
    text = datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M")
    return f"{text} UTC" if utc_suffix else text


def format_duration(start: float | None, end: float | None) -> str:
    if start is None or end is None or end < start:
        return ""
    s = int(end - start)
    if s < 60:
        return f"{s}s"
    h, rem = divmod(s, 3600)
    m = rem // 60
    return f"{h}h {m:02d}m" if h else f"{m}m"


def mlflow_run_url(run: Run) -> str | None:
    """The run's page in the MLflow UI when its location is an http(s) server."""
    return run_url(run.meta)


def run_user(run: Run) -> str:
    """Who ran it: the reader's user, else MLflow's ``mlflow.user`` tag, else ``""``."""
    return run.meta.user or (run.meta.tags or {}).get("mlflow.user", "") or ""


def parse_tag_filter(text: str | None) -> list[tuple[str, str | None]]:
    """``team=cv, sweep`` → ``[("team", "cv"), ("sweep", None)]`` (``None``: any value)."""
    out: list[tuple[str, str | None]] = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        out.append((key.strip(), value.strip() if eq else None))
    return out


def matches_tags(run: Run, wanted: list[tuple[str, str | None]]) -> bool:
    """True when the run has every wanted tag (and value; values compare case-insensitively)."""
    tags = run.meta.tags or {}
    for key, value in wanted:
        if key not in tags:
            return False
        if value is not None and str(tags[key]).strip().lower() != value.lower():
            return False
    return True


def spark_values(series: Any, n: int = 40) -> list[float] | None:
    """A loss series as ``n`` bucket means scaled to ``[0, 1]`` (for the Review sparkline)."""
    if series is None or len(series) < 3:
        return None
    y = series["value"].to_numpy(dtype=np.float64)
    y = y[np.isfinite(y)]
    if y.size < 3:
        return None
    means = np.array([b.mean() for b in np.array_split(y, min(n, y.size)) if b.size])
    lo, hi = np.percentile(means, [2, 98])
    span = float(hi - lo)
    if not np.isfinite(span) or span <= 0:
        return [0.5] * len(means)
    return [round(float(v), 3) for v in np.clip((means - lo) / span, 0.0, 1.0)]


def review_row(run: Run, analysis: Any, *, uploaded: bool = False) -> dict[str, Any]:
    """One row of the Review table (plain values; the grid renders them as text)."""
    m = run.meta
    findings = tuple(getattr(analysis, "findings", ()) or ())
    main = worst(findings)
    sug = getattr(analysis, "suggestion", None)
    roles = getattr(analysis, "roles", None)
    best = sug.early_stop_step if sug is not None and sug.early_stop_step is not None else None
    if best is None and roles is not None and roles.val_loss:
        try:
            best = best_val_step(role_series(run, roles.val_loss))
        except Exception:  # noqa: BLE001
            best = None
    change = lr_change(sug)  # the same numbers and line as the Run page, reports and tags
    start = m.start_time if m.start_time is not None else run_time(run)
    wall = run.frame["wall_time"].to_numpy(dtype=np.float64)
    wall = wall[np.isfinite(wall)]
    if wall.size >= 2:  # the logged points' span; a file's mtime is not its end
        duration = format_duration(float(wall.min()), float(wall.max()))
    elif m.start_time is not None and m.end_time is not None:
        duration = format_duration(m.start_time, m.end_time)
    else:
        duration = ""
    try:
        spark = spark_values(role_series(run, roles.train_loss)) if roles is not None else None
    except Exception:  # noqa: BLE001 - a sparkline is decoration
        spark = None
    best_val = None
    if best is not None and roles is not None and roles.val_loss:
        try:
            best_val = value_at(role_series(run, roles.val_loss), best)
        except Exception:  # noqa: BLE001
            best_val = None
    status = getattr(analysis, "status", "healthy")
    state = run_state(run)
    return {
        "id": m.id,
        "run": m.name,
        "user": run_user(run),
        "spark": spark,
        "experiment": m.experiment or ("uploads" if uploaded else ""),
        "source": "upload" if uploaded else m.source,
        "start": format_time(start, utc_suffix=False),
        "start_short": format_time(start, utc_suffix=False)[5:],  # 12-06 04:41
        "start_ts": start,
        "duration": duration,
        "status": status,
        "mlflow_status": m.status or "",
        # RUNNING / FINISHED / FAILED / KILLED for MLflow runs ("" for files): a running
        # run's verdict is marked "so far"
        "state": state,
        "running": state == "RUNNING",
        "rank": status_rank(status),
        "confidence": round(float(main.confidence), 3) if main else 0.0,
        "finding": finding_text(main) if main else "",
        "severity": main.severity if main else "",
        "lr": change.text if sug is not None else "",
        # machine numbers of the same line: the LR column sorts by these, not by its text
        "lr_current": change.current_lr,
        "lr_suggested": change.suggested_lr,
        "lr_factor": change.factor,
        "action": sug.action if sug is not None else "",
        "best_val_step": best,
        "best_val": best_val,
        "best_val_text": best_val_text(best_val, best),
        "mlflow_url": mlflow_run_url(run),
    }


#: Review order of the statuses: trouble first (``insufficient_data`` is the "info" rank).
STATUS_ORDER = ("divergence", "oscillation", "overfitting", "stagnation", "insufficient_data",
                "healthy")
#: MLflow run states shown in the Review grid.
RUN_STATES = ("RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED")


def status_rank(status: str | None) -> int:
    """0 for divergence … 5 for healthy (an unknown status just before healthy)."""
    try:
        return STATUS_ORDER.index(str(status))
    except ValueError:
        return len(STATUS_ORDER) - 1


def run_state(run: Run) -> str:
    """The MLflow run state (``RUNNING``, ``FINISHED``, ``FAILED``, ``KILLED``), else ``""``."""
    state = str(run.meta.status or "").strip().upper()
    return state if state in RUN_STATES else ""


def value_at(series: Any, step: int) -> float | None:
    """The series' value at ``step`` (the last one logged at or before it), ``None`` if none."""
    if series is None or not len(series):
        return None
    steps = series["step"].to_numpy()
    values = series["value"].to_numpy(dtype=np.float64)
    keep = (steps <= step) & np.isfinite(values)
    if not keep.any():
        return None
    return float(values[keep][-1])


def best_val_text(value: float | None, step: int | None) -> str:
    """``0.412 @ 1200`` (the best validation loss @ its step), ``""`` if unknown."""
    if step is None:
        return ""
    if value is None:
        return f"step {int(step)}"
    return f"{format_sig(value)} @ {int(step)}"


def triage_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Review rows in triage order (worst status first, then the most confident
    finding, then the latest start), copied with ``triage`` (their position: the Status
    column sorts by it) and ``run_suffix`` (what tells apart runs of the same name: their
    experiments, else start times, else short ids; ``""`` for a unique name)."""

    def key(r: dict[str, Any]) -> tuple[int, float, float]:
        start = r.get("start_ts")
        return (int(r.get("rank", status_rank(r.get("status")))),
                -float(r.get("confidence") or 0.0),
                -(float(start) if isinstance(start, (int, float)) and np.isfinite(start)
                  else -np.inf))

    ordered = sorted(rows, key=key)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for r in ordered:
        by_name.setdefault(str(r.get("run") or ""), []).append(r)
    suffix: dict[int, str] = {}
    for same in by_name.values():
        if len(same) < 2:
            continue
        for field_, fmt in (("experiment", _last_part), ("experiment", str), ("start", str),
                            ("id", lambda v: "#" + str(v)[:8])):
            values = [fmt(str(r.get(field_) or "")) for r in same]
            if all(values) and len(set(values)) == len(values):
                for r, v in zip(same, values, strict=True):
                    suffix[id(r)] = v
                break
        else:
            for i, r in enumerate(same):
                suffix[id(r)] = f"#{str(r.get('id') or '')[:8]} ({i + 1})"
    return [{**r, "triage": i, "run_suffix": suffix.get(id(r), "")}
            for i, r in enumerate(ordered)]


def _last_part(path: str) -> str:
    """``team-a/vision`` → ``vision`` (an experiment's last path segment)."""
    return path.rstrip("/").rsplit("/", 1)[-1]


class TagFilterError(ValueError):
    """A tag filter that cannot be read; the message says what is wrong and how to write it."""


def check_tag_filter(text: str | None) -> list[tuple[str, str | None]]:
    """:func:`parse_tag_filter`, or :class:`TagFilterError` naming the bad part."""
    how = "write key=value or key, separated by commas (e.g. team=cv, sweep)"
    for part in (text or "").split(","):
        raw = part.strip()
        if not raw:
            continue
        key, eq, value = raw.partition("=")
        if not key.strip():
            raise TagFilterError(f"tag filter {raw!r}: no tag key before '='; {how}")
        if eq and ("=" in value or not value.strip()):
            what = "two '='" if "=" in value else "no value after '='"
            raise TagFilterError(f"tag filter {raw!r}: {what}; {how}")
        if any(c in key for c in "<>!~*\"\'") or key.strip().count(" "):
            raise TagFilterError(f"tag filter {raw!r}: {key.strip()!r} is not a tag key "
                                 f"(no spaces, quotes or comparison signs); {how}")
    return parse_tag_filter(text)


def extra_keys(run: Run) -> list[str]:
    """The column chooser's keys of a run: ``param:NAME`` and ``metric:NAME`` (cheap)."""
    return ([f"param:{k}" for k in (run.meta.params or {})]
            + [f"metric:{n}" for n in run.metric_names])


def extra_values(run: Run) -> dict[str, Any]:
    """The run's MLflow params (``param:NAME``, a number when it reads as one) and the
    last value of each metric (``metric:NAME``), for the Review's column chooser."""
    out: dict[str, Any] = {}
    for k, v in (run.meta.params or {}).items():
        text = str(v)
        try:
            num = float(text)
        except ValueError:
            num = None
        out[f"param:{k}"] = num if num is not None and np.isfinite(num) else text
    for name, v in run.last_values().items():
        out[f"metric:{name}"] = v if np.isfinite(v) else None
    return out
