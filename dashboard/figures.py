"""Pure figure builders for the dashboard: data in, ``plotly.graph_objects.Figure`` out.

No Dash imports here, so every builder is testable as a plain function
(``fig.data[i].x``, ``fig.layout.shapes``). Long series are downsampled server-side
(MinMaxLTTB, ~2,000 points per trace) before they reach the browser.

Text that comes from runs (names, messages, evidence keys) is escaped with
:func:`plain` before it goes into a figure: Plotly renders a small HTML subset in
trace names and hover text, and a run name must show as the characters it has.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analyzer import lrtext
from analyzer.findings import Finding, Suggestion

#: Points per trace sent to the browser.
MAX_POINTS = 2000

XMode = Literal["step", "time", "epoch"]

KIND_COLORS: Mapping[str, str] = {
    "divergence": "#d62728",
    "oscillation": "#ff7f0e",
    "overfitting": "#9467bd",
    "stagnation": "#7f7f7f",
}
STATUS_COLORS: Mapping[str, str] = {
    **KIND_COLORS,
    "healthy": "#2ca02c",
    "insufficient_data": "#bcbd22",
    "error": "#d62728",
}
#: Bootstrap colour names for status badges (``dbc.Badge(color=...)``).
STATUS_BADGE: Mapping[str, str] = {
    "healthy": "success",
    "divergence": "danger",
    "oscillation": "warning",
    "overfitting": "primary",
    "stagnation": "secondary",
    "insufficient_data": "light",
}
RUN_PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#17becf", "#bcbd22", "#7f7f7f",
)
TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#d62728"
LR_COLOR = "#2ca02c"


def plain(text: object) -> str:
    """``text`` escaped so Plotly shows it literally (no tags, no links)."""
    return html.escape(str(text), quote=False)


def format_lr(value: float | None) -> str:
    """A learning rate as people write it (``3e-4``, ``0.1``): :func:`analyzer.lrtext.format_lr`."""
    return lrtext.format_lr(value)


def format_number(value: object, key: str = "") -> str:
    """An evidence value (:func:`analyzer.lrtext.format_number`); ``""`` for None/NaN."""
    return lrtext.format_number(value, key) or ""


# --------------------------------------------------------------------- series helpers


def ema(values: Sequence[float] | np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's debiased exponential moving average.

    ``last = weight * last + (1 - weight) * v`` starting from 0, divided by
    ``1 - weight ** n`` (``n`` finite points so far) so the start is not pulled to 0.
    Non-finite points pass through unchanged and do not enter the average.
    ``weight`` is in ``[0, 1)``; 0 returns the values.
    """
    if not 0 <= weight < 1:
        raise ValueError(f"smoothing weight {weight!r}: use a value in [0, 1)")
    v = np.asarray(values, dtype=np.float64)
    out = v.copy()
    if weight == 0 or v.size == 0:
        return out
    from scipy.signal import lfilter

    finite = np.isfinite(v)
    w = float(weight)
    fv = v[finite]
    # last_i = w * last_(i-1) + (1 - w) * x_i as a first-order IIR filter (10M points in
    # ~0.15 s), then the debias, only where w ** n still matters (beyond, it is 1).
    smoothed = lfilter([1.0 - w], [1.0, -w], fv)
    head = min(fv.size, math.ceil(math.log(1e-17) / math.log(w)) + 1)
    smoothed[:head] /= 1.0 - w ** np.arange(1, head + 1, dtype=np.float64)
    out[finite] = smoothed
    return out


def _memory(weight: float) -> int:
    """Points after which ``weight ** n`` is below float precision (the EMA forgot them)."""
    return math.ceil(math.log(1e-17) / math.log(weight)) + 1 if weight > 0 else 1


