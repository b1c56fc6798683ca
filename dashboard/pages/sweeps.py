"""Sweeps: each LR sweep among the Review's runs, its loss-vs-LR plot and recommendation."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, clientside_callback, dcc, html

from dashboard.review_layout import page_header
from dashboard.store import current_store
from dashboard.sweep_views import sweeps_view
from dashboard.views import ReviewFilters

dash.register_page(__name__, path="/sweeps", name="Sweeps", title="LR Tempo · Sweeps", order=1)


def layout(**query: str) -> html.Div:
    """The Sweeps page for the query of its URL (``window``, the filters ``experiment``,
    ``user``, ``tag``, one sweep's ``id`` and ``group_by``; other keys are ignored)."""
    store = current_store()
    window = query.get("window") or store.default_window
    experiment = query.get("experiment")
    experiment = experiment if experiment is not None else (store.experiment or None)
    filters = {
        "experiment": experiment or None,
        "user": query.get("user") or None,
        "tag": query.get("tag") or None,
        "id": query.get("id") or None,
    }
    scope = ", ".join(f"{k} {v}" for k, v in filters.items() if v and k != "id")
    return html.Div(
        [
            dbc.Row(
                [
                    *page_header("Sweeps", "sweeps-window", window),
                    dbc.Col(
                        html.Div(
                            dbc.Input(
                                id="sweeps-group-by",
                                value=query.get("group_by") or "",
                                debounce=True,
                                placeholder="group by parameter",
                                size="sm",
                                type="text",
                                style={"width": "13rem"},
                            ),
                            title="Group runs by this run parameter's value instead of "
                            "their experiment or folder (as --group-by)",
                        ),
                        width="auto",
                    ),
                    dbc.Col(html.Span(scope, className="text-muted small"), width="auto"),
                    dbc.Col(
                        dcc.Link("all sweeps", href="/sweeps", id="sweeps-all", className="small")
                        if filters["id"]
                        else None,
                        width="auto",
                    ),
                ],
                className="g-2 align-items-center mb-2",
            ),
            html.P(
                "Runs of one experiment (or folder) that differ in learning rate: each run's "
                "final loss against its LR, the fitted curve, the recommended LR and the "
                "stability edge. Click a point to open its run.",
                className="small text-muted",
            ),
            dcc.Store(id="sweeps-filters", data=filters),
            dcc.Loading(html.Div(id="sweeps-content"), type="dot"),
            html.Div(id="sweeps-nav-dummy", hidden=True),
            html.Div(id="sweeps-url-dummy", hidden=True),
        ]
    )


@callback(
    Output("sweeps-content", "children"),
    Input("sweeps-window", "value"),
    Input("sweeps-group-by", "value"),
    Input("user-settings", "data"),
    State("sweeps-filters", "data"),
)
def update_sweeps(
    window: str | None, group_by: str | None, settings: Any, filters: dict[str, Any] | None
):
    # values come from the request: anything that is not text is left out, never a 500
    f = (
        {k: v for k, v in (filters or {}).items() if isinstance(v, str)}
        if isinstance(filters, dict)
        else {}
    )
    uri = settings.get("tracking_uri") if isinstance(settings, dict) else None
    uri = uri.strip() or None if isinstance(uri, str) else None
    rf = ReviewFilters(
        window if isinstance(window, str) and window else current_store().default_window,
        f.get("experiment"),
        None,
        f.get("user"),
        f.get("tag"),
        uri,
    )
    return sweeps_view(rf, f.get("id"), group_by if isinstance(group_by, str) else None)


# A click on a run's point opens its Run page (client-side navigation, as dcc.Link does).
clientside_callback(
    """
    function(clicks) {
        const no = window.dash_clientside.no_update;
        const t = window.dash_clientside.callback_context.triggered;
        if (!t || !t.length || !t[0].value) { return no; }
        const p = t[0].value.points && t[0].value.points[0];
        if (!p || p.customdata === undefined || p.customdata === null) { return no; }
        const id = Array.isArray(p.customdata) ? p.customdata[0] : p.customdata;
        const href = "/run?id=" + encodeURIComponent(String(id));
        window.history.pushState({}, "", href);
        window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
        window.scrollTo(0, 0);
        return "";
    }
    """,
    Output("sweeps-nav-dummy", "children"),
    Input({"type": "sweep-graph", "index": ALL}, "clickData"),
    prevent_initial_call=True,
)


clientside_callback(
    """
    function(window_, groupBy) {
        const q = new URLSearchParams(window.location.search);
        if (window_) { q.set("window", window_); }
        if (groupBy && groupBy.trim()) { q.set("group_by", groupBy.trim()); }
        else { q.delete("group_by"); }
        const url = window.location.pathname + "?" + q.toString();
        if (window.location.pathname + window.location.search !== url) {
            window.history.replaceState(window.history.state, "", url);
        }
        return "";
    }
    """,
    Output("sweeps-url-dummy", "children"),
    Input("sweeps-window", "value"),
    Input("sweeps-group-by", "value"),
)
