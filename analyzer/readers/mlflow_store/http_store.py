"""An MLflow tracking server read over its REST API (on the transport of
:mod:`.http_transport`): experiments, runs found by ``runs/search`` (paged), and each
metric's history from ``get-history-bulk`` or the paged ``get-history``, fetched by a
thread pool or synced through the local history cache (:mod:`..mlflow_cache`).
Listings are bounded: pages, answer bytes and runs (:func:`max_listed_runs`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from ...errors import SourceError
from .http_transport import RETRIES, TIMEOUT, WORKERS, _ApiError, _HttpClient
from .shared import HISTORY_ERRORS, _frame, _history_error, _meta, _Query, _Record, _wanted

#: Points per ``metrics/get-history`` page (MLflow's own limit for this call).
HISTORY_PAGE_SIZE = 25_000
#: Runs (and experiments) per search page; MLflow's default and usual maximum.
SEARCH_PAGE_SIZE = 1_000
#: Most pages one listing may take (10M runs, or 250M points of one metric).
MAX_PAGES = 10_000
#: Most runs one search may list (a server that pages forever is stopped here, long
#: before memory runs out: a listed run holds a few KB); :data:`MAX_RUNS_ENV` overrides.
MAX_LISTED_RUNS = 200_000
MAX_RUNS_ENV = "LRTEMPO_MLFLOW_MAX_RUNS"
#: Most answer bytes one listing may take, all its pages together (a history of 2 GiB of
#: JSON is ~25M points).
MAX_LISTING_BYTES = 2 * 2**30
#: The MLflow UI's API (same server); ``metrics/get-history-bulk`` lives there.
AJAX_API = "/ajax-api/2.0/mlflow/"
#: Most points one ``get-history-bulk`` answer holds (the server cuts longer histories).
BULK_MAX_POINTS = 25_000
#: Most points per run one ``get-history-bulk-interval`` answer holds; a full answer may be
#: sampled, so it is not used (the whole history is fetched instead).
INTERVAL_MAX_POINTS = 2_500


class _HttpStore(_HttpClient):
    """An MLflow tracking server reached over its REST API."""

    def __init__(self, uri: str, *, retries: int = RETRIES, timeout: float = TIMEOUT) -> None:
        super().__init__(uri, retries=retries, timeout=timeout)
        self._bulk = True  # until the server shows it has no get-history-bulk
        self._interval = True  # likewise for get-history-bulk-interval

    def describe(self) -> str:
        exps = self._call(
            "POST",
            "experiments/search",
            body={"max_results": SEARCH_PAGE_SIZE, "view_type": "ACTIVE_ONLY"},
        )
        n = len(exps.get("experiments", []))
        more = "+" if exps.get("next_page_token") else ""
        return f"MLflow{self._version()} server at {self.location}: {n}{more} active experiment(s)"

    def experiments(self) -> dict[str, str]:
        out: dict[str, str] = {}
        token: str | None = None
        pages = 0
        sizes: list[int] = []
        while True:
            body: dict[str, Any] = {"max_results": SEARCH_PAGE_SIZE, "view_type": "ACTIVE_ONLY"}
            if token:
                body["page_token"] = token
            page = self._call("POST", "experiments/search", body=body, sizes=sizes)
            for exp in page.get("experiments", []):
                out[str(exp["experiment_id"])] = str(exp.get("name", ""))
            pages += 1
            _check_listing(self.location, "experiments/search", sum(sizes), None)
            token = _next_token(page, token, self.location, pages)
            if not token:
                return out

    def find_experiment(self, key: str) -> tuple[str, str] | None:
        for endpoint, params in (
            ("experiments/get-by-name", {"experiment_name": key}),
            ("experiments/get", {"experiment_id": key}),
        ):
            try:
                exp = self._call("GET", endpoint, params=params).get("experiment") or {}
            except _ApiError as exc:
                if exc.code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                    continue
                raise
            if exp.get("lifecycle_stage", "active") != "deleted":
                return str(exp["experiment_id"]), str(exp.get("name", ""))
        return None

    def search(self, exps: dict[str, str], query: _Query) -> list[_Record]:
        clauses = []
        if query.since is not None:
            clauses.append(f"attributes.start_time > {int(query.since * 1000)}")
        id_chunks: list[tuple[str, ...] | None] = [None]
        if query.run_ids:
            ids = query.run_ids
            id_chunks = [ids[i : i + 100] for i in range(0, len(ids), 100)]
        exp_ids = list(exps)
        records: list[_Record] = []
        for start in range(0, len(exp_ids), 100):
            for chunk in id_chunks:
                extra = (
                    [f"attributes.run_id IN ({', '.join(repr(r) for r in chunk)})"] if chunk else []
                )
                records += self._search_runs(
                    exp_ids[start : start + 100],
                    " AND ".join(clauses + extra),
                    exps,
                    query.max_runs,
                )
        return records

    def _search_runs(
        self, exp_ids: list[str], filter_string: str, exps: dict[str, str], max_runs: int | None
    ) -> list[_Record]:
        out: list[_Record] = []
        token: str | None = None
        pages = 0
        sizes: list[int] = []
        while max_runs is None or len(out) < max_runs:
            body: dict[str, Any] = {
                "experiment_ids": exp_ids,
                "filter": filter_string,
                "run_view_type": "ACTIVE_ONLY",
                "max_results": min(SEARCH_PAGE_SIZE, max_runs or SEARCH_PAGE_SIZE),
                "order_by": ["attributes.start_time DESC"],
            }
            if token:
                body["page_token"] = token
            page = self._call("POST", "runs/search", body=body, sizes=sizes)
            out += [self._record(run, exps) for run in page.get("runs", [])]
            pages += 1
            _check_listing(self.location, "runs/search", sum(sizes), len(out))
            token = _next_token(page, token, self.location, pages)
            if not token:
                break
        return out

    def _record(self, run: dict[str, Any], exps: dict[str, str]) -> _Record:
        info, data = run.get("info", {}), run.get("data", {})
        run_id = str(info.get("run_id") or info["run_uuid"])
        exp_id = str(info.get("experiment_id", ""))
        tags = {t["key"]: str(t.get("value", "")) for t in data.get("tags", [])}
        params = {p["key"]: str(p.get("value", "")) for p in data.get("params", [])}
        meta = _meta(
            run_id=run_id,
            name=info.get("run_name"),
            params=params,
            tags=tags,
            location=f"{self.location}/#/experiments/{quote(exp_id)}/runs/{quote(run_id)}",
            start_ms=info.get("start_time"),
            end_ms=info.get("end_time"),
            user_id=info.get("user_id"),
            experiment=exps.get(exp_id),
            status=info.get("status"),
        )
        metrics = data.get("metrics", [])
        keys = tuple(m["key"] for m in metrics)
        latest = tuple(
            (str(m["key"]), step, stamp)
            for m in metrics
            if (step := _whole(m.get("step", 0))) is not None
            and (stamp := _whole(m.get("timestamp", 0))) is not None
        )
        return _Record(meta, exp_id, keys, latest, _whole(info.get("end_time")))

    def history(self, run_id: str, key: str) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
        """Every point of one metric: one ``get-history-bulk`` call, else paged ``get-history``."""
        if self._bulk:
            got = self._history_bulk(run_id, key)
            if got is not None:
                return got
        return self._history_paged(run_id, key)

    def _history_bulk(
        self, run_id: str, key: str
    ) -> tuple[str, np.ndarray, np.ndarray, np.ndarray] | None:
        """The history from the UI's bulk endpoint; ``None`` when it may be cut or is absent."""
        cap = min(BULK_MAX_POINTS, HISTORY_PAGE_SIZE)  # a longer history goes page by page
        try:
            page = self._call(
                "GET",
                "metrics/get-history-bulk",
                params={"run_id": run_id, "metric_key": key, "max_results": cap},
                api=AJAX_API,
            )
        except _ApiError as exc:
            if exc.code is None and exc.status in (404, 405, 501):
                self._bulk = False  # no such endpoint here (not an MLflow UI server)
            return None
        points = page.get("metrics")
        if not isinstance(points, list) or len(points) >= cap:
            return None
        return (key, *_points(points, run_id))

    def history_after(
        self, run_id: str, key: str, start: int, end: int
    ) -> tuple[str, np.ndarray, np.ndarray, np.ndarray] | None:
        """The points of one metric from step ``start`` to ``end`` (both included) from
        ``get-history-bulk-interval``; ``None`` when that answer may be sampled
        (:data:`INTERVAL_MAX_POINTS` points) or the server lacks the endpoint."""
        if self._interval:
            try:
                page = self._call(
                    "GET",
                    "metrics/get-history-bulk-interval",
                    params={
                        "run_ids": run_id,
                        "metric_key": key,
                        "start_step": start,
                        "end_step": end,
                        "max_results": INTERVAL_MAX_POINTS,
                    },
                    api=AJAX_API,
                )
            except _ApiError as exc:
                if exc.code is None and exc.status in (404, 405, 501):
                    self._interval = False
                page = {}
            points = page.get("metrics")
            if isinstance(points, list) and len(points) < INTERVAL_MAX_POINTS:
                return (key, *_points(points, run_id))
        return None

    def _history_paged(
        self, run_id: str, key: str
    ) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
        """Every point of one metric, paging through ``metrics/get-history``."""
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        token: str | None = None
        pages = 0
        sizes: list[int] = []
        while True:
            params: dict[str, Any] = {
                "run_id": run_id,
                "metric_key": key,
                "max_results": HISTORY_PAGE_SIZE,
            }
            if token:
                params["page_token"] = token
            page = self._call("GET", "metrics/get-history", params=params, sizes=sizes)
            ms = page.get("metrics", [])
            n = len(ms)  # each page as arrays: 24 bytes a point, not three Python lists
            parts.append(
                (
                    np.fromiter((int(m.get("step", 0)) for m in ms), np.int64, n),
                    np.fromiter((float(m.get("value", 0.0)) for m in ms), np.float64, n),
                    np.fromiter((int(m.get("timestamp", 0)) for m in ms), np.int64, n),
                )
            )
            pages += 1
            _check_listing(self.location, "metrics/get-history", sum(sizes), None)
            token = _next_token(page, token, self.location, pages)
            if not token:
                break

        def joined(i: int, dtype: Any) -> np.ndarray:
            return np.concatenate([p[i] for p in parts]) if parts else np.empty(0, dtype)

        return key, joined(0, np.int64), joined(1, np.float64), joined(2, np.int64)

    def histories(
        self, records: Sequence[_Record], metrics: Sequence[str] | None
    ) -> Iterator[tuple[_Record, pd.DataFrame | str]]:
        """Each run's histories: from the local cache (:mod:`..mlflow_cache`) where they are
        unchanged, else fetched (only the new steps of a running run)."""
        from ..mlflow_cache import MetricCache, synced_histories

        cache = MetricCache.open()
        if cache is None:
            yield from self._fetch_all(records, metrics)
            return
        try:
            yield from synced_histories(self, cache, records, metrics)
        finally:
            cache.close()

    def _fetch_all(
        self, records: Sequence[_Record], metrics: Sequence[str] | None
    ) -> Iterator[tuple[_Record, pd.DataFrame | str]]:
        """Every history fetched, nothing cached (``--no-cache``, or no usable cache)."""
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="mlflow-history") as pool:
            futures = [
                [
                    (key, pool.submit(self.history, rec.meta.id, key))
                    for key in _wanted(rec.metric_keys, metrics)
                ]
                for rec in records
            ]
            try:
                for rec, futs in zip(records, futures):
                    yield rec, _collect(futs)
            finally:
                for futs in futures:
                    for _, fut in futs:
                        fut.cancel()


