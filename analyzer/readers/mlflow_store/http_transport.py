"""The HTTP transport to an MLflow tracking server: one :mod:`requests` session with
auth and TLS from the URI and MLflow's environment variables, retries with backoff,
timeouts, a size cap on answers, and the one-line error wording of every failure (each
:class:`~analyzer.errors.SourceError` raised here carries its ``kind``).

What the server is asked (experiments, runs, histories) is :mod:`.http_store`.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import unquote, urlsplit

from ...errors import SourceError, SourceErrorKind, env_seconds
from .shared import URI_HELP, _strip_credentials

#: Concurrent history requests against one server (the connection pool's size).
WORKERS = 8
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
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
#: Whether ``MLFLOW_TRACKING_USERNAME``/``PASSWORD``/``TOKEN`` and the client certificate
#: from the environment may be sent (in this thread or task); see :func:`without_env_credentials`.
_ENV_CREDENTIALS: ContextVar[bool] = ContextVar("lrtempo_env_credentials", default=True)


@contextmanager
def without_env_credentials() -> Iterator[None]:
    """Within the block (this thread), stores opened send no credentials from the
    environment: for a URI a visitor chose, which must not receive the operator's token."""
    token = _ENV_CREDENTIALS.set(False)
    try:
        yield
    finally:
        _ENV_CREDENTIALS.reset(token)


def timeout_setting() -> float:
    """Seconds to wait for a server's answer: ``$LRTEMPO_MLFLOW_TIMEOUT``, else :data:`TIMEOUT`."""
    try:
        return env_seconds(TIMEOUT_ENV, TIMEOUT)
    except ValueError as exc:
        raise SourceError(TIMEOUT_ENV, str(exc), "config") from None


class _Broken(Exception):
    """An answer broken off mid-body (closed connection, truncated); may be asked again."""


class _ApiError(SourceError):
    """The server answered a call with an MLflow error (``error_code``) or bad status."""

    def __init__(self, location: str, message: str, status: int, code: str | None) -> None:
        super().__init__(location, message, _status_kind(status, code))
        self.status = status
        self.code = code


#: MLflow error codes that say what is wrong better than the HTTP status does.
_CODE_KINDS: dict[str, SourceErrorKind] = {
    "RESOURCE_DOES_NOT_EXIST": "not_found",
    "PERMISSION_DENIED": "auth",
    "UNAUTHENTICATED": "auth",
}


def _status_kind(status: int, code: str | None) -> SourceErrorKind:
    """The kind of an error answer (see :meth:`_HttpClient._status_message`)."""
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    if code is None:  # no MLflow error: the address answers, but not as MLflow
        return "not_mlflow"
    return _CODE_KINDS.get(code, "server_error")


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


class _HttpClient:
    """The session to one MLflow tracking server: sends calls, reads and parses answers."""

    def __init__(self, uri: str, *, retries: int = RETRIES, timeout: float = TIMEOUT) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        parts = urlsplit(uri)
        if not parts.hostname:
            raise SourceError(_strip_credentials(uri), f"no host in the URI; {URI_HELP}", "bad_uri")
        netloc = parts.netloc.rpartition("@")[2]
        self.location = f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"
        self.retries, self.timeout = retries, timeout
        self._down: tuple[str, SourceErrorKind] | None = None
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
        env = (
            os.environ
            if _ENV_CREDENTIALS.get()
            else {
                k: v
                for k, v in os.environ.items()
                if k
                not in (
                    "MLFLOW_TRACKING_USERNAME",
                    "MLFLOW_TRACKING_PASSWORD",
                    "MLFLOW_TRACKING_TOKEN",
                    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
                )
            }
        )
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
            raise SourceError(self.location, *self._down)
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
                        "server_error",
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
                "the check",
                "unreachable",
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise self._fail(
                f"no connection within {min(10.0, self.timeout):g} s; check the host "
                "and port, and that no firewall or VPN is in the way",
                "unreachable",
            ) from None
        except requests.exceptions.ConnectionError as exc:
            text = str(exc)
            if "Read timed out" in text:
                raise self._fail(self._timeout_msg(), "timeout") from None
            if "Connection aborted" in text or "RemoteDisconnected" in text:
                raise SourceError(
                    self.location,
                    f"the server closed the connection without answering (after {self.retries} "
                    "retries); is this an MLflow server, and is it healthy?",
                    "server_error",
                ) from None
            raise self._fail(
                "cannot connect (connection refused or unknown host); is the MLflow "
                "server running at this address? Start it with `mlflow server` or fix "
                "the URI",
                "unreachable",
            ) from None
        except requests.exceptions.Timeout:
            raise self._fail(self._timeout_msg(), "timeout") from None
        except requests.exceptions.RequestException as exc:
            raise SourceError(
                self.location, f"request failed: {self._redact(str(exc))}", "unreachable"
            ) from None

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
            raise SourceError(self.location, self._too_big(endpoint, int(declared)), "limit")
        deadline = time.monotonic() + BODY_TIMEOUTS * self.timeout
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := resp.raw.read1(256 * 1024, decode_content=True):
                size += len(chunk)
                if size > limit:
                    if not ok:
                        break
                    raise SourceError(self.location, self._too_big(endpoint), "limit")
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise self._fail(
                        f"the answer to {endpoint} did not arrive in full within "
                        f"{BODY_TIMEOUTS * self.timeout:g} s (the server sends too slowly); "
                        f"set {TIMEOUT_ENV} to wait longer",
                        "timeout",
                    )
        except ReadTimeoutError:
            raise self._fail(self._timeout_msg(retried=False), "timeout") from None
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

    def _fail(self, message: str, kind: SourceErrorKind) -> SourceError:
        """A connection-level failure: later calls fail at once with the same message."""
        self._down = (message, kind)
        return SourceError(self.location, message, kind)

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
                ctype = (resp.headers.get("Content-Type") or "no content type").split(";")[0]
                raise SourceError(
                    self.location,
                    f"the answer to {endpoint} is not MLflow JSON "
                    f"(got {ctype}); is this the MLflow server's address, with its path "
                    "prefix if it has one?",
                    "not_mlflow",
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
