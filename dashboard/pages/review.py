"""Review (home): which of the window's runs went wrong, and what LR to use instead."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, callback, clientside_callback, ctx, html, no_update

from dashboard.auth import current_user, may_write
from dashboard.controls import str_list
from dashboard.health import mlflow_problems
from dashboard.layout import error_list, mlflow_alert, status_counts
from dashboard.review_grid import (
    MAX_EXTRA_COLUMNS,
    OPTIONAL_COLUMNS,
    column_options,
    grid_columns,
)
from dashboard.review_layout import review_page
from dashboard.review_rows import extra_keys, triage_rows
from dashboard.store import current_store
from dashboard.sweep_views import review_sweeps, with_sweep_columns
from dashboard.views import (
    MIN_REFRESH,
    ReviewFilters,
    effective_window,
    export_report,
    mlflow_row_count,
    refresh_seconds,
    review_data,
)
from dashboard.writeback import (
    CONFIRM_KEY,
    TokenRefused,
    dialog_body,
    plan,
    result_alert,
    write_runs,
)

dash.register_page(__name__, path="/", name="Review", title="LR Tempo · Review", order=0)


#: The page for its URL's query (Dash passes the query's keys as keywords).
layout = review_page

FILTER_INPUTS = (
    Input("review-window", "value"),
    Input("review-dates", "start_date"),
    Input("review-dates", "end_date"),
    Input("review-experiment", "value"),
    Input("review-status", "value"),
    Input("review-user", "value"),
    Input("review-tag", "value"),
)
FILTER_STATES = tuple(State(i.component_id, i.component_property) for i in FILTER_INPUTS)


def _filters(
    window: str | None,
    start: str | None,
    end: str | None,
    experiment: str | None,
    status: str | None,
    user: str | None,
    tag: str | None,
    settings: dict[str, Any] | None = None,
) -> ReviewFilters | None:
    """The Review filters from the values of :data:`FILTER_INPUTS` (in that order) and this
    browser's settings; ``None`` while "Dates…" lacks a day."""
    win = effective_window(window, start, end)
    if win is None:
        return None
    return ReviewFilters(
        win,
        experiment or None,
        status or None,
        user or None,
        (tag or "").strip() or None,
        user_tracking_uri(settings),
    )


def user_tracking_uri(settings: Any) -> str | None:
    """The tracking URI saved in this browser's Settings (``None``: the server's)."""
    uri = settings.get("tracking_uri") if isinstance(settings, dict) else None
    return uri.strip() or None if isinstance(uri, str) else None


@callback(
    Output("review-experiment", "value"),
    Output("review-experiment", "options", allow_duplicate=True),
    Input("user-settings", "data"),
    Input("review-experiment-from-url", "data"),  # new with the page: fires on each visit
    prevent_initial_call="initial_duplicate",
)
def experiment_from_settings(settings: Any, from_url: bool | None):
    """This browser's default experiment, unless the link named one."""
    exp = settings.get("experiment") if isinstance(settings, dict) else None
    if from_url or not isinstance(exp, str) or not exp.strip():
        return no_update, no_update
    return exp.strip(), [{"label": exp.strip(), "value": exp.strip()}]


