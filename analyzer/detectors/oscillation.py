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
with a period longer than the trend window is absorbed by the trend.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from ..findings import Finding
from ..schedule import lr_at
from ..stats import (
    bonferroni,
    confidence,
    finite_xy,
    reduce_blocks,
    rolling_median,
    sorted_finite,
    trend_test,
    turning_point_test,
    undone_ascent,
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


def _block_stats(y: np.ndarray, r: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
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
        win = scale[j:min(j + 3, m)]
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
    metric: str = "train_loss",
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
    cands = np.unique(np.linspace(k_lo, k_hi, num=min(MAX_CANDIDATES, max(k_hi - k_lo + 1, 1))).astype(int))
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

    found: list[Finding] = []
    if best is not None and best[0] < config.alpha:
        pa, k, ratio = best
        k = _refine_onset(scale, k)
        i0 = start + k * size
        progress = float(trend[i0] - trend[-1])
        swing = float(np.median(scale[k:]))
        s2p = 2.0 * swing / progress if progress > 0 else math.inf
        flips_after = _flip_share(rate[k:], valid[k:])
        need = (config.oscillation.swing_to_progress if flips_after >= config.oscillation.flip_rate
                else config.oscillation.noise_swing_to_progress)
        if s2p >= need:
            onset = float(block_first[k])
            flips_before = _flip_share(rate[:k], valid[:k])
            found.append(_finding(metric, onset, float(x[-1]), pa, ratio, s2p, flips_after,
                                  flips_before, swing, lr_at(lr, onset), config, "growth"))
    if not found:
        tp = turning_point_test(y)
        progress = float(trend[0] - trend[-1])
        swing = float(np.median(scale))
        s2p = 2.0 * swing / progress if progress > 0 else math.inf
        pa = bonferroni(tp.p_excess, n_tests)
        if (pa < config.alpha and tp.flip_rate >= config.oscillation.flip_rate
                and s2p >= config.oscillation.swing_to_progress):
            j0 = 0
            for j in range(m):
                if rate[j] >= config.oscillation.flip_rate and np.nanmedian(rate[j:j + 3]) >= config.oscillation.flip_rate:
                    j0 = j
                    break
            onset = float(block_first[j0])
            found.append(_finding(metric, onset, float(x[-1]), pa, 1.0, s2p, tp.flip_rate,
                                  float("nan"), swing, lr_at(lr, onset), config, "bouncing"))
    return found


def _finding(metric: str, onset: float, end: float, p_adj: float, ratio: float, s2p: float,
             flips_after: float, flips_before: float, swing: float, lr_onset: float | None,
             config: AnalysisConfig, path: str) -> Finding:
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
        kind="oscillation", metric=metric,  # type: ignore[arg-type]
        start_step=int(onset), end_step=int(end),
        severity="warning", confidence=conf, evidence=evidence,
        message=f"The {what}{lr_txt}, larger than the trend's progress: lower the learning rate.",
    )


#: Windows (fractions of the evaluations) scanned by :func:`detect_val_oscillation`:
#: an early instability that settles, a late one, and the whole run.
VAL_WINDOWS = ((0.0, 0.4), (0.5, 1.0), (0.0, 1.0))
VAL_MIN_POINTS = 8
#: More evaluations than this (a val loss logged every step, often on a random batch)
#: are reduced to as many block medians: sampling noise averages out, bouncing weights
#: (swings that last for several evaluations) stay.
VAL_MAX_POINTS = 128


def _went_nowhere(values: np.ndarray, ratio: float) -> bool:
    """Whether the last tenth's median is ≥ ``ratio`` × the first tenth's (positive)."""
    v = values[np.isfinite(values)]
    k = max(3, len(v) // 10)
    if len(v) < 2 * k:
        return True
    first = float(np.median(v[:k]))
    return first > 0 and float(np.median(v[-k:])) >= ratio * first


def _lr_step_down(lr: tuple[np.ndarray, np.ndarray] | None, after: float,
                  level: float | None) -> float | None:
    """First step after ``after`` where the LR is at most half of ``level`` (None if never)."""
    if lr is None or level is None or not level > 0:
        return None
    x, y = sorted_finite(*lr)
    below = np.flatnonzero((x > after) & (y <= 0.5 * level))
    return float(x[below[0]]) if len(below) else None


def _jump_onset(logv: np.ndarray, i0: int, i1: int) -> int:
    """Where the moves of ``logv[i0:i1]`` get large: the CUSUM change point of |Δ|
    (``argmax |S_k − k·S_n/n|``), kept only when the mean |Δ| after it is ≥ 2× the
    mean before; else ``i0`` (erratic from the start of the span)."""
    a = np.abs(np.diff(logv[i0:i1]))
    m = len(a)
    if m < 4:
        return i0
    c = np.cumsum(a)
    k = np.arange(1, m + 1)
    j = int(np.argmax(np.abs(c - k * c[-1] / m)[:-1])) + 1  # moves a[:j] before, a[j:] after
    before, after = float(a[:j].mean()), float(a[j:].mean())
    return i0 + j if after >= 2.0 * before else i0


def _clear_best(x: np.ndarray, y: np.ndarray, config: AnalysisConfig) -> float | None:
    """The step of the lowest val loss when every later evaluation (≥ 2) is at least
    ``overfitting.warning_rise`` above it: a checkpoint worth keeping, not a lucky dip."""
    if len(y) < 3:
        return None
    ib = int(np.argmin(y))
    later = y[ib + 1:]
    if len(later) < 2 or not y[ib] > 0 or float(later.min()) < (1 + config.overfitting.warning_rise) * y[ib]:
        return None
    return float(x[ib])


def _erratic(st: dict[str, float], train_stuck: bool, config: AnalysisConfig) -> bool:
    """The window tests of the main path: bounce, back-and-forth, and a level well above
    the best so far (or, with a train loss that went nowhere, not below the opening)."""
    return (st["bounce"] >= config.oscillation.val_bounce
            and st["back_and_forth"] >= config.oscillation.val_back_and_forth
            and (st["level_vs_best"] >= config.oscillation.val_level
                 or (st["level_vs_opening"] >= config.oscillation.val_stuck and train_stuck)))


def _val_to_train(x: np.ndarray, y: np.ndarray, i0: int, i1: int, tx: np.ndarray,
                  ty: np.ndarray) -> float:
    """Median val over evaluations ``i0:i1`` / median train over the same steps (NaN
    without train points there): ≥ 2 is a memorisation gap."""
    sel = (tx >= x[i0]) & (tx <= x[i1 - 1])
    if not sel.any():
        return math.nan
    t_med = float(np.median(ty[sel]))
    return float(np.median(y[i0:i1])) / t_med if t_med > 0 else math.inf


def _val_window_stats(vy: np.ndarray, i0: int, i1: int, opening: float) -> dict[str, float]:
    w = np.log(vy[i0:i1])
    net = float(w[-1] - w[0])
    undone = undone_ascent(w)
    median = float(np.median(w))
    return {
        "bounce": undone / (len(w) - 1),
        "back_and_forth": undone / max(abs(net), 1e-12),
        "level_vs_best": float(np.exp(median - np.min(np.log(vy[:i1])))),
        "level_vs_opening": float(np.exp(median) / opening),
    }


@quiet
def detect_val_oscillation(
    val_steps: np.ndarray,
    val_values: np.ndarray,
    train: tuple[np.ndarray, np.ndarray] | None = None,
    lr: tuple[np.ndarray, np.ndarray] | None = None,
    config: AnalysisConfig = DEFAULT_CONFIG,
) -> list[Finding]:
    """Oscillation witnessed by the validation loss (metric ``val_loss``).

    A validation pass over a fixed set moves only when the weights do, so a val loss
    that keeps jumping up and back down is the weights bouncing — an LR too large —
    even when the minibatch train loss is too noisy to show it, or when the swings
    are slower than the train detector's trend window.

    Algorithm: on the positive, finite val points (≥ 8 per window), in log space, for
    the windows of :data:`VAL_WINDOWS` (first 40 %, last 50 %, all of the evaluations),
    a window is erratic when all of these hold:

    * ``bounce`` (mean undone rise per evaluation, :func:`~analyzer.stats.bounce`)
      ≥ ``oscillation.val_bounce`` (2 %);
    * undone rises ≥ ``oscillation.val_back_and_forth`` (2×) the window's net change: the
      moves go back and forth rather than down (healthy) or up (overfitting);
    * the window's median ≥ ``oscillation.val_level`` (1.25×) the best val so far (the run
      keeps bouncing well above what it once reached, not noise at a floor), or
      ≥ ``oscillation.val_stuck`` (0.9×) its opening level (median of the first 10 %, ≥ 3
      evaluations) while the train loss (if any) also ends ≥ 0.9× where it began: it
      jumps back and forth but goes nowhere, which a too-small LR (smooth, barely
      moving weights) cannot do;
    * no significant upward trend (Mann–Kendall p ≥ ``alpha``) in the window nor in
      the second half of the run: a rise is overfitting (or divergence), judged by
      those detectors;
    * with a train loss: the window's val median < ``oscillation.val_memorize`` (2×) the train
      median over the same steps: no memorisation gap (an overfitting run's val
      bounces far above a train loss that has gone to ~0) — unless the window bounces
      ≥ ``oscillation.val_wild`` (8 %) per evaluation, which memorisation does not do
      (corpus 1 and corpus 2's tune families: no overfitting run bounces 2 %; real
      fine-tunes that overfit bounce up to ~6 %).

    Settling path: the early window (first 40 %) bounces ≥ ``oscillation.val_bounce`` while
    the last half moves < ``oscillation.val_settled`` × that (the same val set, scored by
    weights that later move smoothly): the early window is erratic on that contrast
    alone (no back-and-forth, level or memorisation test; the other windows are not
    scanned) — an LR too large early (before a step down, or without warm-up). When
    the LR steps down to ≤ ½ inside that window, the finding ends there.

    Scale-free (log ratios). The reported range is the union of the erratic windows
    (evidence from the one with the largest bounce), starting at the CUSUM change point
    of the moves' size when they at least double there; ``lr_at_onset`` is the LR at
    that evaluation.

    ``best_val_step`` joins the evidence when every evaluation after the lowest one is
    ≥ ``overfitting.warning_rise`` above it (a checkpoint worth keeping, not a lucky dip).

    Known false-positive modes: a validation set so small that its loss jumps between
    evaluations by chance (a random val subset per evaluation); a val loss evaluated
    with dropout on. Known misses: bouncing below 2 % per evaluation.
    """
    x, y = sorted_finite(val_steps, val_values)
    keep = _clear_best(x, y, config)
    if len(y) > VAL_MAX_POINTS:  # dense evaluations: block medians, so that noise averages out
        red = reduce_blocks(x, y, VAL_MAX_POINTS)
        x, y = red.steps, red.values
    n = len(y)
    if n < VAL_MIN_POINTS or np.min(y) <= 0 or np.ptp(y) == 0.0:
        return []
    h = n // 2
    if trend_test(x[h:], y[h:], slope=False).p_increase < config.alpha:
        return []  # a rising second half is for the overfitting/divergence detectors
    tx = ty = None
    if train is not None:
        tx, ty = finite_xy(*train)
    opening = float(np.median(y[:max(3, n // 10)]))
    train_stuck = tx is None or ty is None or _went_nowhere(ty, config.oscillation.val_stuck)
    stats_of = {w: _val_window_stats(y, round(w[0] * n), round(w[1] * n), opening)
                for w in VAL_WINDOWS if round(w[1] * n) - round(w[0] * n) >= VAL_MIN_POINTS}
    early, late = stats_of.get(VAL_WINDOWS[0]), stats_of.get(VAL_WINDOWS[1])
    settles = bool(early and late and early["bounce"] >= config.oscillation.val_bounce
                   and late["bounce"] < config.oscillation.val_settled * config.oscillation.val_bounce)
    hits: list[tuple[int, int, dict[str, float], float, float]] = []
    # when the last half settled, the erratic span is the early window, on the contrast alone
    for w in [VAL_WINDOWS[0]] if settles else list(stats_of):
        st = stats_of[w]
        i0, i1 = round(w[0] * n), round(w[1] * n)
        if not settles and not _erratic(st, train_stuck, config):
            continue
        p_up = trend_test(x[i0:i1], y[i0:i1], slope=False).p_increase
        if p_up < config.alpha:
            continue
        ratio = math.nan if settles or tx is None or ty is None else _val_to_train(x, y, i0, i1, tx, ty)
        if ratio >= config.oscillation.val_memorize and st["bounce"] < config.oscillation.val_wild:
            continue
        hits.append((i0, i1, st, p_up, ratio))
    if not hits:
        return []
    # the erratic span is the union of the erratic windows; evidence from the strongest
    i0, i1 = min(h[0] for h in hits), max(h[1] for h in hits)
    i0 = _jump_onset(np.log(y), i0, i1)
    _, _, st, p_up, ratio = max(hits, key=lambda h: h[2]["bounce"])
    onset = float(x[i0])
    lr_on = lr_at(lr, onset)
    lr_txt = f" (LR {lr_on:.3g} there)" if lr_on is not None else ""
    # no p-value here: confidence is how far the bounce clears its threshold
    conf = confidence(0.0, st["bounce"], config.oscillation.val_bounce)
    evidence = {
        "onset_step": onset,
        "val_bounce": st["bounce"],
        "back_and_forth": float(min(st["back_and_forth"], 1e9)),
        "level_vs_best": st["level_vs_best"],
        "trend_p_increase": p_up,
        "val_to_train": ratio,
        "evals": i1 - i0,
        "lr_at_onset": lr_on,
        "path": "validation",
        "level_vs_opening": st["level_vs_opening"],
    }
    if keep is not None:
        evidence["best_val_step"] = keep
    end = int(x[i1 - 1])
    if settles:
        evidence["settled_bounce"] = late["bounce"]  # type: ignore[index]
        # the run's best val came after the swings: it recovered (a warm-up, not a cut,
        # is then the fix); a run that settled without getting better went nowhere
        evidence["recovered"] = 1.0 if float(np.min(y[h:])) <= float(np.min(y[:h])) else 0.0
        drop = _lr_step_down(lr, onset, lr_on)
        if drop is not None and onset < drop <= end:  # the swings end where the LR steps down
            end = int(x[max(int(np.searchsorted(x, drop)) - 1, i0)])
            evidence["lr_drop_step"] = drop
        where = (f"from step {int(onset)} to {end}{lr_txt}, then settles "
                 f"({100 * late['bounce']:.1f}% later): the LR was too large early")  # type: ignore[index]
    elif st["level_vs_best"] >= config.oscillation.val_level:
        where = f"from step {int(onset)}{lr_txt}, at {st['level_vs_best']:.2f}× its best: the weights are bouncing"
    else:
        where = f"from step {int(onset)}{lr_txt} without getting below its opening level: it goes nowhere"
    return [Finding(
        kind="oscillation", metric="val_loss", start_step=int(onset), end_step=end,
        severity="warning", confidence=conf, evidence=evidence,
        message=(f"The validation loss jumps up and back down by {100 * st['bounce']:.0f}% per "
                 f"evaluation {where}; lower the learning rate."),
    )]
