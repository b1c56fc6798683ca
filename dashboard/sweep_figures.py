"""Pure figure builders for LR sweeps and LR range tests (data in, ``go.Figure`` out).

    sweep_figure(sweep, suggestions) -> Figure       # final loss against LR, one point a run
    range_test_figure(lr, loss, test) -> Figure      # a range test's loss against its LR

Both plot the LR on a log x axis. Every trace carries a ``meta`` name (``points:<status>``,
``fit``, ``band``, ``recommended``, ``range``, ``edge``; ``loss``, ``smoothed``,
``suggested``, ``min_loss``, ``steepest``, ``blowup``) so tests and the browser can find
it. Marked LRs are drawn as two-point line traces spanning the plotted y range (not
layout shapes), so they have hover text and a legend entry. Run names go through
:func:`dashboard.figures.plain`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analyzer.range_test import RangeTest, smooth
from analyzer.sweeps import Sweep

from .theme import STATUS_COLORS, format_lr, plain

#: Order of the status traces (and of the legend).
STATUS_ORDER = (
    "healthy",
    "overfitting",
    "stagnation",
    "insufficient_data",
    "oscillation",
    "divergence",
)
FIT_COLOR = "#1f77b4"
RECOMMENDED_COLOR = "#2ca02c"
EDGE_COLOR = "#d62728"
RANGE_FILL = "rgba(44, 160, 44, 0.10)"
BAND_FILL = "rgba(31, 119, 180, 0.15)"
#: A y axis spanning more than this ratio (max/min, all positive) is drawn log.
LOG_Y_RATIO = 20.0


def _y_extent(values: Sequence[float], log_y: bool) -> tuple[float, float]:
    """A y range with a margin around ``values`` (finite ones), in data units."""
    v = np.array([x for x in values if math.isfinite(x)], float)
    if not len(v):
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    if log_y:
        return lo / 1.3, hi * 1.3
    pad = 0.08 * (hi - lo) if hi > lo else 0.1 * max(abs(hi), 1e-3)
    return lo - pad, hi + pad


def _vline(
    x: float,
    ylo: float,
    yhi: float,
    *,
    name: str,
    meta: str,
    color: str,
    dash: str,
    hover: str,
    width: float = 2.0,
) -> go.Scatter:
    """A vertical line at ``x`` from ``ylo`` to ``yhi`` as a trace (hover and legend)."""
    return go.Scatter(
        x=[x, x],
        y=[ylo, yhi],
        mode="lines",
        name=name,
        meta=meta,
        line={"color": color, "dash": dash, "width": width},
        hovertemplate=hover + "<extra></extra>",
    )


def _lr_to_use(
    lr: float, ylo: float, yhi: float, label: str, meta: str, note: str = ""
) -> go.Scatter:
    """The LR to use as a wide solid green line, named ``label`` and the LR (hover: the
    name and ``note``)."""
    name = f"{label} {format_lr(lr)}"
    return _vline(
        lr,
        ylo,
        yhi,
        name=name,
        meta=meta,
        color=RECOMMENDED_COLOR,
        dash="solid",
        hover=name + note,
        width=3,
    )


def _area(
    x: Sequence[float], y: Sequence[float], *, color: str, name: str, meta: str, hover: str | None
) -> go.Scatter:
    """A filled, borderless area through the points ``x, y``; ``hover=None``: no hover."""
    return go.Scatter(
        x=x,
        y=y,
        mode="lines",
        fill="toself",
        fillcolor=color,
        line={"width": 0},
        name=name,
        meta=meta,
        **_hover(hover),
    )


def _curve(
    x: Sequence[float], y: Sequence[float], *, name: str, meta: str, hover: str | None
) -> go.Scatter:
    """The fitted (or smoothed) curve, in the fit's colour; ``hover=None``: no hover."""
    return go.Scatter(
        x=x,
        y=y,
        mode="lines",
        name=name,
        meta=meta,
        line={"color": FIT_COLOR, "width": 2},
        **_hover(hover),
    )


def _hover(text: str | None) -> dict[str, str]:
    """A trace's hover settings: ``text`` alone (no trace name box), or none at all."""
    return {"hoverinfo": "skip"} if text is None else {"hovertemplate": text + "<extra></extra>"}


