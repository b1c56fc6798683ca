"""What an overfitting finding of the val loss really is, read against the train loss.

A val loss that rises after its best is overfitting only while the model keeps fitting
the training set: when the train loss rises too it is instability
(:func:`as_instability`); when the val loss jumps between evaluations while the train
loss barely improves, the weights bounce (:func:`jumps_not_memorises`,
:func:`as_bouncing`); when the train loss, once fitted, is thrown decades back up, an LR
too large came with the overfitting (:func:`train_relapse`, :func:`as_relapse`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from ..findings import Finding
from ..stats import finite_xy
from .params import AnalysisConfig


def ev_float(ev: Mapping[str, float | int | str | None], key: str) -> float:
    """A number of a finding's evidence for its message (0 when absent or ``None``)."""
    v = ev.get(key)
    return 0.0 if v is None else float(v)


def as_instability(f: Finding) -> Finding:
    ev = dict(f.evidence)
    ev["unstable_not_overfitting"] = 1.0
    return replace(
        f,
        kind="divergence",
        severity="warning",
        evidence=ev,
        message=(
            f"Validation loss rose {ev_float(ev, 'rise_pct'):.0f}% after step {f.start_step} "
            f"while the training loss rose too ({ev_float(ev, 'train_change_pct'):+.0f}%): "
            "unstable training, lower the learning rate."
        ),
    )


def late_train_gain(train: tuple[np.ndarray, np.ndarray] | None) -> float | None:
    """Relative fall of the train loss from its second tenth to its last tenth (medians):
    how much the run still fitted the training set after its start."""
    if train is None:
        return None
    _, ty = finite_xy(*train)
    k = len(ty) // 10
    if k < 2:
        return None
    t1, t9 = float(np.median(ty[k : 2 * k])), float(np.median(ty[-k:]))
    return (t1 - t9) / t1 if t1 > 0 else None


def jumps_not_memorises(f: Finding, train_gain: float | None, cfg: AnalysisConfig) -> bool:
    """An overfitting finding whose val loss jumps (median move ≥ ``oscillation.val_jump`` per
    evaluation after its best) while the train loss gained less than
    ``oscillation.val_jump_train_gain`` after its first tenth: the model is not fitting the
    training set much better, its weights bounce — an LR too large, not overfitting."""
    jump = f.evidence.get("val_jump")
    return (
        isinstance(jump, float)
        and jump >= cfg.oscillation.val_jump
        and train_gain is not None
        and train_gain < cfg.oscillation.val_jump_train_gain
    )


def train_relapse(train: tuple[np.ndarray, np.ndarray] | None) -> float:
    """The largest relapse of the train loss above its running minimum after its first
    5 % of points, in decades (log10 of value / running min; 0 without positive points)."""
    if train is None:
        return 0.0
    _, ty = finite_xy(*train)
    k = max(1, len(ty) // 20)
    if len(ty) < 2 * k + 2 or np.min(ty) < 0:
        return 0.0
    low = np.minimum.accumulate(np.maximum(ty, 1e-300))
    return float(np.max(np.log10(np.maximum(ty[k:], 1e-300) / low[k:])))


def as_bouncing(f: Finding, train_gain: float | None) -> Finding:
    ev = dict(f.evidence)
    ev["path"], ev["onset_step"] = "erratic_rise", float(f.start_step)
    ev["train_gain_after_start"] = train_gain
    return replace(
        f,
        kind="oscillation",
        severity="warning",
        evidence=ev,
        message=(
            f"The validation loss jumps {100 * ev_float(ev, 'val_jump'):.0f}% between evaluations "
            f"(median) after its best at step {f.start_step} and ends "
            f"{ev_float(ev, 'rise_pct'):.0f}% above it, while the training loss barely "
            "improves: the weights bounce; lower the learning rate."
        ),
    )


def as_relapse(f: Finding, decades: float) -> Finding:
    """The oscillation read beside an overfitting finding when the train loss relapsed
    ≥ ``oscillation.relapse_decades`` above its running minimum (:func:`train_relapse`):
    at a good LR a fitted training set stays fitted (its gradient is ~0); a loss thrown
    back up by a million-fold was thrown by steps too large for the fit."""
    ev = dict(f.evidence)
    ev["path"], ev["onset_step"], ev["train_relapse_decades"] = (
        "relapse",
        float(f.start_step),
        decades,
    )
    return replace(
        f,
        kind="oscillation",
        severity="warning",
        evidence=ev,
        message=(
            f"The validation loss ends {ev_float(ev, 'rise_pct'):.0f}% above its best "
            f"(step {f.start_step}) while the training loss, after fitting the training set, "
            f"jumped back up {decades:.0f} orders of magnitude above its lowest: the weights "
            "were thrown out of the fit, an LR too large as well as overfitting; lower it."
        ),
    )
