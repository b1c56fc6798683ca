"""Write LR Tempo's verdict back to MLflow as run tags (opt-in, tags only).

    results = write_back(analyses)                 # list[TagWrite], one per analysis
    [r.outcome for r in results]                   # "written" | "unchanged" | "skipped" | "failed"

Each MLflow run gets the tags of :func:`verdict_tags` (``lrtempo.status``,
``lrtempo.action``, ``lrtempo.current_lr``, ``lrtempo.suggested_lr``, ``lrtempo.factor``,
``lrtempo.early_stop_step``, ``lrtempo.worst_finding``, ``lrtempo.suggestion``) plus
``lrtempo.analyzed_at``, so MLflow's UI can show and filter them
(``tags.lrtempo.status = 'overfitting'``). The numbers are machine-readable (6
significant digits) and the same as the JSON's; ``lrtempo.suggestion`` is the line the
dashboard and the reports show (:func:`analyzer.lrtext.lr_change`).

Rules:

- Only tags: ``MlflowClient.log_batch(run_id, tags=[...])`` and ``delete_tag`` for an
  ``lrtempo.*`` tag whose value no longer applies. Metrics and params are never sent.
- Idempotent: the run's current tags are read first; when every verdict tag already
  has its value nothing is written at all (``analyzed_at`` included), so re-running
  changes nothing.
- Only runs whose source is MLflow; other runs are ``skipped``. A run that cannot be
  written is ``failed`` with a one-line message; the others go on.
- A run still RUNNING is ``skipped`` (its verdict is not final) unless
  ``include_running``; then it is tagged with ``lrtempo.final=false`` too, a tag removed
  when the run is tagged again after it ended.
- Nothing here prints, and nothing is called unless a caller asks for it.
- MLflow's client is an extra (``pip install 'lrtempo[mlflow]'``): without it,
  :func:`write_back` raises :class:`MlflowMissing`, one line saying what to install.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from .analysis import RunAnalysis
from .errors import LRTempoError
from .findings import worst
from .lrtext import lr_change
from .sweeps import Sweep, reconcile

PREFIX = "lrtempo."
#: The verdict tags, in the order they are written.
VERDICT_KEYS: tuple[str, ...] = tuple(
    PREFIX + k
    for k in (
        "status",
        "action",
        "current_lr",
        "suggested_lr",
        "factor",
        "early_stop_step",
        "worst_finding",
        "suggestion",
        "final",
    )
)
ANALYZED_AT = PREFIX + "analyzed_at"
#: ``false`` on a run tagged while it was still running (absent once it ended).
FINAL = PREFIX + "final"
#: Why a RUNNING run was left out.
RUNNING_SKIPPED = "still running (--include-running tags it, with lrtempo.final=false)"
#: MLflow's limit on a tag value (characters).
MAX_VALUE = 5000

Outcome = Literal["written", "unchanged", "skipped", "failed"]
#: What brings MLflow's client (the demo's store and the tag write-back use it).
MLFLOW_EXTRA = "pip install 'lrtempo[mlflow]'"


class MlflowMissing(LRTempoError):
    """MLflow's client is needed but not installed; the message says what to install."""


def mlflow_client_class(purpose: str) -> Any:
    """``mlflow.MlflowClient``; :class:`MlflowMissing` naming ``purpose`` when absent."""
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise MlflowMissing(f"{purpose} needs MLflow's client: {MLFLOW_EXTRA}") from None
    return MlflowClient


@dataclass(frozen=True)
class TagWrite:
    """What happened to one run: its outcome, the keys set or deleted, and why."""

    run_id: str
    run_name: str
    outcome: Outcome
    tracking_uri: str | None = None
    changed: tuple[str, ...] = ()
    message: str = ""


def format_float(value: float | None) -> str | None:
    """A tag value for a number: 6 significant digits (``0.0003``), ``None`` if unknown."""
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return f"{float(value):.6g}"


def is_running(analysis: RunAnalysis) -> bool:
    """Whether the run was still RUNNING when it was read."""
    return str(analysis.meta.status or "").strip().upper() == "RUNNING"


def verdict_tags(analysis: RunAnalysis) -> dict[str, str | None]:
    """The verdict tags of one analysis; ``None`` means the tag must be absent
    (``lrtempo.final`` is ``false`` for a run still running, else absent)."""
    sug = analysis.suggestion
    main = worst(analysis.findings)
    worst_text = None
    if main is not None:
        worst_text = (
            f"{main.kind} in {main.metric}, steps {main.start_step}-{main.end_step} "
            f"({main.severity}, confidence {main.confidence:.2f})"
        )
    change = lr_change(sug)
    values: dict[str, str | None] = {
        PREFIX + "status": analysis.status,
        PREFIX + "action": sug.action if sug is not None else None,
        PREFIX + "current_lr": format_float(change.current_lr),
        PREFIX + "suggested_lr": format_float(change.suggested_lr),
        PREFIX + "factor": format_float(change.factor),
        PREFIX + "early_stop_step": (
            str(change.early_stop_step) if change.early_stop_step is not None else None
        ),
        PREFIX + "worst_finding": worst_text,
        PREFIX + "suggestion": change.text if sug is not None else None,
        FINAL: "false" if is_running(analysis) else None,
    }
    return {k: (v[:MAX_VALUE] if v is not None else None) for k, v in values.items()}


