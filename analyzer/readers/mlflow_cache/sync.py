"""Which cached MLflow histories to fetch again (:func:`plan`), and the HTTP store's
histories read through the cache (:func:`synced_histories`): unchanged ones from the
file, a running run's new steps only, the rest fetched whole; see
:mod:`analyzer.readers.mlflow_cache`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..mlflow_store.http_transport import WORKERS
from ..mlflow_store.shared import HISTORY_ERRORS, _frame, _history_error, _wanted
from .store import TERMINAL, Arrays, Entry, MetricCache, Series


@dataclass(frozen=True)
class Plan:
    """What to do for one metric: ``hit`` (use the cache), ``after`` (fetch steps from
    ``start`` to ``end`` and merge) or ``full`` (fetch the whole history)."""

    action: str
    start: int = 0
    end: int = 0


def plan(
    cached: Entry | None,
    status: str | None,
    end_ms: int | None,
    key: str,
    latest: tuple[int, int] | None,
) -> Plan:
    """How to bring ``key`` of a run up to date, from what ``runs/search`` reported now."""
    got = cached.series.get(key) if cached is not None else None
    if cached is None or got is None or latest is None or got.latest_step is None:
        return Plan("full")
    if cached.status in TERMINAL and (cached.status, cached.end_ms) != (status, end_ms):
        return Plan("full")  # a finished run changed: trust nothing of it
    if (got.latest_step, got.latest_ts) == latest:
        return Plan("hit")
    if cached.status in TERMINAL or latest[0] < got.latest_step:
        return Plan("full")
    return Plan("after", got.latest_step, latest[0])


def merge(old: Arrays, new: Arrays, start: int) -> Arrays:
    """``old`` without its points at ``start`` and later, plus ``new``, in MLflow's order
    (timestamp, step, value)."""
    keep = old[0] < start
    step = np.concatenate([old[0][keep], new[0]])
    value = np.concatenate([old[1][keep], new[1]])
    stamp = np.concatenate([old[2][keep], new[2]])
    order = np.lexsort((value, step, stamp))
    return step[order], value[order], stamp[order]


def synced_histories(
    store: Any, cache: MetricCache, records: Sequence[Any], metrics: Sequence[str] | None
) -> Iterator[tuple[Any, Any]]:
    """``_HttpStore.histories`` through the cache: each run's frame (or error message),
    fetching only what :func:`plan` says changed, and storing what was fetched."""

    server = store.location
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="mlflow-history") as pool:
        jobs = []
        for rec in records:
            keys = _wanted(rec.metric_keys, metrics)
            entry = cache.load(server, rec.meta.id, keys)
            latest = {k: (s, t) for k, s, t in rec.latest}
            todo = []
            for key in keys:
                p = plan(entry, rec.meta.status, rec.end_ms, key, latest.get(key))
                fut = None if p.action == "hit" else pool.submit(_fetch, store, rec.meta.id, key, p)
                todo.append((key, p, fut))
            jobs.append((rec, entry, latest, todo))
        unchanged: list[str] = []
        try:
            for rec, entry, latest, todo in jobs:
                got = _gather(rec, entry, latest, todo)
                if isinstance(got, str):
                    yield rec, got
                    continue
                parts, fresh = got
                changed = entry is None or (entry.status, entry.end_ms) != (
                    rec.meta.status,
                    rec.end_ms,
                )
                if fresh or changed:
                    reset = entry is not None and entry.status in TERMINAL and changed
                    cache.save(server, rec.meta.id, rec.meta.status, rec.end_ms, fresh, reset)
                else:
                    unchanged.append(rec.meta.id)
                yield rec, _frame(parts)
            cache.touch(server, unchanged)
        finally:
            for _, _, _, todo in jobs:
                for _, _, fut in todo:
                    if fut is not None:
                        fut.cancel()


def _fetch(store: Any, run_id: str, key: str, p: Plan) -> tuple[bool, Arrays]:
    """Fetch per plan: ``(True, arrays)`` for the whole history, ``(False, arrays)`` for
    the steps from ``p.start`` on."""
    if p.action == "after":
        got = store.history_after(run_id, key, p.start, p.end)
        if got is not None:
            return False, got[1:]
    return True, store.history(run_id, key)[1:]


def _gather(
    rec: Any,
    entry: Entry | None,
    latest: dict[str, tuple[int, int]],
    todo: list[tuple[str, Plan, Future | None]],
) -> tuple[list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], dict[str, Series]] | str:
    """One run's ``(key, step, value, stamp)`` parts and the histories to store, or what
    went wrong (as the uncached reader words it)."""

    parts = []
    fresh: dict[str, Series] = {}
    for key, p, fut in todo:
        if fut is None:
            assert entry is not None
            arrays = entry.series[key].arrays
        else:
            try:
                whole, arrays = fut.result()
            except HISTORY_ERRORS as exc:
                return _history_error(key, exc)
            if not whole:
                assert entry is not None
                arrays = merge(entry.series[key].arrays, arrays, p.start)
            step, ts = latest.get(key, (None, None))
            fresh[key] = Series(arrays, step, ts)
        parts.append((key, *arrays))
    return parts, fresh
