"""Reads of the dashboard's sources, each failure kept as an error of its result (never
raised): the file sources one by one, an MLflow store (after a quick probe of a server),
and one MLflow run by id. :class:`dashboard.store.DataStore` caches what they return."""

from __future__ import annotations

import logging
from pathlib import Path

from analyzer.model import ReadResult, Run
from analyzer.readers import discover, read_log_source, read_sources

log = logging.getLogger(__name__)


def read_file_sources(sources: list[str]) -> ReadResult:
    """Runs and errors of the file sources, one source after another."""
    result = ReadResult()
    for src in sources:
        try:
            part = read_sources([src])
        except Exception as exc:  # an unfinished reader must not stop the rest
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
        except Exception as exc:
            result.add_error(
                unit.location, f"cannot read: {type(exc).__name__}: {exc}".rstrip(": ")
            )
    return result


def with_kinds(res: ReadResult) -> ReadResult:
    """``res`` with each error's reader ``kind`` (``auth``, ``timeout``…) in its entry, for
    :func:`dashboard.health.problem_state` (the dashboard's copy; not in any report)."""
    for e in res.errors:
        kind = res.error_kinds.get(e.get("location", ""))
        if kind:
            e["kind"] = kind
    return res


def read_mlflow(uri: str, since: float | None) -> ReadResult:
    """The runs of an MLflow store started since ``since`` (epoch seconds)."""
    try:
        return with_kinds(read_sources([uri], since=since))
    except Exception as exc:
        res = ReadResult()
        res.add_error(uri, f"cannot read the MLflow store: {exc}")
        return res


def probe_mlflow(uri: str) -> ReadResult | None:
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
        res.add_error(location, str(getattr(exc, "reason", exc)), getattr(exc, "kind", None))
        return with_kinds(res)
    except Exception:  # the read itself will say what is wrong
        log.debug("MLflow probe of %s failed", uri, exc_info=True)
    return None


def mlflow_run_by_id(uri: str, run_id: str) -> Run | None:
    """The run ``run_id`` of the store ``uri``, ``None`` when it has none (or fails)."""
    from analyzer.readers.mlflow_store import read_mlflow as read_store

    try:
        res = read_store(uri, run_ids=[run_id])
    except Exception:
        log.debug("MLflow look-up of %s in %s failed", run_id, uri, exc_info=True)
        return None
    return next((run for run in res.runs if run.meta.id == run_id), None)
