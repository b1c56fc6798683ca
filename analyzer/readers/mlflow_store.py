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
  already read are kept in a local cache (:mod:`.mlflow_cache`) and fetched again only
  when the run changed, a running run's only from its last cached step on
  (``get-history-bulk-interval``). Connection errors, 429 and 5xx are retried
  with exponential backoff (every call is a read, the ``runs/search`` POST included;
  ``Retry-After`` is honoured up to 30 s), and so is an answer cut off mid-body. Each
  call waits :data:`TIMEOUT` seconds (``$LRTEMPO_MLFLOW_TIMEOUT``) for an answer; after a
  timeout the server is taken as down and later calls fail at once. An answer over
  :data:`MAX_ANSWER_BYTES` is refused unread. A run's location is its page in the MLflow UI.
- ``sqlite:///path.db`` — the MLflow schema (``experiments, runs, metrics, params,
  tags``) read with the stdlib :mod:`sqlite3`, no MLflow client.
- ``file:///path/mlruns`` — the plain-file layout read directly: ``<exp>/meta.yaml``,
  ``<exp>/<run>/meta.yaml``, ``metrics/<key>`` lines ``timestamp value step``,
  ``params/<key>``, ``tags/<key>`` (keys with ``/`` are sub-folders).
- ``mlflow`` — whatever ``$MLFLOW_TRACKING_URI`` names.

Read-only guarantee: local stores are never opened with ``MlflowClient`` (which runs
migrations and creates tables, a default experiment or a missing folder). The sqlite
file is opened with ``mode=ro``; a missing file or folder is an error, never created.

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
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit
from urllib.request import url2pathname

import numpy as np
import pandas as pd

from ..errors import ReaderError, SourceError
from ..model import ReadResult, Run, RunMeta, empty_frame, finalize_frame, frame_from_columns
from ._io import TEXT_MEMORY_PER_BYTE, read_regular

#: Points per ``metrics/get-history`` page (MLflow's own limit for this call).
HISTORY_PAGE_SIZE = 25_000
#: Runs (and experiments) per search page; MLflow's default and usual maximum.
SEARCH_PAGE_SIZE = 1_000
#: Concurrent history requests against one server.
WORKERS = 8
#: Most pages one listing may take (10M runs, or 250M points of one metric).
MAX_PAGES = 10_000
#: Most runs one search may list (a server that pages forever is stopped here, long
#: before memory runs out: a listed run holds a few KB); :data:`MAX_RUNS_ENV` overrides.
MAX_LISTED_RUNS = 200_000
MAX_RUNS_ENV = "LRTEMPO_MLFLOW_MAX_RUNS"
#: Most answer bytes one listing may take, all its pages together (a history of 2 GiB of
#: JSON is ~25M points).
MAX_LISTING_BYTES = 2 * 2**30
#: Seconds to wait for an answer (connecting waits at most 10 s); :data:`TIMEOUT_ENV` overrides.
TIMEOUT = 30.0
TIMEOUT_ENV = "LRTEMPO_MLFLOW_TIMEOUT"
#: A whole answer body must arrive within this many timeouts (a trickling server is cut off).
BODY_TIMEOUTS = 4
#: Largest answer read (a ``runs/search`` page of 1,000 runs is a few MB); bigger is refused.
MAX_ANSWER_BYTES = 64 * 2**20
#: The POSTs that only read; they (and every GET) may be sent again after a broken answer.
READ_ONLY_POSTS = frozenset({"experiments/search", "runs/search"})
#: Retries of a failed request (connection error, 429, 5xx), with exponential backoff.
RETRIES = 3
#: Seconds of the first backoff; doubles with each retry.
BACKOFF = 0.25

