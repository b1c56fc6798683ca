"""Review (home): which of the window's runs went wrong, and what LR to use instead."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, clientside_callback, ctx, dcc, html

from dashboard.data import WINDOWS, current_store
from dashboard.layout import error_list, status_counts
from dashboard.views import review_data

dash.register_page(__name__, path="/", name="Review", title="LR Tempo · Review", order=0)

STATUSES = ("divergence", "oscillation", "overfitting", "stagnation", "insufficient_data", "healthy")

COLUMNS: list[dict[str, Any]] = [
    {"field": "run", "headerName": "Run", "cellRenderer": "RunLink", "minWidth": 170, "flex": 2,
     "filter": "agTextColumnFilter", "tooltipField": "run"},
    {"field": "experiment", "headerName": "Experiment", "filter": "agTextColumnFilter",
     "minWidth": 130, "flex": 1},
    {"field": "source", "headerName": "Source", "width": 90, "filter": False},
    {"field": "start", "headerName": "Start (UTC)", "sort": "desc", "width": 160, "filter": False},
    {"field": "duration", "headerName": "Duration", "width": 95, "filter": False,
     "sortable": False},
    {"field": "status", "headerName": "Status", "cellRenderer": "StatusBadge", "width": 130,
     "filter": "agTextColumnFilter"},
    {"field": "finding", "headerName": "Worst finding", "flex": 2, "minWidth": 180,
     "tooltipField": "finding", "filter": "agTextColumnFilter"},
    {"field": "lr", "headerName": "LR → suggested", "width": 155, "filter": False},
    {"field": "best_val_step", "headerName": "Best val", "width": 95, "filter": False},
    {"field": "mlflow_url", "headerName": "MLflow", "cellRenderer": "ExternalLink", "width": 85,
     "sortable": False, "filter": False},
]


def _opts_window(default: str) -> list[dict[str, str]]:
    labels = {"24h": "Last 24 h", "7d": "Last 7 days", "30d": "Last 30 days", "all": "All"}
    keys = list(WINDOWS)
    if default not in keys:
        keys.insert(0, default)
    return [{"label": labels.get(k, f"Last {k}"), "value": k} for k in keys]


def layout(window: str | None = None, experiment: str | None = None, status: str | None = None,
           **_: Any) -> html.Div:
    store = current_store()
    window = window or store.default_window
    experiment = experiment if experiment is not None else (store.experiment or "")
    return html.Div([
        dbc.Row([
            dbc.Col(html.H3("Review", className="mb-0"), width="auto"),
            dbc.Col(dbc.RadioItems(id="review-window", options=_opts_window(window), value=window,
                                   inline=True, className="btn-group-sm"), width="auto"),
            dbc.Col(dcc.Dropdown(id="review-experiment", placeholder="All experiments",
                                 value=experiment or None, clearable=True), width=3),
            dbc.Col(dcc.Dropdown(id="review-status", placeholder="Any status",
                                 options=[{"label": s.replace("_", " "), "value": s} for s in STATUSES],
                                 value=status or None, clearable=True), width=2),
            dbc.Col(dbc.Button("Refresh", id="review-refresh", color="secondary", size="sm",
                               outline=True), width="auto"),
            dbc.Col(dcc.Link("Compare selected (0)", id="review-compare-link", href="/compare",
                             className="btn btn-sm btn-outline-primary"), width="auto"),
        ], className="g-2 align-items-center mb-2"),
        dcc.Loading(html.Div([
            html.Div(id="review-counts", className="mb-2"),
            html.Div(id="review-errors"),
        ]), type="dot"),
        dag.AgGrid(
            id="review-grid",
            columnDefs=COLUMNS,
            rowData=[],
            getRowId="params.data.id",
            defaultColDef={"sortable": True, "resizable": True, "filter": True,
                           "floatingFilter": False},
            dashGridOptions={"rowSelection": {"mode": "multiRow", "checkboxes": True,
                                              "headerCheckbox": False,
                                              "enableClickSelection": False},
                             "rowHeight": 36, "animateRows": False, "tooltipShowDelay": 300,
                             "localeText": {"noRowsToShow": "No runs in this window"},
                             "domLayout": "autoHeight", "enableCellTextSelection": True},
            style={"width": "100%"},
        ),
        html.Div(id="review-url-dummy", hidden=True),
    ])


def _query(window: str, experiment: str | None, status: str | None) -> str:
    q = {"window": window}
    if experiment:
        q["experiment"] = experiment
    if status:
        q["status"] = status
    return "?" + urlencode(q)


@callback(
    Output("review-grid", "rowData"),
    Output("review-counts", "children"),
    Output("review-errors", "children"),
    Output("review-experiment", "options"),
    Input("review-window", "value"),
    Input("review-experiment", "value"),
    Input("review-status", "value"),
    Input("review-refresh", "n_clicks"),
)
def update_review(window: str, experiment: str | None, status: str | None, _n: int | None):
    rows, counts, experiments, errors = review_data(
        window, experiment, status, refresh=ctx.triggered_id == "review-refresh")
    if experiment and experiment not in experiments:
        experiments = [experiment] + experiments
    return (rows, status_counts(counts), error_list(errors),
            [{"label": e, "value": e} for e in experiments])


@callback(
    Output("review-compare-link", "href"),
    Output("review-compare-link", "children"),
    Input("review-grid", "selectedRows"),
)
def compare_link(selected: list[dict[str, Any]] | None):
    ids = [r["id"] for r in (selected or [])][:10]
    href = "/compare" + ("?" + urlencode({"ids": ",".join(ids)}) if ids else "")
    return href, f"Compare selected ({len(ids)})"


# Keep the URL shareable without re-rendering the page: replaceState does not notify
# dcc.Location, so the page keeps its state.
clientside_callback(
    """
    function(window_, experiment, status) {
        const q = new URLSearchParams();
        if (window_) { q.set("window", window_); }
        if (experiment) { q.set("experiment", experiment); }
        if (status) { q.set("status", status); }
        const url = window.location.pathname + "?" + q.toString();
        if (window.location.pathname + window.location.search !== url) {
            window.history.replaceState(window.history.state, "", url);
        }
        return "";
    }
    """,
    Output("review-url-dummy", "children"),
    Input("review-window", "value"),
    Input("review-experiment", "value"),
    Input("review-status", "value"),
)
