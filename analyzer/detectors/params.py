"""The detectors' settings: one typed parameter object per detector, documented where
each value is declared, composed into :class:`AnalysisConfig`.

``alpha`` is the family-wise false-alarm level per detector and series (Bonferroni over
the windows/candidates each detector scans); the other values are effect sizes. Every
detector reads only ``config.<its params>`` (and ``alpha``), so a change of one
threshold is one edit here.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import numpy as np

P = ParamSpec("P")
R = TypeVar("R")


def quiet(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a detector with floating-point warnings off: extreme inputs (1e308, mixed
    signs) overflow in intermediate sums, which the detectors already treat as
    "no evidence"; the library must not spray RuntimeWarnings at its callers."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fn(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class OscillationParams:
    """Train swings (growth and bouncing paths) and an erratic validation loss."""

    min_points: int = 24  # fewer finite points: not judged
    scale_ratio: float = 2.0  # swings must at least double after the onset …
    swing_to_progress: float = 0.5  # … and comparable to the trend's progress
    noise_swing_to_progress: float = 1.0  # … as large as it, when the swings flip like noise
    flip_rate: float = 0.8  # bouncing path: share of sign flips (white noise: 2/3)
    #: Erratic val on its bounce alone (no level test): ≥ 4 % undone rise per evaluation
    #: (twice ``val_bounce``), rises undoing ≥ 1× the net change, and a train loss that
    #: bounces ≥ ¼ as much over the same steps (a smooth epoch-mean train loss beside a
    #: jumpy val one is the val set's own noise at a low loss, not the weights). Corpus 2
    #: tuning families: healthy runs bounce ≤ 1.3 % (90th percentile), 26 of 37 missed
    #: oscillating ones ≥ 4 %; oscillation recall 0.83 → 0.88 with the same precision and
    #: false alarms, flat from 4 to 6 %; the two newest families 0.69 → 0.92.
    val_bounce_alone: float = 0.04
    val_undoes_progress: float = 1.0
    val_train_bounce: float = 0.25
    val_bounce: float = 0.02  # erratic val: ≥ 2 % undone rise per evaluation …
    val_back_and_forth: float = 2.0  # … undone rises ≥ 2× the net change …
    val_level: float = 1.25  # … typical level ≥ 1.25× the best so far …
    val_memorize: float = 2.0  # … and val < 2× train (no memorisation gap)
    val_wild: float = 0.08  # … unless it bounces this much (memorisation does not bounce so)
    val_stuck: float = 0.9  # … or ≥ 0.9× its opening level (it went nowhere)
    val_settled: float = 0.25  # early bounce, then < ¼ of val_bounce: it settled
    #: … or, when no window is erratic, a ≥ 4 % early bounce at ≥ 1.25× the best so far,
    #: then ≤ half of it (an early fall too steep for the back-and-forth test: a
    #: batch-norm net at 3–10× its good LR). Corpus 2 tuning families: oscillation recall
    #: 0.86 → 0.88 with the same false alarms and overfitting precision, flat from 0.35
    #: to 0.7; corpus 1 macro-F1 0.972 → 0.975.
    val_settled_share: float = 0.5
    val_jump: float = 0.05  # a val rise that moves ≥ 5 % per evaluation (median) …
    val_jump_train_gain: float = 0.5  # … while train gains < 50 % after its first tenth
    #: A val loss that overfits while the train loss, after fitting, relapsed ≥ this many
    #: decades above its running minimum (after its first 5 %) also oscillates: the weights
    #: were thrown out of the fit. Overfitting warnings of corpus 1 and the corpus-2 tuning
    #: families: ≤ 4.2 decades for every overfitting-only run, ≥ 7.6 for 9 of 13
    #: oscillation-only ones; macro-F1 corpus 1 0.960 → 0.972, tune 0.912 → 0.920 (5–8
    #: decades alike).
    relapse_decades: float = 6.0
    #: A loss spike after the first tenth (:mod:`.loss_spike`): train and val each ≥ 3×
    #: their best so far, then back within 2× of it.
    spike_ratio: float = 3.0
    spike_recovery: float = 2.0
    #: … and with no val loss logged, a train spike of ≥ 100× (two decades: far past what
    #: minibatch noise does to a block median) over ≥ 2 blocks.
    lone_spike_ratio: float = 100.0


@dataclass(frozen=True)
class StagnationParams:
    """Plateaus (equivalence test), their diagnosis, and a descent that never bends."""

    min_frac: float = 0.3  # a plateau covers at least this share of the run
    progress_margin: float = 0.04  # equivalence margin: share of earlier progress …
    level_margin: float = 0.01  # … plus this share of the loss level
    stuck_margin: float = 0.05  # whole run gains < 5 % → stuck (LR too small)
    warning_frac: float = 0.5  # plateau over ≥ half the run → warning
    val_train_gain: float = 0.15  # val flat while train still gains ≥ 15 % → val_plateau
    jitter: float = 0.005  # a plateau whose points bounce < 0.5 %/point is converged
    slow_min_gain: float = 0.02  # too slow: a significant fall of at least 2 % …
    slow_max_gain: float = 0.3  # … and less than 30 % over the run …
    slow_min_deceleration: float = 0.6  # … whose second half gains ≥ 60 % of the first's …
    #: … and at most this many times the first's (a line bends neither way; a curve that
    #: gains far more later has taken off after a slow start and is under way).
    slow_max_deceleration: float = 3.0
    #: Far below the usual range: an LR ≥ 30× below the bottom of its optimizer's usual
    #: range (or below its setting's usual LR) whose loss fell by less than a third over
    #: the run. Corpus 2 tuning families and corpus 1: of the runs that far below, every
    #: too-small one gained ≤ 31 % (train) / 24 % (val), the one healthy one 52 %.
    below_range: float = 30.0
    below_range_gain: float = 1 / 3
    #: … or ≥ 10× below it when the loss shows no bend where the LR is high (the
    #: slow-descent shape test, whatever the gain): a decade below and still falling in a
    #: line. Corpus 2 tuning families: 14 of the missed too-small runs and 2 healthy runs
    #: sit ≥ 10× below; this finds 2 more too-small runs (softmax regression at 1e-3 with
    #: SGD) and no healthy one (those bend).
    below_range_shape: float = 10.0


@dataclass(frozen=True)
class OverfittingParams:
    """A validation loss that turns up while training still improves."""

    min_rise: float = 0.01  # relative rise of val since its best (info from here)
    warning_rise: float = 0.05  # … warning from here
    # a train loss ≥ 30 % above its level at the best val step that carries the val
    # rise with it (the val − train gap grew by < half the val rise) rose too, trend
    # test or not: an unstable run, not an overfitting one
    train_jump: float = 0.3


@dataclass(frozen=True)
class DivergenceParams:
    """Explosions, drifts upwards and collapses to a constant."""

    rise_level: float = 0.01  # sustained rise ≥ 1 % of the loss level …
    rise_range: float = 0.1  # … and ≥ 10 % of the run's trend range …
    rise_opening: float = 0.01  # … ending ≥ 1 % of the loss's opening level
    explosion_factor: float = 2.0  # a loss above 2× the early maximum
    const_frac: float = 0.15  # a constant tail over ≥ 15 % of points
    #: An excursion: the trend peaks ≥ 2× both its first value and its final level and
    #: stays ≥ 1.25× that over ≥ 5 % of the run. Corpus 1, the corpus-2 tuning families
    #: and the real logs: no healthy, stagnating or overfitting run reaches even 1.5×;
    #: corpus-2 tuning oscillation recall 0.68 → 0.80 (1.5×: 0.81).
    excursion_factor: float = 2.0
    excursion_hold: float = 1.25
    excursion_share: float = 0.05
    #: A blow-up the train loss came back from whose val loss ends ≥ 3× the untrained
    #: loss (:func:`~analyzer.detectors.divergence.val_not_recovered`): the 3× of the
    #: corpus verification rule (a last val > 3× the val before training). Corpus-2 tuning
    #: families: 21 divergent runs read as oscillation now read as divergence, nothing
    #: else moved; at 2× (the explosion factor) also 3 oscillating runs whose val ended
    #: 2.1–2.3× their start.
    val_blowup_factor: float = 3.0


@dataclass(frozen=True)
class SlowOddsParams:
    """The too-slow odds model (:mod:`.slow_odds`): a logistic regression over
    standardised statistics. Fitted by ``python -m benchmarks.fit_slow_odds`` on the
    corpus-2 tuning families (runs no other detector warned about; L2, C = 0.1); the
    held-out families were never read. Refit after a change to the detectors before it.
    """

    features: tuple[str, ...] = (
        "below_range",
        "val_bounce",
        "train_gain",
        "train_early",
        "val_early",
    )
    mean: tuple[float, ...] = (-0.9503, -3.069, 0.5959, 0.5455, 0.5623)
    scale: tuple[float, ...] = (0.926, 0.7675, 0.2864, 0.3543, 0.3234)
    coef: tuple[float, ...] = (0.7654, -0.7776, -0.4771, -0.3164, -0.3903)
    intercept: float = -1.771
    #: Warn from these odds on: a false "raise the LR" is taken to cost 3× a missed one
    #: ("when in doubt, the smaller LR"), so the Bayes threshold of a calibrated model
    #: is 3 / (3 + 1).
    threshold: float = 0.75


@dataclass(frozen=True)
class AnalysisConfig:
    """Every detector setting: ``alpha``, ``min_points`` and one object per detector."""

    alpha: float = 0.01
    #: fewer finite train points than this (and no usable val) → insufficient_data
    min_points: int = 8
    oscillation: OscillationParams = field(default_factory=OscillationParams)
    stagnation: StagnationParams = field(default_factory=StagnationParams)
    overfitting: OverfittingParams = field(default_factory=OverfittingParams)
    divergence: DivergenceParams = field(default_factory=DivergenceParams)
    slow_odds: SlowOddsParams = field(default_factory=SlowOddsParams)


DEFAULT_CONFIG = AnalysisConfig()
