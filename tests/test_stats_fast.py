"""The fast paths of analyzer.stats give bit-for-bit the numbers of the plain numpy/pandas
formulas they replace (issue 14 row 8: a small run's analysis is mostly these calls), on
random series with ties, plateaus, signed zeros, huge and tiny values."""

from __future__ import annotations

import math
import struct

import numpy as np
import pandas as pd
import pytest

from analyzer import stats


def _ref_rolling_median(values: np.ndarray, window: int) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    w = max(1, int(window))
    if w <= 1 or len(v) < 3:
        return v.copy()
    return pd.Series(v).rolling(w, center=True, min_periods=1).median().to_numpy()


def _ref_tau(y: np.ndarray) -> float:
    n = len(y)
    s = float(np.triu(np.sign(y[None, :] - y[:, None]), 1).sum())
    _, counts = np.unique(y, return_counts=True)
    pairs = n * (n - 1) / 2.0
    tied = float(np.dot(counts, counts - 1)) / 2.0
    den = math.sqrt(pairs * (pairs - tied))
    return s / den if den > 0 else math.nan


def _ref_lag1(resid: np.ndarray) -> float:
    r = np.asarray(resid, dtype=np.float64)
    if len(r) < 4:
        return 0.0
    with np.errstate(all="ignore"):
        r = r - r.mean()
        den = float(np.dot(r, r))
        if not (math.isfinite(den) and den > 0.0):
            return 0.0
        v = float(np.dot(r[:-1], r[1:]) / den)
    return float(np.clip(v, 0.0, 0.95)) if math.isfinite(v) else 0.0


def _ref_trend(steps: np.ndarray, values: np.ndarray, slope: bool) -> tuple[float, ...]:
    x, y = stats.finite_xy(steps, values)
    red = stats.reduce_blocks(x, y, stats.MAX_POINTS)
    x, y = red.steps, red.values
    n = len(y)
    if n < 4 or np.ptp(y) == 0.0:
        return (0.0, 0.0, 0.5, 0.5, 0.0, float(y.mean()) if n else 0.0, n, float(n), 0.0)
    tau = stats.tau_vs_order(y)
    tau = tau if math.isfinite(tau) else 0.0
    xc = x - x.mean()
    b_ols = float(np.dot(xc, y - y.mean()) / max(float(np.dot(xc, xc)), 1e-300))
    r1 = _ref_lag1(y - y.mean() - b_ols * xc)
    if slope:
        ts = stats.stats.theilslopes(y, x)
        b, intercept = float(ts.slope), float(ts.intercept)
    else:
        b, intercept = b_ols, float(y.mean() - b_ols * x.mean())
    ne = max(2.0, n * (1.0 - r1) / (1.0 + r1))
    var = 2.0 * (2.0 * ne + 5.0) / (9.0 * ne * (ne - 1.0))
    z = tau / math.sqrt(var)
    return (
        tau,
        z,
        float(stats.special.ndtr(-z)),
        float(stats.special.ndtr(z)),
        b,
        intercept,
        n,
        ne,
        r1,
    )


