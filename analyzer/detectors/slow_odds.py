"""Too-slow odds: a calibrated reading of five statistics for a run no threshold called.

The boundary between a healthy run and one whose LR is too small is where the
threshold tests generalise worst: a too-small LR under a decaying schedule bends like a
converged run, and a good LR on a hard task falls slowly. No single statistic separates
them, but together a few do, each for a physical reason:

* ``below_range`` — decades (log10) the LR sits below the bottom of its optimizer's
  usual from-scratch range (clipped to ±2): the prior;
* ``val_bounce`` — log10 of how far the val loss goes back and forth per evaluation
  (:func:`~analyzer.stats.bounce`, relative; plus :data:`BOUNCE_FLOOR`): updates ∝ the
  LR, so a small LR moves a fixed val set smoothly;
* ``train_gain`` — the train loss's relative fall from its opening (first 2 %) to its
  last tenth: a small LR gets less far;
* ``train_early`` / ``val_early`` — the share of that fall done by a tenth of the run:
  a good LR falls fast first and then bends; a small one has no fast opening.

A logistic model over them (standardised; the coefficients in
:class:`~.params.SlowOddsParams`, fitted by ``python -m benchmarks.fit_slow_odds`` on
the corpus-2 tuning families only, the held-out families never seen) gives the odds
that the run is too slow. Only runs whose optimizer is known and whose setting is not a
fine-tune are read (the prior is the optimizer's from-scratch range), with ≥ 10 points
of both losses.
"""

from __future__ import annotations

import math

import numpy as np

from ..findings import Finding
from ..stats import bounce, opening_and_end, sorted_finite
from .params import DEFAULT_CONFIG, AnalysisConfig, SlowOddsParams, quiet

Series = tuple[np.ndarray, np.ndarray]

#: Fewer points than this in either loss: no odds.
MIN_POINTS = 10
#: Added to the val bounce before its log, so that a monotone val loss (bounce 0) has one.
BOUNCE_FLOOR = 1e-4


def _fall_and_opening_share(values: np.ndarray) -> tuple[float, float]:
    """A positive loss's relative fall from its opening (first 2 %) to its last tenth,
    and the share of that fall done by a tenth of the points (clipped to −2 … 3;
    −1 when it did not fall)."""
    n = len(values)
    start, end = opening_and_end(values, 50)
    half = max(1, n // 10) // 2
    tenth = float(np.median(values[max(0, n // 10 - half) : n // 10 + half + 1]))
    early = float(np.clip((start - tenth) / (start - end), -2, 3)) if start > end else -1.0
    return (start - end) / start, early


def odds_features(
    train: Series | None, val: Series | None, base_lr: float | None, range_low: float | None
) -> dict[str, float] | None:
    """The model's five statistics (module doc), or ``None`` when a loss is missing, has
    fewer than :data:`MIN_POINTS` finite points or a non-positive one, or the LR or its
    range is unknown."""
    if train is None or val is None or not base_lr or not range_low or base_lr <= 0:
        return None
    _, ty = sorted_finite(*train)
    _, vy = sorted_finite(*val)
    if min(len(ty), len(vy)) < MIN_POINTS or min(ty.min(), vy.min()) <= 0:
        return None
    train_gain, train_early = _fall_and_opening_share(ty)
    _, val_early = _fall_and_opening_share(vy)
    return {
        "below_range": float(np.clip(math.log10(range_low / base_lr), -2, 2)),
        "val_bounce": math.log10(bounce(vy) + BOUNCE_FLOOR),
        "train_gain": train_gain,
        "train_early": train_early,
        "val_early": val_early,
    }


def too_slow_odds(features: dict[str, float], model: SlowOddsParams) -> float:
    """The model's probability that a run with these statistics is too slow."""
    z = model.intercept + sum(
        c * (features[name] - m) / s
        for name, m, s, c in zip(model.features, model.mean, model.scale, model.coef, strict=True)
    )
    return 1.0 / (1.0 + math.exp(-z))


@quiet
def detect_slow_odds(
    train: Series | None,
    val: Series | None,
    base_lr: float | None,
    usual: tuple[float, str] | None,
    config: AnalysisConfig = DEFAULT_CONFIG,
) -> list[Finding]:
    """Stagnation (diagnosis ``too_slow``, path ``odds``, warning) when the odds
    (:func:`too_slow_odds`) reach ``slow_odds.threshold``; ``usual`` is the bottom
    of the optimizer's usual range and its name. The caller reads only runs that no
    other detector warned about."""
    model = config.slow_odds
    feats = odds_features(train, val, base_lr, usual[0] if usual else None)
    if feats is None or usual is None or train is None or base_lr is None:
        return []
    p = too_slow_odds(feats, model)
    if p < model.threshold:
        return []
    x, _ = sorted_finite(*train)
    below = 10 ** feats["below_range"]
    val_move = 10 ** feats["val_bounce"] - BOUNCE_FLOOR
    where = (
        f"{below:.1f}× below the usual {usual[1]} range"
        if below >= 1
        else f"{1 / below:.1f}× above the bottom of the usual {usual[1]} range"
    )
    ev: dict[str, float | str | None] = {
        "diagnosis": "too_slow",
        "path": "odds",
        "p_too_slow": p,
        "rel_improvement": feats["train_gain"],
        "plateau_frac": 1.0,
        "lr_at_start": base_lr,
        **feats,
    }
    return [
        Finding(
            kind="stagnation",
            metric="train_loss",
            start_step=int(x[0]),
            end_step=int(x[-1]),
            severity="warning",
            confidence=p,
            evidence=ev,
            message=(
                f"LR {base_lr:.3g} sits {where}; the training loss fell "
                f"{100 * feats['train_gain']:.0f}% "
                f"({100 * max(feats['train_early'], 0):.0f}% of that by a tenth of the run) "
                f"and the validation loss moved {100 * max(val_move, 0.0):.1f}% back and "
                f"forth per evaluation: the odds that this LR is too small are "
                f"{100 * p:.0f}%. Increase the learning rate."
            ),
        )
    ]
