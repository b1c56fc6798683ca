"""Oscillation: the loss swings because the learning rate is too large.

Algorithm
---------
1. Robust trend: centred rolling median (window ≈ n/30, ≥ 6 points, *even* so that
   a period-2 bounce is not tracked by the median itself; series longer
   than 4096 points are first reduced to ≤ 4096 block medians and the trend is
   interpolated back), residuals ``r = y − trend``.
2. The run is cut into m ≤ 64 equal blocks (≥ 6 points each); per block the swing size
   ``s_j = 1.4826·MAD(r)`` and the sign-flip rate of the first differences.
   Block scales of AR(1) noise with moderate correlation are close to independent,
   which is what makes step 3 calibrated.
3. Growth path (oscillation with an onset): for ≤ 16 candidate onsets k on a fixed
   grid, a one-sided Mann–Whitney test ``s[k:] > s[:k]``; Bonferroni over candidates
   and the two paths. A finding needs p_adj < alpha AND the median swing to grow by
   ``oscillation.scale_ratio`` (2×) AND the swings after the onset to be comparable to the
   trend's progress there: 2·swing ≥ ``oscillation.swing_to_progress`` (½)·progress when the
   swings bounce period-2 (flip share ≥ ``oscillation.flip_rate``, the signature of an LR past
   the curvature limit), ≥ ``oscillation.noise_swing_to_progress`` (1×)·progress when they flip
   like noise (~2/3): minibatch noise that grows relative to a still-descending loss
   is not oscillation until the swings are as large as the descent.
4. Bouncing path (too large from the start, period-2): turning-point test on the whole
   series (sign-flip share vs 2/3 for i.i.d. noise, one-sided excess), flip share ≥
   ``oscillation.flip_rate`` (0.8) and 2·swing ≥ ``oscillation.swing_to_progress``·progress over the
   whole run; the onset is the first block whose flip share, and the median over it
   and the next two blocks, reach 0.8.
5. Onset step = first block from which the swings stay above the geometric midpoint
   of the scales on both sides of the best split (the minimum-p split lags a swing
   that grows gradually); ``lr_at_onset`` from the LR series there.

Thresholds: alpha (0.01 family-wise), swing growth 2×, 2·swing ≥ ½ progress (1× for
noise-like swings),
bouncing flip share 0.8. All statistics are scale-free (ratios, ranks, signs), so
multiplying the loss by a positive constant leaves the findings unchanged.

Known false-positive modes: a healthy run whose minibatch noise genuinely grows (e.g.
batch size cut mid-run, curriculum switching to harder data) looks like onset; a
sharp LR warmup drop makes large residuals near the drop (this only makes the
*before* part noisier, i.e. the test conservative). Known misses: slow oscillation
with a period longer than the trend window is absorbed by the trend. (The validation
loss's own path is :mod:`.val_oscillation`.)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats as sps

from ..findings import Finding, MetricRole
from ..schedule import lr_at
from ..stats import (
    bonferroni,
    confidence,
    finite_xy,
    reduce_blocks,
    rolling_median,
    turning_point_test,
)
from .params import DEFAULT_CONFIG, AnalysisConfig, quiet

MAX_TREND_POINTS = 4096
MAX_BLOCKS = 64
MIN_BLOCK = 6
MAX_CANDIDATES = 16


def _trend(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    n = len(y)
    if n > MAX_TREND_POINTS:
        red = reduce_blocks(x, y, MAX_TREND_POINTS)
        w = max(6, 2 * (len(red.values) // 60))
        t = rolling_median(red.values, w)
        return np.interp(x, red.steps, t)
    w = max(6, 2 * (n // 60))
    return rolling_median(y, w)


def _block_stats(
    y: np.ndarray, r: np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    n = len(r)
    size = n // m
    start = n - m * size
    rb = r[start:].reshape(m, size)
    med = np.median(rb, axis=1, keepdims=True)
    scale = 1.4826 * np.median(np.abs(rb - med), axis=1)
    d = np.diff(y[start:]).astype(np.float64)
    sgn = np.sign(d)
    flip = np.zeros(len(sgn), dtype=np.float64)
    both = (sgn[1:] != 0) & (sgn[:-1] != 0)
    flip[1:] = np.where(both & (sgn[1:] != sgn[:-1]), 1.0, 0.0)
    valid = np.zeros(len(sgn), dtype=np.float64)
    valid[1:] = both.astype(np.float64)
    pad = m * size - len(flip)
    flip = np.concatenate([np.zeros(pad), flip]).reshape(m, size).sum(axis=1)
    valid = np.concatenate([np.zeros(pad), valid]).reshape(m, size).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(valid > 0, flip / np.maximum(valid, 1), np.nan)
    return scale, rate, valid, start


def _refine_onset(scale: np.ndarray, k: int) -> int:
    """First block from which the swings stay above the geometric midpoint of the two
    sides of the best split (the minimum-p split lags a gradually growing swing)."""
    lo = float(np.median(scale[:k]))
    hi = float(np.median(scale[k:]))
    thr = math.sqrt(max(lo, 1e-300) * hi)
    m = len(scale)
    for j in range(1, k + 1):
        win = scale[j : min(j + 3, m)]
        if scale[j] > thr and float(np.median(win)) > thr and float(np.median(scale[j:])) > thr:
            return j
    return k


def _flip_share(rate: np.ndarray, valid: np.ndarray) -> float:
    tot = float(valid.sum())
    if tot <= 0:
        return float("nan")
    return float(np.nansum(rate * valid) / tot)


@quiet
def detect_oscillation(
    steps: np.ndarray,
    values: np.ndarray,
    lr: tuple[np.ndarray, np.ndarray] | None = None,
    metric: MetricRole = "train_loss",
    config: AnalysisConfig = DEFAULT_CONFIG,
) -> list[Finding]:
    """Findings of kind ``oscillation`` for one loss series (``lr`` = (steps, values))."""
    x, y = finite_xy(steps, values)
    n = len(y)
    if n < config.oscillation.min_points or np.ptp(y) == 0.0:
        return []
    trend = _trend(x, y)
    r = y - trend
    m = int(min(MAX_BLOCKS, n // MIN_BLOCK))
    if m < 4:
        return []
    scale, rate, valid, start = _block_stats(y, r, m)
    size = n // m
    block_first = x[start + np.arange(m) * size]
    k_lo, k_hi = max(2, m // 8), m - max(2, m // 8)
    cands = np.unique(
        np.linspace(k_lo, k_hi, num=min(MAX_CANDIDATES, max(k_hi - k_lo + 1, 1))).astype(int)
    )
    n_tests = len(cands) + 1
    best: tuple[float, int, float] | None = None  # (p_adj, k, ratio)
    for k in cands:
        before, after = scale[:k], scale[k:]
        mb, ma = float(np.median(before)), float(np.median(after))
        if ma <= 0:
            continue
        ratio = ma / mb if mb > 0 else math.inf
        if ratio < config.oscillation.scale_ratio:
            continue
        p = float(sps.mannwhitneyu(after, before, alternative="greater").pvalue)
        pa = bonferroni(p, n_tests)
        if best is None or pa < best[0] or (pa == best[0] and k < best[1]):
            best = (pa, int(k), ratio)

    hit: tuple[float, _Stats] | None = None  # (onset, what the finding cites)
    if best is not None and best[0] < config.alpha:
        pa, k, ratio = best
        k = _refine_onset(scale, k)
        i0 = start + k * size
        progress = float(trend[i0] - trend[-1])
        swing = float(np.median(scale[k:]))
        s2p = 2.0 * swing / progress if progress > 0 else math.inf
        flips_after = _flip_share(rate[k:], valid[k:])
        need = (
            config.oscillation.swing_to_progress
            if flips_after >= config.oscillation.flip_rate
            else config.oscillation.noise_swing_to_progress
        )
        if s2p >= need:
            flips_before = _flip_share(rate[:k], valid[:k])
            stats = _Stats(pa, ratio, s2p, flips_after, flips_before, swing, "growth")
            hit = (float(block_first[k]), stats)
    if hit is None:
        tp = turning_point_test(y)
        progress = float(trend[0] - trend[-1])
        swing = float(np.median(scale))
        s2p = 2.0 * swing / progress if progress > 0 else math.inf
        pa = bonferroni(tp.p_excess, n_tests)
        if (
            pa < config.alpha
            and tp.flip_rate >= config.oscillation.flip_rate
            and s2p >= config.oscillation.swing_to_progress
        ):
            j0 = 0
            for j in range(m):
                if (
                    rate[j] >= config.oscillation.flip_rate
                    and np.nanmedian(rate[j : j + 3]) >= config.oscillation.flip_rate
                ):
                    j0 = j
                    break
            stats = _Stats(pa, 1.0, s2p, tp.flip_rate, float("nan"), swing, "bouncing")
            hit = (float(block_first[j0]), stats)
    if hit is None:
        return []
    onset, stats = hit
    return [_finding(metric, onset, float(x[-1]), stats, lr_at(lr, onset), config)]


class _Stats(NamedTuple):
    """What an oscillation finding cites (``path``: ``growth`` or ``bouncing``)."""

    p_adj: float
    ratio: float
    s2p: float
    flips_after: float
    flips_before: float
    swing: float
    path: str


def _finding(
    metric: MetricRole,
    onset: float,
    end: float,
    st: _Stats,
    lr_onset: float | None,
    config: AnalysisConfig,
) -> Finding:
    p_adj, ratio, s2p, flips_after, flips_before, swing, path = st
    if path == "growth":
        conf = confidence(p_adj, ratio, config.oscillation.scale_ratio)
        what = f"loss swings grew {ratio:.1f}× from step {int(onset)}"
    else:
        conf = confidence(p_adj, flips_after, config.oscillation.flip_rate)
        what = f"loss bounces step to step ({flips_after:.0%} sign flips) from the start"
    lr_txt = f" (LR {lr_onset:.3g} there)" if lr_onset is not None else ""
    evidence = {
        "onset_step": float(onset),
        "p_value": float(p_adj),
        "scale_ratio": float(ratio),
        "swing_to_progress": float(min(s2p, 1e9)),
        "sign_flip_rate": float(flips_after),
        "sign_flip_rate_before": float(flips_before),
        "swing_scale": float(swing),
        "lr_at_onset": lr_onset,
        "path": path,
    }
    return Finding(
        kind="oscillation",
        metric=metric,
        start_step=int(onset),
        end_step=int(end),
        severity="warning",
        confidence=conf,
        evidence=evidence,
        message=f"The {what}{lr_txt}, larger than the trend's progress: lower the learning rate.",
    )
