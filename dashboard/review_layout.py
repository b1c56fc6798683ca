"""The Review page's layout: its filters, actions and grid (no callbacks; those are in
``pages/review.py``)."""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from analyzer.theme import STATUS_ORDER

from .review_grid import column_options, grid_columns
from .store import current_store
from .views import MIN_REFRESH, refresh_seconds
from .windows import WINDOW_LABELS, WINDOWS

#: Auto-refresh choices (seconds; 0 = off). A URL may ask for another period (5 s or more).
REFRESH_CHOICES: dict[int, str] = {
    0: "Auto-refresh off",
    30: "every 30 s",
    60: "every 1 min",
    300: "every 5 min",
}


def _window_options(current: str, dates: bool) -> list[dict[str, str]]:
    keys = list(WINDOWS)
    if current not in keys and current != "custom":
        keys.insert(0, current)
    options = [
        {"label": WINDOW_LABELS.get(k, k if ".." in k else f"Last {k}"), "value": k} for k in keys
    ]
    return options + ([{"label": "Dates…", "value": "custom"}] if dates else [])


def page_header(title: str, window_id: str, window: str, *, dates: bool = False) -> list[dbc.Col]:
    """The first columns of a page's top row: its title and its time-window picker (the
    presets, a window from the URL that is none of them, and "Dates…" when ``dates``)."""
    return [
        dbc.Col(html.H3(title, className="mb-0"), width="auto"),
        dbc.Col(
            dbc.RadioItems(
                id=window_id,
                options=_window_options(window, dates),
                value=window,
                inline=True,
                className="btn-group-sm",
            ),
            width="auto",
        ),
    ]


def _refresh_options(current: int) -> list[dict[str, Any]]:
    opts = dict(REFRESH_CHOICES)
    if current not in opts:
        opts[current] = f"every {current} s"
    return [{"label": label, "value": sec} for sec, label in sorted(opts.items())]


def _picker(id: str, placeholder: str, value: str | None) -> dcc.Dropdown:
    """A clearable dropdown showing ``value``, its only option until the data's arrive
    (a value must be among the options from the start, or the dropdown drops it)."""
    return dcc.Dropdown(
        id=id,
        placeholder=placeholder,
        value=value or None,
        clearable=True,
        options=[value] if value else [],
    )


