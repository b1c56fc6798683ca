"""Oscillation witnessed by the validation loss: the weights bounce (LR too large).

A validation pass over a fixed set moves only when the weights do, so a val loss that
keeps jumping up and back down is an LR too large, even when the minibatch train loss
is too noisy to show it (:func:`detect_val_oscillation`; the train-loss detector is
:mod:`.oscillation`).
"""

from __future__ import annotations

import math

import numpy as np

from ..findings import Finding
from ..schedule import lr_at, lr_cut_step
from ..stats import (
    bounce,
    confidence,
    finite_xy,
    reduce_blocks,
    sorted_finite,
    trend_test,
    undone_ascent,
)
from .params import DEFAULT_CONFIG, AnalysisConfig, quiet

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
    later = y[ib + 1 :]
    if (
        len(later) < 2
        or not y[ib] > 0
        or float(later.min()) < (1 + config.overfitting.warning_rise) * y[ib]
    ):
        return None
    return float(x[ib])


def _erratic(st: dict[str, float], train_stuck: bool, config: AnalysisConfig) -> bool:
    """The window tests of the main path: bounce, back-and-forth, and a level well above
    the best so far (or, with a train loss that went nowhere, not below the opening)."""
    o = config.oscillation
    if (
        st["bounce"] >= o.val_bounce_alone
        and st["back_and_forth"] >= o.val_undoes_progress
        and st["train_bounce"] >= o.val_train_bounce * st["bounce"]
    ):
        return True
    return (
        st["bounce"] >= o.val_bounce
        and st["back_and_forth"] >= o.val_back_and_forth
        and (
            st["level_vs_best"] >= o.val_level
            or (st["level_vs_opening"] >= o.val_stuck and train_stuck)
        )
    )


def _settles(
    early: dict[str, float] | None, late: dict[str, float] | None, config: AnalysisConfig
) -> bool:
    """The settling path's contrast: the early window bounces ≥ ``val_bounce`` and the
    late one < ``val_settled`` × that threshold."""
    o = config.oscillation
    return bool(
        early
        and late
        and early["bounce"] >= o.val_bounce
        and late["bounce"] < o.val_settled * o.val_bounce
    )


def _calms_down(
    early: dict[str, float] | None, late: dict[str, float] | None, config: AnalysisConfig
) -> bool:
    """The relative contrast, tried when no window is erratic: the early window bounces
    ≥ ``val_bounce_alone`` at ≥ ``val_level`` × its best so far, and the late one
    ≤ ``val_settled_share`` × as much — a large early bounce calmed to a small one (the
    early fall is too steep for the back-and-forth test to see it)."""
    o = config.oscillation
    return bool(
        early
        and late
        and early["bounce"] >= o.val_bounce_alone
        and early["level_vs_best"] >= o.val_level
        and late["bounce"] <= o.val_settled_share * early["bounce"]
    )


def _val_to_train(
    x: np.ndarray, y: np.ndarray, i0: int, i1: int, tx: np.ndarray, ty: np.ndarray
) -> float:
    """Median val over evaluations ``i0:i1`` / median train over the same steps (NaN
    without train points there): ≥ 2 is a memorisation gap."""
    sel = (tx >= x[i0]) & (tx <= x[i1 - 1])
    if not sel.any():
        return math.nan
    t_med = float(np.median(ty[sel]))
    return float(np.median(y[i0:i1])) / t_med if t_med > 0 else math.inf


def train_bounce(
    x: np.ndarray, i0: int, i1: int, train: tuple[np.ndarray, np.ndarray] | None
) -> float:
    """How much the train loss bounces over the steps of evaluations ``i0:i1`` (as many
    block medians as evaluations); 0 without a train loss logged at least twice per
    evaluation there — a val loss logged as often as the train loss (a minibatch
    estimate, or an epoch mean beside one) cannot be told from its own noise this way."""
    if train is None:
        return 0.0
    tx, ty = train
    sel = (tx >= x[i0]) & (tx <= x[i1 - 1])
    if sel.sum() < 2 * (i1 - i0):
        return 0.0
    return bounce(reduce_blocks(tx[sel], ty[sel], i1 - i0).values)


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


Hit = tuple[int, int, dict[str, float], float, float]


