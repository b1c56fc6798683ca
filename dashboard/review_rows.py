"""The Review grid's rows: one plain-values row per run and analysis (status, worst
finding, LR change, best validation loss, sparkline, times), their triage order, and the
params and metrics the column chooser adds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from analyzer.findings import worst
from analyzer.lrtext import finding_text, format_sig, lr_change
from analyzer.model import Run
from analyzer.report import run_url
from analyzer.roles import role_series
from analyzer.theme import STATUS_ORDER
from analyzer.timewindow import run_time

from .series import best_val_step

#: MLflow run states shown in the Review grid.
RUN_STATES = ("RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED")


def format_time(ts: float | None, *, utc_suffix: bool = True) -> str:
    """``2026-11-25 06:23 UTC`` (the Review grid's column says UTC, so it leaves it off)."""
    if ts is None or not np.isfinite(ts):
        return ""
    text = datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M")
    return f"{text} UTC" if utc_suffix else text


def format_duration(start: float | None, end: float | None) -> str:
    if start is None or end is None or end < start:
        return ""
    s = int(end - start)
    if s < 60:
        return f"{s}s"
    h, rem = divmod(s, 3600)
    m = rem // 60
    return f"{h}h {m:02d}m" if h else f"{m}m"


def mlflow_run_url(run: Run) -> str | None:
    """The run's page in the MLflow UI when its location is an http(s) server."""
    return run_url(run.meta)


def run_user(run: Run) -> str:
    """Who ran it: the reader's user, else MLflow's ``mlflow.user`` tag, else ``""``."""
    return run.meta.user or (run.meta.tags or {}).get("mlflow.user", "") or ""


def spark_values(series: Any, n: int = 40) -> list[float] | None:
    """A loss series as ``n`` bucket means scaled to ``[0, 1]`` (for the Review sparkline)."""
    if series is None or len(series) < 3:
        return None
    y = series["value"].to_numpy(dtype=np.float64)
    y = y[np.isfinite(y)]
    if y.size < 3:
        return None
    means = np.array([b.mean() for b in np.array_split(y, min(n, y.size)) if b.size])
    lo, hi = np.percentile(means, [2, 98])
    span = float(hi - lo)
    if not np.isfinite(span) or span <= 0:
        return [0.5] * len(means)
    return [round(float(v), 3) for v in np.clip((means - lo) / span, 0.0, 1.0)]


def review_row(run: Run, analysis: Any, *, uploaded: bool = False) -> dict[str, Any]:
    """One row of the Review table (plain values; the grid renders them as text)."""
    m = run.meta
    findings = tuple(getattr(analysis, "findings", ()) or ())
    main = worst(findings)
    sug = getattr(analysis, "suggestion", None)
    roles = getattr(analysis, "roles", None)
    best = sug.early_stop_step if sug is not None and sug.early_stop_step is not None else None
    if best is None and roles is not None and roles.val_loss:
        try:
            best = best_val_step(role_series(run, roles.val_loss))
        except Exception:  # a best value is optional
            best = None
    change = lr_change(sug)  # the same numbers and line as the Run page, reports and tags
    start = m.start_time if m.start_time is not None else run_time(run)
    wall = run.frame["wall_time"].to_numpy(dtype=np.float64)
    wall = wall[np.isfinite(wall)]
    if wall.size >= 2:  # the logged points' span; a file's mtime is not its end
        duration = format_duration(float(wall.min()), float(wall.max()))
    elif m.start_time is not None and m.end_time is not None:
        duration = format_duration(m.start_time, m.end_time)
    else:
        duration = ""
    try:
        spark = spark_values(role_series(run, roles.train_loss)) if roles is not None else None
    except Exception:  # a sparkline is decoration
        spark = None
    best_val = None
    if best is not None and roles is not None and roles.val_loss:
        try:
            best_val = value_at(role_series(run, roles.val_loss), best)
        except Exception:  # a best value is optional
            best_val = None
    status = getattr(analysis, "status", "healthy")
    state = run_state(run)
    return {
        "id": m.id,
        "run": m.name,
        "user": run_user(run),
        "spark": spark,
        "experiment": m.experiment or ("uploads" if uploaded else ""),
        "source": "upload" if uploaded else m.source,
        "start": format_time(start, utc_suffix=False),
        "start_short": format_time(start, utc_suffix=False)[5:],  # 12-06 04:41
        "start_ts": start,
        "duration": duration,
        "status": status,
        "mlflow_status": m.status or "",
        # RUNNING / FINISHED / FAILED / KILLED for MLflow runs ("" for files): a running
        # run's verdict is marked "so far"
        "state": state,
        "running": state == "RUNNING",
        "rank": status_rank(status),
        "confidence": round(float(main.confidence), 3) if main else 0.0,
        "finding": finding_text(main) if main else "",
        "severity": main.severity if main else "",
        "lr": change.text if sug is not None else "",
        # machine numbers of the same line: the LR column sorts by these, not by its text
        "lr_current": change.current_lr,
        "lr_suggested": change.suggested_lr,
        "lr_factor": change.factor,
        "action": sug.action if sug is not None else "",
        "best_val_step": best,
        "best_val": best_val,
        "best_val_text": best_val_text(best_val, best),
        "mlflow_url": mlflow_run_url(run),
    }


def status_rank(status: str | None) -> int:
    """0 for divergence … 5 for healthy (an unknown status just before healthy)."""
    try:
        return STATUS_ORDER.index(str(status))
    except ValueError:
        return len(STATUS_ORDER) - 1


def run_state(run: Run) -> str:
    """The MLflow run state (``RUNNING``, ``FINISHED``, ``FAILED``, ``KILLED``), else ``""``."""
    state = str(run.meta.status or "").strip().upper()
    return state if state in RUN_STATES else ""


def value_at(series: Any, step: int) -> float | None:
    """The series' value at ``step`` (the last one logged at or before it), ``None`` if none."""
    if series is None or not len(series):
        return None
    steps = series["step"].to_numpy()
    values = series["value"].to_numpy(dtype=np.float64)
    keep = (steps <= step) & np.isfinite(values)
    if not keep.any():
        return None
    return float(values[keep][-1])


def best_val_text(value: float | None, step: int | None) -> str:
    """``0.412 @ 1200`` (the best validation loss @ its step), ``""`` if unknown."""
    if step is None:
        return ""
    if value is None:
        return f"step {int(step)}"
    return f"{format_sig(value)} @ {int(step)}"


def triage_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Review rows in triage order (worst status first, then the most confident
    finding, then the latest start), copied with ``triage`` (their position: the Status
    column sorts by it) and ``run_suffix`` (what tells apart runs of the same name: their
    experiments, else start times, else short ids; ``""`` for a unique name)."""

    def key(r: dict[str, Any]) -> tuple[int, float, float]:
        start = r.get("start_ts")
        return (
            int(r.get("rank", status_rank(r.get("status")))),
            -float(r.get("confidence") or 0.0),
            -(float(start) if isinstance(start, (int, float)) and np.isfinite(start) else -np.inf),
        )

    ordered = sorted(rows, key=key)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for r in ordered:
        by_name.setdefault(str(r.get("run") or ""), []).append(r)
    suffix: dict[int, str] = {}
    for same in by_name.values():
        if len(same) < 2:
            continue
        for field_, fmt in (
            ("experiment", _last_part),
            ("experiment", str),
            ("start", str),
            ("id", lambda v: "#" + str(v)[:8]),
        ):
            values = [fmt(str(r.get(field_) or "")) for r in same]
            if all(values) and len(set(values)) == len(values):
                for r, v in zip(same, values, strict=True):
                    suffix[id(r)] = v
                break
        else:
            for i, r in enumerate(same):
                suffix[id(r)] = f"#{str(r.get('id') or '')[:8]} ({i + 1})"
    return [{**r, "triage": i, "run_suffix": suffix.get(id(r), "")} for i, r in enumerate(ordered)]


def _last_part(path: str) -> str:
    """``team-a/vision`` → ``vision`` (an experiment's last path segment)."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def extra_keys(run: Run) -> list[str]:
    """The column chooser's keys of a run: ``param:NAME`` and ``metric:NAME`` (cheap)."""
    return [f"param:{k}" for k in (run.meta.params or {})] + [
        f"metric:{n}" for n in run.metric_names
    ]


def extra_values(run: Run) -> dict[str, Any]:
    """The run's MLflow params (``param:NAME``, a number when it reads as one) and the
    last value of each metric (``metric:NAME``), for the Review's column chooser."""
    out: dict[str, Any] = {}
    for k, v in (run.meta.params or {}).items():
        text = str(v)
        try:
            num = float(text)
        except ValueError:
            num = None
        out[f"param:{k}"] = num if num is not None and np.isfinite(num) else text
    for name, v in run.last_values().items():
        out[f"metric:{name}"] = v if np.isfinite(v) else None
    return out
