"""Recognise a learning-rate schedule from its logged values.

Names: ``constant``, ``linear``, ``cosine``, ``exponential``, ``step``,
``reduce_on_plateau``, ``one_cycle`` (a rise over ≥ 20 % of the run, then a decay),
``unknown``; a warm-up (a rise to the peak; with a later decay it must take < 20 %
of the run, else it is one-cycle) is reported
separately in ``warmup_steps`` so "warmup + cosine" is ``name="cosine",
warmup_steps>0``.

Method: relative spread < 5 % → constant. Otherwise find the peak; the post-peak part
is piecewise constant (≥ 70 % of relative changes < 1e-4) → ``step`` when the drops
are evenly spaced (CV of intervals < 0.25) with ≤ 2 distinct factors, else
``reduce_on_plateau``; smooth decays are fitted as linear, cosine (both to the
observed final value) and exponential (linear in log LR), and the smallest RMSE on
the normalised curve wins. O(n) on ≤ 2048 points (longer series are subsampled).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .stats import finite_xy, sorted_finite


class Schedule(NamedTuple):
    name: str
    warmup_steps: int  # steps from the first LR log to the end of the warm-up (0: none)
    peak_lr: float | None
    peak_step: float | None
    final_lr: float | None
    collapse_step: float | None  # first step after the peak with LR ≤ 5 % of the peak
    decays: bool  # the LR ends ≤ 50 % of its peak
    first_step: float | None = None
    last_step: float | None = None

    @property
    def label(self) -> str:
        return ("warmup+" if self.warmup_steps > 0 else "") + self.name


UNKNOWN = Schedule("unknown", 0, None, None, None, None, False)


def lr_cut_step(
    lr: tuple[np.ndarray, np.ndarray] | None, after: float, level: float | None
) -> float | None:
    """First step after ``after`` where the LR is at most half of ``level`` (None if never)."""
    if lr is None or level is None or not level > 0:
        return None
    x, y = sorted_finite(*lr)
    below = np.flatnonzero((x > after) & (y <= 0.5 * level))
    return float(x[below[0]]) if len(below) else None


def lr_at(lr: tuple[np.ndarray, np.ndarray] | None, step: float) -> float | None:
    """The LR in force at ``step``: the last logged value at or before it; before the
    first logged value, that value — or, when the LR is still rising there (a warm-up
    logged sparsely), the straight line from 0 at step 0 to it."""
    if lr is None:
        return None
    x, y = sorted_finite(*lr)
    if len(x) == 0:
        return None
    i = int(np.searchsorted(x, step, side="right")) - 1
    if i < 0 and len(y) >= 2 and y[1] > y[0] > 0 and x[0] > 0 and step >= 0:
        return float(y[0] * step / x[0])
    return float(y[max(i, 0)])


def recognise(steps: np.ndarray, values: np.ndarray) -> Schedule:
    """The schedule of an LR series (``UNKNOWN`` when there is none)."""
    x, y = finite_xy(steps, values)
    ok = y >= 0
    x, y = x[ok], y[ok]
    n = len(y)
    if n == 0:
        return UNKNOWN
    o = np.argsort(x, kind="stable")
    x, y = x[o], y[o]
    if n > 2048:
        idx = np.unique(np.linspace(0, n - 1, 2048).astype(int))
        x, y = x[idx], y[idx]
        n = len(y)
    peak = float(y.max())
    if peak <= 0:
        return Schedule(
            "constant", 0, peak, float(x[0]), float(y[-1]), None, False, float(x[0]), float(x[-1])
        )
    ip = int(np.flatnonzero(y >= 0.999 * peak)[0])
    span = float(x[-1] - x[0]) or 1.0
    final = float(y[-1])
    low = y[ip:] <= 0.05 * peak
    collapse = float(x[ip + int(np.flatnonzero(low)[0])]) if low.any() else None
    decays = final <= 0.5 * peak
    peak_step, first, last = float(x[ip]), float(x[0]), float(x[-1])

    def schedule(name: str, warmup: int) -> Schedule:
        return Schedule(name, warmup, peak, peak_step, final, collapse, decays, first, last)

    if (peak - float(y.min())) <= 0.05 * peak:
        return schedule("constant", 0)
    rise_frac = (float(x[ip]) - float(x[0])) / span
    warm = ip > 0 and y[0] < 0.9 * peak
    if warm and rise_frac >= 0.2 and decays:
        return schedule("one_cycle", 0)
    warmup = int(x[ip] - x[0]) if warm else 0
    post_x, post_y = x[ip:], y[ip:]
    if len(post_y) < 3 or float(post_y.min()) >= 0.95 * peak:
        return schedule("constant", warmup)
    rel = np.abs(np.diff(post_y)) / peak
    if np.mean(rel < 1e-4) >= 0.7:
        jumps = np.flatnonzero(rel >= 1e-4)
        if len(jumps) >= 1:
            jx = post_x[jumps + 1]
            gaps = np.diff(np.concatenate([[post_x[0]], jx]))
            ratios = post_y[jumps + 1] / np.maximum(post_y[jumps], 1e-300)
            even = len(gaps) >= 2 and np.std(gaps) <= 0.25 * np.mean(gaps)
            few = len(np.unique(np.round(ratios, 2))) <= 2
            name = "step" if (even and few) or len(jumps) == 1 else "reduce_on_plateau"
            return schedule(name, warmup)
    t = (post_x - post_x[0]) / max(float(post_x[-1] - post_x[0]), 1e-12)
    u = post_y / peak
    ue = float(u[-1])
    fits = {
        "linear": 1.0 - (1.0 - ue) * t,
        "cosine": ue + (1.0 - ue) * 0.5 * (1.0 + np.cos(np.pi * t)),
    }
    if ue > 0:
        fits["exponential"] = np.exp(np.log(ue) * t)
    err = {k: float(np.sqrt(np.mean((u - v) ** 2))) for k, v in fits.items()}
    name = min(err, key=lambda k: err[k])
    if err[name] > 0.15:
        name = "unknown"
    return schedule(name, warmup)
