"""Result types of the analysis: findings, the suggestion and a run's analysis.

All are frozen dataclasses; ``to_dict`` gives the contract's JSON objects
(``lrtempo.analysis/1``, see CONTRACT.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FindingKind = Literal["oscillation", "stagnation", "overfitting", "divergence"]
Severity = Literal["info", "warning", "critical"]
#: The loss a finding is about (a detector's ``metric`` argument).
MetricRole = Literal["train_loss", "val_loss"]
Status = Literal[
    "healthy", "oscillation", "stagnation", "overfitting", "divergence", "insufficient_data"
]
Action = Literal[
    "keep_lr",
    "decrease_lr",
    "increase_lr",
    "early_stop",
    "add_warmup",
    "decay_lr",
    "restore_lr",
    "check_data",
]

SEVERITY_RANK: Mapping[str, int] = {"info": 0, "warning": 1, "critical": 2}
#: Order used to pick a status when two findings share the highest severity.
KIND_RANK: Mapping[str, int] = {
    "divergence": 3,
    "oscillation": 2,
    "overfitting": 1,
    "stagnation": 0,
}


def _clean(value: Any) -> Any:
    """JSON-safe numbers: NaN/Inf become ``None``; numpy scalars become Python ones."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class Finding:
    """One problem in one metric over a step range, with its evidence."""

    kind: FindingKind
    metric: MetricRole
    start_step: int
    end_step: int
    severity: Severity
    confidence: float
    evidence: Mapping[str, float | int | str | None] = field(default_factory=dict)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "kind": self.kind,
                "metric": self.metric,
                "start_step": int(self.start_step),
                "end_step": int(self.end_step),
                "severity": self.severity,
                "confidence": round(float(self.confidence), 4),
                "evidence": dict(self.evidence),
                "message": self.message,
            }
        )


@dataclass(frozen=True)
class Suggestion:
    """The one action LR Tempo recommends for a run, with numbers and a rationale."""

    action: Action
    current_lr: float | None = None
    suggested_lr: float | None = None
    factor: float | None = None
    early_stop_step: int | None = None
    rationale: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. warmup_steps, schedule

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action,
            "current_lr": self.current_lr,
            "suggested_lr": self.suggested_lr,
            "factor": None if self.factor is None else float(f"{float(self.factor):.3g}"),
            "early_stop_step": self.early_stop_step,
            "rationale": self.rationale,
        }
        out.update(dict(self.extra))
        return _clean(out)


def status_of(findings: list[Finding], insufficient: bool = False) -> Status:
    """The kind of the most severe warning/critical finding.

    ``info`` findings (e.g. a run that converged as its schedule ended) are reported
    but do not make a run unhealthy. With no problem: ``insufficient_data`` when the
    run was too short to judge, else ``healthy``.
    """
    main = worst(findings)
    if main is None:
        return "insufficient_data" if insufficient else "healthy"
    return main.kind


def worst(findings: Iterable[Finding]) -> Finding | None:
    """The most severe non-info finding, ``None`` without one.

    Ties: the worse kind (:data:`KIND_RANK`: divergence > oscillation > overfitting >
    stagnation), then the higher confidence, then the earlier start. The status, the
    suggestion, the reports, the Review grid and the MLflow tags all pick with this.
    """
    problems = [f for f in findings if f.severity != "info"]
    if not problems:
        return None
    return max(
        problems,
        key=lambda f: (
            SEVERITY_RANK.get(f.severity, 0),
            KIND_RANK.get(f.kind, -1),
            float(f.confidence),
            -int(f.start_step),
        ),
    )
