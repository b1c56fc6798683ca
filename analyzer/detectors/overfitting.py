"""Overfitting: validation loss turns up while the training loss still improves.

Algorithm
---------
1. Best validation point = the lowest finite value (the checkpoint one would keep);
   needs ≥ 2 evaluations after it and ≥ 4 in all.
2. Final level = median of the last k evaluations after the best (k = 3, or a third
   of them when there are ≥ 9): a single spike neither makes nor hides a rise.
3. Baseline = minimum of the rolling median (window w ≈ n/8, odd; none for n < 6).
   Noise σ = the smaller of 1.4826·MAD(Δval)/√2 and 1.4826·MAD(Δ²val)/√6 (first
   differences are inflated where the slope changes — a fast fall, then a rise —
   second differences where the val loss bounces; both ignore single spikes), floored at
   0.1 % of the level and — for 4–5 evaluations — at half the typical step size.
   The baseline is the minimum of ≈ n/w noisy block medians, so it sits low by
   selection alone: that bias, E[min of n/w normals]·σ_base (Blom's approximation,
   σ_base = 1.2533σ/√w), is subtracted before the one-sided t test
   z = (final − baseline − bias)/√(σ_base² + σ_final²), p < alpha.
4. Effect: rise ≥ ``overfitting.min_rise`` (1 %) of |best|. Severity warning at ≥
   ``overfitting.warning_rise`` (5 %), else info (a flat or barely rising tail is "stop
   soon", not a problem).
5. ``val_erratic``: the val loss also bounces (``bounce`` ≥ ``oscillation.val_bounce``, 2 %
   undone rise per evaluation): the weights are jumping too, so the suggestion lowers
   the LR as well as naming the checkpoint to keep.
6. With a training series: the training trend after the best step must not rise
   significantly (else the run is unstable: see ``train_rising`` in evidence; the
   analysis reports it as divergence). Gap growth (val − train) goes to evidence. A
   train loss that ends ≥ ``overfitting.train_jump`` (30 %) above its level at the best
   step while the gap grew by less than half the val rise rose too, significant trend
   or not (it jumped, then stayed): the val loss only followed it.

7. Sustained-rise path (when the test in 3 fails: a noisy or short val curve): the
   smoothed val loss (rolling median, ≥ 3) has had no new best over the last 30 % of
   the run, its later evaluations sit ≥ ``overfitting.warning_rise`` (5 %) and ≥ 2 standard
   errors above that best (median of ≥ 4), and the train loss gained ≥ 15 % since
   (needs a train series); ``evidence["path"] = "sustained"`` (else ``"significant"``).
8. Steady-rise path: from the best evaluation on (≥ 5 of them) every value is higher
   than the one before, with a Mann–Kendall increase: ``path = "steady"``, always
   info ("stop soon": too small for the test, too smooth to be noise).

Scale-free: ratios of differences and ranks only.

Known false-positive modes: very few evaluations (4–5) of a smooth curve that bottoms
early by chance; a noisy validation set with a single low outlier as "best" (then
the rise is real relative to that outlier but the σ floor keeps the test honest).
Known misses: val rising by less than its noise.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from ..findings import Finding, Severity
from ..stats import (
    bounce,
    confidence,
    curvature_noise,
    diff_noise,
    finite_xy,
    rolling_median,
    sorted_finite,
    trend_test,
)
from .params import DEFAULT_CONFIG, AnalysisConfig, quiet

#: Sustained-rise path: no new smoothed best over at least this share of the run …
SUSTAINED_FRAC = 0.3
#: … while the train loss gained at least this much (relative) since, and the later
#: median clears the best by this many standard errors of a median.
SUSTAINED_TRAIN_GAIN = 0.15
SUSTAINED_SE = 2.0


def _sustained_rise(
    x: np.ndarray,
    y: np.ndarray,
    w: int,
    noise: float,
    train_steps: np.ndarray | None,
    train_values: np.ndarray | None,
    config: AnalysisConfig,
) -> bool:
    """Overfitting by effect when the val loss is too noisy (or too short) for the test:
    the smoothed val loss (rolling median, ≥ 3) has not reached a new best over the last
    ``SUSTAINED_FRAC`` of the run, its later evaluations sit ≥ ``overfitting.warning_rise`` and
    ≥ ``SUSTAINED_SE`` standard errors (1.2533·``noise``/√m) above that best (median of m ≥ 4),
    and the train loss gained ≥ ``SUSTAINED_TRAIN_GAIN`` since — the model keeps
    fitting the training set and nothing of it generalises."""
    if train_steps is None or train_values is None or len(y) < 8:
        return False
    smooth = rolling_median(y, max(3, w))
    js = int(np.argmin(smooth))
    later = y[js + 1 :]
    span = float(x[-1] - x[0])
    if len(later) < 4 or span <= 0 or float(x[-1] - x[js]) < SUSTAINED_FRAC * span:
        return False
    base, above = float(smooth[js]), float(np.median(later))
    se = 1.2533 * noise / math.sqrt(len(later))
    if not (
        base > 0
        and above >= (1 + config.overfitting.warning_rise) * base
        and above - base >= SUSTAINED_SE * se
    ):
        return False
    tx, ty = finite_xy(train_steps, train_values)
    before, after = ty[tx <= x[js]], ty[tx > x[js]]
    if len(before) < 1 or len(after) < 2:
        return False
    t0 = float(np.median(before[-3:]))
    t1 = float(np.median(after[-max(1, len(after) // 5) :]))
    return t0 > 0 and (t0 - t1) / t0 >= SUSTAINED_TRAIN_GAIN


def _steady_rise(x: np.ndarray, y: np.ndarray, config: AnalysisConfig) -> bool:
    """From the best evaluation on, every one higher than the last and a Mann–Kendall
    increase (p < alpha): a small but steady climb, too smooth to be noise (info)."""
    return (
        len(y) >= 5
        and bool(np.all(np.diff(y) > 0))
        and trend_test(x, y, slope=False).p_increase < config.alpha
    )


def _jump(y: np.ndarray) -> float:
    """Median |Δ log val| between successive evaluations (0 without two positive ones):
    how far the val loss typically moves from one evaluation to the next."""
    y = y[y > 0]
    return float(np.median(np.abs(np.diff(np.log(y))))) if len(y) >= 3 else 0.0


def expected_min_z(n: int) -> float:
    """E[min of n standard normals] as a positive number (Blom)."""
    if n <= 1:
        return 0.0
    return float(-sps.norm.ppf((1 - 0.375) / (n + 0.25)))


@quiet
def detect_overfitting(
    val_steps: np.ndarray,
    val_values: np.ndarray,
    train_steps: np.ndarray | None = None,
    train_values: np.ndarray | None = None,
    config: AnalysisConfig = DEFAULT_CONFIG,
) -> list[Finding]:
    """Findings of kind ``overfitting`` (metric ``val_loss``)."""
    x, y = sorted_finite(val_steps, val_values)
    n = len(y)
    if n < 4 or np.ptp(y) == 0.0:
        return []
    ib = int(np.argmin(y))
    post = y[ib + 1 :]
    if len(post) < 2:
        return []
    best = float(y[ib])
    if best == 0.0:
        return []
    w = max(1, (n // 8) | 1) if n >= 6 else 1
    smooth = rolling_median(y, w) if w > 1 else y
    js = int(np.argmin(smooth))
    base = float(smooth[js])
    k = 3 if len(post) < 9 else len(post) // 3
    k = min(k, len(post), max(n - js - 1, 1))
    final = float(np.median(y[-k:]))
    rise = final - base
    rel = (final - best) / abs(best)
    if rel < config.overfitting.min_rise or rise <= 0:
        return []
    noise = min(diff_noise(y), curvature_noise(y))
    sigma = max(noise, 1e-3 * abs(best))
    if n <= 5:
        sigma = max(sigma, 0.5 * float(np.median(np.abs(np.diff(y)))))
    sd_base = 1.2533 * sigma / math.sqrt(w) if w > 1 else sigma
    bias = expected_min_z(max(n // w, 1)) * sd_base
    sd_final = (1.2533 if k > 2 else 1.0) * sigma / math.sqrt(k)
    with np.errstate(all="ignore"):
        z = float((rise - bias) / np.hypot(sd_base, sd_final))
    if not math.isfinite(z):
        return []
    p = float(sps.t.sf(z, max(n - 2, 1)))
    path = "significant"
    if p >= config.alpha:
        if _sustained_rise(x, y, w, noise, train_steps, train_values, config):
            path = "sustained"
        elif _steady_rise(x[ib:], y[ib:], config):
            path = "steady"
        else:
            return []
    val_bounce = bounce(y)
    ev: dict[str, float | int | str | None] = {
        "best_val_step": float(x[ib]),
        "best_val": best,
        "final_val": final,
        "baseline": base,
        "rise_pct": 100.0 * rel,
        "z": z,
        "p_value": p,
        "noise_sd": sigma,
        "evals_after_best": len(post),
        "val_bounce": val_bounce,
        "val_jump": _jump(y[ib:]),
        "path": path,
    }
    ev["val_erratic"] = 1.0 if float(val_bounce) >= config.oscillation.val_bounce else 0.0
    train_rising = False
    if train_steps is not None and train_values is not None:
        tx, ty = finite_xy(train_steps, train_values)
        sel = tx >= x[ib]
        if sel.sum() >= 4:
            t = trend_test(tx[sel], ty[sel])
            pre = ty[tx <= x[ib]]
            t_at_best = float(np.median(pre[-3:])) if len(pre) else float(ty[sel][0])
            t_end = float(np.median(ty[sel][-max(1, min(len(ty[sel]) // 5, 50)) :]))
            ev["train_slope_p_increase"] = t.p_increase
            ev["train_change_pct"] = (
                100.0 * (t_end - t_at_best) / abs(t_at_best) if t_at_best else None
            )
            gap_at_best, gap_end = best - t_at_best, final - t_end
            ev["gap_at_best"], ev["gap_end"] = gap_at_best, gap_end
            carried = gap_end - gap_at_best < 0.5 * (final - best)  # train rose with val
            train_rising = (
                t.p_increase < config.alpha
                and t_end > t_at_best * (1 + config.overfitting.warning_rise)
            ) or (carried and t_end > t_at_best * (1 + config.overfitting.train_jump) > 0)
        elif sel.sum() >= 2:
            pre = ty[tx <= x[ib]]
            t0 = float(pre[-1]) if len(pre) else float(ty[sel][0])
            t1 = float(ty[sel][-1])
            if t0:
                ev["train_change_pct"] = 100.0 * (t1 - t0) / abs(t0)
            train_rising = (
                t0 > 0
                and t1 > t0 * (1 + config.overfitting.warning_rise)
                and float(ty[sel].max()) > t0
            )
    ev["train_rising"] = 1.0 if train_rising else 0.0
    sev: Severity = (
        "warning" if rel >= config.overfitting.warning_rise and path != "steady" else "info"
    )
    conf = confidence(
        p, rel, config.overfitting.min_rise if sev == "info" else config.overfitting.warning_rise
    )
    msg = (
        f"Validation loss is {100 * rel:.1f}% above its best ({best:.4g} at step {int(x[ib])}) "
        f"over {len(post)} later evaluations while training continues: stop early at step {int(x[ib])}."
    )
    return [
        Finding(
            kind="overfitting",
            metric="val_loss",
            start_step=int(x[ib]),
            end_step=int(x[-1]),
            severity=sev,
            confidence=conf,
            evidence=ev,
            message=msg,
        )
    ]
