"""A loss spike after training got going: both losses jump far above their best so far,
then come back (pure). Oscillation: the LR sits at the edge of stability.

The divergence detector's spike is measured against the loss of the first steps; a model
that has learnt sits far below that, so a jump of 40× from its best can stay under it
and go unseen. Here the reference is the running minimum.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..findings import Finding
from ..schedule import lr_at
from ..stats import confidence, reduce_blocks, sorted_finite
from .params import DEFAULT_CONFIG, AnalysisConfig, quiet

Series = tuple[np.ndarray, np.ndarray]

#: Block medians per series (the train loss's minibatch noise averages out in them).
BLOCKS = 64
#: The first share of the run is its initial fall, not a reference.
SKIP = 0.1


class Spike(NamedTuple):
    """A jump of the block medians above their running minimum, and the comeback."""

    ratio: float  # the peak block over the minimum before it
    start: float  # step of the block where the minimum was last held
    peak: float  # step of the peak block
    back: float  # step of the first block back within the recovery bound
    best: float  # the running minimum it jumped from
    inside: np.ndarray  # the block medians between ``start`` and ``back``


def spike_of(s: Series, recovery: float) -> Spike | None:
    """The largest jump of the block medians of a positive loss above their running
    minimum after the first tenth, when a later block comes back within ``recovery`` ×
    that minimum; ``None`` without one."""
    x, y = sorted_finite(*s)
    if len(y) < 8 or np.min(y) <= 0:
        return None
    red = reduce_blocks(x, y, BLOCKS)
    bx, v = red.steps, red.values
    k0 = max(2, int(SKIP * len(v)))
    floor = np.minimum.accumulate(v)
    best: Spike | None = None
    for i in range(k0, len(v)):
        ratio = float(v[i] / floor[i - 1])
        if best is not None and ratio <= best.ratio:
            continue
        back = np.flatnonzero(v[i:] <= recovery * floor[i - 1])
        if len(back):
            start = int(np.flatnonzero(v[:i] <= floor[i - 1])[-1])
            end = i + int(back[0])
            best = Spike(
                ratio,
                float(bx[start]),
                float(bx[i]),
                float(bx[end]),
                float(floor[i - 1]),
                v[start + 1 : end],
            )
    return best


@quiet
def detect_loss_spike(
    train: Series | None,
    val: Series | None,
    lr: Series | None = None,
    config: AnalysisConfig = DEFAULT_CONFIG,
) -> list[Finding]:
    """Oscillation (``path: relapse``) when, after the first tenth of the run, the train
    loss and the val loss each jump ≥ ``oscillation.spike_ratio`` (3×) above their best
    so far (block medians) and come back within ``oscillation.spike_recovery`` (2×) of
    it: the weights were thrown out of the valley they had found, and found it again.
    Both losses must show it (one noisy series alone spikes by chance; memorisation
    does not spike). Corpus 2 tuning families: no healthy, stagnating or overfitting run
    does; 44 of the 200 oscillating runs already found do. A run that logs no val loss is
    judged on its train loss alone, at ``oscillation.lone_spike_ratio`` (100×, over ≥ 2
    blocks: :func:`_lone_spike`)."""
    o = config.oscillation
    if train is None:
        return []
    if val is None or not len(sorted_finite(*val)[1]):
        return _lone_spike(train, lr, config)
    t, v = spike_of(train, o.spike_recovery), spike_of(val, o.spike_recovery)
    if t is None or v is None or min(t.ratio, v.ratio) < o.spike_ratio:
        return []
    onset, end = min(t.start, v.start), max(t.back, v.back)
    lr_on = lr_at(lr, onset) if lr is not None else None
    return [
        Finding(
            kind="oscillation",
            metric="val_loss",
            start_step=int(onset),
            end_step=int(end),
            severity="warning",
            confidence=confidence(0.0, min(t.ratio, v.ratio), o.spike_ratio),
            evidence={
                "onset_step": onset,
                "spike_ratio": v.ratio,
                "train_spike_ratio": t.ratio,
                "peak_step": v.peak,
                "recovered": 1.0,
                "lr_at_onset": lr_on,
                "path": "relapse",
            },
            message=(
                f"From step {int(onset)} the loss jumped {v.ratio:.0f}× (validation) and "
                f"{t.ratio:.0f}× (training) above its best so far, then came back by step "
                f"{int(end)}: the weights were thrown out of the valley they had found; "
                "the LR is at the edge of stability — lower it."
            ),
        )
    ]


def _lone_spike(train: Series, lr: Series | None, config: AnalysisConfig) -> list[Finding]:
    """The train-only spike: ≥ ``lone_spike_ratio`` × its best so far over ≥ 2 block
    medians, then back within ``spike_recovery`` × that best (``path: relapse``)."""
    o = config.oscillation
    t = spike_of(train, o.spike_recovery)
    if t is None or t.ratio < o.lone_spike_ratio:
        return []
    if int((t.inside >= o.lone_spike_ratio * t.best).sum()) < 2:
        return []
    onset, end = t.start, t.back
    return [
        Finding(
            kind="oscillation",
            metric="train_loss",
            start_step=int(onset),
            end_step=int(end),
            severity="warning",
            confidence=confidence(0.0, t.ratio, o.lone_spike_ratio),
            evidence={
                "onset_step": onset,
                "train_spike_ratio": t.ratio,
                "peak_step": t.peak,
                "recovered": 1.0,
                "lr_at_onset": lr_at(lr, onset) if lr is not None else None,
                "path": "relapse",
            },
            message=(
                f"From step {int(onset)} the train loss jumped {t.ratio:.3g}× above its best so "
                f"far, then came back by step {int(end)}: the weights were thrown out of the "
                "valley they had found; the LR is at the edge of stability — lower it."
            ),
        )
    ]