@callback(
    Output("review-grid", "rowData"),
    Output("review-counts", "children"),
    Output("review-errors", "children"),
    Output("review-experiment", "options"),
    Output("review-user", "options"),
    Output("review-writeback", "disabled"),
    Output("review-notices", "children"),
    Output("review-columns", "options"),
    Output("review-grid", "columnDefs"),
    Input("review-refresh", "n_clicks"),
    Input("review-interval", "n_intervals"),
    State("review-autorefresh", "value"),
    Input("review-columns-saved", "data"),
    State("review-grid", "columnDefs"),
    *FILTER_INPUTS,
    # An input: the browser's store may set its saved data after the first call went out.
    Input("user-settings", "data"),
)
def update_review(
    _n: int | None,
    _ticks: int | None,
    every: int | None,
    saved_columns: Any,
    shown_columns: Any,
    *state: Any,
):
    """The grid (in triage order) and its counts; the Refresh button and auto-refresh
    ticks re-read the sources; the chosen param/metric columns are added. ``state``: the
    filters' values and this browser's settings, as :func:`_filters` takes them.

    It never sets the chooser's value (it used to, to give the saved choice back): the
    loop value → saved → this → value made Dash hold back the saving of a pick made while
    this ran, and drop that save when this was asked for again meanwhile (a refresh, a
    tick, a filter): the pick stayed in the chooser but never reached the grid or the
    saved choice (the "column-chooser race")."""
    chosen = str_list(saved_columns)[:MAX_EXTRA_COLUMNS]
    filters = _filters(*state)
    if filters is None:
        return (
            [],
            html.Div(
                "Choose the first and last day of the range.",
                className="text-muted",
                id="review-pick-dates",
            ),
            None,
            no_update,
            no_update,
            True,
            None,
            no_update,
            no_update,
        )
    tick = ctx.triggered_id == "review-interval"
    data = review_data(
        filters,
        refresh=tick or ctx.triggered_id == "review-refresh",
        min_age=0.8 * refresh_seconds(every) if tick else 0.0,
    )
    experiments = data.experiments
    if filters.experiment and filters.experiment not in experiments:
        experiments = [filters.experiment] + experiments
    users = data.users
    if filters.user and filters.user not in users:
        users = [filters.user] + users
    problems, errors = mlflow_problems(
        current_store().mlflow_uris_for(filters.tracking_uri), data.errors
    )
    rows = with_sweep_columns(data.rows, review_sweeps(filters, data)[1], filters, data.analyses)
    store = current_store()
    wanted = [k for k in chosen if k not in OPTIONAL_COLUMNS]
    if wanted:  # rows and runs are in the same order
        rows = [
            {**row, **{k: ex.get(k) for k in wanted}}
            for row, ex in zip(rows, (store.extra_values(r) for r in data.runs))
        ]
    columns = grid_columns(chosen)

    def ids(cols: Any) -> list[Any]:
        return [
            (c.get("colId") or c.get("field"), bool(c.get("hide")))
            for c in cols
            if isinstance(c, dict)
        ]

    same = isinstance(shown_columns, list) and ids(shown_columns) == ids(columns)
    notices = [
        dbc.Alert(n, color="warning", className="py-2 mb-2 review-notice") for n in data.notices
    ]
    return (
        triage_rows(rows),
        status_counts(data.counts),
        [mlflow_alert(problems), error_list(errors)],
        [{"label": e, "value": e} for e in experiments],
        [{"label": u, "value": u} for u in users],
        mlflow_row_count(data.rows) == 0 or not _may_write(),
        notices or None,
        column_options([extra_keys(r) for r in data.runs], chosen),
        no_update if same else columns,
    )


# The chooser's value is kept in this browser (the review-columns-saved store) and given
# back on the next visit, both in the browser, at once: no server callback outputs the
# value (see update_review), so a pick is saved the moment it is made, whatever the server
# is doing; the saved store then brings its columns into the grid (update_review).
clientside_callback(
    f"""
    function(value, saved) {{
        const chosen = (Array.isArray(value) ? value : []).filter(
            v => typeof v === "string").slice(0, {MAX_EXTRA_COLUMNS});
        const before = Array.isArray(saved) ? saved : [];
        const same = chosen.length === before.length && chosen.every((v, i) => v === before[i]);
        return same ? window.dash_clientside.no_update : chosen;
    }}
    """,
    Output("review-columns-saved", "data"),
    Input("review-columns", "value"),
    State("review-columns-saved", "data"),
    prevent_initial_call=True,
)

# Given back once a visit, when the page is made (its trigger is the chooser's id, which
# never changes): read from this browser's storage, as the store keeps it, into the empty
# chooser, with the saved keys among its options until the server's list comes
# (update_review keeps chosen ones). Nothing the chooser's value sets leads back here: a
# loop (value → saved → … → value) would hold each pick's saving back behind every
# callback still running, and Dash drops such a held-back save when one is asked again.
clientside_callback(
    """
    function(_id, options) {
        const no = window.dash_clientside.no_update;
        let saved = null;
        try { saved = JSON.parse(window.localStorage.getItem("review-columns-saved")); }
        catch (e) { saved = null; }
        const keys = (Array.isArray(saved) ? saved : []).filter(v => typeof v === "string");
        const opts = Array.isArray(options) ? options.slice() : [];
        const have = new Set(opts.map(o => o && o.value));
        const kept = keys.filter(k => have.has(k) || /^(param|metric):/.test(k));
        if (!kept.length) { return [no, no]; }
        for (const k of kept) {
            if (!have.has(k)) { opts.push({label: k.replace(":", ": "), value: k}); }
        }
        return [kept, opts];
    }
    """,
    Output("review-columns", "value"),
    Output("review-columns", "options", allow_duplicate=True),
    Input("review-columns", "id"),
    State("review-columns", "options"),
    prevent_initial_call="initial_duplicate",
)


# "New since your last review": the run ids this browser has shown are kept in its
# local storage; those of a page load that were not there before are marked (the Run
# cell reads window.lrtempoNewIds). The first review in a browser marks none.
clientside_callback(
    dash.ClientsideFunction("lrtempo_review", "markNew"),  # dashboard/assets/review_new.js
    Output("review-new", "children"),
    Input("review-grid", "rowData"),
)