def _lr_layout(fig: go.Figure, *, height: int, legend_y: float, yaxis: dict[str, Any]) -> None:
    """The layout both figures share: the LR on a log x axis, the legend below the plot."""
    fig.update_layout(
        height=height,
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        hovermode="closest",
        legend={"orientation": "h", "y": legend_y},
        xaxis={"type": "log", "title": "learning rate", "exponentformat": "power"},
        yaxis=yaxis,
    )


def _status_of(text: str) -> str:
    return text.replace("_", " ")


def sweep_figure(
    sweep: Sweep, suggestions: Mapping[str, str] | None = None, height: int = 420
) -> go.Figure:
    """The sweep's final loss against LR (log x): a point per run coloured by status
    (``customdata`` = run id, for a click), the fitted curve with its band, the
    recommended range, the recommended LR and the stability edge as vertical lines.

    ``suggestions`` maps a run id to the suggestion line shown on hover. A run whose
    loss ended non-finite is drawn as an ✕ at the top of the plot.
    """
    suggestions = suggestions or {}
    pts = [p for p in sweep.points if p.lr is not None]
    finite = [p.value for p in pts if math.isfinite(p.value)]
    curve = dict(sweep.curve or {})
    cx = [10**v for v in curve.get("log10_lr", [])]
    cy = list(curve.get("fit", []))
    cb = list(curve.get("band", []))
    upper = [y + b for y, b in zip(cy, cb)]
    lower = [y - b for y, b in zip(cy, cb)]
    span = finite + cy
    positive = bool(span) and min(span) > 0
    log_y = positive and max(span) / min(span) > LOG_Y_RATIO
    # the band may run far off where no run is: the y range follows the runs (and the fit)
    ylo, yhi = _y_extent(finite + cy, log_y)
    top = yhi
    if any(not math.isfinite(p.value) for p in pts):
        yhi = top * 1.25 if log_y else top + 0.08 * (top - ylo)
    fig = go.Figure()
    if sweep.recommended_range is not None:
        lo, hi = sweep.recommended_range
        fig.add_trace(
            _area(
                [lo, hi, hi, lo, lo],
                [ylo, ylo, yhi, yhi, ylo],
                color=RANGE_FILL,
                name="recommended range",
                meta="range",
                hover=f"recommended range {format_lr(lo)}–{format_lr(hi)}",
            )
        )
    if cx:
        band_y = [min(max(v, ylo), yhi) for v in upper + lower[::-1]]
        fig.add_trace(
            _area(
                cx + cx[::-1], band_y, color=BAND_FILL, name="fit ± 2 s.e.", meta="band", hover=None
            )
        )
        # the curve passes through runs: their hover must win
        fig.add_trace(_curve(cx, cy, name="fitted curve", meta="fit", hover=None))
    by_status: dict[str, list[Any]] = {}
    for p in pts:
        by_status.setdefault(p.status, []).append(p)
    for status in [s for s in STATUS_ORDER if s in by_status] + sorted(
        s for s in by_status if s not in STATUS_ORDER
    ):
        group = by_status[status]
        xs = [p.lr for p in group]
        ys = [p.value if math.isfinite(p.value) else top for p in group]
        texts = []
        for p in group:
            value = f"{p.value:.4g}" if math.isfinite(p.value) else "non-finite (blew up)"
            texts.append(
                "<br>".join(
                    [
                        f"<b>{plain(p.name)}</b>",
                        f"LR {format_lr(p.lr)}",
                        f"status {_status_of(status)}",
                        f"{sweep.metric}: {value}",
                        f"suggestion: {plain(suggestions.get(p.id) or '—')}",
                    ]
                )
            )
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name=_status_of(status),
                meta=f"points:{status}",
                customdata=[[p.id] for p in group],
                text=texts,
                hovertemplate="%{text}<extra></extra>",
                marker={
                    "color": STATUS_COLORS.get(status, "#7f7f7f"),
                    "size": 13,
                    "line": {"color": "white", "width": 1.5},
                    "symbol": ["circle" if math.isfinite(p.value) else "x" for p in group],
                },
            )
        )
    if sweep.recommended_lr is not None:
        fig.add_trace(_lr_to_use(sweep.recommended_lr, ylo, yhi, "recommended LR", "recommended"))
    if sweep.stability_edge_lr is not None:
        fig.add_trace(
            _vline(
                sweep.stability_edge_lr,
                ylo,
                yhi,
                name=f"stability edge {format_lr(sweep.stability_edge_lr)}",
                meta="edge",
                color=EDGE_COLOR,
                dash="dash",
                hover=(
                    f"stability edge {format_lr(sweep.stability_edge_lr)}: runs "
                    "at this LR and above oscillated or diverged"
                ),
            )
        )
    _lr_layout(
        fig,
        height=height,
        legend_y=-0.18,
        yaxis={
            "type": "log" if log_y else "linear",
            "title": sweep.metric,
            "range": ([math.log10(ylo), math.log10(yhi)] if log_y else [ylo, yhi]),
        },
    )
    fig.update_layout(clickmode="event")
    return fig


