"""How run statuses look wherever they are shown: their review order and one palette
for the dashboard (badges and plots) and the reports.

Plain data, no imports: the reports (:mod:`analyzer.report`) and the dashboard
(:mod:`dashboard.theme`) both read it, so a status has one colour everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Review order of the statuses: trouble first (``insufficient_data`` is the "info" rank).
STATUS_ORDER: tuple[str, ...] = (
    "divergence",
    "oscillation",
    "overfitting",
    "stagnation",
    "insufficient_data",
    "healthy",
)

#: The Bootstrap 5 theme colours the dashboard's stylesheet defines (``--bs-*``).
BOOTSTRAP: Mapping[str, str] = {
    "danger": "#dc3545",
    "warning": "#ffc107",
    "primary": "#0d6efd",
    "secondary": "#6c757d",
    "success": "#198754",
    "light": "#f8f9fa",
}
#: The Bootstrap colour name of each status's badge.
STATUS_BADGE: Mapping[str, str] = {
    "healthy": "success",
    "divergence": "danger",
    "oscillation": "warning",
    "overfitting": "primary",
    "stagnation": "secondary",
    "insufficient_data": "light",
}
#: Each status's badge background, as a colour (for HTML outside the dashboard).
BADGE_HEX: Mapping[str, str] = {s: BOOTSTRAP[name] for s, name in STATUS_BADGE.items()}
#: Badges whose light background needs dark text.
DARK_TEXT = frozenset({"oscillation", "insufficient_data"})

#: Plot colours of the finding kinds (lines and shaded ranges, readable on white).
KIND_COLORS: Mapping[str, str] = {
    "divergence": "#d62728",
    "oscillation": "#ff7f0e",
    "overfitting": "#9467bd",
    "stagnation": "#7f7f7f",
}
#: Plot colours of the statuses (markers and lines of runs by status).
STATUS_COLORS: Mapping[str, str] = {
    **KIND_COLORS,
    "healthy": "#2ca02c",
    "insufficient_data": "#bcbd22",
    "error": "#d62728",
}
#: Plot colours of a run's curves: train loss, validation loss, learning rate.
TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#d62728"
LR_COLOR = "#2ca02c"
#: Colours of several runs drawn together (one each, in turn).
RUN_PALETTE: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
