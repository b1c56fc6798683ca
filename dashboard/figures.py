"""Pure figure builders for the dashboard: data in, ``plotly.graph_objects.Figure`` out.

No Dash imports here, so every builder is testable as a plain function
(``fig.data[i].x``, ``fig.layout.shapes``). Long series are downsampled server-side
(:mod:`dashboard.series`) before they reach the browser; colours and the escaping of
run text (:func:`~dashboard.theme.plain`) come from :mod:`dashboard.theme`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analyzer import lrtext
from analyzer.findings import Finding, Suggestion

from .series import (
    MAX_POINTS,
    StepClock,
    best_val_step,
    downsample,
    ema_window,
    positive,
    step_values,
    visible_indices,
    x_values,
)
from .theme import (
    KIND_COLORS,
    LR_COLOR,
    TRAIN_COLOR,
    VAL_COLOR,
    log_ticks,
    lr_labels,
    plain,
)
from .zoom import view_rev

__all__ = ["XMode", "add_line", "empty_figure", "finding_hover", "loss_lr_layout", "run_figure"]

XMode = Literal["step", "time", "epoch"]


def _points(
    steps: np.ndarray,
    values: np.ndarray,
    clock: StepClock | None,
    x_range: tuple[float, float] | None,
    n_out: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of one trace: the visible part, downsampled to ``n_out`` points."""
    steps = np.asarray(steps)
    values = np.asarray(values, dtype=np.float64)
    idx = visible_indices(x_values(steps, clock), x_range)
    return downsample(steps[idx], values[idx], n_out)


def finding_hover(f: Finding) -> str:
    """Hover text of a shaded finding: kind, range, severity, message and evidence."""
    lines = [
        f"<b>{plain(f.kind)}</b> in {plain(f.metric)}, steps {int(f.start_step)}–{int(f.end_step)}",
        f"{plain(f.severity)}, confidence {f.confidence:.2f}",
    ]
    if f.message:
        lines.append(plain(f.message))
    for k, v in lrtext.evidence_items(f.evidence)[:8]:
        lines.append(f"{plain(k)} = {plain(v)}")
    return "<br>".join(lines)


def loss_lr_layout(
    fig: go.Figure, *, log_y: bool, lr: np.ndarray | None, x_title: str, hovermode: str
) -> None:
    """Axes and layout of a loss-over-LR figure: the loss (log when ``log_y``) in row 1,
    the LR ``lr`` on a log axis with readable ticks in row 2 (``None``: no LR row), the
    x title under the last row, the legend above the plot."""
    fig.update_yaxes(title_text="loss", type="log" if log_y else "linear", row=1, col=1)
    if lr is not None:
        ticks, labels, rng = log_ticks(lr)
        fig.update_yaxes(
            title_text="LR", type="log", tickvals=ticks, ticktext=labels, range=rng, row=2, col=1
        )
    fig.update_xaxes(title_text=x_title, row=1 if lr is None else 2, col=1)
    fig.update_layout(
        template="plotly_white",
        height=560,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        hovermode=hovermode,
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
    )


def add_line(
    fig: go.Figure,
    steps: np.ndarray,
    y: np.ndarray,
    clock: StepClock | None,
    *,
    name: str,
    line: dict[str, Any],
    meta: str,
    row: int = 1,
    marker_size: int | None = None,
    **props: Any,
) -> None:
    """Add a WebGL line of ``y`` over ``steps`` (x on ``clock``'s axis) to ``row`` of the
    figure's one column. With ``marker_size``, a line of 200 points or fewer marks each
    point too (as a validation loss is drawn); ``props`` are more ``go.Scattergl`` ones."""
    if marker_size is not None:
        props["marker"] = {"size": marker_size}
    mode = "lines+markers" if marker_size is not None and len(steps) <= 200 else "lines"
    trace = go.Scattergl(
        x=x_values(steps, clock), y=y, mode=mode, name=name, line=line, meta=meta, **props
    )
    fig.add_trace(trace, row=row, col=1)


# ------------------------------------------------------------------------ run figure


