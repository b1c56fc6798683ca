"""What a sweep is: :class:`SweepPoint` (one run as a sweep sees it) and :class:`Sweep`
(a sweep and its recommendation, ``to_dict`` = the contract's object); small helpers
shared by :mod:`analyzer.sweeps` and :mod:`analyzer.sweep_recommend`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SweepPoint:
    """One run as a sweep sees it."""

    id: str
    name: str
    group: str
    lr: float | None
    lr_from: str  # "param" | "series" | "name" | ""
    metric: str  # "val_loss" | "train_loss" | ""
    value: float  # final val / final train loss; inf when it ends non-finite
    status: str
    metrics_key: tuple[str | None, ...]  # train, val and LR metric names
    params: Mapping[str, str] = field(default_factory=dict)
    range_test: bool = False


@dataclass(frozen=True)
class Sweep:
    """A sweep and its recommendation (``to_dict`` gives the contract's object)."""

    id: str
    group: str
    points: tuple[SweepPoint, ...]
    metric: str
    varied: Mapping[str, list[str]]
    split: Mapping[str, str]
    best_run: str | None
    recommended_lr: float | None
    recommended_range: tuple[float, float] | None
    stability_edge_lr: float | None
    confidence: float
    rationale: str
    at_edge: str | None = None  # "high" | "low" | None
    next_lrs: tuple[float, ...] = ()
    curve: Mapping[str, list[float]] = field(default_factory=dict)  # log10_lr, fit, band
    batch_scaling: Mapping[str, Any] | None = None
    fitted_min_lr: float | None = None  # the curve's minimum between tried LRs, if away

    @property
    def lrs(self) -> list[float]:
        return sorted({p.lr for p in self.points if p.lr is not None})

    def to_dict(self) -> dict[str, Any]:
        """The contract's sweep object (plus ``split``, ``at_edge``, ``next_lrs``, ``fitted_min_lr``,
        ``points`` and, when present, ``batch_scaling``)."""
        out: dict[str, Any] = {
            "id": self.id,
            "group": self.group,
            "runs": [p.id for p in self.points],
            "lrs": [_r(v) for v in self.lrs],
            "metric": self.metric,
            "varied": {k: list(v) for k, v in self.varied.items()},
            "best_run": self.best_run,
            "recommended_lr": _r(self.recommended_lr),
            "recommended_range": (
                None if self.recommended_range is None else [_r(v) for v in self.recommended_range]
            ),
            "stability_edge_lr": _r(self.stability_edge_lr),
            "confidence": round(self.confidence, 2),
            "rationale": self.rationale,
            "split": dict(self.split),
            "at_edge": self.at_edge,
            "next_lrs": [_r(v) for v in self.next_lrs],
            "fitted_min_lr": _r(self.fitted_min_lr),
            "points": [
                {
                    "run": p.id,
                    "name": p.name,
                    "lr": _r(p.lr),
                    "status": p.status,
                    "value": None if not math.isfinite(p.value) else round(p.value, 6),
                }
                for p in self.points
            ],
        }
        if self.batch_scaling is not None:
            out["batch_scaling"] = dict(self.batch_scaling)
        return out


def _r(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(f"{v:.3g}")


def _fmt(v: float | None) -> str:
    return "?" if v is None else f"{v:.2g}"


def _varied(points: Sequence[SweepPoint]) -> dict[str, list[str]]:
    """Every parameter whose value differs among the points (values sorted)."""
    keys = sorted({k for p in points for k in p.params})
    out = {}
    for k in keys:
        vals = {str(p.params.get(k, "")) for p in points}
        if len(vals) > 1:
            out[k] = sorted(vals, key=_num_key)
    return out


def _num_key(v: str) -> tuple[int, float, str]:
    try:
        return (0, float(v), v)
    except ValueError:
        return (1, 0.0, v)