def _ref_equivalence(steps: np.ndarray, values: np.ndarray, margin: float) -> tuple[float, ...]:
    x, y = stats.finite_xy(steps, values)
    red = stats.reduce_blocks(x, y, stats.MAX_POINTS)
    x, y = red.steps, red.values
    n = len(y)
    if n < 4 or not (margin > 0.0) or np.ptp(x) == 0.0:
        return (0.0, math.inf, float(margin), 1.0, 0.5, 0.0, 1.0)
    xc = x - x.mean()
    sxx = float(np.dot(xc, xc))
    slope = float(np.dot(xc, y - y.mean()) / sxx)
    resid = y - y.mean() - slope * xc
    ne = max(2.0, n * (1.0 - (r1 := _ref_lag1(resid))) / (1.0 + r1))
    s2 = float(np.dot(resid, resid)) / max(n - 2, 1)
    se_slope = math.sqrt(s2 / sxx) * math.sqrt(n / ne)
    span = float(x[-1] - x[0])
    change, se = slope * span, se_slope * span
    df = max(ne - 2.0, 1.0)
    if se == 0.0:
        p = 0.0 if abs(change) < margin else 1.0
        return (
            change,
            0.0,
            float(margin),
            p,
            0.0 if change < 0 else 1.0,
            df,
            0.0 if change > -margin else 1.0,
        )
    p_low = float(stats.special.stdtr(df, -(change + margin) / se))
    p_high = float(stats.special.stdtr(df, (change - margin) / se))
    p_dec = float(stats.special.stdtr(df, change / se))
    return (change, se, float(margin), max(p_low, p_high), p_dec, df, p_low)


def _bits(values: object) -> list[bytes]:
    """Every float as its 8 bytes (so -0.0 ≠ 0.0 and NaN = NaN)."""
    flat = np.atleast_1d(np.asarray(values, dtype=np.float64)).ravel()
    return [struct.pack("<d", float(v)) for v in flat]


def _series(rng: np.random.Generator, n: int) -> np.ndarray:
    kind = rng.integers(6)
    if kind == 0:  # a falling loss with noise
        return 2 * np.exp(-np.arange(n) / (n / 4 + 1)) + 0.05 * rng.standard_normal(n)
    if kind == 1:  # rounded logs: many ties
        return np.round(rng.standard_normal(n), 1)
    if kind == 2:  # plateaus and signed zeros
        return rng.choice([0.0, -0.0, 1.0, 2.5], size=n)
    if kind == 3:  # huge and tiny magnitudes
        return rng.choice([1e300, -1e300, 1e-300, 3.0], size=n) * rng.random(n)
    if kind == 4:  # integers (step-like)
        return rng.integers(-5, 5, size=n).astype(np.float64)
    return rng.standard_normal(n) * 10.0 ** rng.integers(-8, 8)


@pytest.mark.parametrize("seed", range(40))
def test_fast_paths_match_the_plain_formulas(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for n in (3, 4, 5, 7, 10, 16, 40, 41, 120, 160):
        y = _series(rng, n)
        x = np.sort(rng.choice(np.arange(4 * n), size=n, replace=False)).astype(np.float64)
        for w in (2, 3, 4, 5, 8, n // 2, n, n + 3):
            assert _bits(stats.rolling_median(y, w)) == _bits(_ref_rolling_median(y, w)), (n, w)
        assert _bits(stats.tau_vs_order(y)) == _bits(_ref_tau(y)), n
        assert _bits(stats.lag1_autocorr(y)) == _bits(_ref_lag1(y)), n
        for slope in (False, True):
            got = stats.trend_test(x, y, slope=slope)
            assert _bits(got) == _bits(_ref_trend(x, y, slope)), (n, slope)
        for margin in (0.0, 0.05, 1.0):
            got = stats.equivalence_test(x, y, margin)
            assert _bits(got) == _bits(_ref_equivalence(x, y, margin)), (n, margin)


def test_edge_cases_match() -> None:
    for y in (
        [0.0, -0.0, 0.0, -0.0, 0.0],
        [1.0, 1.0, 1.0, 1.0],
        [np.nan, 1.0, 2.0, np.nan],
        [np.inf, 1.0, 2.0, 3.0],
        [-np.inf, np.inf, 0.0, 1.0, 2.0],
    ):
        arr = np.asarray(y, dtype=np.float64)
        for w in (2, 3, 4):
            assert _bits(stats.rolling_median(arr, w)) == _bits(_ref_rolling_median(arr, w))
        assert _bits(stats.tau_vs_order(arr)) == _bits(_ref_tau(arr))
        assert _bits(stats.lag1_autocorr(arr)) == _bits(_ref_lag1(arr))