API = "/api/2.0/mlflow/"
#: The MLflow UI's API (same server); ``metrics/get-history-bulk`` lives there.
AJAX_API = "/ajax-api/2.0/mlflow/"
#: Most points one ``get-history-bulk`` answer holds (the server cuts longer histories).
BULK_MAX_POINTS = 25_000
#: Most points per run one ``get-history-bulk-interval`` answer holds; a full answer may be
#: sampled, so it is not used (the whole history is fetched instead).
INTERVAL_MAX_POINTS = 2_500
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
FILE_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
URI_HELP = "use http(s)://host:port, sqlite:///path/mlflow.db or file:///path/mlruns"
_RUN_ID = re.compile(r"^[\w\-]+$")
#: Whether ``MLFLOW_TRACKING_USERNAME``/``PASSWORD``/``TOKEN`` and the client certificate
#: from the environment may be sent (in this thread or task); see :func:`without_env_credentials`.
_ENV_CREDENTIALS: ContextVar[bool] = ContextVar("lrtempo_env_credentials", default=True)
_SQL_CHUNK = 500

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
    location: str

    def describe(self) -> str: ...
    def experiments(self) -> dict[str, str]: ...
    def find_experiment(self, key: str) -> tuple[str, str] | None: ...
    def search(self, exps: dict[str, str], query: _Query) -> list[_Record]: ...
    def histories(
        self, records: Sequence[_Record], metrics: Sequence[str] | None
    ) -> Iterator[tuple[_Record, pd.DataFrame | str]]: ...
    def close(self) -> None: ...


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


@contextmanager
def without_env_credentials() -> Iterator[None]:
    """Within the block (this thread), stores opened send no credentials from the
    environment: for a URI a visitor chose, which must not receive the operator's token."""
    token = _ENV_CREDENTIALS.set(False)
    try:
        yield
    finally:
        _ENV_CREDENTIALS.reset(token)


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
            )
        uri = env
    if "://" not in uri and not uri.startswith(("file:", "databricks", "sqlite:")):
        uri = Path(uri).absolute().as_uri()
    return uri


