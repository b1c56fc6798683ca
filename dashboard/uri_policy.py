"""Which tracking URIs a visitor may make the dashboard read, and whose credentials go where.

A URI typed in the browser makes the *server* connect somewhere, so by default it must be
``http(s)`` and its host must not resolve to a loopback, link-local, unspecified,
multicast or reserved address, nor to a cloud metadata address (``169.254.169.254``,
``fd00:ec2::254``, ``100.100.100.200``); every address the name resolves to is checked.
Private networks (``10/8``, ``192.168/16``, …) are allowed: MLflow servers live there.
The operator widens this with ``--allow-uri-schemes sqlite,file`` (local stores: the
visitor then reads files of the dashboard's host) and ``--allow-private-uris``
(loopback, link-local and metadata addresses). URIs with the same origin as one the
operator configured (command line or ``$MLFLOW_TRACKING_URI``) are always allowed.

Credentials from the environment (``MLFLOW_TRACKING_TOKEN``, ``…_USERNAME``/``…_PASSWORD``)
go only to the origins (scheme, host, port) the operator configured:
:func:`same_origin` says whether a URI is one of them.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_SCHEMES = frozenset({"http", "https"})
#: Schemes the operator may allow beyond http(s).
KNOWN_SCHEMES = frozenset({"http", "https", "sqlite", "file"})
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
#: Seconds to wait for a host name to resolve, and to remember the answer.
RESOLVE_TIMEOUT = 5.0
RESOLVE_TTL = 60.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


class UriNotAllowed(ValueError):
    """A URI the policy refuses; the message says why (no credentials in it)."""


def origin(uri: str) -> str | None:
    """``scheme://host:port`` of an http(s) URI (lower case, default port filled in),
    ``scheme:`` for a local store, ``None`` when it has no scheme."""
    uri = (uri or "").strip()
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not scheme:
        return None
    if scheme in _DEFAULT_PORTS:
        host = (parts.hostname or "").lower()
        return f"{scheme}://{host}:{port or _DEFAULT_PORTS[scheme]}"
    return f"{scheme}:{parts.path}"


def address_problem(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why connecting to ``ip`` on a visitor's behalf is refused, or ``None``."""
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    if ip in METADATA:
        return f"{ip} is a cloud metadata address"
    for test, what in (
        (ip.is_loopback, "a loopback address (this machine)"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_unspecified, "the unspecified address (this machine)"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_reserved, "a reserved address"),
    ):
        if test:
            return f"{ip} is {what}"
    return None


def same_origin(uri: str, trusted: Iterable[str]) -> bool:
    """True when ``uri`` has the origin of one of the ``trusted`` URIs."""
    o = origin(uri)
    return o is not None and o in {origin(t) for t in trusted}


@dataclass
class UriPolicy:
    """What a visitor may enter (the operator's own URIs, ``trusted``, always)."""

    schemes: frozenset[str] = DEFAULT_SCHEMES
    allow_private: bool = False
    _resolved: dict[tuple[str, int], tuple[float, list[str] | str]] = field(
        default_factory=dict, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check(self, uri: str, trusted: Iterable[str] = ()) -> None:
        """Raise :class:`UriNotAllowed` unless a visitor may have the server read ``uri``
        (one with the origin of a ``trusted`` URI, the operator's, always may)."""
        uri = (uri or "").strip()
        if same_origin(uri, trusted):
            return
        try:
            parts = urlsplit(uri)
            port = parts.port
        except ValueError as exc:
            raise UriNotAllowed(f"not a valid URI ({exc})") from None
        scheme = parts.scheme.lower()
        if scheme not in self.schemes:
            allowed = ", ".join(sorted(self.schemes))
            what = f"'{scheme}:' URIs" if scheme else "a URI without a scheme (a local path)"
            hint = (
                " (local stores on the dashboard's host: the operator may allow them with "
                "--allow-uri-schemes)"
                if scheme in ("sqlite", "file", "")
                else ""
            )
            raise UriNotAllowed(f"{what} may not be entered here, only {allowed}{hint}")
        if scheme not in _DEFAULT_PORTS:
            return  # a local store the operator allowed
        host = parts.hostname
        if not host:
            raise UriNotAllowed("no host in the URI")
        if self.allow_private:
            return
        for addr in self._addresses(host, port or _DEFAULT_PORTS[scheme]):
            problem = address_problem(ipaddress.ip_address(addr.split("%", 1)[0]))
            if problem:
                raise UriNotAllowed(
                    f"{host} resolves to {problem}; the operator may allow "
                    "such addresses with --allow-private-uris"
                )

    def _addresses(self, host: str, port: int) -> list[str]:
        """Every address ``host`` resolves to (cached a minute; 5 s at most to resolve)."""
        try:
            return [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            pass
        key = (host.lower(), port)
        with self._lock:
            hit = self._resolved.get(key)
        if hit is None or time.monotonic() - hit[0] > RESOLVE_TTL:
            hit = (time.monotonic(), _resolve(host, port))
            with self._lock:
                if len(self._resolved) > 256:
                    self._resolved.clear()
                self._resolved[key] = hit
        got = hit[1]
        if isinstance(got, str):
            raise UriNotAllowed(f"cannot resolve the host name {host!r} ({got})")
        return got


def _resolve(host: str, port: int) -> list[str] | str:
    """The addresses of ``host`` or why it did not resolve (in a thread: a bounded wait)."""
    out: list[list[str] | str] = []

    def run() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            out.append(sorted({str(i[4][0]) for i in infos}))
        except (OSError, UnicodeError) as exc:
            out.append(str(exc) or type(exc).__name__)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(RESOLVE_TIMEOUT)
    if not out:
        return f"no answer within {RESOLVE_TIMEOUT:g} s"
    return out[0] or "no address"


def parse_schemes(text: str | Iterable[str] | None) -> frozenset[str]:
    """``sqlite,file`` → the allowed schemes (http and https always); ``ValueError`` if unknown."""
    items = text.split(",") if isinstance(text, str) else list(text or [])
    schemes = {s.strip().lower().rstrip(":") for s in items if s.strip()}
    bad = sorted(schemes - KNOWN_SCHEMES)
    if bad:
        raise ValueError(
            f"--allow-uri-schemes: unknown scheme {bad[0]!r}; use "
            f"{', '.join(sorted(KNOWN_SCHEMES - DEFAULT_SCHEMES))}"
        )
    return DEFAULT_SCHEMES | schemes
