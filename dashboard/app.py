"""The Dash app factory.

    app = create_app(["runs/", "http://mlflow:5000"], since_hours=24)
    app.run(port=8050)           # or dashboard.serve.serve(app)

With ``auth`` (:class:`dashboard.auth.AuthConfig`) every route asks for credentials.
A visitor's Settings (their tracking URI, default experiment) live in their browser
(``dcc.Store`` ``user-settings``, local storage) and change only their own pages; the
server-wide tracking URI comes from the command line (or an admin of the auth file).
``allow_uri_schemes``/``allow_private_uris`` widen what a visitor may enter
(:mod:`dashboard.uri_policy`). ``host`` (the bind address) and ``allowed_hosts`` say
which ``Host`` headers are answered; every answer forbids framing
(:mod:`dashboard.webguard`). Write-back needs a writer and a one-time confirmation
(:mod:`dashboard.writeback`).

Nothing is read at import or here: sources are read on the first request that needs
them (see :mod:`dashboard.store`). Everything is served from this package (assets,
component bundles): no CDN.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

import dash
from dash import ClientsideFunction, Input, Output, dcc, html

from . import settings_file as settings_store
from . import upload_route
from .auth import AuthConfig, protect
from .layout import navbar
from .settings_file import SETTINGS_KEY, SettingsFile
from .store import STORE_KEY, DataStore
from .theme import THEME_STORE, css_vars
from .upload_store import DISK_MB, MAX_AGE_HOURS, MEMORY_MB, UploadStore
from .uploads import UPLOAD_BUDGET_MB, UPLOAD_READERS, gate_big_bodies
from .uri_policy import DEFAULT_SCHEMES, UriPolicy, parse_schemes
from .webguard import allowed_hosts as host_policy
from .webguard import guard
from .writeback import CONFIRM_KEY, ConfirmTokens

log = logging.getLogger(__name__)


def callback_failed(err: Exception) -> None:
    """Every callback's error handler (Dash's own page routing included): a callback that
    raised — a forged payload, or a bug — is logged in one line and answered with "no
    update", never an HTTP 500 or a traceback."""
    log.warning(
        "lrtempo: a dashboard callback failed and changed nothing: %s: %s",
        type(err).__name__,
        str(err)[:200],
    )


def theme_callbacks(app: dash.Dash) -> None:
    """The navbar toggle stores the visitor's light/dark choice; the stored choice (or
    the browser's preference) is shown: both in the browser (assets/05_theme.js)."""
    app.clientside_callback(
        ClientsideFunction("lrtempo_theme", "toggle"),
        Output(THEME_STORE, "data"),
        Input("theme-toggle", "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("lrtempo_theme", "apply"),
        Input(THEME_STORE, "data"),  # no output: it sets <html data-bs-theme>
    )


AUTH_KEY = "LRTEMPO_AUTH"

HERE = Path(__file__).resolve().parent


def create_app(
    sources: list[str],
    *,
    tracking_uri: str | None = None,
    since_hours: float = 24,
    upload_limit_mb: int = 50,
    auth: AuthConfig | None = None,
    allow_uri_schemes: str | frozenset[str] = DEFAULT_SCHEMES,
    allow_private_uris: bool = False,
    upload_memory_mb: float = MEMORY_MB,
    upload_disk_mb: float = DISK_MB,
    upload_max_age_hours: float = MAX_AGE_HOURS,
    upload_budget_mb: float = UPLOAD_BUDGET_MB,
    upload_readers: int = UPLOAD_READERS,
    host: str = "127.0.0.1",
    allowed_hosts: str | Iterable[str] | None = None,
    settings_file: Path | None = None,
) -> dash.Dash:
    """A Dash app reviewing ``sources`` (files, folders, MLflow URIs) plus uploads.

    ``settings_file``: where an admin's server-wide settings are kept across restarts
    (:mod:`dashboard.settings_file`); its URI applies when ``tracking_uri`` is not given.
    ``None``: they last until the app stops."""
    if upload_limit_mb <= 0:
        raise ValueError(f"upload_limit_mb={upload_limit_mb!r}: must be positive")
    if since_hours < 0:
        raise ValueError(f"since_hours={since_hours!r}: must be 0 (all) or more")
    if not upload_limit_mb <= upload_budget_mb < float("inf"):
        raise ValueError(
            f"upload budget {upload_budget_mb!r} MiB: must be at least the "
            f"upload limit ({upload_limit_mb} MiB)"
        )
    from analyzer.readers._io import ByteBudget

    uploads = UploadStore(upload_memory_mb, upload_disk_mb, upload_max_age_hours)
    app = dash.Dash(
        __name__,
        use_pages=True,
        on_error=callback_failed,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"),
        external_stylesheets=[],
        external_scripts=[],
        serve_locally=True,
        suppress_callback_exceptions=True,
        title="LR Tempo",
        update_title=None,
    )
    if auth is not None:
        protect(app.server, auth)  # before any other hook but the Host check
    guard(app.server, host_policy(host, allowed_hosts, env=False))  # Host check runs first
    gate_big_bodies(app.server, upload_readers)  # uploads' bodies are read a few at a time
    saved = settings_store.Saved()
    if settings_file is not None:
        saved = settings_store.load(settings_file)
        app.server.config[SETTINGS_KEY] = SettingsFile(
            settings_file, saved.problem, uri_from_command_line=tracking_uri is not None
        )
        if saved.problem:
            log.warning("saved settings ignored: %s", saved.problem)
    app.server.config[STORE_KEY] = DataStore(
        sources=list(sources),
        tracking_uri=tracking_uri or saved.values.get("tracking_uri"),
        experiment=saved.values.get("experiment"),
        since_hours=float(since_hours),
        upload_limit_mb=int(upload_limit_mb),
        uri_policy=UriPolicy(
            schemes=parse_schemes(allow_uri_schemes), allow_private=bool(allow_private_uris)
        ),
        uploads=uploads,
        upload_budget=ByteBudget(int(upload_budget_mb * 2**20)),
        upload_slots=threading.BoundedSemaphore(max(1, int(upload_readers))),
    )
    app.server.config[AUTH_KEY] = auth
    app.server.config[CONFIRM_KEY] = ConfirmTokens()
    # The largest body: one file, raw, to the upload route (callbacks carry no files).
    app.server.config["MAX_CONTENT_LENGTH"] = int(upload_limit_mb * 1024 * 1024) + (1 << 20)
    app.layout = html.Div(
        [
            dcc.Store(id="user-settings", storage_type="local"),
            dcc.Store(id=THEME_STORE, storage_type="local"),  # an explicit light/dark choice
            navbar(),
            html.Div(dash.page_container, className="container-fluid px-3 pb-4"),
        ],
        id="lrt-root",
        style=css_vars(),  # the dark colours of the grids and figures (assets/20_dark.css)
    )
    theme_callbacks(app)
    upload_route.install(app)  # the Upload page's files, sent raw with byte progress
    # Collect the pages' @dash.callback registrations into *this* app now, so a second
    # app in the same process (tests) gets its own copy when it imports the pages.
    app._setup_server()  # Dash private API: dash bounded in pyproject.toml, tests/test_wheel.py
    return app
