"""The dashboard's store: runs from the sources and uploads, and their cached analyses.

One :class:`DataStore` per app (kept in ``app.server.config``; callbacks reach it
with :func:`current_store`). Nothing is read at import or at app creation: file
sources are read on the first request that needs them, MLflow stores once per time
window, and again only on :meth:`DataStore.refresh`. Analyses are cached in process,
keyed by ``(run id, last step)`` so a run that grew is analyzed again; the role series
the Run page plots are cached for a few runs (bounded by points), keyed the same way.
An MLflow read holds only its own lock, so a slow or dead server never blocks the
pages that do not need it; :mod:`dashboard.health` says what is wrong with one.
A read of the file sources (10,000 small files take minutes) runs outside the store's
lock too, one at a time, and is swapped in when done: meanwhile a Run page of a run
already read is served at once, and after a refresh the other requests see the
previous read until the new one is in. Auto-refresh skips a period while a read runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analyzer import analysis as _analysis
from analyzer.model import ReadResult, Run
from analyzer.readers import is_mlflow_uri
from analyzer.readers._io import ByteBudget
from analyzer.roles import RoleMap, role_series
from analyzer.timewindow import run_time

from . import sources
from .cache import LRU
from .health import MlflowProblem, mlflow_problems, plain_uri
from .review_rows import extra_values, review_row
from .upload_store import UploadStore
from .uploads import UPLOAD_BUDGET_MB, UPLOAD_READERS, reread_upload
from .uri_policy import UriNotAllowed, UriPolicy, same_origin
from .windows import window_bounds, window_key

log = logging.getLogger(__name__)

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

#: A run's ``(train, val, lr)`` role series (``None`` for a role it lacks).
Series3 = tuple[pd.DataFrame | None, pd.DataFrame | None, pd.DataFrame | None]


def _points(series: Series3) -> int:
    return sum(len(s) for s in series if s is not None)


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
    upload_budget: ByteBudget = field(default_factory=lambda: ByteBudget(UPLOAD_BUDGET_MB * 2**20))
    #: Upload requests read at once (a 50 MiB CSV takes ~1.4 GiB while it is parsed);
    #: the others wait for a slot (see :func:`dashboard.upload_views.handle_uploads`).
    upload_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(UPLOAD_READERS)
    )
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _file_runs: list[Run] | None = field(default=None, repr=False)
    _file_errors: list[dict[str, str]] = field(default_factory=list, repr=False)
    #: One read of the file sources at a time (held while reading; never the store's lock).
    _files_reading: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: The previous read's runs and errors, shown while a re-read (after a refresh) runs.
    _stale_files: tuple[list[Run], list[dict[str, str]]] | None = field(default=None, repr=False)
    _files_gen: int = field(default=0, repr=False)  # bumped by every refresh
    #: ``(uri, window)`` → ``(read at, result)`` (and ``(uri, "probe")`` for a failed probe).
    _mlflow: LRU[tuple[str, str], tuple[float, ReadResult]] = field(
        default_factory=lambda: LRU(MLFLOW_CACHE_ENTRIES), repr=False
    )
    _by_id: dict[str, Run] = field(default_factory=dict, repr=False)
    _analyses: LRU[tuple[str, int], Any] = field(
        default_factory=lambda: LRU(ANALYSIS_CACHE_SIZE), repr=False
    )
    _series: LRU[tuple[Any, ...], Series3] = field(
        default_factory=lambda: LRU(
            SERIES_CACHE_RUNS, max_weight=SERIES_CACHE_POINTS, weight=_points
        ),
        repr=False,
    )
    _mlflow_locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict, repr=False)
    #: Review rows and column-chooser values (the same fleet-sized bound as the analyses).
    _rows: LRU[tuple[Any, ...], tuple[Any, dict[str, Any]]] = field(
        default_factory=lambda: LRU(ANALYSIS_CACHE_SIZE), repr=False
    )
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
            assert stale is not None  # a blocking acquire waits instead
            return stale  # a re-read runs: the previous one
        try:
            with self._lock:
                if self._file_runs is not None:  # read by another caller meanwhile
                    return self._file_runs, self._file_errors
            result = sources.read_file_sources(self.file_sources)
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
            hit = self._mlflow.get(key)
            if hit is not None and time.time() - hit[0] < self.mlflow_ttl:
                return hit[1]
            with self.credentials_for(uri):
                res = sources.probe_mlflow(uri) or sources.read_mlflow(uri, since)
            with self._lock:
                self._index(res.runs)
                self._keep_mlflow(key, res)
        return res

    def credentials_for(self, uri: str) -> Any:
        """A context in which the environment's MLflow credentials are sent only when
        ``uri`` has the origin of one of the operator's URIs."""
        if same_origin(uri, self.trusted_uris()):
            return contextlib.nullcontext()
        from analyzer.readers.mlflow_store import without_env_credentials

        return without_env_credentials()

    def _keep_mlflow(self, key: tuple[str, str], res: ReadResult) -> None:
        """Cache a read; of the :data:`MLFLOW_CACHE_ENTRIES` kept (LRU), the runs only an
        evicted read held leave the id index too (call with the lock held)."""
        evicted = self._mlflow.put(key, (time.time(), res))
        for old_key, _ in evicted:
            lock = self._mlflow_locks.get(old_key)
            if lock is not None and not lock.locked():
                del self._mlflow_locks[old_key]
        if evicted:
            kept = {r.meta.id for _, res in self._mlflow.values() for r in res.runs}
            kept |= {r.meta.id for r in self._file_runs or []}
            kept |= {r.meta.id for r in (self._stale_files or ([], []))[0]}
            for _, (_, old) in evicted:
                for r in old.runs:
                    if r.meta.id not in kept:
                        self._by_id.pop(r.meta.id, None)

    def runs(
        self, window: str | None = None, user_uri: str | None = None
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
                errors.append(
                    {
                        "location": USER_URI_LOCATION,
                        "error": f"not allowed here: {exc}; showing the server's sources",
                    }
                )
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
        down = {plain_uri(p.uri) for p in self.problems(user_uri)}
        for uri in self.mlflow_uris_for(user_uri):
            if plain_uri(uri) in down:
                continue  # known unusable: no minutes of retries for a run page
            with self.credentials_for(uri):
                failed = sources.probe_mlflow(uri)
            if failed is not None:
                with self._lock:
                    self._keep_mlflow((uri, "probe"), failed)
                continue
            with self.credentials_for(uri):
                run = sources.mlflow_run_by_id(uri, run_id)
            if run is not None:
                with self._lock:
                    self._by_id[run.meta.id] = run
                return run
        return None

    def problems(self, user_uri: str | None = None) -> list[MlflowProblem]:
        """The visitor's MLflow stores found unusable by the reads of the last TTL."""
        now = time.time()
        errors = [
            e for t, res in self._mlflow.values() if now - t < self.mlflow_ttl for e in res.errors
        ]
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
        hit = self._analyses.get(key)
        if hit is not None:
            return hit
        result = _analysis.analyze_run(run)  # looked up at call time (tests replace it)
        self._analyses.put(key, result)
        return result

    def review_row(self, run: Run, analysis: Any, uploaded: bool) -> dict[str, Any]:
        """:func:`review_row`, cached while the run and its analysis stay the same
        (callers must not modify the row)."""
        key = (*_run_key(run), len(run.frame), uploaded)
        hit = self._rows.get(key)
        if hit is not None and hit[0] is analysis:
            return hit[1]
        row = review_row(run, analysis, uploaded=uploaded)
        self._rows.put(key, (analysis, row))
        return row

    def extra_values(self, run: Run) -> dict[str, Any]:
        """:func:`extra_values`, cached while the run stays the same (do not modify)."""
        key = ("extra", *_run_key(run), len(run.frame))
        hit = self._rows.get(key)
        if hit is not None:
            return hit[1]
        values = extra_values(run)
        self._rows.put(key, (None, values))
        return values

    def role_series(self, run: Run, roles: RoleMap) -> Series3:
        """``(train, val, lr)`` series of ``roles``, cached per run (LRU, bounded by points).

        Keyed by run id, row count and last step, so a run that grew is read again.
        Callers must not modify the frames they get.
        """
        key = (*_run_key(run), len(run.frame), roles.train_loss, roles.val_loss, roles.lr)
        hit = self._series.get(key)
        if hit is not None:
            return hit
        series: Series3 = (
            role_series(run, roles.train_loss),
            role_series(run, roles.val_loss),
            role_series(run, roles.lr),
        )
        self._series.put(key, series)  # not kept when bigger than the whole cache
        return series


def _run_key(run: Run) -> tuple[str, int]:
    steps = run.frame["step"]
    return run.meta.id, int(steps.max()) if len(steps) else -1


def current_store() -> DataStore:
    """The store of the app serving this request."""
    import flask

    return flask.current_app.config[STORE_KEY]
