"""The dashboard's look: status colours (one palette with the reports, from
:mod:`analyzer.theme`), the dark theme's colours and how numbers and run text are
written into figures.

Light or dark (issue 12): the page follows the browser's ``prefers-color-scheme`` until
the visitor picks one with the navbar's toggle (kept in the browser's local storage,
``dcc.Store`` :data:`THEME_STORE`). Bootstrap 5.3 draws the page dark from
``data-bs-theme="dark"`` on ``<html>``; the AG Grid tables and the Plotly figures take
the :data:`DARK` colours below, handed to the stylesheet as CSS custom properties
(:func:`css_vars`, set on the app's root element), so a figure is never rebuilt on the
server to change theme and the curve and finding colours stay the same in both.

Text that comes from runs (names, messages, evidence keys) is escaped with
:func:`plain` before it goes into a figure: Plotly renders a small HTML subset in
trace names and hover text, and a run name must show as the characters it has.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

import numpy as np

from analyzer import lrtext
from analyzer.theme import (
    KIND_COLORS,
    LR_COLOR,
    RUN_PALETTE,
    STATUS_BADGE,
    STATUS_COLORS,
    STATUS_ORDER,
    TRAIN_COLOR,
    VAL_COLOR,
)

__all__ = [
    "DARK",
    "KIND_COLORS",
    "LR_COLOR",
    "RUN_PALETTE",
    "STATUS_BADGE",
    "STATUS_COLORS",
    "STATUS_ORDER",
    "THEMES",
    "THEME_STORE",
    "TRAIN_COLOR",
    "VAL_COLOR",
    "css_vars",
    "format_lr",
    "format_number",
    "log_ticks",
    "lr_labels",
    "plain",
]


#: The page themes the toggle switches between.
THEMES: tuple[str, ...] = ("light", "dark")
#: Id of the ``dcc.Store`` (local storage) holding an explicit choice; its local-storage
#: key is the same string (``dashboard/assets/05_theme.js`` reads it before Dash starts).
THEME_STORE = "lrt-theme"

#: The dark theme's colours for what Bootstrap does not draw: the figures (paper, plot
#: area, grid, text, finding labels, mode bar) and the AG Grid tables. The page itself
#: takes Bootstrap 5.3's dark colours (``--bs-body-bg`` ``#212529``); a figure's paper is
#: a shade darker, so a faint shaded finding range stands out at least as much as on
#: white (tests/test_dashboard_dark.py measures it).
DARK: Mapping[str, str] = {
    "page": "#212529",  # Bootstrap's own, for the first paint before its theme is set
    "navbar": "#16191c",
    "paper": "#1a1d21",
    "plot": "#1a1d21",  # plotly_white draws no plot area of its own: it shows the paper
    "grid": "#3a4047",
    "zeroline": "#58616b",
    "text": "#dee2e6",
    "muted": "#adb5bd",
    "label_bg": "rgba(26, 29, 33, 0.8)",
    "legend_bg": "rgba(26, 29, 33, 0.85)",
    "modebar": "#8c959f",
    "modebar_active": "#e9ecef",
    "table_bg": "#212529",
    "table_header": "#2b3035",
    "table_odd": "#262a2f",
    "table_hover": "#31373d",
    "table_selected": "#1c3a5e",
    "table_border": "#495057",
}


def css_vars(palette: Mapping[str, str] = DARK) -> dict[str, str]:
    """``palette`` as CSS custom properties (``plot`` → ``--lrt-dark-plot``), for a
    component's ``style``: ``dashboard/assets/20_dark.css`` draws with them."""
    return {f"--lrt-dark-{name.replace('_', '-')}": value for name, value in palette.items()}


def plain(text: object) -> str:
    """``text`` escaped so Plotly shows it literally (no tags, no links)."""
    return html.escape(str(text), quote=False)


def format_lr(value: float | None) -> str:
    """A learning rate as people write it (``3e-4``, ``0.1``): :func:`analyzer.lrtext.format_lr`."""
    return lrtext.format_lr(value)


def format_number(value: object, key: str = "") -> str:
    """An evidence value (:func:`analyzer.lrtext.format_number`); ``""`` for None/NaN."""
    return lrtext.format_number(value, key) or ""


def lr_labels(values: np.ndarray) -> list[str]:
    """Hover labels of LR points in the one LR format (:func:`analyzer.lrtext.format_lr`)."""
    return [format_lr(v) for v in np.asarray(values, dtype=np.float64)]


def log_ticks(values: np.ndarray) -> tuple[list[float], list[str], list[float]]:
    """Tick values, labels and a ``[log10 lo, log10 hi]`` range for a log LR axis.

    Decades when the values span two or more; otherwise a few rounded values between
    the extremes, so a short range does not get a crowd of minor labels.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return [], [], [-4.0, -2.0]
    lo, hi = float(v.min()), float(v.max())
    llo, lhi = math.log10(lo), math.log10(hi)
    pad = max((lhi - llo) * 0.08, 0.15)
    rng = [llo - pad, lhi + pad]
    if math.floor(lhi) - math.ceil(llo) >= 1:
        ticks = [10.0**d for d in range(math.ceil(llo), math.floor(lhi) + 1)]
        step = max(1, len(ticks) // 6)
        ticks = ticks[::step]
        return ticks, [f"1e{round(math.log10(t))}" for t in ticks], rng
    if hi / lo < 1.001:
        ticks = [lo]
    else:
        ticks = sorted({float(f"{t:.1g}") for t in np.geomspace(lo, hi, 4)})
        ticks = [t for t in ticks if 10 ** rng[0] <= t <= 10 ** rng[1]] or [lo, hi]
    return ticks, [format_lr(t) for t in ticks], rng
