"""Compare: chosen runs' losses and LRs overlaid (by step, epoch or wall time; smoothing and
log y, all in the URL), with each run's status."""

from __future__ import annotations

import math
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, clientside_callback, dcc, html

from dashboard.data import WINDOWS, current_store, str_list
from dashboard.figures import empty_figure
from dashboard.views import MAX_COMPARE as MAX_RUNS
from dashboard.views import compare_view

dash.register_page(__name__, path="/compare", name="Compare", title="LR Tempo · Compare", order=2)


def _smoothing(text: Any) -> float:
    try:
        v = float(text)
    except (TypeError, ValueError):
        return 0.6
    return min(max(v, 0.0), 0.99) if math.isfinite(v) else 0.6


def layout(ids: str | None = None, window: str | None = None, smoothing: str | None = None,
           logy: str | None = None, x: str | None = None, **_: Any) -> html.Div:
    chosen = [i for i in (ids or "").split(",") if i][:MAX_RUNS]
    smooth = _smoothing(smoothing)
    x_mode = x if x in ("time", "epoch") else "step"
    log_y = logy in ("1", "true", "log")
    window = window if window in WINDOWS else "all"
    store = current_store()
    # The chosen runs must be among the options from the start, or the dropdown drops them.
    options = []
    for rid in chosen:
        run = store.get(rid)
        if run is not None:
            options.append({"label": run.meta.name, "value": rid})
    chosen = [o["value"] for o in options]
    return html.Div([
        dbc.Row([
            dbc.Col(html.H3("Compare", className="mb-0"), width="auto"),
            dbc.Col(dcc.Dropdown(id="compare-runs", multi=True, value=chosen, options=options,
                                 placeholder="Choose runs to overlay…"), md=7),
            dbc.Col(dbc.Checklist(id="compare-logy", options=[{"label": "log y", "value": "log"}],
                                  value=["log"] if log_y else [], switch=True), width="auto"),
        ], className="g-2 align-items-center mb-2"),
        dbc.Row([
            dbc.Col([
                html.Label("Smoothing (EMA)", className="form-label small mb-0"),
                dcc.Slider(id="compare-smoothing", min=0, max=0.99, step=0.01, value=smooth,
                           marks={0: "0", 0.6: "0.6", 0.9: "0.9", 0.99: "0.99"},
                           tooltip={"placement": "bottom"}),
            ], md=4),
            dbc.Col(dbc.RadioItems(id="compare-x", options=[
                {"label": "step", "value": "step"},
                {"label": "epoch", "value": "epoch"},
                {"label": "wall time", "value": "time"}], value=x_mode, inline=True),
                width="auto"),
        ], className="g-3 align-items-center mb-2"),
        dcc.Store(id="compare-window", data=window),
        dcc.Loading(dcc.Graph(id="compare-graph", config={"displaylogo": False},
                              figure=empty_figure("choose runs to compare")), type="dot"),
        html.Div(id="compare-table", className="mt-2"),
        html.Div(id="compare-url-dummy", hidden=True),
    ])


@callback(Output("compare-runs", "options"), Input("compare-window", "data"), Input("compare-runs", "value"))
def compare_options(window: str, chosen: list[str] | None):
    store = current_store()
    try:  # a forged window (a number, an absurd duration) lists nothing, not a 500
        runs, _ = store.runs(window if isinstance(window, str) else None)
    except ValueError:
        runs = []
    opts = [{"label": f"{r.meta.name} ({r.meta.experiment or r.meta.source})", "value": r.meta.id}
            for r in runs]
    have = {o["value"] for o in opts}
    for rid in str_list(chosen):
        if rid not in have:
            run = store.get(rid)
            if run is not None:
                opts.append({"label": run.meta.name, "value": rid})
    return opts


@callback(
    Output("compare-graph", "figure"),
    Output("compare-table", "children"),
    Input("compare-runs", "value"),
    Input("compare-logy", "value"),
    Input("compare-smoothing", "value"),
    Input("compare-x", "value"),
)
def update_compare(run_ids: list[str] | None, logy: list[str] | None, smoothing: Any = 0.6,
                   x_mode: Any = "step"):
    x_mode = x_mode if x_mode in ("time", "epoch") else "step"
    return compare_view(str_list(run_ids), "log" in str_list(logy), _smoothing(smoothing),
                        x_mode)


clientside_callback(
    """
    function(ids, logy, smoothing, x) {
        const q = new URLSearchParams();
        if (ids && ids.length) { q.set("ids", ids.join(",")); }
        if (typeof smoothing === "number" && smoothing !== 0.6) { q.set("smoothing", String(smoothing)); }
        if (Array.isArray(logy) && logy.includes("log")) { q.set("logy", "1"); }
        if (x === "epoch" || x === "time") { q.set("x", x); }
        const s = q.toString();
        const url = window.location.pathname + (s ? "?" + s : "");
        if (window.location.pathname + window.location.search !== url) {
            window.history.replaceState(window.history.state, "", url);
        }
        return "";
    }
    """,
    Output("compare-url-dummy", "children"),
    Input("compare-runs", "value"),
    Input("compare-logy", "value"),
    Input("compare-smoothing", "value"),
    Input("compare-x", "value"),
)
