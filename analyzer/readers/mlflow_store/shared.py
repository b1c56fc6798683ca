"""What every MLflow store reader shares: the run record and query, the store protocol,
run metadata and frames from MLflow's fields, and credential-free text."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ...errors import SourceError
from ...model import RunMeta, empty_frame, finalize_frame, frame_from_columns

URI_HELP = (
    "use http(s)://host:port, sqlite:///path/mlflow.db, postgresql://user@host/db "
    "or file:///path/mlruns"
)
_RUN_ID = re.compile(r"^[\w\-]+$")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class _Record:
    """A run found by a search: its metadata and the metric keys it logged."""

    meta: RunMeta
    experiment_id: str
    metric_keys: tuple[str, ...] = ()
    #: Each metric's latest ``(key, step, timestamp_ms)`` and the end time in ms, as the
    #: search reported them (HTTP only): what the history cache checks for changes.
    latest: tuple[tuple[str, int, int], ...] = ()
    end_ms: int | None = None


@dataclass(frozen=True)
class _Query:
    """Which runs to read."""

    experiment: str | None = None
    since: float | None = None
    run_ids: tuple[str, ...] | None = None
    max_runs: int | None = None


class _Store(Protocol):
    """A store of one URI kind: what :func:`read_mlflow` asks of it."""

    location: str

    def describe(self) -> str: ...
    def experiments(self) -> dict[str, str]: ...
    def find_experiment(self, key: str) -> tuple[str, str] | None: ...
    def search(self, exps: dict[str, str], query: _Query) -> list[_Record]: ...
    def histories(
        self, records: Sequence[_Record], metrics: Sequence[str] | None
    ) -> Iterator[tuple[_Record, pd.DataFrame | str]]: ...
    def close(self) -> None: ...


def _redact_exc(exc: BaseException) -> str:
    """An exception's text without credentials in any URI it quotes."""
    text = str(exc) or type(exc).__name__
    return re.sub(r"//[^/@\s]*@", "//", text)


def _seconds(ms: Any) -> float | None:
    """MLflow's epoch milliseconds → epoch seconds (``None`` when unset)."""
    if ms is None or ms == "":
        return None
    try:
        value = float(ms)
    except (TypeError, ValueError):
        return None
    return value / 1000.0 if math.isfinite(value) else None


def _meta(
    *,
    run_id: str,
    name: str | None,
    location: str,
    params: dict[str, str],
    tags: dict[str, str],
    start_ms: Any,
    end_ms: Any,
    user_id: str | None,
    experiment: str | None,
    status: str | None,
) -> RunMeta:
    """The canonical metadata of one MLflow run."""
    name = name or tags.get("mlflow.runName") or run_id[:8]
    user = tags.get("mlflow.user") or user_id or None
    return RunMeta(
        id=run_id,
        name=name,
        source="mlflow",
        location=location,
        params=params,
        tags=tags,
        start_time=_seconds(start_ms),
        end_time=_seconds(end_ms),
        user=user,
        experiment=experiment,
        status=status or None,
        step_axis="step",
    )


def _frame(parts: Iterable[tuple[str, np.ndarray, np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """Canonical frame from per-metric ``(key, step, value, timestamp_ms)`` arrays."""
    parts = [p for p in parts if len(p[1])]
    if not parts:
        return empty_frame()
    keys = np.concatenate([np.full(len(p[1]), p[0], dtype=object) for p in parts])
    step = np.concatenate([p[1] for p in parts])
    value = np.concatenate([p[2] for p in parts])
    wall = np.concatenate([p[3] for p in parts]).astype(np.float64) / 1000.0
    return finalize_frame(frame_from_columns(keys, step, value, wall))


def _wanted(keys: Iterable[str], metrics: Sequence[str] | None) -> list[str]:
    """The keys to fetch, sorted: all, or those among ``metrics``."""
    keys = sorted(set(keys))
    return keys if metrics is None else [k for k in keys if k in set(metrics)]


def _strip_credentials(uri: str) -> str:
    """The URI without ``user:password@``."""
    return re.sub(r"^([A-Za-z][\w+.-]*://)[^/?#]*@", r"\1", uri)


#: What fetching one metric's history may raise that fails only that run.
HISTORY_ERRORS = (SourceError, ValueError, KeyError, TypeError)


def _history_error(key: str, exc: Exception) -> str:
    """The run's error when fetching metric ``key`` raised ``exc`` (:data:`HISTORY_ERRORS`)."""
    if isinstance(exc, SourceError):
        return f"cannot read metric '{key}': {exc.reason}"
    return f"unexpected history of metric '{key}' from the server: {_redact_exc(exc)}"