def _erratic_windows(
    x: np.ndarray,
    y: np.ndarray,
    stats_of: dict[tuple[float, float], dict[str, float]],
    settles: bool,
    train_stuck: bool,
    train: tuple[np.ndarray, np.ndarray] | None,
    config: AnalysisConfig,
) -> list[Hit]:
    """The erratic windows ``(i0, i1, stats, p_up, val_to_train)``: when the last half
    settled, only the early window, on the contrast alone; else every window that passes
    :func:`_erratic`, the trend test and the memorisation test."""
    n = len(y)
    hits: list[Hit] = []
    for w in [VAL_WINDOWS[0]] if settles else list(stats_of):
        st = stats_of[w]
        i0, i1 = round(w[0] * n), round(w[1] * n)
        if not settles and not _erratic(st, train_stuck, config):
            continue
        p_up = trend_test(x[i0:i1], y[i0:i1], slope=False).p_increase
        if p_up < config.alpha:
            continue
        ratio = math.nan if settles or train is None else _val_to_train(x, y, i0, i1, *train)
        if ratio >= config.oscillation.val_memorize and st["bounce"] < config.oscillation.val_wild:
            continue
        hits.append((i0, i1, st, p_up, ratio))
    return hits


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

    Bounce path: a window bouncing ≥ ``oscillation.val_bounce_alone`` (4 %) per evaluation
    whose rises undo ≥ ``val_undoes_progress`` (1×) its net change is erratic without the
    level test, when the train loss — logged at least twice per evaluation — bounces over
    the same steps (as many block medians as evaluations) ≥ ``val_train_bounce`` (¼) as
    much: the weights jump, so both losses do. A smooth epoch-mean train loss beside a
    jumpy val loss is the val set's own noise at a low loss; a val loss logged as often as
    the train loss may be a minibatch estimate whose noise bounces by itself. The trend
    and memorisation tests still apply.

    Settling path: the early window (first 40 %) bounces ≥ ``oscillation.val_bounce`` while
    the last half moves < ``oscillation.val_settled`` × that (the same val set, scored by
    weights that later move smoothly): the early window is erratic on that contrast
    alone (no back-and-forth, level or memorisation test; the other windows are not
    scanned) — an LR too large early (before a step down, or without warm-up). When no
    window is erratic, the same path also takes an early window bouncing ≥
    ``val_bounce_alone`` at ≥ ``val_level`` × its best whose last half bounces ≤
    ``val_settled_share`` × as much (:func:`_calms_down`). When the LR steps down to
    ≤ ½ inside that window, the finding ends there.

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
    train_xy = None if tx is None or ty is None else (tx, ty)
    opening = float(np.median(y[: max(3, n // 10)]))
    train_stuck = tx is None or ty is None or _went_nowhere(ty, config.oscillation.val_stuck)
    stats_of = {
        w: _val_window_stats(y, round(w[0] * n), round(w[1] * n), opening)
        | {"train_bounce": train_bounce(x, round(w[0] * n), round(w[1] * n), train_xy)}
        for w in VAL_WINDOWS
        if round(w[1] * n) - round(w[0] * n) >= VAL_MIN_POINTS
    }
    early, late = stats_of.get(VAL_WINDOWS[0]), stats_of.get(VAL_WINDOWS[1])
    settles = _settles(early, late, config)
    hits = _erratic_windows(x, y, stats_of, settles, train_stuck, train_xy, config)
    if not hits and not settles and _calms_down(early, late, config):
        settles = True
        hits = _erratic_windows(x, y, stats_of, settles, train_stuck, train_xy, config)
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
    if settles and late is not None:  # settling needs the late window
        evidence["settled_bounce"] = late["bounce"]
        # the run's best val came after the swings: it recovered (a warm-up, not a cut,
        # is then the fix); a run that settled without getting better went nowhere
        evidence["recovered"] = 1.0 if float(np.min(y[h:])) <= float(np.min(y[:h])) else 0.0
        drop = lr_cut_step(lr, onset, lr_on)
        if drop is not None and onset < drop <= end:  # the swings end where the LR steps down
            end = int(x[max(int(np.searchsorted(x, drop)) - 1, i0)])
            evidence["lr_drop_step"] = drop
        where = (
            f"from step {int(onset)} to {end}{lr_txt}, then settles "
            f"({100 * late['bounce']:.1f}% later): the LR was too large early"
        )
    elif st["level_vs_best"] >= config.oscillation.val_level:
        where = f"from step {int(onset)}{lr_txt}, at {st['level_vs_best']:.2f}× its best: the weights are bouncing"
    else:
        where = f"from step {int(onset)}{lr_txt} without getting below its opening level: it goes nowhere"
    return [
        Finding(
            kind="oscillation",
            metric="val_loss",
            start_step=int(onset),
            end_step=end,
            severity="warning",
            confidence=conf,
            evidence=evidence,
            message=(
                f"The validation loss jumps up and back down by {100 * st['bounce']:.0f}% per "
                f"evaluation {where}; lower the learning rate."
            ),
        )
    ]