def ema_window(values: Sequence[float] | np.ndarray, weight: float, start: int, end: int
               ) -> np.ndarray:
    """``ema(values, weight)[start:end]`` without smoothing the whole series.

    A point's weight in the average falls as ``weight ** age``; once that is below float
    precision (:func:`_memory` points, ~80 for 0.6, ~3,900 for 0.99) the point no longer
    counts, so the window is smoothed from that far before ``start``: a zoom costs its
    window, not the run. Equal to the full EMA up to rounding (relative 1e-15).
    """
    v = np.asarray(values, dtype=np.float64)
    start, end = max(0, start), min(v.size, end)
    if weight == 0 or start == 0 or end <= start:
        return ema(v[:end], weight)[start:end] if end > start else v[start:start]
    mem = _memory(weight)
    finite_before = np.flatnonzero(np.isfinite(v[:start]))
    if finite_before.size <= mem:  # still inside the debiased head: smooth from the start
        return ema(v[:end], weight)[start:]
    lead = int(finite_before[-mem])  # the first finite point that still counts
    out = v[start:end].copy()
    seg = v[lead:end]
    finite = np.isfinite(seg)
    from scipy.signal import lfilter

    smoothed = np.empty(seg.size)
    smoothed[finite] = lfilter([1.0 - weight], [1.0, -weight], seg[finite])  # no debias: n > mem
    keep = finite[start - lead:]
    out[keep] = smoothed[start - lead:][keep]
    return out


