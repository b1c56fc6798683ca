"""False-alarm control on healthy runs and p-value calibration of the core tests.

200 seeded healthy series: noisy exponential/power-law descents with AR(1) noise,
lengths 50…5000, noise 0.5–10 %, constant/cosine/linear/warm-up schedules, scales
1e-4…1e3, with and without sparse evaluation. Every detector's warning/critical rate
must stay ≤ 5 % (the stated family-wise level is alpha = 1 % per detector and
series; the effect-size gates make the real rate lower still).
"""

from __future__ import annotations

import collections

import numpy as np
import pytest
from scipy import stats

from analyzer.analysis import analyze_series
from analyzer.stats import equivalence_test, trend_test, turning_point_test
from benchmarks import curves as S

N_SERIES = 200
LEVEL = 0.05


def healthy_case(i: int) -> S.Synthetic:
    rng = np.random.default_rng(10_000 + i)
    n = int(rng.choice([50, 100, 200, 500, 1000, 2000, 5000]))
    sched = str(rng.choice(["constant", "cosine", "linear", "warmup_cosine"]))
    warm = int(0.05 * n) if sched == "warmup_cosine" else 0
    sched = "cosine" if sched == "warmup_cosine" else sched
    ev = int(rng.choice([0, max(n // 20, 1), max(n // 10, 1)]))
    return S.healthy(
        n=n,
        seed=i,
        noise=float(rng.choice([0.005, 0.02, 0.05, 0.1])),
        ar=float(rng.uniform(0, 0.6)),
        shape=str(rng.choice(["exp", "power"])),
        schedule=sched,
        warmup=warm,
        scale=float(10 ** rng.uniform(-4, 3)),
        eval_every=ev,
    )


@pytest.fixture(scope="module")
def healthy_results():
    out = []
    for i in range(N_SERIES):
        s = healthy_case(i)
        val = (s.truth["val_steps"], s.truth["val_values"]) if "val_steps" in s.truth else None
        findings, _ = analyze_series((s.steps, s.values), val, (s.steps, s.lr))
        out.append(findings)
    return out


@pytest.mark.parametrize("kind", ["oscillation", "stagnation", "overfitting", "divergence"])
def test_false_alarm_rate_per_detector(healthy_results, kind: str) -> None:
    alarms = sum(any(f.kind == kind and f.severity != "info" for f in fs) for fs in healthy_results)
    assert alarms / N_SERIES <= LEVEL, f"{kind}: {alarms}/{N_SERIES} healthy runs flagged"


def test_false_alarm_rate_any_detector(healthy_results) -> None:
    alarms = sum(any(f.severity != "info" for f in fs) for fs in healthy_results)
    assert alarms / N_SERIES <= LEVEL, collections.Counter(
        f.kind for fs in healthy_results for f in fs if f.severity != "info"
    )


# --- p-value calibration under the null ------------------------------------------------


def test_mann_kendall_uniform_under_iid_null() -> None:
    rng = np.random.default_rng(1)
    p = [trend_test(np.arange(120.0), rng.standard_normal(120)).p_increase for _ in range(400)]
    assert stats.ks_1samp(p, stats.uniform.cdf).pvalue > 0.01


@pytest.mark.parametrize("phi", [0.3, 0.6])
def test_mann_kendall_ar1_correction_keeps_level(phi: float) -> None:
    rng = np.random.default_rng(2)
    p = np.array(
        [trend_test(np.arange(300.0), S.ar1(300, phi, rng)).p_increase for _ in range(300)]
    )
    assert np.mean(p < 0.05) <= 0.08
    assert np.mean(p < 0.01) <= 0.03


def test_equivalence_p_uniform_at_the_margin() -> None:
    """Under H0 exactly at the boundary (change = −margin) the non-inferiority p is uniform."""
    rng = np.random.default_rng(3)
    x = np.arange(200.0)
    margin = 0.5
    p = [
        equivalence_test(x, -margin * x / x[-1] + rng.standard_normal(200), margin).p_no_gain
        for _ in range(400)
    ]
    assert stats.ks_1samp(p, stats.uniform.cdf).pvalue > 0.01


def test_turning_point_test_level() -> None:
    rng = np.random.default_rng(4)
    p = np.array([turning_point_test(rng.standard_normal(500)).p_excess for _ in range(400)])
    assert np.mean(p < 0.05) <= 0.08
    assert stats.ks_1samp(p, stats.uniform.cdf).pvalue > 0.001  # discrete statistic
