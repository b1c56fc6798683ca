"""The LR series itself shows that training stopped (pure): an abrupt drop of the LR to
~0 after a falling loss, then no gain — ``lr_collapsed`` for :mod:`.stagnation` when the
loss is too noisy for its plateau test, and the "still improving before the LR
collapsed" check its diagnosis uses.
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding, MetricRole
from ..schedule import lr_at, recognise
from ..stats import confidence, sorted_finite, trend_test

#: Planned decays that fit the whole post-peak LR curve (``analyzer.schedule``): reaching
#: ≤ 5 % of the peak early is an aggressive plan, not a broken one.
SMOOTH_DECAYS = ("linear", "cosine", "exponential", "one_cycle")

#: Level of the "still improving before the LR collapsed" and "learnt before the first
#: evaluation" checks: they pick a diagnosis for a plateau already found, so they are
#: not detection thresholds.
IMPROVING_P = 0.05


def improving_before(rx: np.ndarray, ry: np.ndarray, collapse: float | None, span: float) -> bool:
    """Whether the loss fell (Mann–Kendall p < 0.05) over the 20 % of the run before the
    LR collapsed: a collapse only cut progress short when there was progress."""
    if collapse is None:
        return False
    return fell(rx, ry, (rx >= collapse - 0.2 * span) & (rx < collapse))


def fell(x: np.ndarray, y: np.ndarray, sel: np.ndarray) -> bool:
    """Whether the points ``sel`` (≥ 4) fall: Mann–Kendall p < ``IMPROVING_P``."""
    return bool(sel.sum() >= 4) and trend_test(x[sel], y[sel], slope=False).p_decrease < IMPROVING_P


#: An LR at or below this share of its peak has effectively stopped training.
FROZEN_SHARE = 1e-3
#: … when it stays there from before this share of the run to the end, …
FROZEN_BY = 0.5
#: … and the loss then gains less than this (relative): no plateau test is needed.
FROZEN_GAIN = 0.1


def frozen_lr(
    x: np.ndarray,
    y: np.ndarray,
    rx: np.ndarray,
    ry: np.ndarray,
    lr: tuple[np.ndarray, np.ndarray] | None,
    metric: MetricRole,
) -> list[Finding]:
    """``lr_collapsed`` read off the LR series when the loss is too noisy for the
    equivalence test: an abrupt (not smoothly planned) drop of the LR to
    ≤ ``FROZEN_SHARE`` of its peak, kept from before ``FROZEN_BY`` of the run to its end,
    after a Mann–Kendall decrease of the loss, and a loss that then gains
    < ``FROZEN_GAIN`` — the run went on without learning."""
    if lr is None or metric != "train_loss":
        return []
    sched = recognise(*lr)
    if not sched.peak_lr or sched.name in SMOOTH_DECAYS:
        return []
    lx, ly = sorted_finite(*lr)
    high = np.flatnonzero(ly > FROZEN_SHARE * sched.peak_lr)
    if len(high) == 0 or high[-1] + 1 >= len(lx):
        return []
    freeze, x0, span = float(lx[high[-1] + 1]), float(rx[0]), float(rx[-1] - rx[0])
    after = y[x >= freeze]
    if span <= 0 or freeze - x0 > FROZEN_BY * span or len(after) < 8:
        return []
    if not improving_before(rx, ry, freeze, span):
        return []
    k = max(2, len(after) // 10)
    first, last = float(np.median(after[:k])), float(np.median(after[-k:]))
    gain = (first - last) / first if first > 0 else 0.0
    if gain >= FROZEN_GAIN:
        return []
    frac = (float(rx[-1]) - freeze) / span
    ev: dict[str, float | int | str | None] = {
        "diagnosis": "lr_collapsed",
        "rel_improvement": gain,
        "plateau_frac": frac,
        "level": float(np.median(after)),
        "lr_at_start": lr_at(lr, freeze),
        "lr_end": float(ly[-1]),
        "peak_lr": sched.peak_lr,
        "schedule": sched.label,
        "collapse_step": freeze,
        "frozen_share": float(ly[-1] / sched.peak_lr),
        "path": "frozen_lr",
    }
    return [
        Finding(
            kind="stagnation",
            metric=metric,
            start_step=int(freeze),
            end_step=int(x[-1]),
            severity="warning",
            confidence=confidence(0.0, FROZEN_GAIN - gain, FROZEN_GAIN / 2),
            evidence=ev,
            message=(
                f"The LR fell to {ly[-1] / sched.peak_lr:.0e} of its peak at step {int(freeze)} "
                f"({frac:.0%} of the run left) and the loss has gained {100 * gain:.1f}% since, after "
                "improving until then: restore the schedule's learning rate."
            ),
        )
    ]