def _whole(value: Any) -> int | None:
    """An MLflow int64 (a number, or a string in protobuf JSON) as an int; else ``None``."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _points(points: list[Any], run_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A history answer's points of ``run_id`` as (step, value, timestamp) arrays, in
    MLflow's order (timestamp, step, value)."""
    points = [m for m in points if m.get("run_id", run_id) == run_id]
    steps = np.fromiter((int(m.get("step", 0)) for m in points), np.int64, len(points))
    values = np.fromiter((float(m.get("value", 0.0)) for m in points), np.float64, len(points))
    stamps = np.fromiter((int(m.get("timestamp", 0)) for m in points), np.int64, len(points))
    order = np.lexsort((values, steps, stamps))
    return steps[order], values[order], stamps[order]


def _collect(futures: list[tuple[str, Future]]) -> pd.DataFrame | str:
    """One run's frame from its per-metric history futures, or what went wrong."""
    parts = []
    for key, fut in futures:
        try:
            parts.append(fut.result())
        except HISTORY_ERRORS as exc:
            return _history_error(key, exc)
    return _frame(parts)


def max_listed_runs() -> int:
    """Most runs one search may list: ``$LRTEMPO_MLFLOW_MAX_RUNS``, else :data:`MAX_LISTED_RUNS`."""
    raw = os.environ.get(MAX_RUNS_ENV, "").strip()
    if not raw:
        return MAX_LISTED_RUNS
    if not raw.isdigit() or int(raw) < 1:
        raise SourceError(
            MAX_RUNS_ENV, f"must be a whole number of runs above 0, not {raw!r}", "config"
        )
    return int(raw)