def run_figure(
    train: pd.DataFrame | None,
    val: pd.DataFrame | None,
    lr: pd.DataFrame | None,
    *,
    findings: Iterable[Finding] = (),
    suggestion: Suggestion | None = None,
    smoothing: float = 0.6,
    log_y: bool = False,
    x_mode: XMode = "step",
    step_label: str = "step",
    epoch: pd.DataFrame | None = None,
    n_out: int = MAX_POINTS,
    x_range: tuple[float, float] | None = None,
) -> go.Figure:
    """Loss curves (raw + smoothed train, val) over the LR on its own log axis.

    Row 1: losses; row 2: learning rate (log y). Each finding is a shaded step range
    (one ``vrect`` per row, coloured by kind) with an invisible fill trace carrying
    the evidence as hover text. Markers show the best validation step (the
    suggestion's ``early_stop_step`` when it has one) and each oscillation onset.
    ``x_mode="time"`` plots hours since the first point when wall times exist;
    ``x_mode="epoch"`` plots epochs when an ``epoch`` series is given. Either falls
    back to steps when the run lacks what it needs.
    ``x_range`` (in the x axis' units) re-samples a zoomed view: only the points in
    that range are downsampled, so zooming in shows full detail. The EMA is computed
    over the whole series first, so it does not restart at the range's edge.
    """
    findings = list(findings)
    clock, x_title = _run_clock(x_mode, step_label, train, val, lr, epoch)
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.72, 0.28],
        vertical_spacing=0.05,
    )
    smoothed_x, smoothed_y = _add_train(fig, train, clock, smoothing, x_range, n_out)
    if val is not None and not val.empty:
        vx, vy = _points(*step_values(val), clock, x_range, n_out)
        val_line = {"color": VAL_COLOR, "width": 2}
        add_line(fig, vx, vy, clock, name="val loss", line=val_line, meta="val", marker_size=5)
    lr_values = _add_lr(fig, lr, clock, x_range, n_out)

    _add_findings(fig, findings, clock)
    _add_markers(fig, findings, suggestion, val, smoothed_x, smoothed_y, clock)

    loss_lr_layout(fig, log_y=log_y, lr=lr_values, x_title=x_title, hovermode="closest")
    fig.update_layout(uirevision=view_rev(x_mode, log_y))
    if x_range is not None:  # a zoomed view opened from a link starts zoomed
        fig.update_xaxes(range=[float(x_range[0]), float(x_range[1])], row=2, col=1)
    return fig


def _run_clock(
    x_mode: XMode,
    step_label: str,
    train: pd.DataFrame | None,
    val: pd.DataFrame | None,
    lr: pd.DataFrame | None,
    epoch: pd.DataFrame | None,
) -> tuple[StepClock | None, str]:
    """The run figure's step → x map and x title: hours or epochs for ``x_mode`` "time" or
    "epoch" when the run has what they need, else no map and ``step_label``."""
    if x_mode == "time":
        clock = StepClock.from_series(train, val, lr)
        return clock, ("hours since start" if clock is not None else step_label)
    if x_mode == "epoch":
        clock = StepClock.from_epochs(epoch)
        return clock, ("epoch" if clock is not None else step_label)
    return None, step_label