def plan_changes(
    current: Mapping[str, str], wanted: Mapping[str, str | None]
) -> tuple[dict[str, str], list[str]]:
    """``(tags to set, tag keys to delete)`` turning ``current`` into ``wanted``."""
    to_set = {k: v for k, v in wanted.items() if v is not None and current.get(k) != v}
    to_delete = [k for k, v in wanted.items() if v is None and k in current]
    return to_set, to_delete


def without_credentials(uri: str) -> str:
    """``http://user:pw@host:5000/x`` → ``http://host:5000/x`` (other URIs unchanged)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return uri.rstrip("/")
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])).rstrip("/")


def tracking_uri_of(location: str) -> str | None:
    """The tracking URI a run was read from, given its location; ``None`` if not MLflow.

    ``http://host/#/experiments/1/runs/abc`` → ``http://host``;
    ``sqlite:///m.db#abc`` → ``sqlite:///m.db``; ``file:///mlruns#abc`` → ``file:///mlruns``.
    """
    loc = location or ""
    if loc.startswith(("http://", "https://")):
        base = loc.split("#", 1)[0].rstrip("/")
        return base or None
    if loc.startswith(("sqlite:", "file:")) and "#" in loc:
        return loc.split("#", 1)[0]
    return None


def _match_uri(derived: str, given: Sequence[str]) -> str:
    """A caller's URI (which may carry credentials) for the URI derived from a location."""
    for uri in given:
        if without_credentials(uri) == without_credentials(derived):
            return uri
    return derived


def _default_client(uri: str) -> Any:
    return mlflow_client_class("writing MLflow tags")(tracking_uri=uri)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def write_back(
    analyses: Sequence[RunAnalysis],
    *,
    tracking_uris: Sequence[str] = (),
    now: float | None = None,
    client_for: Callable[[str], Any] = _default_client,
    sweeps: Sequence[Sweep] = (),
    include_running: bool = False,
) -> list[TagWrite]:
    """Store each MLflow run's verdict as ``lrtempo.*`` tags; one :class:`TagWrite` each.

    A RUNNING run is skipped unless ``include_running`` (then tagged ``lrtempo.final=false``).

    ``tracking_uris`` are the URIs the runs were read from (used instead of the
    credential-free one in a run's location when they name the same store);
    ``client_for`` builds a client for a URI (``MlflowClient`` by default); ``sweeps``
    (of the analysis set) reconcile a sweep member's suggestion with its sweep.
    """
    analyses = reconcile(analyses, sweeps)  # the tags say what the report and grid say
    if any(a.meta.source == "mlflow" for a in analyses):
        mlflow_client_class("writing MLflow tags")  # once, before any run is tried
    stamp = datetime.fromtimestamp(time.time() if now is None else now, tz=UTC)
    analyzed_at = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    clients: dict[str, Any] = {}
    out: list[TagWrite] = []
    for a in analyses:
        m = a.meta
        derived = tracking_uri_of(m.location) if m.source == "mlflow" else None
        if derived is None:
            out.append(TagWrite(m.id, m.name, "skipped", message="not an MLflow run"))
            continue
        if is_running(a) and not include_running:
            out.append(TagWrite(m.id, m.name, "skipped", message=RUNNING_SKIPPED))
            continue
        uri = _match_uri(derived, tracking_uris)
        shown = without_credentials(uri)
        try:
            if uri not in clients:
                clients[uri] = client_for(uri)
            client = clients[uri]
            current = dict(client.get_run(m.id).data.tags)
            to_set, to_delete = plan_changes(current, verdict_tags(a))
            if not to_set and not to_delete:
                out.append(TagWrite(m.id, m.name, "unchanged", shown))
                continue
            from mlflow.entities import RunTag

            to_set[ANALYZED_AT] = analyzed_at
            client.log_batch(
                m.id, metrics=[], params=[], tags=[RunTag(k, v) for k, v in to_set.items()]
            )
            for key in to_delete:
                client.delete_tag(m.id, key)
            out.append(
                TagWrite(
                    m.id,
                    m.name,
                    "written",
                    shown,
                    tuple(k for k in to_set if k != ANALYZED_AT) + tuple(to_delete),
                )
            )
        except Exception as exc:  # noqa: BLE001 - one run's failure must not stop the others
            out.append(TagWrite(m.id, m.name, "failed", shown, message=_one_line(exc)))
    return out


def summary(results: Iterable[TagWrite]) -> str:
    """``3 written, 1 unchanged, 2 skipped (not MLflow), 1 skipped (still running), 1 failed``."""
    counts: dict[str, int] = {}
    for r in results:
        key: str = r.outcome
        if r.outcome == "skipped":
            key += " (still running)" if r.message == RUNNING_SKIPPED else " (not MLflow)"
        counts[key] = counts.get(key, 0) + 1
    parts = []
    for outcome in (
        "written",
        "unchanged",
        "skipped (not MLflow)",
        "skipped (still running)",
        "failed",
    ):
        n = counts.get(outcome, 0)
        if n:
            parts.append(f"{n} {outcome}")
    return ", ".join(parts) or "no runs"


__all__ = [
    "ANALYZED_AT",
    "FINAL",
    "PREFIX",
    "VERDICT_KEYS",
    "TagWrite",
    "is_running",
    "plan_changes",
    "summary",
    "tracking_uri_of",
    "verdict_tags",
    "without_credentials",
    "write_back",
]
