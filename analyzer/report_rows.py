"""What a report says of one run or sweep, in words every rendering shares (pure): the
verdict label, the triage order, the advice sentence and line, a sweep's headline, an LR
range test's line, the run's MLflow page and the URL filter every link goes through.
:mod:`analyzer.report` (text, Markdown, JSON), :mod:`analyzer.report_html` and
:mod:`analyzer.notify` read them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from urllib.parse import quote, urlsplit

from .analysis import RunAnalysis
from .errors import printable
from .lrtext import format_lr, lr_change, plain_advice
from .model import RunMeta
from .sweeps import Sweep
from .theme import BADGE_HEX, STATUS_ORDER

#: The dashboard's badge colours (:data:`analyzer.theme.BADGE_HEX`), so a report and the
#: Review page look alike.
KIND_COLOURS = BADGE_HEX


def is_running(meta: RunMeta) -> bool:
    """Whether the run was still RUNNING when read (its verdict is "so far")."""
    return str(meta.status or "").strip().upper() == "RUNNING"


def verdict_label(a: RunAnalysis) -> str:
    """``overfitting``, or ``overfitting (so far)`` for a run still running."""
    return a.status + (" (so far)" if is_running(a.meta) else "")


def triage_order(analyses: Iterable[RunAnalysis]) -> list[RunAnalysis]:
    """Worst status first, then the most confident worst finding, then the latest start
    (the Review page's default order)."""

    def key(a: RunAnalysis) -> tuple[int, float, float]:
        rank = STATUS_ORDER.index(a.status) if a.status in STATUS_ORDER else len(STATUS_ORDER)
        conf = max((f.confidence for f in a.findings if f.kind == a.status), default=0.0)
        start = a.meta.start_time if a.meta.start_time is not None else -math.inf
        return rank, -conf, -start

    return sorted(analyses, key=key)


def advice_parts(a: RunAnalysis) -> tuple[str, str]:
    """``(sentence, line)``: :func:`~analyzer.lrtext.plain_advice` and, when it words the
    numbers otherwise, the dashboard's line (:func:`suggestion_line`); else ``""``."""
    sentence, line = plain_advice(a.suggestion), suggestion_line(a)
    return sentence, (line if line != sentence else "")


def sweep_lines(sweeps: Sequence[Sweep]) -> list[tuple[str, str]]:
    """Per sweep: a headline (group, LRs, recommendation) and its rationale."""
    out = []
    for s in sweeps:
        split = ", ".join(f"{k}={v}" for k, v in s.split.items())
        rng = s.recommended_range
        rec = (
            f"recommended LR {format_lr(s.recommended_lr)}"
            + (f" (range {format_lr(rng[0])}–{format_lr(rng[1])})" if rng else "")
            + f", confidence {s.confidence:.2f}"
        )
        head = (
            f"{printable(s.group)}{' [' + printable(split) + ']' if split else ''}: "
            f"{len(s.points)} runs at LRs {', '.join(format_lr(v) for v in s.lrs)}; {rec}"
        )
        out.append((head, printable(s.rationale)))
    return out


def range_test_line(a: RunAnalysis) -> str:
    """``LR range test: suggested 1e-03 (min_loss/10), steepest …`` or ``""``."""
    t = a.lr_range_test
    if t is None:
        return ""
    return (
        f"LR range test: suggested {format_lr(t.suggested_lr)} ({t.rule}, confidence "
        f"{t.confidence:.2f}); steepest {format_lr(t.steepest_lr)}, minimum loss at "
        f"{format_lr(t.min_loss_lr)}, blow-up at {format_lr(t.blowup_lr)}"
    )


def status_counts(analyses: Iterable[RunAnalysis]) -> dict[str, int]:
    """Runs per status, in severity order, statuses with no run left out."""
    counts = dict.fromkeys(STATUS_ORDER, 0)
    for a in analyses:
        counts[a.status] = counts.get(a.status, 0) + 1
    return {s: n for s, n in counts.items() if n}


def suggestion_line(a: RunAnalysis) -> str:
    """``decrease LR 3e-3 → 3e-4 (×0.1)``, ``stop at step 1200`` (:func:`lr_change`)."""
    return lr_change(a.suggestion).text


def run_url(meta: RunMeta) -> str | None:
    """The run's page in the MLflow UI when it was read from an http(s) server."""
    loc = meta.location or ""
    if not loc.startswith(("http://", "https://")):
        return None
    if "#/" in loc:
        return loc
    base = loc.split("?")[0].rstrip("/")
    exp_id = meta.tags.get("mlflow.experiment_id") if meta.tags else None
    if exp_id:
        return f"{base}/#/experiments/{exp_id}/runs/{meta.id}"
    return f"{base}/#/runs/{meta.id}"


def safe_url(url: str | None) -> str | None:
    """``url`` when it is an http(s) URL with a host (characters that could end a
    Markdown link or an HTML attribute percent-encoded), else ``None``: any other
    scheme (``javascript:``, ``data:``…) is never a link."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return quote(url.strip(), safe="/:?#=&%@!$+,;-.~")
