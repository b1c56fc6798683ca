"""Browser-facing defences: the ``Host`` header is checked, and every answer forbids framing.

    guard(app.server, allowed_hosts("127.0.0.1", ["dash.example.org"]))

* ``Host``: a request whose ``Host`` header names a host this dashboard is not served
  as gets 400 (DNS rebinding: a hostile page whose name resolves to 127.0.0.1 would
  otherwise read and drive a loopback dashboard). Served names: the bind host; for
  loopback ``localhost``, ``127.0.0.1`` and ``::1``; for a wildcard bind (``0.0.0.0``,
  ``::``) any IP literal (it cannot be rebound) and this machine's host name; plus the
  operator's ``--allowed-hosts`` / ``$LRTEMPO_ALLOWED_HOSTS`` (``*.example.org``
  patterns; ``*`` turns the check off, e.g. behind a proxy that checks it). The port is
  not compared (a proxy may serve another one).
* Every answer carries ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``
  and :data:`CSP`, whose ``frame-ancestors 'none'`` forbids framing; Dash's renderer
  needs inline scripts and ``eval`` (clientside callbacks, AG Grid's value formatters),
  so scripts are limited to this origin plus those.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .auth import LOOPBACK_NAMES, is_loopback

ENV_ALLOWED_HOSTS = "LRTEMPO_ALLOWED_HOSTS"
LOOPBACK_HOSTS = (*LOOPBACK_NAMES, "127.0.0.1", "::1")
WILDCARD_BINDS = ("", "0.0.0.0", "::", "*")

#: What a page of this dashboard may load and who may frame it.
CSP_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",  # Dash's renderer and callbacks
    "style-src 'self' 'unsafe-inline'",  # React and Plotly set inline styles
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
CSP = "; ".join(CSP_DIRECTIVES)
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CSP,
}


def host_name(header: str) -> str | None:
    """The host of a ``Host`` header (``[::1]:8050`` → ``::1``), lower case; ``None`` when
    it is not a host name or address."""
    h = header.strip().lower()
    if h.startswith("["):
        end = h.find("]")
        if end < 0 or (h[end + 1 :] and not h[end + 1 :].startswith(":")):
            return None
        h = h[1:end]
    elif h.count(":") == 1:
        h, _, port = h.partition(":")
        if not port.isdigit():
            return None
    h = h.rstrip(".")
    if not h or any(c.isspace() or c in "/\\@?#" for c in h):
        return None
    return h


def _ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_hosts(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"a.example.org, *.lab"`` (or a list of such) → ``("a.example.org", "*.lab")``."""
    items = [text] if isinstance(text, str) else list(text or ())
    out: list[str] = []
    for item in items:
        for part in item.split(","):
            h = part.strip().lower().strip("[]")
            if h and h not in out:
                out.append(h)
    return tuple(out)


@dataclass(frozen=True)
class HostPolicy:
    """The host names a dashboard is served as (see the module docstring)."""

    names: frozenset[str]
    patterns: tuple[str, ...] = ()
    any_ip: bool = False
    any_host: bool = False

    def allows(self, header: str | None) -> bool:
        """True when a request with this ``Host`` header may be answered."""
        if self.any_host:
            return True
        host = host_name(header or "")
        if host is None:
            return False
        if host in self.names or any(fnmatch.fnmatchcase(host, p) for p in self.patterns):
            return True
        return _ip(host) and (self.any_ip or is_loopback(host))

    def describe(self) -> str:
        """One line for the startup message."""
        if self.any_host:
            return "any (Host not checked)"
        names = sorted(self.names | set(self.patterns))
        return ", ".join(names) + (", any IP address" if self.any_ip else "")


def allowed_hosts(
    bind: str, extra: str | Iterable[str] | None = None, env: bool = True
) -> HostPolicy:
    """The policy for a dashboard bound to ``bind``, widened by ``extra`` and (when
    ``env``) ``$LRTEMPO_ALLOWED_HOSTS``."""
    given = parse_hosts(extra) + parse_hosts(os.environ.get(ENV_ALLOWED_HOSTS, "") if env else "")
    if "*" in given:
        return HostPolicy(frozenset(), any_host=True)
    bind_host = bind.strip().strip("[]").lower()
    names = set(LOOPBACK_HOSTS)
    wildcard = bind_host in WILDCARD_BINDS
    if wildcard:
        names.add(socket.gethostname().lower())
    else:
        names.add(bind_host)
    patterns = tuple(h for h in given if "*" in h or "?" in h)
    names.update(h for h in given if h not in patterns)
    return HostPolicy(frozenset(names), patterns, any_ip=wildcard)


def guard(server: Any, policy: HostPolicy) -> None:
    """Check ``Host`` before anything else and add :data:`HEADERS` to every answer of a
    Flask ``server`` (errors and 401s included)."""
    import flask

    def check_host() -> Any:
        if not policy.allows(flask.request.headers.get("Host")):
            return flask.Response(
                "Bad Request: this dashboard is not served under that host name (start it "
                "with --allowed-hosts NAME to add one).\n",
                400,
                {"Content-Type": "text/plain; charset=utf-8"},
            )
        return None

    def add_headers(response: flask.Response) -> flask.Response:
        for key, value in HEADERS.items():
            response.headers[key] = value
        return response

    server.before_request_funcs.setdefault(None, []).insert(0, check_host)
    server.after_request(add_headers)
