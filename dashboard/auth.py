"""Who may see the dashboard: HTTP basic auth, or a header set by an authenticating proxy.

    lrtempo dashboard --host 0.0.0.0 --auth-file /etc/lrtempo/users   # user:password[:role]
    lrtempo dashboard --trust-proxy-header X-Forwarded-User           # behind a proxy

Every route is guarded (the page, ``_dash-layout``, ``_dash-update-component``, assets,
component bundles): a request without valid credentials gets 401. Binding beyond
loopback without either is refused (:func:`serving_problem`). Passwords are compared in
constant time and never printed, logged or echoed in an error.

The auth file has one ``user:password`` line per user, optionally ending in a role:

* ``user:password`` (or ``user:password:reader``): a reader, who may look at everything;
* ``user:password:writer``: may also write the verdict tags back to MLflow (Review's
  "Write tags");
* ``user:password:admin``: a writer who may also change the server-wide Settings (every
  other user's Settings stay in their own browser).

Spaces around the user name, the password and the role are ignored (a password cannot
start or end with a space); a password may hold ``:`` but not end in ``:reader``,
``:writer`` or ``:admin``. The file is read up to :data:`MAX_AUTH_FILE` bytes.
Without an auth file the roles are: loopback only, no authentication — the local user
writes (not an admin: the server-wide URI stays the command line's); behind
``--trust-proxy-header`` alone — everyone reads (give writers an auth file).
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
#: Roles an auth-file line may end with (``user:password:ROLE``), least to most.
ROLES = ("reader", "writer", "admin")
#: An auth file larger than this is refused (it is read whole; ``/dev/zero`` never ends).
MAX_AUTH_FILE = 1 << 20


class AuthConfigError(ValueError):
    """A bad auth file or header name; the message never contains a password."""


@dataclass(frozen=True)
class AuthConfig:
    """Basic-auth ``users`` (name → password) and/or a trusted proxy header."""

    users: Mapping[str, str] = field(default_factory=dict, repr=False)
    proxy_header: str | None = None
    source: str = ""  # where the users came from, for the startup line
    admins: frozenset[str] = frozenset()  # users marked ``:admin`` in the auth file
    writers: frozenset[str] = frozenset()  # users marked ``:writer`` (admins write too)

    @property
    def enabled(self) -> bool:
        return bool(self.users) or bool(self.proxy_header)

    def describe(self) -> str:
        """One line for stderr saying what protects the dashboard (no secrets)."""
        parts = []
        if self.users:
            n = len(self.users)
            roles = [f"{len(self.admins)} admin"] if self.admins else []
            if self.writers - self.admins:
                roles.append(f"{len(self.writers - self.admins)} writer")
            roles_text = f" ({', '.join(roles)})" if roles else " (all readers)"
            parts.append(
                f"HTTP basic auth, {n} user{'s' if n != 1 else ''}{roles_text} from {self.source}"
            )
        if self.proxy_header:
            parts.append(
                f"requests must carry the {self.proxy_header} header set by your proxy "
                "(make sure only the proxy can reach this port)"
                + ("" if self.users else "; its users are readers")
            )
        return (
            "; ".join(parts) if parts else "none (loopback only: users of this machine can open it)"
        )


def load_users(path: str | Path) -> dict[str, str]:
    """``user:password[:role]`` lines (blank lines and ``#`` comments skipped) → name → password.

    ``AuthConfigError`` names the file and line number of a bad line, never its text.
    """
    return load_auth_file(path)[0]


def read_auth_text(path: str | Path) -> str:
    """The text of an auth file, read up to :data:`MAX_AUTH_FILE` bytes (a device, a
    huge or a binary file is refused with one line naming the file)."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read(MAX_AUTH_FILE + 1)
    except OSError as exc:
        raise AuthConfigError(
            f"auth file {p}: cannot read it ({exc.strerror or type(exc).__name__})"
        ) from None
    if len(data) > MAX_AUTH_FILE:
        raise AuthConfigError(
            f"auth file {p}: more than {MAX_AUTH_FILE >> 20} MiB; an auth file "
            "holds user:password lines"
        )
    nul = data.find(b"\0")
    if nul >= 0:
        raise AuthConfigError(f"auth file {p}: byte {nul}: binary data, not user:password lines")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AuthConfigError(f"auth file {p}: byte {exc.start}: not UTF-8 text") from None


def parse_line(line: str) -> tuple[str, str, str] | None:
    """``(user, password, role)`` of one auth-file line; ``None`` for a blank or ``#`` line;
    ``ValueError`` when it is not ``user:password[:role]``."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    name, sep, password = line.partition(":")
    role = "reader"
    head, colon, last = password.rpartition(":")
    if colon and last.strip() in ROLES:
        password, role = head, last.strip()  # ``user::writer``: an empty password
    name, password = name.strip(), password.strip()
    if not sep or not name or not password:
        raise ValueError("expected user:password")
    return name, password, role


def load_roles(path: str | Path) -> tuple[dict[str, str], dict[str, str]]:
    """The users (name → password) of an auth file and each user's role."""
    p = Path(path)
    users: dict[str, str] = {}
    roles: dict[str, str] = {}
    for no, line in enumerate(read_auth_text(p).splitlines(), 1):
        try:
            parsed = parse_line(line)
        except ValueError:
            raise AuthConfigError(
                f"auth file {p}, line {no}: expected user:password[:role] "
                f"(role: {', '.join(ROLES)})"
            ) from None
        if parsed is not None:
            name, password, role = parsed
            users[name], roles[name] = password, role
    if not users:
        raise AuthConfigError(f"auth file {p}: no user:password line")
    return users, roles


def load_auth_file(path: str | Path) -> tuple[dict[str, str], frozenset[str]]:
    """The users (name → password) of an auth file and the names marked ``:admin``."""
    users, roles = load_roles(path)
    return users, frozenset(n for n, r in roles.items() if r == "admin")


def file_is_private(path: str | Path) -> bool:
    """True when no one but the owner may read the file (mode 0600 or stricter)."""
    return not os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO)


def auth_config(auth_file: str | None, proxy_header: str | None) -> AuthConfig:
    """The config for the command-line options (``AuthConfigError`` when bad)."""
    header = (proxy_header or "").strip() or None
    if header is not None and not all(c.isalnum() or c == "-" for c in header):
        raise AuthConfigError(
            f"--trust-proxy-header {header!r}: a header name is letters, digits and '-'"
        )
    users, roles = load_roles(auth_file) if auth_file else ({}, {})
    return AuthConfig(
        users=users,
        proxy_header=header,
        source=str(auth_file or ""),
        admins=frozenset(n for n, r in roles.items() if r == "admin"),
        writers=frozenset(n for n, r in roles.items() if r in ("writer", "admin")),
    )


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


def may_write(auth: AuthConfig | None) -> bool:
    """True when this request's user may write tags to MLflow (see the module's roles)."""
    if auth is None or not auth.enabled:
        return True  # loopback only, no authentication: the local user
    if not auth.users:
        return False  # a proxy's users: readers
    user = current_user()
    return user is not None and (user in auth.writers or user in auth.admins)


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
    return (
        f"refusing to serve on {host or '(all addresses)'} without authentication: "
        "pass --auth-file FILE (user:password lines) or --trust-proxy-header NAME "
        "(behind a proxy that authenticates), or bind --host 127.0.0.1"
    )


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
            return flask.Response(
                "Authentication required (via the proxy).\n",
                401,
                {"Content-Type": "text/plain; charset=utf-8"},
            )
        return None

    if basic is not None:
        guard = basic.login_required(guard)
    server.before_request(guard)
