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


def _auto_col(component: Any) -> dbc.Col:
    """A column of a row as wide as its ``component``."""
    return dbc.Col(component, width="auto")


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
        _auto_col(html.H3(title, className="mb-0")),
        _auto_col(
            dbc.RadioItems(
                id=window_id,
                options=_window_options(window, dates),
                value=window,
                inline=True,
                className="btn-group-sm",
            )
        ),
    ]


def _refresh_options(current: int) -> list[dict[str, Any]]:
    opts = dict(REFRESH_CHOICES)
    if current not in opts:
        opts[current] = f"every {current} s"
    return [{"label": label, "value": sec} for sec, label in sorted(opts.items())]


def _picker(
    id: str, placeholder: str, value: str | None, options: list[Any] | None = None
) -> dbc.Col:
    """A filter's column: a clearable dropdown showing ``value``, among ``options`` or, until
    the data's arrive, as its only option (a value must be among the options from the start,
    or the dropdown drops it)."""
    return dbc.Col(
        dcc.Dropdown(
            id=id,
            placeholder=placeholder,
            value=value or None,
            clearable=True,
            options=([value] if value else []) if options is None else options,
        ),
        md=2,
    )


def review_page(**query: str) -> html.Div:
    """The Review page for the query of its URL (window, experiment, status, user, tag,
    auto-refresh period; other keys are ignored): the filters, the actions, the grid and
    their stores."""
    store = current_store()
    window = query.get("window") or store.default_window
    experiment = query.get("experiment")
    from_url = experiment is not None
    every = refresh_seconds(query.get("refresh"))
    return html.Div(
        [
            _top_row(window, every),
            _filter_row(
                experiment if experiment is not None else (store.experiment or ""),
                query.get("user"),
                query.get("tag"),
                query.get("status"),
            ),
            dcc.Download(id="review-download"),
            # The columns chosen, kept in this browser (see the chooser's callbacks in pages/review).
            dcc.Store(id="review-columns-saved", storage_type="local"),
            dcc.Interval(
                id="review-interval", interval=max(every, MIN_REFRESH) * 1000, disabled=every == 0
            ),
            _writeback_modal(),
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
            _grid(),
            html.Div(id="review-url-dummy", hidden=True),
            dcc.Store(id="review-experiment-from-url", data=from_url),
        ]
    )


def _top_row(window: str, every: int) -> dbc.Row:
    """The title, the window picker with its date range (shown for "Dates…", which a
    ``start..end`` window opens), Refresh and the auto-refresh period."""
    start = end = None
    if ".." in window:
        start, _, end = window.partition("..")
        window = "custom"
    return dbc.Row(
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
            _auto_col(
                dbc.Button(
                    "Refresh", id="review-refresh", color="secondary", size="sm", outline=True
                )
            ),
            _auto_col(
                dcc.Dropdown(
                    id="review-autorefresh",
                    options=_refresh_options(every),
                    value=every,
                    clearable=False,
                    searchable=False,
                    style={"width": "11rem"},
                )
            ),
        ],
        className="g-2 align-items-center mb-2",
    )


def _filter_row(experiment: str, user: str | None, tag: str | None, status: str | None) -> dbc.Row:
    """The filters (experiment, user, tag, status) and the actions on the grid's runs:
    Compare, Export, the column chooser and Write tags."""
    statuses = [{"label": s.replace("_", " "), "value": s} for s in STATUS_ORDER]
    return dbc.Row(
        [
            _picker("review-experiment", "All experiments", experiment),
            _picker("review-user", "Any user", user),
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
            _picker("review-status", "Any status", status, statuses),
            _auto_col(
                dcc.Link(
                    "Compare selected (0)",
                    id="review-compare-link",
                    href="/compare",
                    className="btn btn-sm btn-outline-primary",
                )
            ),
            _auto_col(
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
                )
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
            _auto_col(
                dbc.Button(
                    "Write tags to MLflow…",
                    id="review-writeback",
                    size="sm",
                    color="warning",
                    outline=True,
                    disabled=True,
                    title="Store each MLflow run's status and suggestion as lrtempo.* tags",
                )
            ),
        ],
        className="g-2 align-items-center mb-2",
    )


def _writeback_modal() -> dbc.Modal:
    """The confirmation of "Write tags to MLflow…" (its body lists the runs)."""
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Write tags to MLflow")),
            dbc.ModalBody(id="writeback-body"),
            dbc.ModalFooter(
                [
                    dbc.Button("Cancel", id="writeback-cancel", color="secondary", outline=True),
                    dbc.Button("Write tags", id="writeback-confirm", color="warning"),
                ]
            ),
        ],
        id="writeback-modal",
        is_open=False,
    )


def _grid() -> dag.AgGrid:
    """The runs' grid (rows and chosen columns come from pages/review's callbacks)."""
    return dag.AgGrid(
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
    )
