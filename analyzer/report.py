"""The contract document (``lrtempo.analysis/1``) and its human renderings.

Pure functions from analyses to a dict or a string; nothing here prints or writes.
The HTML report is self-contained (inline CSS and SVG sparklines, no CDN).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from .analysis import RunAnalysis
from .errors import printable
from .lrtext import evidence_readable, worst_text
from .report_html import (
    HTML_COLUMNS,
    HTML_STYLE,
    render_html,
    sparkline_svg,
    sweep_svg,
)
from .report_rows import (
    KIND_COLOURS,
    advice_parts,
    is_running,
    range_test_line,
    run_url,
    safe_url,
    status_counts,
    suggestion_line,
    sweep_lines,
    triage_order,
    verdict_label,
)
from .sweeps import Sweep, reconcile

#: The public names; the shared row words live in :mod:`analyzer.report_rows`, the HTML
#: report in :mod:`analyzer.report_html`.
__all__ = [
    "HTML_COLUMNS",
    "HTML_STYLE",
    "KIND_COLOURS",
    "SCHEMA",
    "advice_parts",
    "build_document",
    "is_running",
    "md_link",
    "md_text",
    "range_test_line",
    "render_html",
    "render_markdown",
    "render_text",
    "run_url",
    "safe_url",
    "sparkline_svg",
    "status_counts",
    "suggestion_line",
    "sweep_lines",
    "sweep_svg",
    "triage_order",
    "verdict_label",
]

SCHEMA = "lrtempo.analysis/1"


def build_document(
    analyses: Sequence[RunAnalysis],
    errors: Sequence[dict[str, str]],
    sweeps: Sequence[Sweep] | None = None,
) -> dict[str, Any]:
    """The JSON contract document (``sweeps`` added when given)."""
    analyses = reconcile(analyses, sweeps or ())  # a sweep member's advice agrees with it
    runs = []
    for a in analyses:
        obj = a.to_dict()
        if a.warnings:
            obj["warnings"] = list(a.warnings)
        runs.append(obj)
    doc = {"schema": SCHEMA, "runs": runs, "errors": [dict(e) for e in errors]}
    if sweeps is not None:
        doc["sweeps"] = [s.to_dict() for s in sweeps]
    return doc


def render_text(
    analyses: Sequence[RunAnalysis], errors: Sequence[dict[str, str]], sweeps: Sequence[Sweep] = ()
) -> str:
    """A plain-text report for the terminal."""
    analyses = reconcile(analyses, sweeps)  # a sweep member's advice agrees with it
    lines = []
    counts = status_counts(analyses)
    lines.append(
        f"LR Tempo: {len(analyses)} run(s) — " + ", ".join(f"{n} {s}" for s, n in counts.items())
    )
    for a in triage_order(analyses):
        lines.append("")
        state = f", {printable(a.meta.status)}" if a.meta.status else ""
        lines.append(
            f"{printable(a.meta.name)}  [{verdict_label(a)}{state}]  ({a.meta.source}: "
            f"{printable(a.meta.location)})"
        )
        roles = (
            ", ".join(f"{k}={v}" for k, v in a.roles.as_dict().items()) or "no loss metric found"
        )
        lines.append(f"  metrics: {roles}")
        for f in a.findings:
            lines.append(
                f"  - {f.severity:<8} {f.kind} in {f.metric}, steps {int(f.start_step)}–{int(f.end_step)} "
                f"(confidence {f.confidence:.2f}): {printable(f.message)}"
            )
        if a.suggestion:
            lines.append(f"  → {suggestion_line(a)}: {printable(a.suggestion.rationale)}")
        if a.lr_range_test is not None:
            lines.append(f"  → {range_test_line(a)}")
        for w in a.warnings:
            lines.append(f"  ! {printable(w)}")
    if sweeps:
        lines += ["", f"Sweeps: {len(sweeps)}"]
        for head, why in sweep_lines(sweeps):
            lines += [f"  {head}", f"    {why}"]
    for e in errors:
        lines.append(f"error: {printable(e['location'])}: {printable(e['error'])}")
    return "\n".join(lines) + "\n"


#: Characters with a meaning in Markdown (CommonMark, GFM tables, Python-Markdown and its
#: attr_list): backslash-escaped in user strings. ``<``, ``>`` and ``&`` become entities.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#|])")


def md_text(text: Any) -> str:
    """A user-supplied string as literal Markdown text on one line: no HTML, no link,
    no image, no emphasis, no table cell break, whatever it holds."""
    one_line = printable(str(text).replace("\r\n", " ").replace("\n", " ").replace("\r", " "))
    return html.escape(_MD_SPECIAL.sub(r"\\\1", one_line), quote=False)


def md_link(label: str, url: str | None) -> str:
    """``[label](url)`` for an http(s) URL (``label`` escaped), else the escaped label."""
    safe = safe_url(url)
    return f"[{md_text(label)}]({safe})" if safe else md_text(label)


def render_markdown(
    analyses: Sequence[RunAnalysis], errors: Sequence[dict[str, str]], sweeps: Sequence[Sweep] = ()
) -> str:
    """A Markdown report (a table of runs, then each run's findings)."""
    analyses = reconcile(analyses, sweeps)  # a sweep member's advice agrees with it
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"# LR Tempo review — {now}", ""]
    counts = status_counts(analyses)
    out.append(" · ".join(f"**{n}** {s}" for s, n in counts.items()) or "No runs.")
    out += [
        "",
        "| run | experiment | user | state | source | status | worst finding | suggestion |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in triage_order(analyses):
        m = a.meta
        sentence, line = advice_parts(a)
        advice = md_text(sentence) + (f" — {md_text(line)}" if line else "")
        out.append(
            f"| {md_link(m.name, run_url(m))} | {md_text(m.experiment or '')} | "
            f"{md_text(m.user or '')} | {md_text(m.status or '')} | {md_text(m.source)} | "
            f"{md_text(verdict_label(a))} | {md_text(worst_text(a.findings))} | {advice} |"
        )
    if sweeps:
        out += ["", "## Sweeps", ""]
        out += [f"- **{md_text(head)}** — {md_text(why)}" for head, why in sweep_lines(sweeps)]
    for a in analyses:
        if a.lr_range_test is not None:
            out += ["", f"## {md_text(a.meta.name)}", "", f"- {md_text(range_test_line(a))}"]
        if not a.findings and not a.warnings:
            continue
        out += ["", f"## {md_text(a.meta.name)}", ""]
        for f in a.findings:
            ev = evidence_readable(f.evidence)
            out.append(
                f"- **{md_text(f.kind)}** ({md_text(f.severity)}, {md_text(f.metric)}, "
                f"steps {int(f.start_step)}–{int(f.end_step)}, confidence "
                f"{f.confidence:.2f}): {md_text(f.message)}"
                + (f" (evidence: {md_text(ev)})" if ev else "")
            )
        if a.suggestion and a.suggestion.rationale:
            out.append(
                f"- **suggestion**: {md_text(suggestion_line(a))} — "
                f"{md_text(a.suggestion.rationale)}"
            )
        out += [f"- warning: {md_text(w)}" for w in a.warnings]
    if errors:
        out += ["", "## Sources that could not be read", ""]
        out += [f"- {md_text(e['location'])}: {md_text(e['error'])}" for e in errors]
    return "\n".join(out) + "\n"
