"""The Dash app factory.

    app = create_app(["runs/", "http://mlflow:5000"], since_hours=24)
    app.run(port=8050)           # or dashboard.serve.serve(app)

With ``auth`` (:class:`dashboard.auth.AuthConfig`) every route asks for credentials.

Nothing is read at import or here: sources are read on the first request that needs
them (see :mod:`dashboard.data`). Everything is served from this package (assets,
component bundles): no CDN.
"""

from __future__ import annotations

from pathlib import Path

import dash
from dash import html

from .auth import AuthConfig, protect
from .data import STORE_KEY, DataStore
from .layout import navbar

HERE = Path(__file__).resolve().parent


def create_app(
    sources: list[str],
    *,
    tracking_uri: str | None = None,
    since_hours: float = 24,
    upload_limit_mb: int = 50,
    auth: AuthConfig | None = None,
) -> dash.Dash:
    """A Dash app reviewing ``sources`` (files, folders, MLflow URIs) plus uploads."""
    if upload_limit_mb <= 0:
        raise ValueError(f"upload_limit_mb={upload_limit_mb!r}: must be positive")
    if since_hours < 0:
        raise ValueError(f"since_hours={since_hours!r}: must be 0 (all) or more")
    app = dash.Dash(
        __name__,
        use_pages=True,
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
        protect(app.server, auth)  # first, so it runs before any other hook
    app.server.config[STORE_KEY] = DataStore(
        sources=list(sources), tracking_uri=tracking_uri, since_hours=float(since_hours),
        upload_limit_mb=int(upload_limit_mb),
    )
    # Base64 uploads are ~4/3 of the file; allow a few files per request, refuse more.
    app.server.config["MAX_CONTENT_LENGTH"] = int(upload_limit_mb * 1024 * 1024 * 1.4 * 4) + (1 << 20)
    app.layout = html.Div([
        navbar(),
        html.Div(dash.page_container, className="container-fluid px-3 pb-4"),
    ])
    # Collect the pages' @dash.callback registrations into *this* app now, so a second
    # app in the same process (tests) gets its own copy when it imports the pages.
    app._setup_server()
    return app
