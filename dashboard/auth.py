"""Who may see the dashboard: HTTP basic auth, or a header set by an authenticating proxy.

    lrtempo dashboard --host 0.0.0.0 --auth-file /etc/lrtempo/users   # user:password[:admin]
    lrtempo dashboard --trust-proxy-header X-Forwarded-User           # behind a proxy

Every route is guarded (the page, ``_dash-layout``, ``_dash-update-component``, assets,
component bundles): a request without valid credentials gets 401. Binding beyond
loopback without either is refused (:func:`serving_problem`). Passwords are compared in
constant time and never printed, logged or echoed in an error.

The auth file has one ``user:password`` line per user; ``user:password:admin`` marks an
admin, who may also change the server-wide Settings (every other user's Settings stay
in their own browser). A password may hold ``:`` but not end in ``:admin``.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")
#: Roles an auth-file line may end with (``user:password:ROLE``).
ROLES = ("admin",)


class AuthConfigError(ValueError):
    """A bad auth file or header name; the message never contains a password."""


@dataclass(frozen=True)
class AuthConfig:
    """Basic-auth ``users`` (name → password) and/or a trusted proxy header."""

    users: Mapping[str, str] = field(default_factory=dict, repr=False)
    proxy_header: str | None = None
    source: str = ""  # where the users came from, for the startup line
    admins: frozenset[str] = frozenset()  # users marked ``:admin`` in the auth file

    @property
    def enabled(self) -> bool:
        return bool(self.users) or bool(self.proxy_header)

    def describe(self) -> str:
        """One line for stderr saying what protects the dashboard (no secrets)."""
        parts = []
        if self.users:
            n = len(self.users)
            admins = f" ({len(self.admins)} admin)" if self.admins else ""
            parts.append(f"HTTP basic auth, {n} user{'s' if n != 1 else ''}{admins} from "
                         f"{self.source}")
        if self.proxy_header:
            parts.append(f"requests must carry the {self.proxy_header} header set by your proxy "
                         "(make sure only the proxy can reach this port)")
        return "; ".join(parts) if parts else "none (loopback only: users of this machine can open it)"


def load_users(path: str | Path) -> dict[str, str]:
    """``user:password[:role]`` lines (blank lines and ``#`` comments skipped) → name → password.

    ``AuthConfigError`` names the file and line number of a bad line, never its text.
    """
    return load_auth_file(path)[0]


def load_auth_file(path: str | Path) -> tuple[dict[str, str], frozenset[str]]:
    """The users (name → password) of an auth file and the names marked ``:admin``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuthConfigError(f"auth file {p}: cannot read it ({type(exc).__name__})") from None
    users: dict[str, str] = {}
    admins: set[str] = set()
    for no, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, password = line.partition(":")
        name = name.strip()
        head, colon, role = password.rpartition(":")
        if colon and role in ROLES and head:
            password = head
            admins.add(name)
        if not sep or not name or not password:
            raise AuthConfigError(f"auth file {p}, line {no}: expected user:password")
        users[name] = password
    if not users:
        raise AuthConfigError(f"auth file {p}: no user:password line")
    return users, frozenset(admins)


def file_is_private(path: str | Path) -> bool:
    """True when no one but the owner may read the file (mode 0600 or stricter)."""
    return not os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO)


def auth_config(auth_file: str | None, proxy_header: str | None) -> AuthConfig:
    """The config for the command-line options (``AuthConfigError`` when bad)."""
    header = (proxy_header or "").strip() or None
    if header is not None and not all(c.isalnum() or c == "-" for c in header):
        raise AuthConfigError(f"--trust-proxy-header {header!r}: a header name is letters, "
                              "digits and '-'")
    users, admins = load_auth_file(auth_file) if auth_file else ({}, frozenset())
    return AuthConfig(users=users, proxy_header=header, source=str(auth_file or ""),
                      admins=admins)


def current_user() -> str | None:
    """The authenticated user of this request (basic auth or the proxy's header), or ``None``."""
    import flask

    auth = flask.request.authorization
    return auth.username if auth is not None and auth.username else None


def is_admin(auth: AuthConfig | None) -> bool:
    """True when this request's user is an admin of the auth file (checked by :func:`protect`)."""
    if auth is None or not auth.users or not auth.admins:
        return False
    user = current_user()
    return user is not None and user in auth.admins


def is_loopback(host: str) -> bool:
    """True for ``127.0.0.0/8``, ``::1`` and ``localhost``; host names are not resolved."""
    h = host.strip().strip("[]").lower()
    if h in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def serving_problem(host: str, auth: AuthConfig | None) -> str | None:
    """Why serving on ``host`` is refused (one line), or ``None`` when it may start."""
    if is_loopback(host) or (auth is not None and auth.enabled):
        return None
    return (f"refusing to serve on {host or '(all addresses)'} without authentication: "
            "pass --auth-file FILE (user:password lines) or --trust-proxy-header NAME "
            "(behind a proxy that authenticates), or bind --host 127.0.0.1")


def serving_auth(host: str, auth_file: str | None, proxy_header: str | None) -> AuthConfig:
    """The auth config to serve ``host`` with; ``AuthConfigError`` when the options are
    bad or ``host`` is beyond loopback without authentication."""
    auth = auth_config(auth_file, proxy_header)
    problem = serving_problem(host, auth)
    if problem:
        raise AuthConfigError(problem)
    return auth


def protect(server: Any, auth: AuthConfig) -> None:
    """Guard every route of a Flask ``server`` with ``auth`` (no-op when not enabled)."""
    if not auth.enabled:
        return
    import flask

    basic = None
    if auth.users:
        from flask_httpauth import HTTPBasicAuth

        basic = HTTPBasicAuth(realm="LR Tempo")
        users = {name.encode(): pw.encode() for name, pw in auth.users.items()}

        @basic.verify_password
        def _verify(username: str, password: str) -> str | None:
            expected = users.get((username or "").encode())
            # Compare against something even for an unknown user: same time either way.
            ok = hmac.compare_digest(expected or b"\0" * 32, (password or "").encode())
            return username if ok and expected is not None else None

    def guard() -> Any:
        if auth.proxy_header and not flask.request.headers.get(auth.proxy_header, "").strip():
            return flask.Response("Authentication required (via the proxy).\n", 401,
                                  {"Content-Type": "text/plain; charset=utf-8"})
        return None

    if basic is not None:
        guard = basic.login_required(guard)
    server.before_request(guard)