@callback(
    Output("review-dates-col", "style"),
    Input("review-window", "value"),
)
def show_dates(window: str | None):
    return {} if window == "custom" else {"display": "none"}


@callback(
    Output("review-interval", "disabled"),
    Output("review-interval", "interval"),
    Input("review-autorefresh", "value"),
)
def set_autorefresh(seconds: int | None):
    every = refresh_seconds(seconds)
    return every == 0, max(every, MIN_REFRESH) * 1000


@callback(
    Output("review-download", "data"),
    Output("review-export-result", "children"),
    Input("review-export-html", "n_clicks"),
    Input("review-export-md", "n_clicks"),
    *FILTER_STATES,
    State("user-settings", "data"),
    prevent_initial_call=True,
)
def on_export(_html: int | None, _md: int | None, *state: Any):
    filters = _filters(*state)
    if filters is None:
        return no_update, dbc.Alert(
            "Choose the days of the range first.", color="warning", className="py-2 mb-2"
        )
    fmt = "html" if ctx.triggered_id == "review-export-html" else "markdown"
    try:
        return export_report(filters, fmt), None
    except Exception as exc:  # noqa: BLE001 - a message, never a traceback
        return no_update, dbc.Alert(
            f"The report could not be made: {exc}",
            color="danger",
            className="py-2 mb-2",
            id="export-error",
        )


def _may_write() -> bool:
    from dashboard.app import AUTH_KEY

    return may_write(flask.current_app.config.get(AUTH_KEY))


def _tokens() -> Any:
    return flask.current_app.config[CONFIRM_KEY]


READ_ONLY = (
    "Your account may only read: writing tags needs a writer (user:password:writer "
    "in the dashboard's auth file)."
)


@callback(
    Output("writeback-modal", "is_open"),
    Output("writeback-body", "children"),
    Output("review-writeback-result", "children"),
    Output("writeback-token", "data"),
    Input("review-writeback", "n_clicks"),
    Input("writeback-cancel", "n_clicks"),
    Input("writeback-confirm", "n_clicks"),
    State("writeback-token", "data"),
    *FILTER_STATES,
    prevent_initial_call=True,
)
def on_writeback(
    _open: int | None, _cancel: int | None, _confirm: int | None, token: Any, *state: Any
):
    """Open the confirmation (listing the runs, with a one-time token bound to them);
    "Write tags" writes exactly those runs, and only with that token."""
    tokens = _tokens()
    if ctx.triggered_id not in ("review-writeback", "writeback-confirm"):
        tokens.discard(token)  # cancelled
        return False, no_update, no_update, None
    if not _may_write():  # checked on the server: a disabled button proves nothing
        tokens.discard(token)
        return False, no_update, result_alert(READ_ONLY, "warning"), None
    if ctx.triggered_id == "review-writeback":
        tokens.discard(token)
        filters = _filters(*state)
        if filters is None:
            return (
                False,
                no_update,
                result_alert("Choose the days of the range first.", "warning"),
                None,
            )
        shown = plan(filters)
        if not shown.run_ids:
            why = (
                f"the {len(shown.running)} MLflow run(s) in this view are still running "
                "(their verdict is not final)"
                if shown.running
                else "no MLflow run in this view"
            )
            return False, no_update, result_alert(f"Nothing to write: {why}.", "warning"), None
        return True, dialog_body(shown), None, tokens.issue(shown.run_ids, current_user())
    try:  # confirmed: the runs come from the token, never from this request's filters
        run_ids = tokens.take(token, current_user())
    except TokenRefused as exc:
        return False, no_update, result_alert(f"No tags were written: {exc}.", "warning"), None
    try:
        return False, no_update, write_runs(run_ids), None
    except Exception as exc:  # noqa: BLE001 - a message, never a traceback
        return False, no_update, result_alert(f"No tags were written: {exc}", "danger"), None


@callback(
    Output("review-compare-link", "href"),
    Output("review-compare-link", "children"),
    Input("review-grid", "selectedRows"),
)
def compare_link(selected: list[dict[str, Any]] | None):
    rows = selected if isinstance(selected, list) else []  # a forged payload: none chosen
    ids = [r["id"] for r in rows if isinstance(r, dict) and isinstance(r.get("id"), str)][:10]
    href = "/compare" + ("?" + urlencode({"ids": ",".join(ids)}) if ids else "")
    return href, f"Compare selected ({len(ids)})"


# The filters in the URL, so the view can be shared (dashboard/assets/url_state.js).
clientside_callback(
    dash.ClientsideFunction("lrtempo_url", "review"),
    Output("review-url-dummy", "children"),
    *FILTER_INPUTS,
    Input("review-autorefresh", "value"),
)
