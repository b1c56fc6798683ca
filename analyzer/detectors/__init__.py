"""The detectors of the four kinds, one pure function per module, and their settings
(:mod:`.params`): oscillation (train, val, the peak-LR phase of a step schedule, a loss
spike after training got going),
stagnation (plateau, slow descent, an LR far below its usual range, the too-slow odds),
overfitting (and what an overfitting finding really is, :mod:`.overfit_checks`),
divergence.

Each detector is ``detect_*(steps, values, ..., config) -> list[Finding]`` and never
raises on odd input (NaN, Inf, constant, negative, tiny or huge values): too little
usable data gives an empty list; the caller decides "insufficient data".
"""

from __future__ import annotations

from .below_range import detect_below_range
from .divergence import detect_divergence, val_not_recovered
from .loss_spike import detect_loss_spike
from .oscillation import detect_oscillation
from .overfitting import detect_overfitting
from .params import (
    DEFAULT_CONFIG,
    AnalysisConfig,
    DivergenceParams,
    OscillationParams,
    OverfittingParams,
    SlowOddsParams,
    StagnationParams,
    quiet,
)
from .peak_phase import detect_peak_phase
from .slow_descent import detect_slow_descent
from .slow_odds import detect_slow_odds, odds_features, too_slow_odds
from .stagnation import detect_stagnation
from .val_oscillation import detect_val_oscillation, train_bounce

__all__ = [
    "DEFAULT_CONFIG",
    "AnalysisConfig",
    "DivergenceParams",
    "OscillationParams",
    "OverfittingParams",
    "SlowOddsParams",
    "StagnationParams",
    "detect_below_range",
    "detect_divergence",
    "detect_loss_spike",
    "detect_oscillation",
    "detect_overfitting",
    "detect_peak_phase",
    "detect_slow_descent",
    "detect_slow_odds",
    "detect_stagnation",
    "detect_val_oscillation",
    "odds_features",
    "quiet",
    "too_slow_odds",
    "train_bounce",
    "val_not_recovered",
]
