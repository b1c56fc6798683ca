"""MLflow tracking stores → :class:`~analyzer.model.Run`.

How each URI kind is read:

- ``http(s)://host[:port][/prefix]`` — MLflow's REST API through one :mod:`requests`
  session: experiments by name/id (``experiments/get-by-name``, ``experiments/get``) or
  all active ones (``experiments/search``); runs through ``runs/search``, paged 1,000 at a
  time, ``since`` sent as the filter ``attributes.start_time > <ms>``; each metric's
  history through the server's ``/ajax-api/…/metrics/get-history-bulk`` (plain JSON,
  about 3x less server time per point than the protobuf-JSON ``get-history``; its
  answer is capped at 25,000 points, so a full answer is fetched again the long way),
  else the paged ``metrics/get-history`` (25,000 points a page; also when the server
  has no bulk endpoint), fetched concurrently by :data:`WORKERS` threads; histories
  already read are kept in a local cache (:mod:`..mlflow_cache`) and fetched again only
  when the run changed, a running run's only from its last cached step on
  (``get-history-bulk-interval``). Connection errors, 429 and 5xx are retried
  with exponential backoff (every call is a read, the ``runs/search`` POST included;
  ``Retry-After`` is honoured up to 30 s), and so is an answer cut off mid-body. Each
  call waits :data:`TIMEOUT` seconds (``$LRTEMPO_MLFLOW_TIMEOUT``) for an answer; after a
  timeout the server is taken as down and later calls fail at once. An answer over
  :data:`MAX_ANSWER_BYTES` is refused unread. A run's location is its page in the MLflow UI.
- ``sqlite:///path.db`` — the MLflow schema (``experiments, runs, metrics, params,
  tags``) read with the stdlib :mod:`sqlite3`, no MLflow client.
- ``postgresql://user:pass@host:5432/db`` (or ``postgresql+psycopg2://…``) — the same
  schema and queries with ``psycopg`` (optional) in a read-only session.
- ``file:///path/mlruns`` — the plain-file layout read directly: ``<exp>/meta.yaml``,
  ``<exp>/<run>/meta.yaml``, ``metrics/<key>`` lines ``timestamp value step``,
  ``params/<key>``, ``tags/<key>`` (keys with ``/`` are sub-folders).
- ``mlflow`` — whatever ``$MLFLOW_TRACKING_URI`` names.

Read-only guarantee: local stores are never opened with ``MlflowClient`` (which runs
migrations and creates tables, a default experiment or a missing folder). The sqlite
file is opened with ``mode=ro``, a PostgreSQL session with
``default_transaction_read_only``; a missing file or folder is an error, never created.

Auth (HTTP): credentials in the URI (``http://user:pass@host``) first, else
``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` (basic), else
``MLFLOW_TRACKING_TOKEN`` (bearer). ``MLFLOW_TRACKING_INSECURE_TLS=true`` skips TLS
verification, ``MLFLOW_TRACKING_SERVER_CERT_PATH`` names a CA bundle and
``MLFLOW_TRACKING_CLIENT_CERT_PATH`` a client certificate. Credentials never appear in a
location, message or error. A caller reading a URI someone else chose (the dashboard, for
a URI a visitor typed) turns the environment's credentials off with
:func:`without_env_credentials`: only credentials in the URI itself are sent then.

Deleted experiments and runs are skipped everywhere. Within a metric, points are taken
in MLflow's order (timestamp, step, value) and resolved by
:func:`~analyzer.model.finalize_frame`.

Every :class:`~analyzer.errors.SourceError` raised here says what went wrong in its
``kind`` (``unreachable``, ``timeout``, ``auth``, ``not_found``, …: see
:data:`~analyzer.errors.SourceErrorKind`) as well as in words.

The package: this facade (the public API, URI dispatch, run selection);
:mod:`.http_transport` (session, auth, retries, limits, error wording) under
:mod:`.http_store` (the REST calls); :mod:`.sqlite_store`; :mod:`.file_store`;
:mod:`.shared` (run records, metadata, frames). The limits and settings are
re-exported here to be read; to change one (a test), set it on the module that uses it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ...errors import SourceError
from ...model import ReadResult, Run, RunMeta
from .file_store import FILE_STATUS, _FileStore
from .http_store import (
    AJAX_API,
    BULK_MAX_POINTS,
    HISTORY_PAGE_SIZE,
    INTERVAL_MAX_POINTS,
    MAX_LISTED_RUNS,
    MAX_LISTING_BYTES,
    MAX_PAGES,
    MAX_RUNS_ENV,
    SEARCH_PAGE_SIZE,
    _HttpStore,
    max_listed_runs,
)
from .http_transport import (
    API,
    BACKOFF,
    BODY_TIMEOUTS,
    MAX_ANSWER_BYTES,
    READ_ONLY_POSTS,
    RETRIES,
    RETRY_STATUS,
    TIMEOUT,
    TIMEOUT_ENV,
    WORKERS,
    timeout_setting,
    without_env_credentials,
)
from .postgres_store import _PostgresStore
from .shared import (
    _RUN_ID,
    URI_HELP,
    Progress,
    _Query,
    _Record,
    _redact_exc,
    _Store,
    _strip_credentials,
)
from .sqlite_store import _SqliteStore

# --------------------------------------------------------------------------- public API


def read_mlflow(
    uri: str,
    *,
    experiment: str | None = None,
    since: float | None = None,
    run_ids: list[str] | None = None,
    max_runs: int | None = None,
    metrics: list[str] | None = None,
    progress: Progress | None = None,
) -> ReadResult:
    """Every matching run of the store at ``uri`` with its full metric histories.

    ``experiment`` is a name or id (default: all active experiments); ``since`` keeps
    runs started after that epoch second; ``run_ids`` picks runs; ``max_runs`` keeps the
    most recent ones; ``metrics`` limits which histories are fetched. A run whose
    history cannot be read is reported in ``errors`` and the others go on.
    Raises :class:`SourceError` when the store itself cannot be used.
    """
    query = _Query(experiment, since, tuple(run_ids) if run_ids is not None else None, max_runs)
    result = ReadResult()
    with _opened(uri) as store:
        records = _select(store, query, result)
        total = len(records)
        for done, (rec, got) in enumerate(store.histories(records, metrics), 1):
            if isinstance(got, str):
                result.add_error(rec.meta.location, got)
            else:
                result.runs.append(Run(rec.meta, got))
            if progress:
                progress(done, total)
    return result


def list_runs(uri: str, experiment: str | None = None, since: float | None = None) -> list[RunMeta]:
    """Metadata of the matching runs, newest first, without metric histories (cheap)."""
    with _opened(uri) as store:
        return [rec.meta for rec in _select(store, _Query(experiment, since), ReadResult())]


def check_connection(uri: str) -> str:
    """A one-line description of the store, or :class:`SourceError` saying what to do."""
    with _opened(uri, retries=1, timeout=10.0) as store:
        return store.describe()


# --------------------------------------------------------------------------- dispatch


def resolve_uri(uri: str) -> str:
    """``mlflow`` → ``$MLFLOW_TRACKING_URI``; a bare local path → a ``file:`` URI."""
    uri = uri.strip()
    if uri == "mlflow":
        env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
        if not env or env == "mlflow":
            raise SourceError(
                "mlflow",
                "MLFLOW_TRACKING_URI is not set; set it, or pass the "
                f"tracking URI itself ({URI_HELP})",
                "config",
            )
        uri = env
    if "://" not in uri and not uri.startswith(("file:", "databricks", "sqlite:")):
        uri = Path(uri).absolute().as_uri()
    return uri


@contextmanager
def _opened(uri: str, *, retries: int = RETRIES, timeout: float | None = None) -> Iterator[_Store]:
    """The store for ``uri``, closed on exit; unexpected I/O or format errors become
    :class:`SourceError` naming the (credential-free) location."""
    resolved = resolve_uri(uri)
    if timeout is None:
        timeout = timeout_setting()
    try:
        store = _open_store(resolved, retries=retries, timeout=timeout)
    except ValueError as exc:  # e.g. a malformed host in the URI
        raise SourceError(
            _strip_credentials(resolved),
            f"not a valid tracking URI ({exc}); {URI_HELP}",
            "bad_uri",
        ) from None
    try:
        yield store
    except SourceError:
        raise
    except _READ_ERRORS + _db_errors(store) as exc:
        raise SourceError(
            store.location, f"cannot read the store: {_redact_exc(exc)}", "bad_data"
        ) from None
    finally:
        store.close()


#: Errors of a store's read that mean its content or files could not be read.
_READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    sqlite3.Error,
    ValueError,
    KeyError,
    TypeError,
)


def _db_errors(store: _Store) -> tuple[type[BaseException], ...]:
    """The database engine's own errors of a SQL store (none for the others)."""
    errors: tuple[type[BaseException], ...] = getattr(store, "errors", ())
    return errors


