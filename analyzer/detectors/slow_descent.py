"""Slow descent: an LR far too small shows as a loss that falls in a straight line, by
little (stagnation, diagnosis ``too_slow``), or as a smooth val loss that barely moved
(diagnosis ``stuck``, path ``smooth_val``). See :func:`detect_slow_descent`; the plateau
test is :mod:`.stagnation`.
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding, MetricRole
from ..schedule import lr_at, recognise
from ..stats import (
    bounce,
    confidence,
    opening_and_end,
    reduce_blocks,
    sorted_finite,
    trend_test,
)
from .params import DEFAULT_CONFIG, AnalysisConfig, quiet

#: Fewer points than this: a shape is not judged (:func:`slow_descent_stats` is None).
MIN_POINTS = 10


def slow_descent_stats(steps: np.ndarray, values: np.ndarray) -> dict[str, float] | None:
    """Gain and deceleration of a positive loss: ``gain`` = relative fall from the first
    to the last tenth (medians), ``deceleration`` = the fall over the second half / the
    fall over the first half (≈ 1 for a straight line, ≪ 1 for a curve that bends
    towards its floor), and the
    Mann–Kendall p-value of a decrease. ``None`` with fewer than :data:`MIN_POINTS` points."""
    x, y = sorted_finite(steps, values)
    if len(y) < MIN_POINTS or np.min(y) <= 0:
        return None
    red = reduce_blocks(x, y)
    rt, v = red.steps, red.values
    n = len(v)
    k = max(1, n // 10)
    mid = int(np.searchsorted(rt, 0.5 * (rt[0] + rt[-1])))
    mid = min(max(mid, k), n - k)
    a, b = float(np.median(v[:k])), float(np.median(v[-k:]))
    m = float(np.median(v[max(mid - k // 2, 0) : mid + k // 2 + 1]))
    first, second = a - m, m - b
    decel = second / first if first > 0 else (np.inf if second > 0 else 0.0)
    return {
        "gain": (a - b) / a,
        "deceleration": float(decel),
        "p_decrease": trend_test(x, y, slope=False).p_decrease,
    }


def in_line(st: dict[str, float], config: AnalysisConfig = DEFAULT_CONFIG) -> bool:
    """Whether a descent (:func:`slow_descent_stats`) has not bent towards a floor: its
    second half gains ``stagnation.slow_min_deceleration`` … ``slow_max_deceleration`` of
    what its first half did."""
    p = config.stagnation
    return p.slow_min_deceleration <= st["deceleration"] <= p.slow_max_deceleration


def _first_eval(val: tuple[np.ndarray, np.ndarray] | None) -> float:
    """The step of the first evaluation when the val loss has enough points to be judged
    (:data:`MIN_POINTS`); −inf otherwise: then the train loss decides alone, over its whole span (a
    fine-tune evaluated 6 times would lose its opening fall, which is its bend)."""
    if val is None:
        return -np.inf
    x, _ = sorted_finite(*val)
    return float(x[0]) if len(x) >= MIN_POINTS else -np.inf


def _first_to_last(steps: np.ndarray, values: np.ndarray) -> float | None:
    """Relative fall from the first point (the first 2 %, median) to the last tenth."""
    _, y = sorted_finite(steps, values)
    if len(y) < 4:
        return None
    a, b = opening_and_end(y, 50)
    return (a - b) / a if a > 0 else None


@quiet
def detect_slow_descent(
    train: tuple[np.ndarray, np.ndarray] | None,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    lr: tuple[np.ndarray, np.ndarray] | None = None,
    config: AnalysisConfig = DEFAULT_CONFIG,
) -> list[Finding]:
    """``too_slow``: the loss falls significantly but in a straight line, and little; or
    a smooth val loss that barely moved while the train loss barely moved either.

    The first symptom of an LR far too small is not a plateau but a descent that never
    bends: each step moves the loss by an amount ∝ the LR, so while the LR is high the
    second half gains as much as the first. Judged after the warm-up (the LR's peak) on the train
    loss and, when there is one, the val loss (both must agree; the train loss from the
    first evaluation on, so that both cover the same steps, when there are ≥ 10):

    * a significant decrease (Mann–Kendall p < ``alpha``; of the train loss when there
      is one — the val loss then only has to agree in gain and shape),
    * ``stagnation.slow_min_gain`` ≤ gain < ``stagnation.slow_max_gain`` (relative, first
      to last tenth),
    * ``stagnation.slow_min_deceleration`` ≤ deceleration ≤ ``slow_max_deceleration`` (no
      bend towards a floor, and no take-off after a slow start),
      judged where the LR is ≥ ``HIGH_LR_SHARE`` of its peak (a decaying schedule bends
      any curve).

    Stuck by effect (the plateau test needs noise to test against; a val loss computed on
    a fixed set is smooth): the val loss, from its first evaluation to its last tenth,
    gains < ``stagnation.stuck_margin`` while bouncing < ``stagnation.jitter`` per
    evaluation, and the train loss, from its first points, gains < 2× that.

    ``runs_to_halve`` = 0.5 / gain: at this rate, how many runs of this length halving
    the loss would take. Warning; the suggestion is ``increase_lr``.

    Known false-positive modes: a run stopped long before convergence at a good LR on a
    huge data set (its loss also falls in a line; a longer run, not a larger LR, is the
    fix); a loss dominated by a slowly decaying regulariser; a fine-tune whose val loss
    sits at its floor from the first evaluation and whose train loss logs start there.
    """
    p = config.stagnation
    stuck = _stuck_by_effect(train, val, config)
    if stuck is not None:
        return [stuck]
    series = [(name, s) for name, s in (("train_loss", train), ("val_loss", val)) if s is not None]
    if not series:
        return []
    # both losses over the same steps: from the first evaluation (the fast fall of the
    # first steps is over by then) and the end of the warm-up, to the LR's decay
    start, stop = high_lr_span(lr)
    start = max(start, _first_eval(val))
    found: dict[str, dict[str, float]] = {}
    for name, (sx, sy) in series:
        x, y = sorted_finite(sx, sy)
        keep = (x >= start) & (x <= stop)
        st = slow_descent_stats(x[keep], y[keep])
        if st is None and name == "val_loss":
            st = slow_descent_stats(x, y)  # few evaluations in the span: the whole run's shape
            if st is None:
                continue  # too few evaluations to judge: the train loss decides
        if st is None:
            return []
        # the (noisy, dense) train loss carries the significance; a smooth val loss, whose
        # AR(1)-corrected trend test has few effective points, only has to agree in shape
        significant = st["p_decrease"] < config.alpha or (name == "val_loss" and bool(found))
        if not (
            significant and p.slow_min_gain <= st["gain"] < p.slow_max_gain and in_line(st, config)
        ):
            return []
        found[name] = st
    if not found:
        return []
    metric: MetricRole = "train_loss" if "train_loss" in found else "val_loss"
    st = found[metric]
    judged = train if metric == "train_loss" else val
    if judged is None:  # not reached: a series in ``found`` was given
        return []
    x, _ = sorted_finite(*judged)
    first = float(x[x >= start][0]) if np.any(x >= start) else float(x[0])
    gain = st["gain"]
    ev: dict[str, float | str | None] = {
        "diagnosis": "too_slow",
        "rel_improvement": gain,
        "deceleration": st["deceleration"],
        "p_value": st["p_decrease"],
        "plateau_frac": 1.0,
        "runs_to_halve": 0.5 / gain,
        "lr_at_start": lr_at(lr, first),
        "path": "slow_descent",
    }
    if "val_loss" in found and metric != "val_loss":
        ev["val_gain"] = found["val_loss"]["gain"]
        ev["val_deceleration"] = found["val_loss"]["deceleration"]
    conf = confidence(st["p_decrease"], min(st["deceleration"], 10.0), p.slow_min_deceleration)
    lr_txt = f" at LR {ev['lr_at_start']:.3g}" if ev["lr_at_start"] is not None else ""
    return [
        Finding(
            kind="stagnation",
            metric=metric,
            start_step=int(first),
            end_step=int(x[-1]),
            severity="warning",
            confidence=conf,
            evidence=ev,
            message=(
                f"The {metric.replace('_', ' ')} falls in a straight line{lr_txt}: "
                f"{100 * gain:.1f}% over the run, the second half gaining "
                f"{st['deceleration']:.0%} of what the first did; at this rate halving it "
                f"takes {0.5 / gain:.0f} runs of this length. Increase the learning rate."
            ),
        )
    ]


#: The shape of a descent is judged where the LR is at least this share of its peak: a
#: decaying schedule bends any curve, whatever the LR.
HIGH_LR_SHARE = 0.5


def high_lr_span(lr: tuple[np.ndarray, np.ndarray] | None) -> tuple[float, float]:
    """Steps from the end of the warm-up or a one-cycle's rise (the LR's peak) to the last
    step whose LR is ≥
    ``HIGH_LR_SHARE`` of the peak, when that span covers ≥ 30 % of the run; else the
    whole run after the warm-up."""
    if lr is None:
        return -np.inf, np.inf
    lx, ly = sorted_finite(*lr)
    if len(lx) < 2 or not np.any(ly > 0):
        return -np.inf, np.inf
    sched = recognise(lx, ly)
    rises = sched.warmup_steps > 0 or sched.name == "one_cycle"  # the LR climbs to its peak
    start = float(sched.peak_step) if rises and sched.peak_step is not None else -np.inf
    high = lx[(ly >= HIGH_LR_SHARE * float(ly.max())) & (lx >= start)]
    stop = float(high[-1]) if len(high) else np.inf
    span = float(lx[-1] - lx[0])
    if span <= 0 or stop - max(start, float(lx[0])) < 0.3 * span:
        return start, np.inf
    return start, stop


def _stuck_by_effect(
    train: tuple[np.ndarray, np.ndarray] | None,
    val: tuple[np.ndarray, np.ndarray] | None,
    config: AnalysisConfig,
) -> Finding | None:
    """The smooth-val ``stuck`` path of :func:`detect_slow_descent` (``None`` if not)."""
    p = config.stagnation
    if val is None or train is None:
        return None
    vx, vy = sorted_finite(*val)
    if len(vy) < 8 or np.min(vy) <= 0:
        return None
    vgain, tgain = _first_to_last(vx, vy), _first_to_last(*train)
    if vgain is None or tgain is None:
        return None
    jitter = bounce(vy)
    if not (abs(vgain) < p.stuck_margin and tgain < 2 * p.stuck_margin and jitter < p.jitter):
        return None
    ev: dict[str, float | str | None] = {
        "diagnosis": "stuck",
        "rel_improvement": vgain,
        "train_rel_improvement": tgain,
        "jitter": jitter,
        "plateau_frac": 1.0,
        "path": "smooth_val",
    }
    return Finding(
        kind="stagnation",
        metric="val_loss",
        start_step=int(vx[0]),
        end_step=int(vx[-1]),
        severity="warning",
        confidence=confidence(0.0, p.stuck_margin - abs(vgain), p.stuck_margin / 2),
        evidence=ev,
        message=(
            f"The validation loss moved {-100 * vgain:+.1f}% over the whole run and the "
            f"training loss {-100 * tgain:+.1f}%: it barely moved from the start; "
            "increase the learning rate."
        ),
    )
