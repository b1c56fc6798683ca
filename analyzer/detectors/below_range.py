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
from .slow_descent import high_lr_span, slow_descent_stats

Series = tuple[np.ndarray, np.ndarray]


@quiet
def detect_below_range(
    train: Series | None,
    val: Series | None,
    base_lr: float | None,
    usual: tuple[float, str] | None,
    config: AnalysisConfig = DEFAULT_CONFIG,
    lr: Series | None = None,
) -> list[Finding]:
    """Stagnation (diagnosis ``too_slow``, path ``below_range``) when ``base_lr`` is
    ≥ ``stagnation.below_range`` (30×) below ``usual`` (the bottom of the usual LR range
    and its name) and the val loss (the train loss without one) fell by less than
    ``stagnation.below_range_gain`` (a third) from its first to its last tenth; or when it
    is ≥ ``stagnation.below_range_shape`` (10×) below and that loss shows no bend where the
    LR is high (``lr``; the slow-descent shape test, whatever the gain) — the LR a decade
    below its usual range and a curve still falling in a line, or speeding up."""
    p = config.stagnation
    if base_lr is None or usual is None or not base_lr > 0:
        return []
    ratio = usual[0] / base_lr
    below = ratio * (1 + 1e-6)  # an LR logged as float32 (1e-3 reads 1.00000005e-3) is a decade
    if below < min(p.below_range, p.below_range_shape):
        return []
    m: MetricRole = "val_loss"
    s, st = val, slow_descent_stats(*val) if val is not None else None
    if st is None:
        m, s, st = "train_loss", train, slow_descent_stats(*train) if train is not None else None
    if s is None or st is None:
        return []
    far = below >= p.below_range and st["gain"] < p.below_range_gain
    if not far and not _unbent(s, lr, config):
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


def _unbent(s: Series, lr: Series | None, config: AnalysisConfig) -> bool:
    """Whether the loss ``s`` shows no bend towards a floor where the LR is high: its
    second half gains at least ``slow_min_deceleration`` of what its first half did (the
    slow-descent shape test without its upper bound: a loss that speeds up at an LR
    below its optimizer's range has not bent either)."""
    start, stop = high_lr_span(lr)
    keep = (s[0] >= start) & (s[0] <= stop)
    st = slow_descent_stats(s[0][keep], s[1][keep])
    return st is not None and st["deceleration"] >= config.stagnation.slow_min_deceleration