def _add_train(
    fig: go.Figure,
    train: pd.DataFrame | None,
    clock: StepClock | None,
    smoothing: float,
    x_range: tuple[float, float] | None,
    n_out: int,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Add the raw train loss (faint under its EMA when ``smoothing`` > 0) and the EMA; the
    points of the curve the markers sit on (the EMA, else the raw loss; ``None``: no loss)."""
    if train is None or train.empty:
        return None, None
    steps, values = step_values(train)
    rx, ry = _points(steps, values, clock, x_range, n_out)
    raw = {"color": TRAIN_COLOR, "width": 1}
    add_line(
        fig,
        rx,
        ry,
        clock,
        name="train loss (raw)",
        line=raw,
        meta="train_raw",
        opacity=0.25 if smoothing > 0 else 0.9,
        legendgroup="train",
    )
    if not smoothing > 0:  # (NaN too)
        return rx, ry
    vis = visible_indices(x_values(steps, clock), x_range)
    start, end = (int(vis[0]), int(vis[-1]) + 1) if vis.size else (0, 0)
    sm = ema_window(values, smoothing, start, end)
    sx, sy = _points(steps[start:end], sm, clock, x_range, n_out)
    name = f"train loss (EMA {smoothing:.2f})"
    smooth = {"color": TRAIN_COLOR, "width": 2}
    add_line(fig, sx, sy, clock, name=name, line=smooth, meta="train_smooth", legendgroup="train")
    return sx, sy


def _add_lr(
    fig: go.Figure,
    lr: pd.DataFrame | None,
    clock: StepClock | None,
    x_range: tuple[float, float] | None,
    n_out: int,
) -> np.ndarray:
    """Add the LR's positive points to row 2 (or a note that none is logged); their values
    (all of them, for the LR axis' ticks)."""
    pos = positive(lr) if lr is not None else None
    if pos is None or pos.empty:
        fig.add_annotation(
            text="no learning rate logged",
            xref="x2 domain",
            yref="y2 domain",
            x=0.5,
            y=0.5,
            showarrow=False,
            font={"color": "#888"},
        )
        return np.array([])
    lx, ly = _points(*step_values(pos), clock, x_range, n_out)
    add_line(
        fig,
        lx,
        ly,
        clock,
        name="learning rate",
        line={"color": LR_COLOR, "width": 2},
        meta="lr",
        row=2,
        text=lr_labels(ly),
        hovertemplate="LR %{text}<extra></extra>",
    )
    return pos["value"].to_numpy()


def _span(f: Finding, clock: StepClock | None) -> tuple[float, float]:
    x0, x1 = float(f.start_step), float(f.end_step)
    if clock is not None:
        x0, x1 = float(clock(x0)), float(clock(x1))
    if x1 <= x0:  # a one-step finding still gets a visible band
        pad = max(abs(x0) * 0.002, 0.5 if clock is None else 1e-3)
        x0, x1 = x0 - pad, x1 + pad
    return x0, x1


def _add_findings(fig: go.Figure, findings: list[Finding], clock: StepClock | None) -> None:
    if not findings:
        return
    # A hidden [0, 1] axis over the loss panel holds the hover areas, so they span the
    # panel whatever the loss scale (linear or log) is.
    fig.update_layout(
        yaxis3={"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True}
    )
    for f in findings:
        color = KIND_COLORS.get(f.kind, "#999999")
        x0, x1 = _span(f, clock)
        opacity = {"critical": 0.22, "warning": 0.16}.get(f.severity, 0.08)
        for row in (1, 2):
            fig.add_vrect(
                x0=x0,
                x1=x1,
                fillcolor=color,
                opacity=opacity,
                line_width=0,
                layer="below",
                row=row,
                col=1,
                name=f"finding:{f.kind}",
            )
        fig.add_annotation(
            x=(x0 + x1) / 2,
            y=1.0,
            xref="x",
            yref="y domain",
            yanchor="top",
            showarrow=False,
            text=f"{plain(f.kind)} {f.start_step}–{f.end_step}",
            font={"color": color, "size": 11},
            bgcolor="rgba(255,255,255,0.7)",
        )
        fig.add_trace(
            go.Scatter(
                x=[x0, x0, x1, x1, x0],
                y=[0, 1, 1, 0, 0],
                yaxis="y3",
                xaxis="x",
                fill="toself",
                fillcolor="rgba(0,0,0,0)",
                line={"width": 0},
                mode="lines",
                hoveron="fills",
                hoverinfo="text",
                text=finding_hover(f),
                hoverlabel={"bgcolor": "white", "bordercolor": color, "font": {"color": "#212529"}},
                name=f"{plain(f.kind)} {f.start_step}–{f.end_step}",
                showlegend=False,
                meta=f"finding:{f.kind}",
            )
        )


def _add_markers(
    fig: go.Figure,
    findings: list[Finding],
    suggestion: Suggestion | None,
    val: pd.DataFrame | None,
    sx: np.ndarray | None,
    sy: np.ndarray | None,
    clock: StepClock | None,
) -> None:
    stop = suggestion.early_stop_step if suggestion is not None else None
    if stop is None and any(f.kind == "overfitting" for f in findings):
        stop = best_val_step(val)
    if stop is not None:
        y = None
        if val is not None and not val.empty:
            vs = val["step"].to_numpy(dtype=np.float64)
            y = float(np.interp(stop, vs, val["value"].to_numpy(dtype=np.float64)))
        xs = float(x_values(np.array([stop]), clock)[0])
        fig.add_vline(x=xs, line_dash="dot", line_color=VAL_COLOR, line_width=1)
        if y is not None:
            _marker(
                fig,
                xs,
                y,
                f"best val (step {stop})",
                "star",
                14,
                VAL_COLOR,
                f"best validation loss at step {stop}",
                "best_val",
            )
    if sx is None or sy is None or len(sx) == 0:
        return
    for f in findings:
        if f.kind != "oscillation":
            continue
        y = float(np.interp(f.start_step, sx.astype(np.float64), sy))
        xs = float(x_values(np.array([f.start_step]), clock)[0])
        _marker(
            fig,
            xs,
            y,
            f"oscillation onset (step {f.start_step})",
            "triangle-down",
            13,
            KIND_COLORS["oscillation"],
            f"oscillation starts at step {f.start_step}",
            "oscillation_onset",
        )


def _marker(
    fig: go.Figure,
    x: float,
    y: float,
    name: str,
    symbol: str,
    size: int,
    color: str,
    hover: str,
    meta: str,
) -> None:
    """One named point marker (white-edged) on the loss panel."""
    fig.add_trace(
        go.Scatter(
            x=[x],
            y=[y],
            mode="markers",
            name=name,
            marker={
                "symbol": symbol,
                "size": size,
                "color": color,
                "line": {"color": "white", "width": 1},
            },
            hovertemplate=f"{hover}<extra></extra>",
            meta=meta,
        ),
        row=1,
        col=1,
    )


def empty_figure(message: str) -> go.Figure:
    """A blank figure with a centred message (no data, unknown run …)."""
    fig = go.Figure()
    fig.add_annotation(
        text=plain(message),
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        showarrow=False,
        font={"size": 14, "color": "#888"},
    )
    fig.update_layout(
        template="plotly_white",
        height=300,
        xaxis={"visible": False},
        yaxis={"visible": False},
        margin={"l": 20, "r": 20, "t": 20, "b": 20},
    )
    return fig