def _open_store(uri: str, *, retries: int, timeout: float) -> _Store:
    """The store reader for a resolved URI, by its scheme."""
    low = uri.lower()
    if low.startswith(("http://", "https://")):
        return _HttpStore(uri, retries=retries, timeout=timeout)
    if low.startswith("sqlite:"):
        return _SqliteStore(uri)
    if low.startswith("file:"):
        return _FileStore(uri)
    if low.startswith(("postgresql:", "postgresql+", "postgres:", "postgres+")):
        return _PostgresStore(uri)
    shown = _strip_credentials(uri)
    if low.startswith("databricks"):
        raise SourceError(
            shown,
            "Databricks workspaces are not supported; export the runs to a "
            "local store or point LR Tempo at an MLflow server",
            "bad_uri",
        )
    scheme = shown.split(":", 1)[0]
    raise SourceError(
        shown,
        f"LR Tempo does not read '{scheme}' stores directly; point it at the "
        f"MLflow server that uses this database instead ({URI_HELP})",
        "bad_uri",
    )


def _select(store: _Store, query: _Query, result: ReadResult) -> list[_Record]:
    """Runs matching ``query``, newest first; requested run ids not found go to errors."""
    if query.experiment is not None:
        found = store.find_experiment(str(query.experiment))
        if found is None:
            raise SourceError(
                store.location,
                f"experiment '{query.experiment}' not found on {store.location}",
                "not_found",
            )
        exps = {found[0]: found[1]}
    else:
        exps = store.experiments()
    ids = query.run_ids
    if ids is not None:
        bad = [r for r in ids if not _RUN_ID.match(r)]
        for r in bad:
            result.add_error(f"{store.location}#{r}", "not a valid MLflow run id")
        query = _Query(
            query.experiment, query.since, tuple(r for r in ids if r not in bad), query.max_runs
        )
    records = store.search(exps, query) if exps and query.run_ids != () else []
    records.sort(key=lambda r: (-(r.meta.start_time or 0.0), r.meta.id))
    if query.max_runs is not None:
        records = records[: max(query.max_runs, 0)]
    if query.run_ids:
        seen = {r.meta.id for r in records}
        for r in query.run_ids:
            if r not in seen:
                result.add_error(
                    f"{store.location}#{r}", "no such active run in the selected experiments"
                )
    return records


__all__ = [
    "AJAX_API",
    "API",
    "BACKOFF",
    "BODY_TIMEOUTS",
    "BULK_MAX_POINTS",
    "FILE_STATUS",
    "HISTORY_PAGE_SIZE",
    "INTERVAL_MAX_POINTS",
    "MAX_ANSWER_BYTES",
    "MAX_LISTED_RUNS",
    "MAX_LISTING_BYTES",
    "MAX_PAGES",
    "MAX_RUNS_ENV",
    "READ_ONLY_POSTS",
    "RETRIES",
    "RETRY_STATUS",
    "SEARCH_PAGE_SIZE",
    "TIMEOUT",
    "TIMEOUT_ENV",
    "URI_HELP",
    "WORKERS",
    "Progress",
    "SourceError",
    "check_connection",
    "list_runs",
    "max_listed_runs",
    "read_mlflow",
    "resolve_uri",
    "timeout_setting",
    "without_env_credentials",
]
