"""The Review grid's columns: the fixed ones (AG Grid definitions), the optional ones and
the params and metrics a visitor adds with the column chooser."""

from __future__ import annotations

from collections import Counter
from typing import Any

COLUMNS: list[dict[str, Any]] = [
    # A long name is cut in the middle (its end stays readable), the full name on hover;
    # runs of the same name carry what tells them apart (``run_suffix``).
    {
        "field": "run",
        "headerName": "Run",
        "cellRenderer": "RunLink",
        "minWidth": 190,
        "flex": 3,
        "filter": "agTextColumnFilter",
        "tooltipField": "run",
    },
    {
        "field": "spark",
        "headerName": "Loss",
        "cellRenderer": "Sparkline",
        "width": 76,
        "cellDataType": False,
        "sortable": False,
        "filter": False,
    },
    {
        "field": "experiment",
        "headerName": "Experiment",
        "filter": "agTextColumnFilter",
        "minWidth": 84,
        "flex": 1,
        "tooltipField": "experiment",
    },
    {
        "field": "user",
        "headerName": "User",
        "width": 72,
        "filter": "agTextColumnFilter",
        "tooltipField": "user",
    },
    # Source is offered by the column chooser (the grid fits 1440 px without it).
    {"field": "source", "headerName": "Source", "width": 72, "filter": False, "hide": True},
    {
        "field": "state",
        "headerName": "State",
        "cellRenderer": "RunState",
        "width": 84,
        "filter": "agTextColumnFilter",
        "headerTooltip": "MLflow run state",
    },
    # Sorts by the time; shows month-day and time (the full date on hover).
    {
        "field": "start_ts",
        "colId": "start",
        "headerName": "Start (UTC)",
        "width": 98,
        "filter": False,
        "cellDataType": "number",
        "tooltipField": "start",
        "valueFormatter": {"function": "params.data ? params.data.start_short : ''"},
    },
    {
        "field": "duration",
        "headerName": "Duration",
        "width": 72,
        "filter": False,
        "sortable": False,
    },
    # Trouble first: the column sorts by the row's triage position (severity, then the
    # finding's confidence, then the latest start; see dashboard.review_rows.triage_rows).
    {
        "field": "triage",
        "colId": "status",
        "headerName": "Status",
        "cellRenderer": "StatusBadge",
        "initialSort": "asc",
        "width": 132,
        "cellDataType": "number",
        "filter": "agTextColumnFilter",
        "filterValueGetter": {"function": "params.data ? params.data.status : ''"},
        "headerTooltip": "Sorted trouble first: divergence, oscillation, overfitting, "
        "stagnation, insufficient data, healthy; then confidence, then recency",
    },
    {
        "field": "finding",
        "headerName": "Worst finding",
        "flex": 2,
        "minWidth": 105,
        "tooltipField": "finding",
        "filter": "agTextColumnFilter",
    },
    # The line people read (``decrease LR 3e-3 → 3e-4 (×0.1)``) over the machine number:
    # the column sorts by the current LR, numerically, not by its text.
    {
        "field": "lr_current",
        "colId": "lr",
        "headerName": "Suggestion (LR)",
        "flex": 3,
        "minWidth": 170,
        "valueFormatter": {"function": "params.data ? params.data.lr : ''"},
        "tooltipField": "lr",
        "cellDataType": "number",
        "filter": False,
    },
    # The LR its sweep recommends (↑/↓: the best was the largest/smallest tried), for a run
    # of a sweep, linking to the sweep on the Sweeps page. Min widths above leave it room.
    {
        "field": "sweep_text",
        "headerName": "Sweep",
        "cellRenderer": "SweepLink",
        "width": 76,
        "tooltipField": "sweep_tip",
        "filter": "agTextColumnFilter",
    },
    # The best validation loss and its step; sorts by the loss, numerically.
    {
        "field": "best_val",
        "colId": "best_val",
        "headerName": "Best val @ step",
        "width": 114,
        "headerTooltip": "the best validation loss and the step it was reached at",
        "valueFormatter": {"function": "params.data ? params.data.best_val_text : ''"},
        "tooltipField": "best_val_text",
        "cellDataType": "number",
        "filter": False,
    },
    {
        "field": "mlflow_url",
        "headerName": "MLflow",
        "cellRenderer": "ExternalLink",
        "width": 70,
        "sortable": False,
        "filter": False,
    },
]

#: Params and metrics offered by the column chooser (the most common first).
MAX_EXTRA_OPTIONS = 300
#: Columns the chooser may add at once.
MAX_EXTRA_COLUMNS = 12


#: Grid columns hidden unless chosen (``col:FIELD`` in the chooser), with their labels.
OPTIONAL_COLUMNS: dict[str, str] = {"col:source": "Source"}


def grid_columns(chosen: list[str]) -> list[dict[str, Any]]:
    """:data:`COLUMNS` with the chosen optional columns shown and the chosen params and
    metrics (:func:`extra_column`) after the LR column."""
    shown = {k.partition(":")[2] for k in chosen if k in OPTIONAL_COLUMNS}
    base = [
        dict(c, hide=c["field"] not in shown) if f"col:{c['field']}" in OPTIONAL_COLUMNS else c
        for c in COLUMNS
    ]
    at = next(i for i, c in enumerate(base) if c.get("colId") == "lr") + 1
    extras = [extra_column(k) for k in chosen if k.startswith(("param:", "metric:"))]
    return base[:at] + extras + base[at:]


def extra_column(key: str) -> dict[str, Any]:
    """A grid column for ``param:NAME`` or ``metric:NAME`` (numbers to 3 significant digits)."""
    kind, _, name = key.partition(":")
    return {
        "field": key,
        "colId": key,
        "headerName": name,
        "width": 112,
        "headerTooltip": f"MLflow {kind} {name}" + (" (last value)" if kind == "metric" else ""),
        "valueFormatter": {"function": "sig3(params.value)"},
        "tooltipField": key,
        "filter": "agTextColumnFilter",
    }


def column_options(runs_keys: list[list[str]], chosen: list[str]) -> list[dict[str, str]]:
    """The chooser's options: params, then metrics, most common first (chosen ones kept)."""
    seen: Counter[str] = Counter(k for keys in runs_keys for k in keys)
    keys = [
        k
        for k, _ in sorted(
            seen.items(), key=lambda kv: (not kv[0].startswith("param:"), -kv[1], kv[0])
        )
    ]
    keys = keys[:MAX_EXTRA_OPTIONS] + [
        k for k in chosen if k not in seen and k not in OPTIONAL_COLUMNS
    ]
    return [{"label": label, "value": k} for k, label in OPTIONAL_COLUMNS.items()] + [
        {"label": k.replace(":", ": ", 1), "value": k} for k in keys
    ]
