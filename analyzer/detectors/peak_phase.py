"""Oscillation at the peak LR that a later LR cut hid.

A step or multistep schedule (or any decay) that cuts the LR mid-run rescues a run whose
peak LR was too large: the loss bounces or loses ground at the peak, then falls fast
after the cut. Judged over the whole run, the fall after the cut dwarfs the swings
before it. :func:`detect_peak_phase` judges the peak phase on its own.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..findings import Finding
from ..schedule import lr_cut_step
from ..stats import sorted_finite
from .oscillation import detect_oscillation
from .params import DEFAULT_CONFIG, AnalysisConfig, quiet
from .val_oscillation import detect_val_oscillation

#: The peak phase ends where the LR first falls to half its peak
#: (:func:`~analyzer.schedule.lr_cut_step`) …
#: … in one step from at least this share of it (a step down, not a smooth decay) …
HELD = 0.9
#: … and is judged on its own only when it covers at least this share of the run.
MIN_PHASE = 0.3

Series = tuple[np.ndarray, np.ndarray]


def peak_phase_end(lr: Series | None) -> float | None:
    """The step where the LR is cut: the first step after its peak where it is ≤ half
    the peak, when the point before was still ≥ ``HELD`` × the peak (a step down, not a
    smooth decay passing through half the peak)."""
    if lr is None:
        return None
    x, y = sorted_finite(*lr)
    if len(y) < 2:
        return None
    top = int(np.argmax(y))
    cut = lr_cut_step((x, y), float(x[top]), float(y[top]))
    if cut is None:
        return None
    return cut if y[int(np.searchsorted(x, cut)) - 1] >= HELD * y[top] else None


def _before(s: Series, step: float) -> Series:
    """The points of a series before ``step``."""
    keep = s[0] < step
    return s[0][keep], s[1][keep]


@quiet
def detect_peak_phase(
    train: Series | None,
    val: Series | None,
    lr: Series | None,
    config: AnalysisConfig = DEFAULT_CONFIG,
) -> list[Finding]:
    """Oscillation warnings of the train or val loss over the peak-LR phase (evidence
    ``peak_phase_end``), when an LR cut ends that phase after ≥ ``MIN_PHASE`` of the run."""
    end = peak_phase_end(lr)
    if lr is None or end is None or train is None or len(train[0]) == 0:
        return []
    x0, x1 = float(np.nanmin(train[0])), float(np.nanmax(train[0]))
    if x1 <= x0 or (end - x0) < MIN_PHASE * (x1 - x0):
        return []
    t, lr_t = _before(train, end), _before(lr, end)
    v = None if val is None else _before(val, end)
    found = [f for f in detect_oscillation(*t, lr=lr_t, config=config) if f.severity != "info"]
    if not found and v is not None and len(v[0]):
        found = [
            f
            for f in detect_val_oscillation(*v, train=t, lr=lr_t, config=config)
            if f.severity != "info" and "settled_bounce" not in f.evidence
        ]
    return [_tagged(f, end) for f in found]


def _tagged(f: Finding, end: float) -> Finding:
    """The finding of the peak phase, marked as such (``path: peak_phase``; the path
    that found it in ``phase_path``)."""
    ev = dict(f.evidence)
    ev["peak_phase_end"] = end
    ev["phase_path"] = ev.get("path")
    ev["path"] = "peak_phase"
    return replace(
        f,
        evidence=ev,
        message=f"Before the LR cut at step {int(end)} (which hid it): {f.message}",
    )
