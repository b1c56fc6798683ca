"""The four detectors, one pure function per module, and their shared settings.

Each detector is ``detect_*(steps, values, ..., config) -> list[Finding]`` and never
raises on odd input (NaN, Inf, constant, negative, tiny or huge values): too little
usable data gives an empty list; the caller decides "insufficient data".
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

F = TypeVar("F", bound=Callable)


def quiet(fn: F) -> F:
    """Run a detector with floating-point warnings off: extreme inputs (1e308, mixed
    signs) overflow in intermediate sums, which the detectors already treat as
    "no evidence"; the library must not spray RuntimeWarnings at its callers."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class AnalysisConfig:
    """Detector settings. ``alpha`` is the family-wise false-alarm level per detector
    and series (Bonferroni over the windows/candidates each detector scans)."""

    alpha: float = 0.01
    #: fewer finite train points than this (and no usable val) → insufficient_data
    min_points: int = 8
    # oscillation
    osc_min_points: int = 24
    osc_scale_ratio: float = 2.0  # swings must at least double after the onset …
    osc_swing_to_progress: float = 0.5  # … and comparable to the trend's progress
    osc_noise_swing_to_progress: float = 1.0  # … as large as it, when the swings flip like noise
    osc_flip_rate: float = 0.8  # bouncing path: share of sign flips (white noise: 2/3)
    osc_val_bounce: float = 0.02  # erratic val: ≥ 2 % undone rise per evaluation …
    osc_val_back_and_forth: float = 2.0  # … undone rises ≥ 2× the net change …
    osc_val_level: float = 1.25  # … typical level ≥ 1.25× the best so far …
    osc_val_memorize: float = 2.0  # … and val < 2× train (no memorisation gap)
    osc_val_stuck: float = 0.9  # … or ≥ 0.9× its opening level (it went nowhere)
    osc_val_settled: float = 0.25  # early bounce, then < ¼ of osc_val_bounce: it settled
    osc_val_jump: float = 0.05  # a val rise that moves ≥ 5 % per evaluation (median) …
    osc_val_jump_train_gain: float = 0.5  # … while train gains < 50 % since: bouncing, not overfitting
    # stagnation
    stag_min_frac: float = 0.3  # a plateau covers at least this share of the run
    stag_progress_margin: float = 0.04  # equivalence margin: share of earlier progress …
    stag_level_margin: float = 0.01  # … plus this share of the loss level
    stag_stuck_margin: float = 0.05  # whole run gains < 5 % → stuck (LR too small)
    stag_warning_frac: float = 0.5  # plateau over ≥ half the run → warning
    stag_val_train_gain: float = 0.15  # val flat while train still gains ≥ 15 % → val_plateau
    stag_jitter: float = 0.005  # a plateau whose points bounce < 0.5 %/point is converged
    slow_min_gain: float = 0.02  # too slow: a significant fall of at least 2 % …
    slow_max_gain: float = 0.3  # … and less than 30 % over the run …
    slow_min_deceleration: float = 0.6  # … whose second half gains ≥ 60 % of the first's
    # overfitting
    ovf_min_rise: float = 0.01  # relative rise of val since its best
    ovf_warning_rise: float = 0.05
    # divergence
    div_rise_level: float = 0.01  # sustained rise ≥ 1 % of the loss level …
    div_rise_range: float = 0.1  # … and ≥ 10 % of the run's trend range
    div_explosion_factor: float = 2.0  # a loss above 2× the early maximum
    div_const_frac: float = 0.15  # a constant tail over ≥ 15 % of points


DEFAULT_CONFIG = AnalysisConfig()

from .divergence import detect_divergence
from .oscillation import detect_oscillation, detect_val_oscillation
from .overfitting import detect_overfitting
from .stagnation import detect_slow_descent, detect_stagnation

__all__ = [
    "DEFAULT_CONFIG",
    "AnalysisConfig",
    "detect_divergence",
    "detect_oscillation",
    "detect_overfitting",
    "detect_slow_descent",
    "detect_stagnation",
    "detect_val_oscillation",
]