def downsample_indices(x: np.ndarray, y: np.ndarray, n_out: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most ``n_out`` points that keep the shape (MinMaxLTTB).

    ``x`` must be sorted. Non-finite ``y`` are dropped first. Falls back to an even
    stride plus each bucket's extremes when ``tsdownsample`` is not installed.
    """
    if n_out < 3:
        raise ValueError(f"n_out={n_out!r}: need at least 3 points")
    x = np.asarray(x)
    y = np.asarray(y, dtype=np.float64)
    keep = np.flatnonzero(np.isfinite(y))
    if keep.size <= n_out:
        return keep
    xs = np.ascontiguousarray(x[keep].astype(np.float64))
    ys = np.ascontiguousarray(y[keep])
    try:
        from tsdownsample import MinMaxLTTBDownsampler

        local = np.asarray(MinMaxLTTBDownsampler().downsample(xs, ys, n_out=n_out), dtype=np.int64)
    except ImportError:  # pragma: no cover - exercised only without tsdownsample
        buckets = np.array_split(np.arange(keep.size), n_out // 2)
        local = np.unique(np.concatenate(
            [[b[np.argmin(ys[b])], b[np.argmax(ys[b])]] for b in buckets if b.size]
        ))
    return keep[np.sort(local)]


def downsample(
    x: np.ndarray, y: np.ndarray, n_out: int = MAX_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` reduced to at most ``n_out`` points (see :func:`downsample_indices`)."""
    idx = downsample_indices(x, y, n_out)
    return np.asarray(x)[idx], np.asarray(y, dtype=np.float64)[idx]


def best_val_step(val: pd.DataFrame | None) -> int | None:
    """The step of the lowest validation loss, ``None`` without finite values."""
    if val is None or val.empty:
        return None
    v = val["value"].to_numpy(dtype=np.float64)
    if not np.isfinite(v).any():
        return None
    return int(val["step"].to_numpy()[int(np.nanargmin(np.where(np.isfinite(v), v, np.nan)))])


@dataclass(frozen=True)
class StepClock:
    """Maps steps to hours since the run's first logged point (for ``x_mode="time"``)."""

    steps: np.ndarray
    hours: np.ndarray

    @classmethod
    def from_series(cls, *series: pd.DataFrame | None) -> StepClock | None:
        parts = [s[["step", "wall_time"]] for s in series if s is not None and not s.empty]
        if not parts:
            return None
        both = pd.concat(parts).dropna().sort_values("step").drop_duplicates("step")
        if len(both) < 2:
            return None
        wall = both["wall_time"].to_numpy(dtype=np.float64)
        wall = np.maximum.accumulate(wall)
        if wall[-1] <= wall[0]:
            return None
        return cls(both["step"].to_numpy(dtype=np.float64), (wall - wall[0]) / 3600.0)

    @classmethod
    def from_epochs(cls, epoch: pd.DataFrame | None) -> StepClock | None:
        """Steps → epoch numbers, from a logged ``epoch`` metric (``hours`` holds epochs).

        A whole-number epoch logged at every step (``0, 0, …, 1, 1, …``, as Lightning
        does) is a staircase: each epoch is anchored at its first step and the steps
        between are fractions of an epoch (the last epoch goes on at the pace of the one
        before), so per-step curves are not drawn as vertical bars or a sawtooth.
        """
        if epoch is None or len(epoch) < 2:
            return None
        e = epoch[["step", "value"]].dropna().sort_values("step").drop_duplicates("step")
        steps = e["step"].to_numpy(dtype=np.float64)
        vals = np.maximum.accumulate(e["value"].to_numpy(dtype=np.float64))
        if len(e) < 2 or vals[-1] <= vals[0]:
            return None
        starts = np.r_[True, np.diff(vals) > 0]
        if not starts.all():
            a_steps, a_vals = steps[starts], vals[starts]
            if len(a_steps) >= 2 and steps[-1] > a_steps[-1]:
                pace = (a_vals[-1] - a_vals[-2]) / (a_steps[-1] - a_steps[-2])
                a_vals = np.r_[a_vals, a_vals[-1] + pace * (steps[-1] - a_steps[-1])]
                a_steps = np.r_[a_steps, steps[-1]]
            steps, vals = a_steps, a_vals
        return cls(steps, vals)

    def __call__(self, step: np.ndarray | float) -> np.ndarray:
        return np.interp(np.asarray(step, dtype=np.float64), self.steps, self.hours)


def _x(steps: np.ndarray, clock: StepClock | None) -> np.ndarray:
    return clock(steps) if clock is not None else np.asarray(steps)


def visible_indices(x: np.ndarray, x_range: tuple[float, float] | None) -> np.ndarray:
    """Indices of sorted ``x`` inside ``x_range``, plus one neighbour on each side so the
    lines reach the plot's edges; all indices without a range."""
    x = np.asarray(x)
    if x_range is None:
        return np.arange(x.size)
    lo, hi = sorted((float(x_range[0]), float(x_range[1])))
    if x.dtype.kind in "iu":  # integer bounds: no float copy of the whole axis
        info = np.iinfo(x.dtype)
        lo_n = x.dtype.type(min(max(math.ceil(lo), info.min), info.max))
        hi_n = x.dtype.type(min(max(math.floor(hi), info.min), info.max))
        a = int(np.searchsorted(x, lo_n, side="left")) if lo <= info.max else x.size
        b = int(np.searchsorted(x, hi_n, side="right")) if hi >= info.min else 0
    else:
        x = x.astype(np.float64, copy=False)
        a = int(np.searchsorted(x, lo, side="left"))
        b = int(np.searchsorted(x, hi, side="right"))
    return np.arange(max(a - 1, 0), min(b + 1, x.size))


def relayout_x_range(relayout: Mapping[str, object] | None
                     ) -> tuple[bool, tuple[float, float] | None]:
    """``(changed, x_range)`` from a Plotly ``relayoutData`` event.

    A zoom or pan of either x axis gives ``(True, (x0, x1))``; a reset (autorange,
    double click) ``(True, None)``; anything else (a y-only zoom, legend clicks)
    ``(False, None)``: the current range stands.
    """
    if not relayout:
        return False, None
    for ax in ("xaxis", "xaxis2"):
        if relayout.get(f"{ax}.autorange"):
            return True, None
        pair = relayout.get(f"{ax}.range")
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            pair = (relayout.get(f"{ax}.range[0]"), relayout.get(f"{ax}.range[1]"))
        try:
            lo, hi = float(pair[0]), float(pair[1])  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if math.isfinite(lo) and math.isfinite(hi) and lo != hi:
            return True, (min(lo, hi), max(lo, hi))
    return False, None


def _points(steps: np.ndarray, values: np.ndarray, clock: StepClock | None,
            x_range: tuple[float, float] | None, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of one trace: the visible part, downsampled to ``n_out`` points."""
    steps = np.asarray(steps)
    values = np.asarray(values, dtype=np.float64)
    idx = visible_indices(_x(steps, clock), x_range)
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


# ------------------------------------------------------------------------ run figure


def _positive(series: pd.DataFrame) -> pd.DataFrame:
    return series[series["value"] > 0]


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
    clock = None
    x_title = step_label
    if x_mode == "time":
        clock = StepClock.from_series(train, val, lr)
        x_title = "hours since start" if clock is not None else step_label
    elif x_mode == "epoch":
        clock = StepClock.from_epochs(epoch)
        x_title = "epoch" if clock is not None else step_label
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.05,
    )
    smoothed_x = smoothed_y = None
    if train is not None and not train.empty:
        steps = train["step"].to_numpy()
        values = train["value"].to_numpy(dtype=np.float64)
        rx, ry = _points(steps, values, clock, x_range, n_out)
        fig.add_trace(go.Scattergl(
            x=_x(rx, clock), y=ry, mode="lines", name="train loss (raw)",
            line={"color": TRAIN_COLOR, "width": 1}, opacity=0.25 if smoothing > 0 else 0.9,
            legendgroup="train", meta="train_raw",
        ), row=1, col=1)
        if smoothing > 0:
            vis = visible_indices(_x(steps, clock), x_range)
            start, end = (int(vis[0]), int(vis[-1]) + 1) if vis.size else (0, 0)
            sm = ema_window(values, smoothing, start, end)
            smoothed_x, smoothed_y = _points(steps[start:end], sm, clock, x_range, n_out)
            fig.add_trace(go.Scattergl(
                x=_x(smoothed_x, clock), y=smoothed_y, mode="lines",
                name=f"train loss (EMA {smoothing:.2f})",
                line={"color": TRAIN_COLOR, "width": 2}, legendgroup="train", meta="train_smooth",
            ), row=1, col=1)
        else:
            smoothed_x, smoothed_y = rx, ry
    if val is not None and not val.empty:
        vx, vy = _points(val["step"].to_numpy(), val["value"].to_numpy(dtype=np.float64), clock,
                         x_range, n_out)
        fig.add_trace(go.Scattergl(
            x=_x(vx, clock), y=vy, mode="lines+markers" if len(vx) <= 200 else "lines",
            name="val loss", line={"color": VAL_COLOR, "width": 2}, marker={"size": 5},
            meta="val",
        ), row=1, col=1)
    pos = _positive(lr) if lr is not None else None
    has_lr = pos is not None and not pos.empty
    if has_lr:
        lx, ly = _points(pos["step"].to_numpy(), pos["value"].to_numpy(dtype=np.float64), clock,
                         x_range, n_out)
        fig.add_trace(go.Scattergl(
            x=_x(lx, clock), y=ly, mode="lines", name="learning rate",
            line={"color": LR_COLOR, "width": 2}, meta="lr",
            text=lr_labels(ly), hovertemplate="LR %{text}<extra></extra>",
        ), row=2, col=1)
    else:
        fig.add_annotation(text="no learning rate logged", xref="x2 domain", yref="y2 domain",
                           x=0.5, y=0.5, showarrow=False, font={"color": "#888"})

    _add_findings(fig, findings, clock)
    _add_markers(fig, findings, suggestion, val, smoothed_x, smoothed_y, clock)

    fig.update_yaxes(title_text="loss", type="log" if log_y else "linear", row=1, col=1)
    ticks, labels, rng = log_ticks(pos["value"].to_numpy() if has_lr else np.array([]))
    fig.update_yaxes(title_text="LR", type="log", tickvals=ticks, ticktext=labels, range=rng,
                     row=2, col=1)
    fig.update_xaxes(title_text=x_title, row=2, col=1)
    fig.update_layout(
        template="plotly_white", height=560, margin={"l": 60, "r": 20, "t": 30, "b": 50},
        hovermode="closest", legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        uirevision=f"{x_mode}-{log_y}",
    )
    if x_range is not None:  # a zoomed view opened from a link starts zoomed
        fig.update_xaxes(range=[float(x_range[0]), float(x_range[1])], row=2, col=1)
    return fig


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
    fig.update_layout(yaxis3={"overlaying": "y", "range": [0, 1], "visible": False,
                              "fixedrange": True})
    for f in findings:
        color = KIND_COLORS.get(f.kind, "#999999")
        x0, x1 = _span(f, clock)
        opacity = {"critical": 0.22, "warning": 0.16}.get(f.severity, 0.08)
        for row in (1, 2):
            fig.add_vrect(
                x0=x0, x1=x1, fillcolor=color, opacity=opacity, line_width=0, layer="below",
                row=row, col=1, name=f"finding:{f.kind}",
            )
        fig.add_annotation(
            x=(x0 + x1) / 2, y=1.0, xref="x", yref="y domain", yanchor="top", showarrow=False,
            text=f"{plain(f.kind)} {f.start_step}–{f.end_step}",
            font={"color": color, "size": 11}, bgcolor="rgba(255,255,255,0.7)",
        )
        fig.add_trace(go.Scatter(
            x=[x0, x0, x1, x1, x0], y=[0, 1, 1, 0, 0], yaxis="y3", xaxis="x",
            fill="toself", fillcolor="rgba(0,0,0,0)", line={"width": 0}, mode="lines",
            hoveron="fills", hoverinfo="text", text=finding_hover(f),
            hoverlabel={"bgcolor": "white", "bordercolor": color, "font": {"color": "#212529"}},
            name=f"{plain(f.kind)} {f.start_step}–{f.end_step}", showlegend=False,
            meta=f"finding:{f.kind}",
        ))


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
        xs = float(_x(np.array([stop]), clock)[0])
        fig.add_vline(x=xs, line_dash="dot", line_color=VAL_COLOR, line_width=1)
        if y is not None:
            fig.add_trace(go.Scatter(
                x=[xs], y=[y], mode="markers", name=f"best val (step {stop})",
                marker={"symbol": "star", "size": 14, "color": VAL_COLOR,
                        "line": {"color": "white", "width": 1}},
                hovertemplate=f"best validation loss at step {stop}<extra></extra>",
                meta="best_val",
            ), row=1, col=1)
    if sx is None or sy is None or len(sx) == 0:
        return
    for f in findings:
        if f.kind != "oscillation":
            continue
        y = float(np.interp(f.start_step, sx.astype(np.float64), sy))
        xs = float(_x(np.array([f.start_step]), clock)[0])
        fig.add_trace(go.Scatter(
            x=[xs], y=[y], mode="markers", name=f"oscillation onset (step {f.start_step})",
            marker={"symbol": "triangle-down", "size": 13, "color": KIND_COLORS["oscillation"],
                    "line": {"color": "white", "width": 1}},
            hovertemplate=f"oscillation starts at step {f.start_step}<extra></extra>",
            meta="oscillation_onset",
        ), row=1, col=1)


# -------------------------------------------------------------------- compare figure


@dataclass(frozen=True)
class CompareRun:
    """One run of the compare view: a label, its status and its role series."""

    label: str
    status: str
    train: pd.DataFrame | None
    val: pd.DataFrame | None
    lr: pd.DataFrame | None
    epoch: pd.DataFrame | None = None  # a logged epoch metric (for the epoch axis)


#: The Compare page's x axes: step, epoch (from a logged ``epoch`` metric) or wall time.
COMPARE_X_TITLES: Mapping[str, str] = {"step": "step", "epoch": "epoch",
                                       "time": "hours since start"}


def _compare_clocks(runs: Sequence[CompareRun], x_mode: str
                    ) -> tuple[list[StepClock | None], str]:
    """Each run's step → x map and the axis title. When a run lacks what ``x_mode`` needs
    (no epoch metric, no wall times), every run is drawn by step and the title says why."""
    if x_mode not in ("epoch", "time"):
        return [None] * len(runs), "step"
    if x_mode == "time":
        clocks = [StepClock.from_series(r.train, r.val, r.lr) for r in runs]
    else:
        clocks = [StepClock.from_epochs(r.epoch) for r in runs]
    if runs and all(c is not None for c in clocks):
        return clocks, COMPARE_X_TITLES[x_mode]
    missing = "an epoch metric" if x_mode == "epoch" else "wall times"
    return [None] * len(runs), f"step (not every run has {missing})"


def compare_figure(
    runs: Sequence[CompareRun],
    *,
    smoothing: float = 0.6,
    log_y: bool = False,
    x_mode: str = "step",
    n_out: int = MAX_POINTS,
) -> go.Figure:
    """Several runs' losses (train EMA-smoothed by ``smoothing``, solid; val dashed) and
    LRs, aligned by step, epoch or hours since each run's start (``x_mode``). Without any
    LR logged there is no LR panel."""
    has_lr = any(r.lr is not None and not _positive(r.lr).empty for r in runs)
    clocks, x_title = _compare_clocks(runs, x_mode)
    if has_lr:
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3],
                            vertical_spacing=0.05)
    else:
        fig = make_subplots(rows=1, cols=1)
    for i, (r, clock) in enumerate(zip(runs, clocks, strict=True)):
        color = RUN_PALETTE[i % len(RUN_PALETTE)]
        label = f"{plain(r.label)} [{plain(r.status)}]"
        group = f"run{i}"
        if r.train is not None and not r.train.empty:
            steps = r.train["step"].to_numpy()
            values = r.train["value"].to_numpy(dtype=np.float64)
            y = ema(values, smoothing) if smoothing > 0 else values
            tx, ty = downsample(steps, y, n_out)
            fig.add_trace(go.Scattergl(
                x=_x(tx, clock), y=ty, mode="lines", name=f"{label} train", legendgroup=group,
                line={"color": color, "width": 2}, meta=f"{group}:train",
            ), row=1, col=1)
        if r.val is not None and not r.val.empty:
            vx, vy = downsample(r.val["step"].to_numpy(), r.val["value"].to_numpy(dtype=np.float64), n_out)
            fig.add_trace(go.Scattergl(
                x=_x(vx, clock), y=vy, mode="lines+markers" if len(vx) <= 200 else "lines",
                name=f"{label} val", legendgroup=group, marker={"size": 4},
                line={"color": color, "width": 2, "dash": "dash"}, meta=f"{group}:val",
            ), row=1, col=1)
        if has_lr and r.lr is not None and not _positive(r.lr).empty:
            pos = _positive(r.lr)
            lx, ly = downsample(pos["step"].to_numpy(), pos["value"].to_numpy(dtype=np.float64), n_out)
            fig.add_trace(go.Scattergl(
                x=_x(lx, clock), y=ly, mode="lines", name=f"{label} LR", legendgroup=group,
                showlegend=False, line={"color": color, "width": 1.5}, meta=f"{group}:lr",
                text=lr_labels(ly), hovertemplate="LR %{text}",
            ), row=2, col=1)
    fig.update_yaxes(title_text="loss", type="log" if log_y else "linear", row=1, col=1)
    if has_lr:
        all_lr = [np.asarray(t.y, dtype=np.float64) for t in fig.data if str(t.meta).endswith(":lr")]
        ticks, labels, rng = log_ticks(np.concatenate(all_lr) if all_lr else np.array([]))
        fig.update_yaxes(title_text="LR", type="log", tickvals=ticks, ticktext=labels, range=rng,
                         row=2, col=1)
    fig.update_xaxes(title_text=x_title, row=2 if has_lr else 1, col=1)
    fig.update_layout(
        template="plotly_white", height=560, margin={"l": 60, "r": 20, "t": 30, "b": 50},
        hovermode="x", legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
    )
    return fig


def empty_figure(message: str) -> go.Figure:
    """A blank figure with a centred message (no data, unknown run …)."""
    fig = go.Figure()
    fig.add_annotation(text=plain(message), x=0.5, y=0.5, xref="paper", yref="paper",
                       showarrow=False, font={"size": 14, "color": "#888"})
    fig.update_layout(template="plotly_white", height=300, xaxis={"visible": False},
                      yaxis={"visible": False}, margin={"l": 20, "r": 20, "t": 20, "b": 20})
    return fig
