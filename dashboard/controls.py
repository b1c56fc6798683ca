"""The curve controls of the Run and Compare pages (EMA smoothing, log y, x axis) and
the values a browser sends, read one way whether they come from a URL or a callback:
a forged or odd value (a number, a list of objects, NaN) is taken as the default."""

from __future__ import annotations

import math
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

#: The EMA weight a page starts with, and the largest one offered.
SMOOTHING_DEFAULT = 0.6
SMOOTHING_MAX = 0.99
#: The x axes: step, epoch (from a logged ``epoch`` metric) or wall time.
X_MODES = ("step", "epoch", "time")
_TRUE = ("1", "true", "log")


def str_list(value: Any) -> list[str]:
    """A callback's list-of-strings input as sent by a browser, else ``[]``: a forged
    payload (``-1``, ``{}``, a list of objects) is taken as nothing chosen, not a 500."""
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str)]


def smoothing_value(value: Any) -> float:
    """An EMA weight in ``[0, SMOOTHING_MAX]`` from a URL or the slider (else the default)."""
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        return SMOOTHING_DEFAULT
    return min(max(v, 0.0), SMOOTHING_MAX) if math.isfinite(v) else SMOOTHING_DEFAULT


def log_y_value(value: Any) -> bool:
    """Log y: a URL's ``logy=1`` (``true``, ``log``) or the switch's ``["log"]``."""
    if isinstance(value, list):
        return "log" in str_list(value)
    return isinstance(value, str) and value.lower() in _TRUE


def x_mode_value(value: Any) -> str:
    """One of :data:`X_MODES` (``step`` for anything else)."""
    return value if isinstance(value, str) and value in X_MODES else "step"


def curve_controls(
    prefix: str, smoothing: float, log_y: bool, x_mode: str, *, slider_md: int = 6
) -> dbc.Row:
    """The smoothing slider, log-y switch and x-axis choice, with ids ``{prefix}-smoothing``,
    ``{prefix}-logy`` and ``{prefix}-x``."""
    return dbc.Row(
        [
            dbc.Col(
                [
                    html.Label("Smoothing (EMA)", className="form-label small mb-0"),
                    dcc.Slider(
                        id=f"{prefix}-smoothing",
                        min=0,
                        max=SMOOTHING_MAX,
                        step=0.01,
                        value=smoothing,
                        tooltip={"placement": "bottom"},
                        marks={0: "0", 0.6: "0.6", 0.9: "0.9", SMOOTHING_MAX: "0.99"},
                    ),
                ],
                md=slider_md,
            ),
            dbc.Col(
                dbc.Checklist(
                    id=f"{prefix}-logy",
                    options=[{"label": "log y", "value": "log"}],
                    value=["log"] if log_y else [],
                    switch=True,
                ),
                width="auto",
            ),
            dbc.Col(
                dbc.RadioItems(
                    id=f"{prefix}-x",
                    options=[
                        {"label": "step", "value": "step"},
                        {"label": "epoch", "value": "epoch"},
                        {"label": "wall time", "value": "time"},
                    ],
                    value=x_mode,
                    inline=True,
                ),
                width="auto",
            ),
        ],
        className="g-3 align-items-center",
    )
