"""Run: annotated curves, the findings with their evidence, and the suggestion."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from dashboard.controls import curve_controls, log_y_value, smoothing_value, x_mode_value
from dashboard.layout import loading_graph
from dashboard.sweep_views import range_test_view
from dashboard.views import run_graph, run_view
from dashboard.zoom import zoom_from_url, zoom_state

dash.register_page(__name__, path="/run", name="Run", title="LR Tempo · Run", order=1)


def layout(**query: str) -> html.Div:
    """The Run page for the query of its URL (the run's ``id``, ``smoothing``, ``logy``,
    ``x`` and a zoom ``xr``; other keys are ignored)."""
    x_mode, log_y = x_mode_value(query.get("x")), log_y_value(query.get("logy"))
    smoothing = smoothing_value(query.get("smoothing"))
    return html.Div(
        [
            dcc.Store(id="run-id", data=query.get("id")),
            dcc.Store(id="run-zoom", data=zoom_from_url(query.get("xr"), x_mode, log_y)),
            dcc.Store(id="run-relayout-x", data=None),
            html.Div(id="run-header", className="mb-2"),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Card(
                                dbc.CardBody(curve_controls("run", smoothing, log_y, x_mode)),
                                className="mb-2",
                            ),
                            loading_graph("run-graph", "loading…"),
                        ],
                        lg=9,
                    ),
                    dbc.Col(html.Div(id="run-side"), lg=3),
                ]
            ),
            html.Div(id="run-range-test"),
            html.H5("Findings", className="mt-3"),
            html.Div(id="run-findings"),
            html.Div(id="run-url-dummy", hidden=True),
        ]
    )


@callback(
    Output("run-header", "children"),
    Output("run-side", "children"),
    Output("run-findings", "children"),
    Input("run-id", "data"),
)
def update_run(run_id: str | None):
    return run_view(run_id)


@callback(
    Output("run-range-test", "children"),
    Input("run-id", "data"),
)
def update_range_test(run_id: str | None):
    """Loss against LR for a run read as an LR range test (nothing for other runs)."""
    return range_test_view(run_id)


@callback(
    Output("run-graph", "figure"),
    Output("run-zoom", "data"),
    Input("run-id", "data"),
    Input("run-smoothing", "value"),
    Input("run-logy", "value"),
    Input("run-x", "value"),
    Input("run-relayout-x", "data"),
    State("run-zoom", "data"),
)
def update_graph(
    run_id: str | None,
    smoothing: float,
    logy: list[str],
    x_mode: str,
    relayout: dict[str, Any] | None,
    zoom: dict[str, Any] | None,
):
    """Re-built on every control change and on zoom (re-sampled to the visible range)."""
    if not isinstance(zoom, dict):  # a forged payload is taken as no zoom, not a 500
        zoom = None
    if not isinstance(relayout, dict):
        relayout = None
    log_y, x_mode, smoothing = log_y_value(logy), x_mode_value(x_mode), smoothing_value(smoothing)
    # A new page's first call may name the (still empty) relayout store as its trigger.
    if ctx.triggered_id == "run-relayout-x" and relayout is not None:
        zoom = zoom_state(relayout, zoom, x_mode, log_y)
        if zoom is None:  # not an x zoom, or the same one
            return no_update, no_update
        return run_graph(run_id, smoothing, log_y, x_mode, zoom), zoom
    return run_graph(run_id, smoothing, log_y, x_mode, zoom), no_update


# Only x zooms and resets reach the server: Plotly also reports resizes ("autosize"),
# and a later call of the same callback would make Dash drop the zoom's figure.
clientside_callback(
    """
    function(relayout) {
        if (!relayout) { return window.dash_clientside.no_update; }
        const keys = Object.keys(relayout);
        if (keys.some(k => /^xaxis2?[.](range|autorange)/.test(k))) { return relayout; }
        return window.dash_clientside.no_update;
    }
    """,
    Output("run-relayout-x", "data"),
    Input("run-graph", "relayoutData"),
    prevent_initial_call=True,
)


# The controls and the zoom in the URL (dashboard/assets/url_state.js).
clientside_callback(
    dash.ClientsideFunction("lrtempo_url", "run"),
    Output("run-url-dummy", "children"),
    Input("run-id", "data"),
    Input("run-smoothing", "value"),
    Input("run-logy", "value"),
    Input("run-x", "value"),
    Input("run-zoom", "data"),
)