def _check_listing(location: str, endpoint: str, nbytes: int, runs: int | None) -> None:
    """Stop a listing whose pages together exceed :data:`MAX_LISTING_BYTES` or, for runs,
    :func:`max_listed_runs`: a server that pages forever must not fill the memory."""
    if nbytes > MAX_LISTING_BYTES:
        raise SourceError(
            location,
            f"the {endpoint} listing passed "
            f"{MAX_LISTING_BYTES / 2**20:,.0f} MiB of answers without an end; "
            "paging stopped (is this an MLflow server?)",
            "limit",
        )
    if runs is not None and runs > max_listed_runs():
        raise SourceError(
            location,
            f"the server listed more than {max_listed_runs():,} runs "
            "for one search; paging stopped (narrow it with --since or "
            f"--experiment, or set {MAX_RUNS_ENV} to allow more)",
            "limit",
        )


def _next_token(
    page: dict[str, Any], previous: str | None, location: str, pages: int
) -> str | None:
    """The next page's token; a repeated token or a listing over :data:`MAX_PAGES` pages
    (a server that never stops paging) is an error."""
    token = page.get("next_page_token") or None
    if token is not None and token == previous:
        raise SourceError(location, "the server repeated a page token; paging stopped", "bad_data")
    if token is not None and pages >= MAX_PAGES:
        raise SourceError(
            location,
            f"the server sent more than {MAX_PAGES:,} pages for one listing; paging stopped",
            "limit",
        )
    return token
