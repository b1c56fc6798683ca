"""Series maths of the dashboard's figures: TensorBoard's EMA (whole or of a window),
MinMaxLTTB downsampling (~2,000 points per trace reach the browser), the visible part of
a zoomed axis, a step → hours/epochs clock, and the best validation step. No plotting."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Points per trace sent to the browser.
MAX_POINTS = 2000


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


def ema_window(
    values: Sequence[float] | np.ndarray, weight: float, start: int, end: int
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
    keep = finite[start - lead :]
    out[keep] = smoothed[start - lead :][keep]
    return out


def downsample_indices(x: np.ndarray, y: np.ndarray, n_out: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most ``n_out`` points that keep the shape (MinMaxLTTB).

    ``x`` must be sorted. Non-finite ``y`` are dropped first.
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
    from tsdownsample import MinMaxLTTBDownsampler

    local = np.asarray(MinMaxLTTBDownsampler().downsample(xs, ys, n_out=n_out), dtype=np.int64)
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


def x_values(steps: np.ndarray, clock: StepClock | None) -> np.ndarray:
    """The x of ``steps`` on a clock's axis (hours, epochs), or the steps without one."""
    return clock(steps) if clock is not None else np.asarray(steps)


def positive(series: pd.DataFrame) -> pd.DataFrame:
    """The points of a series above 0 (what a log axis can show)."""
    return series[series["value"] > 0]


def step_values(series: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """A series' steps and its values (as floats), ready to plot or downsample."""
    return series["step"].to_numpy(), series["value"].to_numpy(dtype=np.float64)