def review_page(
    window: str | None = None,
    experiment: str | None = None,
    status: str | None = None,
    user: str | None = None,
    tag: str | None = None,
    refresh: str | None = None,
    **_: Any,
) -> html.Div:
    """The Review page for the query of its URL (window, experiment, status, user, tag,
    auto-refresh period; other keys are ignored): the filters, the actions, the grid and
    their stores."""
    store = current_store()
    window = window or store.default_window
    start = end = None
    if ".." in window:
        start, _, end = window.partition("..")
        window = "custom"
    from_url = experiment is not None
    experiment = experiment if experiment is not None else (store.experiment or "")
    every = refresh_seconds(refresh)
    return html.Div(
        [
            dbc.Row(
                [
                    *page_header("Review", "review-window", window, dates=True),
                    dbc.Col(
                        dcc.DatePickerRange(
                            id="review-dates",
                            start_date=start,
                            end_date=end,
                            display_format="YYYY-MM-DD",
                            clearable=True,
                            minimum_nights=0,
                            first_day_of_week=1,
                        ),
                        id="review-dates-col",
                        width="auto",
                        style={} if window == "custom" else {"display": "none"},
                    ),
                    dbc.Col(
                        dbc.Button(
                            "Refresh",
                            id="review-refresh",
                            color="secondary",
                            size="sm",
                            outline=True,
                        ),
                        width="auto",
                    ),
                    dbc.Col(
                        dcc.Dropdown(
                            id="review-autorefresh",
                            options=_refresh_options(every),
                            value=every,
                            clearable=False,
                            searchable=False,
                            style={"width": "11rem"},
                        ),
                        width="auto",
                    ),
                ],
                className="g-2 align-items-center mb-2",
            ),
            dbc.Row(
                [
                    dbc.Col(_picker("review-experiment", "All experiments", experiment), md=2),
                    dbc.Col(_picker("review-user", "Any user", user), md=2),
                    dbc.Col(
                        dbc.Input(
                            id="review-tag",
                            placeholder="tag: key=value, key",
                            value=tag or "",
                            debounce=True,
                            size="sm",
                            type="text",
                        ),
                        md=2,
                    ),
                    dbc.Col(
                        dcc.Dropdown(
                            id="review-status",
                            placeholder="Any status",
                            options=[
                                {"label": s.replace("_", " "), "value": s} for s in STATUS_ORDER
                            ],
                            value=status or None,
                            clearable=True,
                        ),
                        md=2,
                    ),
                    dbc.Col(
                        dcc.Link(
                            "Compare selected (0)",
                            id="review-compare-link",
                            href="/compare",
                            className="btn btn-sm btn-outline-primary",
                        ),
                        width="auto",
                    ),
                    dbc.Col(
                        dbc.DropdownMenu(
                            [
                                dbc.DropdownMenuItem(
                                    "HTML report (self-contained)", id="review-export-html"
                                ),
                                dbc.DropdownMenuItem("Markdown report", id="review-export-md"),
                            ],
                            label="Export",
                            id="review-export",
                            size="sm",
                            color="secondary",
                        ),
                        width="auto",
                    ),
                    dbc.Col(
                        dcc.Dropdown(
                            id="review-columns",
                            multi=True,
                            value=[],
                            options=column_options([], []),  # Source…; the rest come later
                            placeholder="Columns: params, metrics, source…",
                            style={"minWidth": "14rem"},
                        ),
                        md=2,
                    ),
                    dbc.Col(
                        dbc.Button(
                            "Write tags to MLflow…",
                            id="review-writeback",
                            size="sm",
                            color="warning",
                            outline=True,
                            disabled=True,
                            title="Store each MLflow run's status and suggestion as lrtempo.* tags",
                        ),
                        width="auto",
                    ),
                ],
                className="g-2 align-items-center mb-2",
            ),
            dcc.Download(id="review-download"),
            # The columns chosen, kept in this browser (see the chooser's callbacks in pages/review).
            dcc.Store(id="review-columns-saved", storage_type="local"),
            dcc.Interval(
                id="review-interval", interval=max(every, MIN_REFRESH) * 1000, disabled=every == 0
            ),
            dbc.Modal(
                [
                    dbc.ModalHeader(dbc.ModalTitle("Write tags to MLflow")),
                    dbc.ModalBody(id="writeback-body"),
                    dbc.ModalFooter(
                        [
                            dbc.Button(
                                "Cancel", id="writeback-cancel", color="secondary", outline=True
                            ),
                            dbc.Button("Write tags", id="writeback-confirm", color="warning"),
                        ]
                    ),
                ],
                id="writeback-modal",
                is_open=False,
            ),
            dcc.Store(id="writeback-token", data=None),  # the open dialog's one-time token
            html.Div(id="review-writeback-result"),
            html.Div(id="review-export-result"),
            dcc.Loading(
                html.Div(
                    [
                        html.Div(id="review-counts", className="mb-2"),
                        html.Div(id="review-notices"),
                        html.Div(id="review-errors"),
                    ]
                ),
                type="dot",
            ),
            html.Div(id="review-new", className="small text-info-emphasis mb-1"),
            dag.AgGrid(
                id="review-grid",
                columnDefs=grid_columns([]),
                rowData=[],
                getRowId="params.data.id",
                defaultColDef={
                    "sortable": True,
                    "resizable": True,
                    "filter": True,
                    "floatingFilter": False,
                },
                dashGridOptions={
                    "rowSelection": {
                        "mode": "multiRow",
                        "checkboxes": True,
                        "headerCheckbox": False,
                        "enableClickSelection": False,
                    },
                    "rowHeight": 36,
                    "animateRows": False,
                    "tooltipShowDelay": 300,
                    "localeText": {"noRowsToShow": "No runs in this window"},
                    "domLayout": "autoHeight",
                    "enableCellTextSelection": True,
                    # param/metric names hold dots: a field is a key, not a path
                    "suppressFieldDotNotation": True,
                },
                style={"width": "100%"},
            ),
            html.Div(id="review-url-dummy", hidden=True),
            dcc.Store(id="review-experiment-from-url", data=from_url),
        ]
    )
