"""Settings: your MLflow tracking URI (with a connection test) and default experiment.

Your settings live in your browser (local storage) and change only what you see; other
users keep theirs. The server-wide tracking URI is set on the command line; an admin of
the auth file (``user:password:admin``) may also change it here for everyone, until the
dashboard restarts. A URI entered here must pass the server's policy
(:mod:`dashboard.uri_policy`): http(s) and no loopback or metadata address by default.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard.auth import is_admin
from dashboard.data import current_store
from dashboard.uri_policy import UriNotAllowed
from dashboard.views import check_uri

dash.register_page(__name__, path="/settings", name="Settings", title="LR Tempo · Settings", order=4)


def _admin() -> bool:
    from dashboard.app import AUTH_KEY

    return is_admin(flask.current_app.config.get(AUTH_KEY))


def layout(**_: Any) -> html.Div:
    store = current_store()
    admin = _admin()
    return html.Div([
        dcc.Store(id="settings-page", data=True),  # new on each visit: fills the fields
        html.H3("Settings"),
        dbc.Card(dbc.CardBody([
            dbc.Label("Your MLflow tracking URI (kept in this browser)", html_for="settings-uri"),
            dbc.InputGroup([
                dbc.Input(id="settings-uri", value="", type="text",
                          placeholder=store.tracking_uri or "http://mlflow.internal:5000"),
                dbc.Button("Test connection", id="settings-test", color="secondary", outline=True),
            ], className="mb-2"),
            html.Div(id="settings-test-result", className="mb-3"),
            dbc.Label("Default experiment filter (Review)", html_for="settings-experiment"),
            dbc.Input(id="settings-experiment", value="", type="text",
                      placeholder="all experiments", className="mb-3"),
            html.Div([
                html.Span("Server-wide tracking URI: ", className="text-muted"),
                html.Span(store.tracking_uri or "none", id="settings-server-uri"),
            ], className="small"),
            html.Div([
                html.Span("Sources: ", className="text-muted"),
                html.Span(", ".join(store.sources) or "none (uploads only)"),
            ], className="small mb-3"),
            html.Div("Leave the URI empty to use the server-wide one. Your settings change "
                     "only what this browser shows.", className="small text-muted mb-2"),
            dbc.Button("Save", id="settings-save", color="primary", className="me-2"),
            dbc.Button("Save for everyone (admin)", id="settings-save-all", color="danger",
                       outline=True) if admin else None,
            html.Div(id="settings-save-result", className="mt-2"),
        ]), style={"maxWidth": "48rem"}),
    ])


@callback(
    Output("settings-uri", "value"),
    Output("settings-experiment", "value"),
    Input("user-settings", "data"),
    Input("settings-page", "data"),
)
def fill_from_browser(data: dict[str, Any] | None, _page: Any = None):
    """The fields from this browser's saved settings (empty: the server's)."""
    data = data if isinstance(data, dict) else {}
    return str(data.get("tracking_uri") or ""), str(data.get("experiment") or "")


@callback(
    Output("settings-test-result", "children"),
    Input("settings-test", "n_clicks"),
    State("settings-uri", "value"),
    prevent_initial_call=True,
)
def on_test(_n: int | None, uri: str | None):
    ok, msg = check_uri(uri or current_store().tracking_uri or "")
    return dbc.Alert(msg, color="success" if ok else "danger", className="py-2 mb-0",
                     id="settings-test-alert")


def _alert(text: str, ok: bool) -> dbc.Alert:
    return dbc.Alert(text, color="success" if ok else "danger", className="py-2 mb-0",
                     id="settings-save-alert")


@callback(
    Output("user-settings", "data"),
    Output("settings-save-result", "children"),
    Input("settings-save", "n_clicks"),
    State("settings-uri", "value"),
    State("settings-experiment", "value"),
    prevent_initial_call=True,
)
def on_save(_n: int | None, uri: str | None, experiment: str | None):
    """Save in this browser (after the URI policy); the server's settings stay."""
    if not _n:  # Dash calls it when the page appears (its output lives in the app layout)
        return no_update, no_update
    uri = (uri or "").strip()
    if uri:
        try:
            current_store().check_user_uri(uri)
        except UriNotAllowed as exc:
            return no_update, _alert(f"Not saved: not allowed here: {exc}.", False)
    data = {"tracking_uri": uri or None, "experiment": (experiment or "").strip() or None}
    return data, _alert("Saved in this browser. Review reads "
                        f"{uri or 'the server-wide store'} on its next load.", True)


@callback(
    Output("settings-save-result", "children", allow_duplicate=True),
    Output("settings-server-uri", "children"),
    Input("settings-save-all", "n_clicks"),
    State("settings-uri", "value"),
    State("settings-experiment", "value"),
    prevent_initial_call=True,
)
def on_save_all(_n: int | None, uri: str | None, experiment: str | None):
    """An admin's Save: the server-wide tracking URI and default experiment."""
    _ = ctx.triggered_id
    if not _n:
        return no_update, no_update
    if not _admin():  # checked on the server: the button alone proves nothing
        return _alert("Only an admin of the auth file may change the server-wide settings.",
                      False), no_update
    uri = (uri or "").strip()
    store = current_store()
    store.set_tracking_uri(uri or None)
    store.experiment = (experiment or "").strip() or None
    return _alert("Saved for everyone.", True), uri or "none"
