"""A local cache of MLflow metric histories, so a daily review fetches only what changed.

Where: ``$LRTEMPO_HOME/cache/mlflow-histories.sqlite`` (``$LRTEMPO_HOME`` defaults to
``$XDG_DATA_HOME/lrtempo``, else ``~/.local/share/lrtempo``); ``$LRTEMPO_MLFLOW_CACHE``
names another file, or turns the cache off with ``off``. One SQLite file (stdlib
:mod:`sqlite3`, WAL journal, so several processes may read and write it at once), keyed
by server (its URI without credentials), run id and metric key; each history is one blob
of little-endian ``step int64, value float64, timestamp_ms int64`` arrays with a CRC.

When a history is fetched again (see :func:`plan`), from what ``runs/search`` says
about the run (status, end time, each metric's latest step and timestamp):

- cached and unchanged (same latest step and timestamp; for a run cached as FINISHED,
  FAILED or KILLED also the same status and end time): nothing is fetched;
- a run cached while RUNNING whose latest step moved on: only the steps from the last
  cached step on (``get-history-bulk-interval`` with ``start_step``/``end_step``; an
  answer that may be sampled falls back to the whole history);
- otherwise (a finished run whose end time or latest point changed, a new metric, an
  unknown run): the whole history.

Bounded: past ``$LRTEMPO_MLFLOW_CACHE_MB`` (default 1024) the least recently used runs
are evicted (servers left without runs with them). Safe to delete at any time; a file
that is not a readable cache (corrupt, another schema) is discarded with a warning and
rebuilt, never a crash. Only the HTTP reader uses it: local stores are read directly.
Nothing is ever written to the MLflow server.

The package: :mod:`.store` (where the file is, its size cap, the :class:`MetricCache`
file itself) and :mod:`.sync` (what to fetch again, and the cached read of an HTTP store).
"""

from __future__ import annotations

from .store import (
    CACHE_ENV,
    CACHE_MB_ENV,
    DEFAULT_CAP_MB,
    EVICT_TO,
    FILE_NAME,
    SCHEMA_VERSION,
    TERMINAL,
    Arrays,
    Entry,
    MetricCache,
    Series,
    bypassed,
    cache_path,
    cap_bytes,
    enabled,
    lrtempo_home,
)
from .sync import Plan, merge, plan, synced_histories

__all__ = [
    "CACHE_ENV",
    "CACHE_MB_ENV",
    "DEFAULT_CAP_MB",
    "EVICT_TO",
    "FILE_NAME",
    "SCHEMA_VERSION",
    "TERMINAL",
    "Arrays",
    "Entry",
    "MetricCache",
    "Plan",
    "Series",
    "bypassed",
    "cache_path",
    "cap_bytes",
    "enabled",
    "lrtempo_home",
    "merge",
    "plan",
    "synced_histories",
]
