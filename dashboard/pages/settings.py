"""Settings: the MLflow tracking URI (with a connection test) and the default experiment.

Settings are the server's (every browser of this dashboard sees the same), held in
memory until the dashboard restarts.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, ctx, html

from dashboard.data import current_store
from dashboard.views import check_uri

dash.register_page(__name__, path="/settings", name="Settings", title="LR Tempo · Settings", order=4)


def layout(**_: Any) -> html.Div:
    store = current_store()
    return html.Div([
        html.H3("Settings"),
        dbc.Card(dbc.CardBody([
            dbc.Label("MLflow tracking URI", html_for="settings-uri"),
            dbc.InputGroup([
                dbc.Input(id="settings-uri", value=store.tracking_uri or "", type="text",
                          placeholder="http://mlflow.internal:5000, sqlite:///mlflow.db, file:///…/mlruns"),
                dbc.Button("Test connection", id="settings-test", color="secondary", outline=True),
            ], className="mb-2"),
            html.Div(id="settings-test-result", className="mb-3"),
            dbc.Label("Default experiment filter (Review)", html_for="settings-experiment"),
            dbc.Input(id="settings-experiment", value=store.experiment or "", type="text",
                      placeholder="all experiments", className="mb-3"),
            html.Div([
                html.Span("Sources: ", className="text-muted"),
                html.Span(", ".join(store.sources) or "none (uploads only)"),
            ], className="small mb-3"),
            dbc.Button("Save", id="settings-save", color="primary"),
            html.Div(id="settings-save-result", className="mt-2"),
        ]), style={"maxWidth": "48rem"}),
    ])


@callback(
    Output("settings-test-result", "children"),
    Input("settings-test", "n_clicks"),
    State("settings-uri", "value"),
    prevent_initial_call=True,
)
def on_test(_n: int | None, uri: str | None):
    ok, msg = check_uri(uri or "")
    return dbc.Alert(msg, color="success" if ok else "danger", className="py-2 mb-0",
                     id="settings-test-alert")


@callback(
    Output("settings-save-result", "children"),
    Input("settings-save", "n_clicks"),
    State("settings-uri", "value"),
    State("settings-experiment", "value"),
    prevent_initial_call=True,
)
def on_save(_n: int | None, uri: str | None, experiment: str | None):
    store = current_store()
    store.set_tracking_uri((uri or "").strip() or None)
    store.experiment = (experiment or "").strip() or None
    _ = ctx.triggered_id
    return dbc.Alert("Saved. Review reads the store again on its next load.", color="success",
                     className="py-2 mb-0")
