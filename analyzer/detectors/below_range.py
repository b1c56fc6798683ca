"""An LR far below the usual range that the loss confirms: too small.

A loss that falls by little does not say why on its own (a hard task, a converged
fine-tune); an LR that sits decades below the range its optimizer (or its setting: a
LoRA or full fine-tune) usually trains in does. Either alone is a prior; both together
are the evidence for ``increase_lr`` that a decaying schedule hides from the shape tests
(:mod:`.slow_descent` judges the shape where the LR is high; a cosine or exponential
decay bends every curve).
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding, MetricRole
from .params import DEFAULT_CONFIG, AnalysisConfig, quiet
from .slow_descent import slow_descent_stats

Series = tuple[np.ndarray, np.ndarray]


@quiet
def detect_below_range(
    train: Series | None,
    val: Series | None,
    base_lr: float | None,
    usual: tuple[float, str] | None,
    config: AnalysisConfig = DEFAULT_CONFIG,
) -> list[Finding]:
    """Stagnation (diagnosis ``too_slow``, path ``below_range``) when ``base_lr`` is
    ≥ ``stagnation.below_range`` (30×) below ``usual`` (the bottom of the usual LR range
    and its name) and the val loss (the train loss without one) fell by less than
    ``stagnation.below_range_gain`` (a third) from its first to its last tenth."""
    p = config.stagnation
    if base_lr is None or usual is None or not base_lr > 0:
        return []
    ratio = usual[0] / base_lr
    if ratio < p.below_range:
        return []
    m: MetricRole = "val_loss"
    s, st = val, slow_descent_stats(*val) if val is not None else None
    if st is None:
        m, s, st = "train_loss", train, slow_descent_stats(*train) if train is not None else None
    if s is None or st is None or st["gain"] >= p.below_range_gain:
        return []
    x = s[0][np.isfinite(s[1])]
    ev: dict[str, float | str | None] = {
        "diagnosis": "too_slow",
        "path": "below_range",
        "rel_improvement": st["gain"],
        "plateau_frac": 1.0,
        "lr_at_start": base_lr,
        "usual_lr": usual[0],
        "usual_setting": usual[1],
        "below_usual": ratio,
    }
    return [
        Finding(
            kind="stagnation",
            metric=m,
            start_step=int(np.min(x)),
            end_step=int(np.max(x)),
            severity="warning",
            confidence=min(1.0, float(np.log10(ratio)) / 3 + (1 - st["gain"]) / 3),
            evidence=ev,
            message=(
                f"The LR {base_lr:.3g} is {ratio:.0f}× below the usual {usual[1]} LR "
                f"({usual[0]:g}) and the {m.replace('_', ' ')} fell only "
                f"{100 * st['gain']:.1f}% over the run: increase the learning rate."
            ),
        )
    ]