def range_test_figure(
    lr: pd.DataFrame, loss: pd.DataFrame, test: RangeTest, height: int = 380
) -> go.Figure:
    """A range test's loss against the LR at its step (log x), raw and smoothed, with
    the suggested LR marked (a star on the smoothed curve and a line) and the
    steepest-descent, minimum-loss and blow-up LRs as lines."""
    lx = lr["step"].to_numpy(float)
    ly = lr["value"].to_numpy(float)
    ok = np.isfinite(lx) & np.isfinite(ly) & (ly > 0)
    lx, ly = lx[ok], ly[ok]
    sx = loss["step"].to_numpy(float)
    sy = loss["value"].to_numpy(float)
    order = np.argsort(sx, kind="stable")
    sx, sy = sx[order], sy[order]
    keep = np.isfinite(sy) & np.isfinite(sx)
    sx, sy = sx[keep], sy[keep]
    fig = go.Figure()
    if len(lx) < 2 or len(sy) < 2:
        return fig
    at = np.interp(sx, lx, ly)
    s = smooth(sy) if len(sy) >= 3 else sy
    i_min = int(np.argmin(s))
    low = float(s[i_min])
    head = float(np.max(s[: i_min + 1]))
    # the loss after the blow-up can be anything: the y range keeps the descent readable
    ylo = float(min(np.min(sy[: i_min + 1]), low))
    yhi = float(min(np.max(sy), max(head, 2 * low) * 1.15))
    pad = 0.05 * (yhi - ylo) if yhi > ylo else 0.1
    ylo, yhi = ylo - pad, yhi + pad
    fig.add_trace(
        go.Scatter(
            x=at,
            y=sy,
            mode="markers",
            name="loss",
            meta="loss",
            marker={"color": "#9aa5b1", "size": 4},
            hovertemplate="LR %{x:.3g}: loss %{y:.4g}<extra></extra>",
        )
    )
    fig.add_trace(
        _curve(at, s, name="smoothed", meta="smoothed", hover="LR %{x:.3g}: smoothed %{y:.4g}")
    )
    marks = (
        ("min_loss", test.min_loss_lr, "minimum loss", "#9467bd", "dot"),
        ("steepest", test.steepest_lr, "steepest descent", "#17becf", "dot"),
        ("blowup", test.blowup_lr, "blow-up", EDGE_COLOR, "dash"),
    )
    for meta, x, label, color, dash in marks:
        if x is not None and math.isfinite(x):
            fig.add_trace(
                _vline(
                    x,
                    ylo,
                    yhi,
                    name=f"{label} {format_lr(x)}",
                    meta=meta,
                    color=color,
                    dash=dash,
                    hover=f"{label} at LR {format_lr(x)}",
                    width=1.5,
                )
            )
    sug = test.suggested_lr
    fig.add_trace(
        _lr_to_use(sug, ylo, yhi, "suggested LR", "suggested_line", note=f" ({test.rule})")
    )
    y_sug = (
        float(np.interp(math.log10(sug), np.log10(at), s))
        if at[0] <= sug <= at[-1]
        else float(s[0])
    )
    fig.add_trace(
        go.Scatter(
            x=[sug],
            y=[y_sug],
            mode="markers",
            name="suggested",
            meta="suggested",
            marker={
                "symbol": "star",
                "size": 18,
                "color": RECOMMENDED_COLOR,
                "line": {"color": "white", "width": 1},
            },
            hovertemplate=(
                f"suggested LR {format_lr(sug)} ({plain(test.rule)}, confidence "
                f"{test.confidence:.2f})<extra></extra>"
            ),
            showlegend=False,
        )
    )
    _lr_layout(fig, height=height, legend_y=-0.2, yaxis={"title": "loss", "range": [ylo, yhi]})
    return fig
