"""Compare: chosen runs' losses and LRs overlaid (by step, epoch or wall time; smoothing and
log y, all in the URL), with each run's status."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, callback, clientside_callback, dcc, html

from dashboard.controls import (
    curve_controls,
    log_y_value,
    smoothing_value,
    str_list,
    x_mode_value,
)
from dashboard.layout import loading_graph
from dashboard.store import current_store
from dashboard.views import MAX_COMPARE as MAX_RUNS
from dashboard.views import compare_view
from dashboard.windows import WINDOWS

dash.register_page(__name__, path="/compare", name="Compare", title="LR Tempo · Compare", order=2)


def layout(**query: str) -> html.Div:
    """The Compare page for the query of its URL (the runs' ``ids``, their ``window`` and
    the curve controls ``smoothing``, ``logy``, ``x``; other keys are ignored)."""
    chosen = [i for i in (query.get("ids") or "").split(",") if i][:MAX_RUNS]
    window = query.get("window")
    window = window if window in WINDOWS else "all"
    store = current_store()
    # The chosen runs must be among the options from the start, or the dropdown drops them.
    options = []
    for rid in chosen:
        run = store.get(rid)
        if run is not None:
            options.append({"label": run.meta.name, "value": rid})
    chosen = [o["value"] for o in options]
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col(html.H3("Compare", className="mb-0"), width="auto"),
                    dbc.Col(
                        dcc.Dropdown(
                            id="compare-runs",
                            multi=True,
                            value=chosen,
                            options=options,
                            placeholder="Choose runs to overlay…",
                        ),
                        md=7,
                    ),
                ],
                className="g-2 align-items-center mb-2",
            ),
            html.Div(
                curve_controls(
                    "compare",
                    smoothing_value(query.get("smoothing")),
                    log_y_value(query.get("logy")),
                    x_mode_value(query.get("x")),
                    slider_md=4,
                ),
                className="mb-2",
            ),
            dcc.Store(id="compare-window", data=window),
            loading_graph("compare-graph", "choose runs to compare"),
            html.Div(id="compare-table", className="mt-2"),
            html.Div(id="compare-url-dummy", hidden=True),
        ]
    )


@callback(
    Output("compare-runs", "options"),
    Input("compare-window", "data"),
    Input("compare-runs", "value"),
)
def compare_options(window: str, chosen: list[str] | None):
    store = current_store()
    try:  # a forged window (a number, an absurd duration) lists nothing, not a 500
        runs, _ = store.runs(window if isinstance(window, str) else None)
    except ValueError:
        runs = []
    opts = [
        {"label": f"{r.meta.name} ({r.meta.experiment or r.meta.source})", "value": r.meta.id}
        for r in runs
    ]
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
def update_compare(
    run_ids: list[str] | None, logy: list[str] | None, smoothing: Any = 0.6, x_mode: Any = "step"
):
    return compare_view(
        str_list(run_ids), log_y_value(logy), smoothing_value(smoothing), x_mode_value(x_mode)
    )


# The chosen runs and the controls in the URL (dashboard/assets/url_state.js).
clientside_callback(
    ClientsideFunction("lrtempo_url", "compare"),
    Output("compare-url-dummy", "children"),
    Input("compare-runs", "value"),
    Input("compare-logy", "value"),
    Input("compare-smoothing", "value"),
    Input("compare-x", "value"),
)