def timeout_setting() -> float:
    """Seconds to wait for a server's answer: ``$LRTEMPO_MLFLOW_TIMEOUT``, else :data:`TIMEOUT`."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise SourceError(TIMEOUT_ENV, f"must be a number of seconds above 0, not {raw!r}")
    return value


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
            _strip_credentials(resolved), f"not a valid tracking URI ({exc}); {URI_HELP}"
        ) from None
    try:
        yield store
    except SourceError:
        raise
    except (OSError, sqlite3.Error, ValueError, KeyError, TypeError) as exc:
        raise SourceError(store.location, f"cannot read the store: {_redact_exc(exc)}") from None
    finally:
        store.close()


def _redact_exc(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return re.sub(r"//[^/@\s]*@", "//", text)


def _open_store(uri: str, *, retries: int, timeout: float) -> _Store:
    low = uri.lower()
    if low.startswith(("http://", "https://")):
        return _HttpStore(uri, retries=retries, timeout=timeout)
    if low.startswith("sqlite:"):
        return _SqliteStore(uri)
    if low.startswith("file:"):
        return _FileStore(uri)
    shown = _strip_credentials(uri)
    if low.startswith("databricks"):
        raise SourceError(
            shown,
            "Databricks workspaces are not supported; export the runs to a "
            "local store or point LR Tempo at an MLflow server",
        )
    scheme = shown.split(":", 1)[0]
    raise SourceError(
        shown,
        f"LR Tempo does not read '{scheme}' stores directly; point it at the "
        f"MLflow server that uses this database instead ({URI_HELP})",
    )


def _select(store: _Store, query: _Query, result: ReadResult) -> list[_Record]:
    """Runs matching ``query``, newest first; requested run ids not found go to errors."""
    if query.experiment is not None:
        found = store.find_experiment(str(query.experiment))
        if found is None:
            raise SourceError(
                store.location, f"experiment '{query.experiment}' not found on {store.location}"
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


# --------------------------------------------------------------------------- shared helpers


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
    keys = sorted(set(keys))
    return keys if metrics is None else [k for k in keys if k in set(metrics)]


def _strip_credentials(uri: str) -> str:
    """The URI without ``user:password@``."""
    return re.sub(r"^([A-Za-z][\w+.-]*://)[^/?#]*@", r"\1", uri)


# --------------------------------------------------------------------------- HTTP


class _Broken(Exception):
    """An answer broken off mid-body (closed connection, truncated); may be asked again."""


class _ApiError(SourceError):
    """The server answered a call with an MLflow error (``error_code``) or bad status."""

    def __init__(self, location: str, message: str, status: int, code: str | None) -> None:
        super().__init__(location, message)
        self.status = status
        self.code = code


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _bearer(token: str) -> Callable[[Any], Any]:
    """A requests auth hook sending ``Authorization: Bearer <token>`` (wins over ~/.netrc)."""

    def apply(request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {token}"
        return request

    return apply


def _retry_class() -> type:
    from urllib3.util.retry import Retry

    class CappedRetry(Retry):
        """urllib3's Retry, but a server's ``Retry-After`` never makes us wait over 30 s."""

        def get_retry_after(self, response: Any) -> float | None:
            after = super().get_retry_after(response)
            return None if after is None else min(after, 30.0)

    return CappedRetry


class _HttpStore:
    """An MLflow tracking server reached over its REST API."""

    def __init__(self, uri: str, *, retries: int = RETRIES, timeout: float = TIMEOUT) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        parts = urlsplit(uri)
        if not parts.hostname:
            raise SourceError(_strip_credentials(uri), f"no host in the URI; {URI_HELP}")
        netloc = parts.netloc.rpartition("@")[2]
        self.location = f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"
        self.retries, self.timeout = retries, timeout
        self._down: str | None = None
        self._bulk = True  # until the server shows it has no get-history-bulk
        self._interval = True  # likewise for get-history-bulk-interval
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "lrtempo-mlflow-reader"
        retry = _retry_class()(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            allowed_methods=None,
            status_forcelist=RETRY_STATUS,
            backoff_factor=BACKOFF,
            backoff_max=8.0,
            raise_on_status=False,
            respect_retry_after_header=True,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=WORKERS)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._secrets = self._configure_auth(
            unquote(parts.username) if parts.username is not None else None,
            unquote(parts.password) if parts.password is not None else None,
        )

    def _configure_auth(self, user: str | None, password: str | None) -> tuple[str, ...]:
        """Set auth and TLS from the URI and MLflow's env vars; returns the secrets to redact."""
        env = os.environ if _ENV_CREDENTIALS.get() else {
            k: v for k, v in os.environ.items()
            if k not in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                         "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_CLIENT_CERT_PATH")}
        if user is None:
            user, password = (
                env.get("MLFLOW_TRACKING_USERNAME"),
                env.get("MLFLOW_TRACKING_PASSWORD"),
            )
        secrets: list[str] = []
        if user and password:
            self.session.auth = (user, password)
            secrets += [f"{user}:{password}", password]
        elif env.get("MLFLOW_TRACKING_TOKEN"):
            token = env["MLFLOW_TRACKING_TOKEN"]
            self.session.auth = _bearer(token)
            secrets.append(token)
        if _truthy(env.get("MLFLOW_TRACKING_INSECURE_TLS")):
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            self.session.verify = False
        elif env.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
            self.session.verify = env["MLFLOW_TRACKING_SERVER_CERT_PATH"]
        if env.get("MLFLOW_TRACKING_CLIENT_CERT_PATH"):
            self.session.cert = env["MLFLOW_TRACKING_CLIENT_CERT_PATH"]
        return tuple(s for s in secrets if s)

    def close(self) -> None:
        self.session.close()

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return re.sub(r"//[^/@\s]*@", "//", text)

    # -- transport

    def _call(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        api: str = API,
        sizes: list[int] | None = None,
    ) -> dict[str, Any]:
        """One REST call → parsed JSON; every failure is a :class:`SourceError`.
        ``sizes`` gets the answer's size in bytes appended (a listing counts them).

        An answer broken off mid-body is asked for again (with backoff) only when the call
        reads: a GET or one of :data:`READ_ONLY_POSTS`.
        """
        if self._down is not None:
            raise SourceError(self.location, self._down)
        url = f"{self.location}{api}{endpoint}"
        tries = 1 + self.retries if method == "GET" or endpoint in READ_ONLY_POSTS else 1
        for attempt in range(1, tries + 1):
            resp = self._send(method, url, params, body)
            try:
                raw = self._body(resp, endpoint)
                if sizes is not None:
                    sizes.append(len(raw))
                return self._parse(resp, raw, endpoint)
            except _Broken as exc:
                if attempt == tries:
                    raise SourceError(
                        self.location,
                        f"{exc} ({attempt} attempt(s)); the server or a proxy between may have "
                        "dropped the connection, try again later",
                    ) from None
                time.sleep(BACKOFF * 2 ** (attempt - 1))
            finally:
                resp.close()
        raise AssertionError("unreachable")

    def _send(
        self, method: str, url: str, params: dict[str, Any] | None, body: dict[str, Any] | None
    ) -> Any:
        """The response (its body not read yet); connection-level failures → SourceError."""
        import requests

        try:
            return self.session.request(
                method,
                url,
                params=params,
                json=body,
                stream=True,
                timeout=(min(10.0, self.timeout), self.timeout),
            )
        except requests.exceptions.SSLError:
            raise self._fail(
                "the TLS certificate check failed; set MLFLOW_TRACKING_SERVER_CERT_PATH "
                "to the server's CA bundle, or MLFLOW_TRACKING_INSECURE_TLS=true to skip "
                "the check"
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise self._fail(
                f"no connection within {min(10.0, self.timeout):g} s; check the host "
                "and port, and that no firewall or VPN is in the way"
            ) from None
        except requests.exceptions.ConnectionError as exc:
            text = str(exc)
            if "Read timed out" in text:
                raise self._fail(self._timeout_msg()) from None
            if "Connection aborted" in text or "RemoteDisconnected" in text:
                raise SourceError(
                    self.location,
                    f"the server closed the connection without answering (after {self.retries} "
                    "retries); is this an MLflow server, and is it healthy?",
                ) from None
            raise self._fail(
                "cannot connect (connection refused or unknown host); is the MLflow "
                "server running at this address? Start it with `mlflow server` or fix "
                "the URI"
            ) from None
        except requests.exceptions.Timeout:
            raise self._fail(self._timeout_msg()) from None
        except requests.exceptions.RequestException as exc:
            raise SourceError(self.location, f"request failed: {self._redact(str(exc))}") from None

    def _body(self, resp: Any, endpoint: str) -> bytes:
        """The answer's bytes, at most :data:`MAX_ANSWER_BYTES` (an error page: its start).

        Read with ``read1`` (whatever has arrived), so a server that trickles its answer
        is cut off at the body deadline even while every single read is on time.
        """
        from urllib3.exceptions import HTTPError, ReadTimeoutError

        ok = resp.status_code < 400
        limit = MAX_ANSWER_BYTES if ok else 64 * 1024
        declared = resp.headers.get("Content-Length", "")
        if ok and declared.isdigit() and int(declared) > limit:
            raise SourceError(self.location, self._too_big(endpoint, int(declared)))
        deadline = time.monotonic() + BODY_TIMEOUTS * self.timeout
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := resp.raw.read1(256 * 1024, decode_content=True):
                size += len(chunk)
                if size > limit:
                    if not ok:
                        break
                    raise SourceError(self.location, self._too_big(endpoint))
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise self._fail(
                        f"the answer to {endpoint} did not arrive in full within "
                        f"{BODY_TIMEOUTS * self.timeout:g} s (the server sends too slowly); "
                        f"set {TIMEOUT_ENV} to wait longer"
                    )
        except ReadTimeoutError:
            raise self._fail(self._timeout_msg(retried=False)) from None
        except (HTTPError, OSError):  # cut off, reset, bad chunking or content encoding
            raise _Broken(f"the answer to {endpoint} was cut off after {size} bytes") from None
        return b"".join(chunks)

    def _too_big(self, endpoint: str, size: int | None = None) -> str:
        what = f"{size / 2**20:.0f} MiB" if size else "endless"
        return (
            f"the answer to {endpoint} is too large ({what}; at most "
            f"{MAX_ANSWER_BYTES // 2**20} MiB is read); is this an MLflow server?"
        )

    def _timeout_msg(self, retried: bool = True) -> str:
        after = f" (after {self.retries} retries)" if retried else ""
        return (
            f"the server did not answer within {self.timeout:g} s{after}; it may be "
            f"overloaded: try again later, or set {TIMEOUT_ENV} to wait longer"
        )

    def _fail(self, message: str) -> SourceError:
        """A connection-level failure: later calls fail at once with the same message."""
        self._down = message
        return SourceError(self.location, message)

    def _parse(self, resp: Any, raw: bytes, endpoint: str) -> dict[str, Any]:
        status = resp.status_code
        text = raw.decode("utf-8", "replace")
        try:
            data = json.loads(text) if text.strip() else None
        except json.JSONDecodeError as exc:
            data = None
            if status < 400 and text.lstrip()[:1] in "[{" and exc.pos >= len(text.rstrip()):
                raise _Broken(f"the answer to {endpoint} ends in the middle of its JSON") from None
        except (ValueError, RecursionError):
            data = None
        if status < 400:
            if not isinstance(data, dict):
                kind = (resp.headers.get("Content-Type") or "no content type").split(";")[0]
                raise SourceError(
                    self.location,
                    f"the answer to {endpoint} is not MLflow JSON "
                    f"(got {kind}); is this the MLflow server's address, with its path "
                    "prefix if it has one?",
                )
            return data
        code = data.get("error_code") if isinstance(data, dict) else None
        detail = self._redact(str(data.get("message", ""))[:300]) if isinstance(data, dict) else ""
        raise _ApiError(
            self.location, self._status_message(status, code, detail, endpoint), status, code
        )

    def _status_message(self, status: int, code: str | None, detail: str, endpoint: str) -> str:
        suffix = f": {detail}" if detail else ""
        if status in (401, 403):
            return (
                f"access refused (HTTP {status}){suffix}; set MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN, or put user:password in "
                "the URI"
            )
        if status == 404 and code is None:
            return (
                f"no MLflow REST API here (HTTP 404 for {API}{endpoint}); check the address "
                "and the server's path prefix"
            )
        if status == 429:
            return (
                f"the server keeps rate-limiting requests (HTTP 429, still refused after "
                f"{self.retries} retries){suffix}; try again later"
            )
        if status >= 500:
            return (
                f"server error (HTTP {status}, still failing after {self.retries} retries)"
                f"{suffix}; try again later or check the server's log"
            )
        if code is None:
            return (
                f"unexpected HTTP {status} for {API}{endpoint}; is this an MLflow tracking "
                "server (check the address and path prefix)?"
            )
        return f"{code}{suffix}"

    # -- store API

    def describe(self) -> str:
        exps = self._call(
            "POST",
            "experiments/search",
            body={"max_results": SEARCH_PAGE_SIZE, "view_type": "ACTIVE_ONLY"},
        )
        n = len(exps.get("experiments", []))
        more = "+" if exps.get("next_page_token") else ""
        return f"MLflow{self._version()} server at {self.location}: {n}{more} active experiment(s)"

    def _version(self) -> str:
        """`` 3.1.0`` from the server's ``/version`` page, or ``""``."""
        import requests
        from urllib3.exceptions import HTTPError

        try:
            resp = self.session.get(f"{self.location}/version", timeout=(5.0, 5.0), stream=True)
        except requests.RequestException:
            return ""
        try:  # at most 64 bytes: a version is short, and a hostile server may never stop
            raw = resp.raw.read(64, decode_content=True) if resp.ok else b""
        except (HTTPError, OSError):
            raw = b""
        finally:
            resp.close()
        text = raw.decode("utf-8", "replace").strip()
        return f" {text}" if text and len(text) < 40 and "<" not in text else ""

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
            (str(m["key"]), step, stamp) for m in metrics
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
                    params={"run_ids": run_id, "metric_key": key, "start_step": start,
                            "end_step": end, "max_results": INTERVAL_MAX_POINTS},
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
            parts.append((
                np.fromiter((int(m.get("step", 0)) for m in ms), np.int64, n),
                np.fromiter((float(m.get("value", 0.0)) for m in ms), np.float64, n),
                np.fromiter((int(m.get("timestamp", 0)) for m in ms), np.int64, n),
            ))
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
        """Each run's histories: from the local cache (:mod:`.mlflow_cache`) where they are
        unchanged, else fetched (only the new steps of a running run)."""
        from .mlflow_cache import MetricCache, synced_histories

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
        except SourceError as exc:
            return f"cannot read metric '{key}': {exc.reason}"
        except (ValueError, KeyError, TypeError) as exc:
            return f"unexpected history of metric '{key}' from the server: {_redact_exc(exc)}"
    return _frame(parts)


def max_listed_runs() -> int:
    """Most runs one search may list: ``$LRTEMPO_MLFLOW_MAX_RUNS``, else :data:`MAX_LISTED_RUNS`."""
    raw = os.environ.get(MAX_RUNS_ENV, "").strip()
    if not raw:
        return MAX_LISTED_RUNS
    if not raw.isdigit() or int(raw) < 1:
        raise SourceError(MAX_RUNS_ENV, f"must be a whole number of runs above 0, not {raw!r}")
    return int(raw)


def _check_listing(location: str, endpoint: str, nbytes: int, runs: int | None) -> None:
    """Stop a listing whose pages together exceed :data:`MAX_LISTING_BYTES` or, for runs,
    :func:`max_listed_runs`: a server that pages forever must not fill the memory."""
    if nbytes > MAX_LISTING_BYTES:
        raise SourceError(location, f"the {endpoint} listing passed "
                          f"{MAX_LISTING_BYTES / 2**20:,.0f} MiB of answers without an end; "
                          "paging stopped (is this an MLflow server?)")
    if runs is not None and runs > max_listed_runs():
        raise SourceError(location, f"the server listed more than {max_listed_runs():,} runs "
                          "for one search; paging stopped (narrow it with --since or "
                          f"--experiment, or set {MAX_RUNS_ENV} to allow more)")


def _next_token(
    page: dict[str, Any], previous: str | None, location: str, pages: int
) -> str | None:
    """The next page's token; a repeated token or a listing over :data:`MAX_PAGES` pages
    (a server that never stops paging) is an error."""
    token = page.get("next_page_token") or None
    if token is not None and token == previous:
        raise SourceError(location, "the server repeated a page token; paging stopped")
    if token is not None and pages >= MAX_PAGES:
        raise SourceError(
            location, f"the server sent more than {MAX_PAGES:,} pages for one listing; paging stopped"
        )
    return token


# --------------------------------------------------------------------------- sqlite


def _sqlite_path(uri: str) -> Path:
    """``sqlite:///rel.db`` / ``sqlite:////abs.db`` → the database file path."""
    rest = uri.split(":", 1)[1]
    if not rest.startswith("///"):
        raise SourceError(uri, "expected sqlite:///relative.db or sqlite:////absolute/path.db")
    path = unquote(rest[3:].split("?", 1)[0])
    if not path or path == ":memory:":
        raise SourceError(uri, "an in-memory sqlite database holds no runs")
    return Path(path)


class _SqliteStore:
    """An MLflow sqlite database read directly, read-only."""

    def __init__(self, uri: str) -> None:
        self.location = uri
        self._lock = threading.Lock()
        path = _sqlite_path(uri)
        if not path.is_file():
            raise SourceError(
                self.location,
                f"no such database file: {path}" if not path.exists() else f"not a file: {path}",
            )
        self.path = path
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
            raise SourceError(self.location, f"cannot open the database read-only: {exc}") from None
        missing = {"experiments", "runs", "metrics", "params", "tags"} - tables
        if missing:
            self.conn.close()
            raise SourceError(
                self.location,
                f"not an MLflow tracking database (no {', '.join(sorted(missing))} table)",
            )
        cols = {r[1] for r in self.conn.execute("PRAGMA table_info(metrics)")}
        self._is_nan = "is_nan" in cols

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
        return f"MLflow sqlite store {self.path}: {n_exps} experiment(s), {n_runs} run(s)"

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
            except sqlite3.Error as exc:
                yield rec, f"cannot read the metric history: {exc}"
                continue
            yield rec, _rows_frame(rows)


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


# --------------------------------------------------------------------------- file store


def _file_root(uri: str) -> Path:
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise SourceError(uri, "file: URIs must name a local folder (file:///path/mlruns)")
    return Path(url2pathname(parts.path))


def _yaml(path: Path) -> dict[str, Any]:
    """A ``meta.yaml`` as a dict (empty when unreadable or not a mapping)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


class _FileStore:
    """An MLflow ``mlruns`` folder read directly, read-only."""

    def __init__(self, uri: str) -> None:
        self.location = uri
        self.root = _file_root(uri)
        if not self.root.is_dir():
            raise SourceError(
                self.location,
                f"no such folder: {self.root}"
                if not self.root.exists()
                else f"not a folder: {self.root}",
            )
        self._exp_dirs = self._scan_experiments()
        if not self._exp_dirs and not (self.root / ".trash").is_dir():
            raise SourceError(
                self.location, "not an MLflow file store (no experiment folder with a meta.yaml)"
            )

    def close(self) -> None:
        pass

    def _scan_experiments(self) -> dict[str, tuple[str, Path]]:
        out: dict[str, tuple[str, Path]] = {}
        for child in sorted(self.root.iterdir()):
            if child.name.startswith(".") or not (child / "meta.yaml").is_file():
                continue
            meta = _yaml(child / "meta.yaml")
            if "experiment_id" not in meta or meta.get("lifecycle_stage") == "deleted":
                continue
            out[str(meta["experiment_id"])] = (str(meta.get("name", "")), child)
        return out

    def describe(self) -> str:
        n_runs = len(self.search(self.experiments(), _Query()))
        return (
            f"MLflow file store {self.root}: {len(self._exp_dirs)} experiment(s), {n_runs} run(s)"
        )

    def experiments(self) -> dict[str, str]:
        return {i: name for i, (name, _) in self._exp_dirs.items()}

    def find_experiment(self, key: str) -> tuple[str, str] | None:
        for exp_id, (name, _) in self._exp_dirs.items():
            if name == key:
                return exp_id, name
        return (key, self._exp_dirs[key][0]) if key in self._exp_dirs else None

    def search(self, exps: dict[str, str], query: _Query) -> list[_Record]:
        wanted = set(query.run_ids) if query.run_ids is not None else None
        since_ms = query.since * 1000 if query.since is not None else None
        out: list[_Record] = []
        for exp_id, exp_name in exps.items():
            for run_dir in sorted(self._exp_dirs[exp_id][1].iterdir()):
                if wanted is not None and run_dir.name not in wanted:
                    continue
                rec = self._record(run_dir, exp_id, exp_name, since_ms)
                if rec is not None:
                    out.append(rec)
        return out

    def _record(
        self, run_dir: Path, exp_id: str, exp_name: str, since_ms: float | None
    ) -> _Record | None:
        if not (run_dir / "meta.yaml").is_file():
            return None
        meta = _yaml(run_dir / "meta.yaml")
        run_id = str(meta.get("run_id") or meta.get("run_uuid") or "")
        if not run_id or meta.get("lifecycle_stage") == "deleted":
            return None
        start = meta.get("start_time")
        if since_ms is not None and not (isinstance(start, (int, float)) and start > since_ms):
            return None
        status = meta.get("status")
        status = FILE_STATUS.get(status, str(status)) if isinstance(status, int) else status
        metric_dir = run_dir / "metrics"
        keys = tuple(_relative_files(metric_dir))
        return _Record(
            _meta(
                run_id=run_id,
                name=meta.get("run_name"),
                location=f"{self.location}#{run_id}",
                params=_read_values(run_dir / "params"),
                tags=_read_values(run_dir / "tags"),
                start_ms=start,
                end_ms=meta.get("end_time"),
                user_id=meta.get("user_id"),
                experiment=exp_name,
                status=status,
            ),
            exp_id,
            keys,
        )

    def histories(
        self, records: Sequence[_Record], metrics: Sequence[str] | None
    ) -> Iterator[tuple[_Record, pd.DataFrame | str]]:
        for rec in records:
            run_dir = self._exp_dirs[rec.experiment_id][1] / rec.meta.id / "metrics"
            try:
                parts = [
                    _metric_file(run_dir / key, key) for key in _wanted(rec.metric_keys, metrics)
                ]
            except (OSError, ValueError, ReaderError) as exc:
                yield rec, f"cannot read the metric history: {exc}"
                continue
            yield rec, _frame(parts)


def _relative_files(folder: Path) -> Iterator[str]:
    """Keys stored under ``folder`` (``a/b`` for the file ``folder/a/b``)."""
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield path.relative_to(folder).as_posix()


def _read_values(folder: Path) -> dict[str, str]:
    """``params/`` or ``tags/``: one file per key, the value its content."""
    out: dict[str, str] = {}
    for key in _relative_files(folder):
        try:
            out[key] = (folder / key).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return out


def _metric_file(path: Path, key: str) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """One ``metrics/<key>`` file (lines ``timestamp value [step]``), in MLflow's order."""
    steps: list[int] = []
    values: list[float] = []
    stamps: list[int] = []
    text = read_regular(path, TEXT_MEMORY_PER_BYTE).decode("utf-8")
    for n, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) not in (2, 3):
            raise ValueError(f"{key}: line {n}: expected 'timestamp value step'")
        stamps.append(int(fields[0]))
        values.append(float(fields[1]))
        steps.append(int(fields[2]) if len(fields) == 3 else 0)
    order = (
        np.lexsort((np.asarray(values), np.asarray(steps), np.asarray(stamps))) if stamps else []
    )
    return (
        key,
        np.asarray(steps, dtype=np.int64)[order],
        np.asarray(values, dtype=np.float64)[order],
        np.asarray(stamps, dtype=np.int64)[order],
    )


__all__ = ["check_connection", "list_runs", "read_mlflow", "resolve_uri"]
