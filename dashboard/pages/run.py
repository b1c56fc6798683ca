"""Run: annotated curves, the findings with their evidence, and the suggestion."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update

from dashboard.figures import empty_figure
from dashboard.views import run_graph, run_view, zoom_state

dash.register_page(__name__, path="/run", name="Run", title="LR Tempo · Run", order=1)


def _float(text: Any, default: float, lo: float, hi: float) -> float:
    try:
        v = float(text)
    except (TypeError, ValueError):
        return default
    return min(max(v, lo), hi)


def layout(id: str | None = None, smoothing: str | None = None, logy: str | None = None,
           x: str | None = None, **_: Any) -> html.Div:
    smooth = _float(smoothing, 0.6, 0.0, 0.99)
    return html.Div([
        dcc.Store(id="run-id", data=id),
        dcc.Store(id="run-zoom", data=None),
        html.Div(id="run-header", className="mb-2"),
        dbc.Row([
            dbc.Col([
                dbc.Card(dbc.CardBody([
                    dbc.Row([
                        dbc.Col([
                            html.Label("Smoothing (EMA)", className="form-label small mb-0"),
                            dcc.Slider(id="run-smoothing", min=0, max=0.99, step=0.01, value=smooth,
                                       marks={0: "0", 0.6: "0.6", 0.9: "0.9", 0.99: "0.99"},
                                       tooltip={"placement": "bottom"}),
                        ], md=6),
                        dbc.Col(dbc.Checklist(id="run-logy", options=[{"label": "log y", "value": "log"}],
                                              value=["log"] if logy in ("1", "true", "log") else [],
                                              switch=True), width="auto"),
                        dbc.Col(dbc.RadioItems(id="run-x", options=[
                            {"label": "step", "value": "step"},
                            {"label": "epoch", "value": "epoch"},
                            {"label": "wall time", "value": "time"}],
                            value=x if x in ("time", "epoch") else "step", inline=True),
                            width="auto"),
                    ], className="g-3 align-items-center"),
                ]), className="mb-2"),
                dcc.Loading(dcc.Graph(id="run-graph", config={"displaylogo": False},
                                      figure=empty_figure("loading…")), type="dot"),
            ], lg=9),
            dbc.Col(html.Div(id="run-side"), lg=3),
        ]),
        html.H5("Findings", className="mt-3"),
        html.Div(id="run-findings"),
        html.Div(id="run-url-dummy", hidden=True),
    ])


@callback(
    Output("run-header", "children"),
    Output("run-side", "children"),
    Output("run-findings", "children"),
    Input("run-id", "data"),
)
def update_run(run_id: str | None):
    return run_view(run_id)


@callback(
    Output("run-zoom", "data"),
    Input("run-graph", "relayoutData"),
    State("run-zoom", "data"),
    State("run-logy", "value"),
    State("run-x", "value"),
    prevent_initial_call=True,
)
def on_zoom(relayout: dict[str, Any] | None, current: dict[str, Any] | None, logy: list[str],
            x_mode: str):
    state = zoom_state(relayout, current, x_mode or "step", "log" in (logy or []))
    return no_update if state is None else state


@callback(
    Output("run-graph", "figure"),
    Input("run-id", "data"),
    Input("run-smoothing", "value"),
    Input("run-logy", "value"),
    Input("run-x", "value"),
    Input("run-zoom", "data"),
)
def update_graph(run_id: str | None, smoothing: float, logy: list[str], x_mode: str,
                 zoom: dict[str, Any] | None):
    """Re-built on every control change and on zoom (re-sampled to the visible range)."""
    return run_graph(run_id, smoothing, "log" in (logy or []), x_mode or "step", zoom)


clientside_callback(
    """
    function(runId, smoothing, logy, x) {
        if (!runId) { return ""; }
        const q = new URLSearchParams();
        q.set("id", runId);
        if (smoothing !== 0.6 && smoothing !== undefined && smoothing !== null) { q.set("smoothing", smoothing); }
        if (logy && logy.length) { q.set("logy", "1"); }
        if (x && x !== "step") { q.set("x", x); }
        const url = window.location.pathname + "?" + q.toString();
        if (window.location.pathname + window.location.search !== url) {
            window.history.replaceState(window.history.state, "", url);
        }
        return "";
    }
    """,
    Output("run-url-dummy", "children"),
    Input("run-id", "data"),
    Input("run-smoothing", "value"),
    Input("run-logy", "value"),
    Input("run-x", "value"),
)
