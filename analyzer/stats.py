"""Statistical helpers for the detectors; every test returns a named result.

All helpers are O(n) or O(n log n): series longer than a bound are first reduced to
at most ``max_points`` equal-count blocks (block medians), so rank tests such as
Mann–Kendall (Kendall's tau counted pairwise for m ≤ 160, else ``scipy.stats.kendalltau``,
O(m log m)) and Theil–Sen (``scipy.stats.theilslopes``, O(m²) — hence m ≤ 512 → ≤ 131k
pair slopes) run on
bounded inputs. Block medians keep the trend exactly (up to within-block curvature)
and shrink white noise by √(block size), so the reduction loses power only where
the series is already long enough to have plenty of it.

Autocorrelation: minibatch losses are positively autocorrelated (AR(1) noise, smoothed
logging). Rank and OLS tests assume independent errors and become anti-conservative
under positive autocorrelation, so :func:`trend_test` and :func:`equivalence_test`
shrink the sample to an effective size ``n_eff = n (1 - r1) / (1 + r1)`` where ``r1``
is the lag-1 autocorrelation of the detrended residuals (the AR(1) variance-inflation
correction, as in Hamed & Rao's modified Mann–Kendall test, first-order only).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
from scipy import special, stats

#: Upper bound on points fed to any O(m²) or rank computation.
MAX_POINTS = 512
#: Up to this many points Kendall's tau is counted pairwise (O(m²) but ~10x faster than
#: ``scipy.stats.kendalltau``'s fixed overhead); beyond it, scipy's O(m log m).
PAIRWISE_TAU_POINTS = 160


class Reduced(NamedTuple):
    """A series reduced to block medians (``steps``/``values``) and block sizes."""

    steps: np.ndarray
    values: np.ndarray
    size: int  # points per block (1 = not reduced)


class TrendResult(NamedTuple):
    """Mann–Kendall trend test with Theil–Sen slope (autocorrelation-corrected)."""

    tau: float
    z: float
    p_increase: float  # one-sided p-value for an increasing trend
    p_decrease: float  # one-sided p-value for a decreasing trend
    slope: float  # Theil–Sen slope per step
    intercept: float
    n: int
    n_eff: float
    r1: float  # lag-1 autocorrelation of the residuals


class EquivalenceResult(NamedTuple):
    """TOST equivalence test: is the change over the window within ±margin?"""

    change: float  # OLS slope × window length
    se: float
    margin: float
    p_value: float  # TOST: small → the change is demonstrably within ±margin
    p_decrease: float  # one-sided p-value for "the change is negative"
    df: float
    p_no_gain: float = 1.0  # non-inferiority: small → the change is demonstrably > −margin


class TurningPointResult(NamedTuple):
    """Turning-point (sign-flip) test against independent noise."""

    flip_rate: float  # share of consecutive non-zero differences that change sign
    z: float
    p_excess: float  # one-sided p-value for more flips than i.i.d. noise (2/3)
    n: int


def finite_xy(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float arrays of the finite points only (steps kept in the given order); the inputs
    themselves when every point is finite, so callers must not modify them in place."""
    x = np.asarray(steps, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.all():  # the usual case: no copies of long series
        return x, y
    return x[ok], y[ok]


def sorted_finite(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The finite points sorted by step (stable; no sort or copy when already in order)."""
    x, y = finite_xy(steps, values)
    if len(x) > 1 and bool(np.any(x[1:] < x[:-1])):
        o = np.argsort(x, kind="stable")
        x, y = x[o], y[o]
    return x, y


def reduce_blocks(steps: np.ndarray, values: np.ndarray, max_points: int = MAX_POINTS) -> Reduced:
    """Block medians of equal-count blocks so that at most ``max_points`` remain (O(n))."""
    x = np.asarray(steps, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    n = len(y)
    if n <= max_points:
        return Reduced(x, y, 1)
    size = math.ceil(n / max_points)
    m = n // size
    cut = m * size
    # Keep the newest points: drop the remainder at the start.
    xs = x[n - cut :].reshape(m, size)
    ys = y[n - cut :].reshape(m, size)
    return Reduced(xs.mean(axis=1), np.median(ys, axis=1), size)


def robust_scale(values: np.ndarray) -> float:
    """MAD × 1.4826 (a normal-consistent standard deviation), 0 for < 2 points."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(v - np.median(v))))


def diff_noise(values: np.ndarray) -> float:
    """Noise sd from first differences: MAD(Δy − median Δy) × 1.4826 / √2.

    Robust to a smooth trend and to single spikes; 0 for < 3 points.
    """
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 3:
        return 0.0
    return robust_scale(np.diff(v)) / math.sqrt(2.0)


def curvature_noise(values: np.ndarray) -> float:
    """Noise sd from second differences: MAD(Δ²y − median Δ²y) × 1.4826 / √6.

    Unlike :func:`diff_noise` it is not inflated where the slope changes (a curve that
    falls fast, then turns up); 0 for < 4 points.
    """
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 4:
        return 0.0
    return robust_scale(np.diff(v, 2)) / math.sqrt(6.0)


def undone_ascent(y: np.ndarray) -> float:
    """Total rise of ``y`` that is given back: ``Σ max(Δy, 0) − (y_end − min y)``.

    0 for a curve that only falls, only rises, or falls and then rises (a U: the rise
    from the minimum is kept); the sum of the round trips when it goes up and back down.
    """
    if len(y) < 2:
        return 0.0
    return float(max(np.sum(np.maximum(np.diff(y), 0.0)) - (y[-1] - np.min(y)), 0.0))


def bounce(values: np.ndarray) -> float:
    """Mean undone ascent per step, :func:`undone_ascent` / (n − 1).

    In log space for a positive series (relative moves), else relative to the median
    absolute level. ~0 for a monotone or U-shaped curve (falling, rising, falling then
    rising), large when the values go up and come back down. 0 for < 3 points.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 3:
        return 0.0
    if np.min(v) > 0:
        y = np.log(v)
    else:
        scale = float(np.median(np.abs(v)))
        if scale == 0.0:
            return 0.0
        y = v / scale
    return undone_ascent(y) / (len(y) - 1)


def opening_and_end(values: np.ndarray, opening_div: int) -> tuple[float, float]:
    """Medians of a series' opening (its first ``len // opening_div`` points, at least
    one) and of its end (its last tenth, at least one point)."""
    n = len(values)
    opening = float(np.median(values[: max(1, n // opening_div)]))
    return opening, float(np.median(values[-max(1, n // 10) :]))


def rolling_median(values: np.ndarray, window: int) -> np.ndarray:
    """Centred rolling median (window shrinks at the ends); O(n log w) via pandas."""
    import pandas as pd

    v = np.asarray(values, dtype=np.float64)
    w = max(1, int(window))
    if w <= 1 or len(v) < 3:
        return v.copy()
    if (
        len(v) * w <= SMALL_ROLLING
        and w <= len(v)
        and bool(np.isfinite(v).all())
        and not bool((v == 0.0).any())
    ):  # ±0 compare equal: pandas' pick of one
        return _small_rolling_median(v, w)
    return pd.Series(v).rolling(w, center=True, min_periods=1).median().to_numpy()


#: Up to this many window cells (points × window) :func:`rolling_median` runs in numpy:
#: pandas' fixed cost (~150 µs a call) is most of a small run's smoothing otherwise.
SMALL_ROLLING = 50_000


def _small_rolling_median(v: np.ndarray, w: int) -> np.ndarray:
    """:func:`rolling_median` of finite ``v`` (``w ≤ len(v)``) without pandas, the same
    numbers: the window of point ``i`` is ``[i − w//2, i − w//2 + w)`` cut to the series,
    and an even count's median is the mean of its two middle values, as pandas takes it."""
    n, lead = len(v), w // 2
    out = np.empty(n)
    windows = np.lib.stride_tricks.as_strided(
        v, (n - w + 1, w), (v.strides[0],) * 2, writeable=False
    )
    full = np.sort(windows, axis=1)  # the window starting at j is point j + lead's
    out[lead : n - w + 1 + lead] = (
        full[:, w // 2] if w % 2 else (full[:, w // 2 - 1] + full[:, w // 2]) / 2
    )
    vals = v.tolist()
    for i in (*range(lead), *range(n - w + 1 + lead, n)):  # windows cut by an end
        cut = sorted(vals[max(0, i - lead) : min(n, i - lead + w)])
        k = len(cut)
        out[i] = cut[k // 2] if k % 2 else (cut[k // 2 - 1] + cut[k // 2]) / 2
    return out


def lag1_autocorr(resid: np.ndarray) -> float:
    """Lag-1 autocorrelation, clipped to [0, 0.95] (negative → no correction)."""
    r = np.asarray(resid, dtype=np.float64)
    if len(r) < 4:
        return 0.0
    with np.errstate(all="ignore"):
        r = r - _mean(r)
        den = float(np.dot(r, r))
        if not (math.isfinite(den) and den > 0.0):
            return 0.0
        v = float(np.dot(r[:-1], r[1:]) / den)
    return min(max(v, 0.0), 0.95) if math.isfinite(v) else 0.0  # np.clip's numbers, -0.0 kept


def _mean(a: np.ndarray) -> np.float64:
    """``a.mean()`` of a 1-d float64 array, the same number without ``ndarray.mean``'s
    Python-level overhead (the same pairwise sum, divided by the count)."""
    return np.add.reduce(a) / len(a)


def _n_eff(n: int, r1: float) -> float:
    return max(2.0, n * (1.0 - r1) / (1.0 + r1))


@functools.lru_cache(maxsize=PAIRWISE_TAU_POINTS + 1)
def _upper(n: int) -> np.ndarray:
    """The mask of the strict upper triangle of an ``n × n`` matrix (cached: read-only)."""
    mask = np.triu(np.ones((n, n), dtype=bool), 1)
    mask.flags.writeable = False
    return mask


def tau_vs_order(y: np.ndarray) -> float:
    """Kendall's tau-b of ``y`` against its index (NaN when ``y`` is constant)."""
    n = len(y)
    if n > PAIRWISE_TAU_POINTS:
        return float(stats.kendalltau(np.arange(n), y).statistic)
    s = float(np.sign(y[None, :] - y[:, None])[_upper(n)].sum())  # integers: exact
    ys = np.sort(y)
    if not np.isfinite(ys[-1]) or not np.isfinite(ys[0]):  # NaN: np.unique's grouping
        _, counts = np.unique(y, return_counts=True)
    else:  # the same tie counts as np.unique (runs of equal sorted values)
        cuts = np.flatnonzero(ys[1:] != ys[:-1]) + 1
        counts = np.diff(np.concatenate(([0], cuts, [n])))
    pairs = n * (n - 1) / 2.0
    tied = float(np.dot(counts, counts - 1)) / 2.0
    den = math.sqrt(pairs * (pairs - tied))
    return s / den if den > 0 else math.nan


def trend_test(
    steps: np.ndarray, values: np.ndarray, max_points: int = MAX_POINTS, slope: bool = True
) -> TrendResult:
    """Mann–Kendall (via ``kendalltau`` on step order) + Theil–Sen, on ≤ ``max_points``.

    The normal approximation of Kendall's tau, Var(tau) = 2(2n+5)/(9n(n−1)), is
    evaluated at the effective sample size to account for AR(1) residuals (lag-1
    autocorrelation of the OLS residuals). ``slope=False`` skips Theil–Sen (O(m²))
    and reports the OLS slope instead.
    """
    x, y = finite_xy(steps, values)
    red = reduce_blocks(x, y, max_points)
    x, y = red.steps, red.values
    n = len(y)
    if n < 4 or np.maximum.reduce(y) - np.minimum.reduce(y) == 0.0:  # np.ptp(y) == 0
        return TrendResult(0.0, 0.0, 0.5, 0.5, 0.0, float(_mean(y)) if n else 0.0, n, float(n), 0.0)
    tau = tau_vs_order(y)
    if not math.isfinite(tau):
        tau = 0.0
    x_mean, y_mean = _mean(x), _mean(y)
    xc = x - x_mean
    b_ols = float(np.dot(xc, y - y_mean) / max(float(np.dot(xc, xc)), 1e-300))
    r1 = lag1_autocorr(y - y_mean - b_ols * xc)
    if slope:
        ts = stats.theilslopes(y, x)
        b, intercept = float(ts.slope), float(ts.intercept)
    else:
        b, intercept = b_ols, float(y_mean - b_ols * x_mean)
    ne = _n_eff(n, r1)
    var = 2.0 * (2.0 * ne + 5.0) / (9.0 * ne * (ne - 1.0))
    z = tau / math.sqrt(var)
    return TrendResult(
        tau, z, float(special.ndtr(-z)), float(special.ndtr(z)), b, intercept, n, ne, r1
    )


def equivalence_test(
    steps: np.ndarray, values: np.ndarray, margin: float, max_points: int = MAX_POINTS
) -> EquivalenceResult:
    """Two one-sided tests (TOST) that the OLS change over the window lies in ±margin.

    The standard error is inflated for AR(1) residuals (effective sample size) and
    the t distribution uses ``n_eff − 2`` degrees of freedom.
    """
    x, y = finite_xy(steps, values)
    red = reduce_blocks(x, y, max_points)
    x, y = red.steps, red.values
    n = len(y)
    if n < 4 or not (margin > 0.0) or np.maximum.reduce(x) - np.minimum.reduce(x) == 0.0:
        return EquivalenceResult(0.0, math.inf, float(margin), 1.0, 0.5, 0.0)
    y_mean = _mean(y)
    xc = x - _mean(x)
    sxx = float(np.dot(xc, xc))
    slope = float(np.dot(xc, y - y_mean) / sxx)
    resid = y - y_mean - slope * xc
    r1 = lag1_autocorr(resid)
    ne = _n_eff(n, r1)
    s2 = float(np.dot(resid, resid)) / max(n - 2, 1)
    se_slope = math.sqrt(s2 / sxx) * math.sqrt(n / ne)
    span = float(x[-1] - x[0])
    change, se = slope * span, se_slope * span
    df = max(ne - 2.0, 1.0)
    if se == 0.0:
        p = 0.0 if abs(change) < margin else 1.0
        return EquivalenceResult(
            change,
            0.0,
            float(margin),
            p,
            0.0 if change < 0 else 1.0,
            df,
            0.0 if change > -margin else 1.0,
        )
    p_low = float(special.stdtr(df, -(change + margin) / se))  # H0: change <= -margin
    p_high = float(special.stdtr(df, (change - margin) / se))  # H0: change >= +margin
    p_dec = float(special.stdtr(df, change / se))
    return EquivalenceResult(change, se, float(margin), max(p_low, p_high), p_dec, df, p_low)


def turning_point_test(values: np.ndarray) -> TurningPointResult:
    """Sign flips of the first differences vs i.i.d. noise (expected share 2/3).

    Ties (zero differences, e.g. rounded logs) are dropped. Number of turning points
    T among N differences: mean 2(N−1)/3, variance (16N−13)/90 (the classical
    turning-point test with N+1 values). A smooth trend or positive autocorrelation
    lowers T, so the one-sided "excess" test stays conservative for them; period-2
    bouncing (an LR too large for the curvature) drives the share towards 1.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    d = np.diff(v)
    d = d[d != 0.0]
    nd = len(d)
    if nd < 3:
        return TurningPointResult(float("nan"), 0.0, 1.0, nd)
    s = np.signbit(d)
    flips = int(np.count_nonzero(s[1:] != s[:-1]))
    n_vals = nd + 1
    mean = 2.0 * (n_vals - 2) / 3.0
    var = (16.0 * n_vals - 29.0) / 90.0
    z = (flips - mean) / math.sqrt(var)
    return TurningPointResult(flips / (nd - 1), z, float(special.ndtr(-z)), nd)


def bonferroni(p: float, k: int) -> float:
    """``min(1, p·k)``."""
    return float(min(1.0, p * max(1, k)))


def confidence(p_adjusted: float, effect: float, threshold: float) -> float:
    """Confidence in [0, 1]: (1 − adjusted p) × how far the effect clears its threshold.

    ``effect / threshold`` = 1 gives 0.5, 2 gives 0.75, growing towards 1.
    """
    if not (threshold > 0) or not math.isfinite(effect):
        margin = 1.0
    else:
        ratio = max(effect / threshold, 0.0)
        margin = 1.0 - 1.0 / (1.0 + ratio)  # = ratio / (1 + ratio), and 1 when ratio overflows
    c = (1.0 - min(max(p_adjusted, 0.0), 1.0)) * margin
    return float(min(max(c, 0.0), 1.0))
