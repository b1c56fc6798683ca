"""The contract document (``lrtempo.analysis/1``) and its human renderings.

Pure functions from analyses to a dict or a string; nothing here prints or writes.
The HTML report is self-contained (inline CSS and SVG sparklines, no CDN).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import numpy as np

from .analysis import RunAnalysis
from .errors import printable
from .lrtext import evidence_readable, format_lr, lr_change, plain_advice, worst_text
from .model import Run, RunMeta
from .roles import role_series
from .sweeps import Sweep, reconcile
from .theme import BADGE_HEX, DARK_TEXT, STATUS_ORDER

SCHEMA = "lrtempo.analysis/1"
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
    counts = {s: 0 for s in STATUS_ORDER}
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


def sparkline_svg(run: Run, analysis: RunAnalysis, width: int = 320, height: int = 70) -> str:
    """An inline SVG of train (blue) and val (orange) loss with finding ranges shaded."""
    series = [
        (role_series(run, analysis.roles.train_loss), "#2c7fb8"),
        (role_series(run, analysis.roles.val_loss), "#e6550d"),
    ]
    pts = [
        (s["step"].to_numpy(), s["value"].to_numpy(), c)
        for s, c in series
        if s is not None and len(s)
    ]
    finite = [(x[np.isfinite(y)], y[np.isfinite(y)], c) for x, y, c in pts]
    finite = [(x, y, c) for x, y, c in finite if len(x) > 1]
    if not finite:
        return ""
    x0 = min(float(x.min()) for x, _, _ in finite)
    x1 = max(float(x.max()) for x, _, _ in finite)
    ys = np.concatenate([y for _, y, _ in finite])
    lo, hi = np.percentile(ys, [1, 99])
    xs = max(x1 - x0, 1.0)
    ysp = max(float(hi - lo), 1e-12)

    def sx(v: float) -> float:
        return (v - x0) / xs * (width - 4) + 2

    def sy(v: np.ndarray) -> np.ndarray:
        return height - 2 - (np.clip(v, lo, hi) - lo) / ysp * (height - 4)

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img">'
        )
    ]
    for f in analysis.findings:
        colour = KIND_COLOURS.get(f.kind, "#999")
        a, b = sx(f.start_step), sx(f.end_step)
        parts.append(
            f'<rect x="{a:.1f}" y="0" width="{max(b - a, 1.5):.1f}" height="{height}" '
            f'fill="{colour}" opacity="0.18"/>'
        )
    for x, y, colour in finite:
        step = max(1, len(x) // 400)
        coords = " ".join(f"{sx(float(a)):.1f},{b:.1f}" for a, b in zip(x[::step], sy(y[::step])))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.3" points="{coords}"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


HTML_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:1500px}
table{border-collapse:collapse;width:100%;table-layout:fixed}th,td{border-bottom:1px solid #ddd;
padding:.4rem .5rem;text-align:left;vertical-align:top;font-size:.92rem;overflow-wrap:anywhere}
th{background:#f5f5f5}td svg{max-width:100%;height:auto}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:.7rem;color:#fff;font-size:.8rem;
font-weight:600;white-space:nowrap}.badge.dark{color:#212529;border:1px solid #dee2e6}.sofar{color:#6c757d;font-style:italic}
.state{font-size:.8rem;font-weight:600}.state.RUNNING{color:#087990}
.muted{color:#777;font-size:.85rem}.err{color:#dc3545}a{color:#0d6efd}
.advice{display:block}.advice::first-letter{text-transform:uppercase}
"""
#: The HTML table's columns and their widths (fixed: a long URL or name wraps in its
#: cell instead of squeezing the findings and the suggestion to a word a line).
HTML_COLUMNS = (
    ("run", "15%"),
    ("experiment", "9%"),
    ("user", "5%"),
    ("state", "7%"),
    ("status", "9%"),
    ("loss (train blue, val orange)", "13%"),
    ("findings", "23%"),
    ("suggestion", "19%"),
)


def render_html(
    analyses: Sequence[RunAnalysis],
    errors: Sequence[dict[str, str]],
    runs: dict[str, Run] | None = None,
    sparklines: Mapping[str, str] | None = None,
    sweeps: Sequence[Sweep] = (),
) -> str:
    """A self-contained HTML report; ``runs`` (by id) adds a sparkline per run, or
    ``sparklines`` (by id) when they were drawn where the runs were read (a fleet review)."""
    esc = html.escape
    analyses = reconcile(analyses, sweeps)  # a sweep member's advice agrees with it
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    counts = status_counts(analyses)
    rows = []
    for a in triage_order(analyses):
        colour = KIND_COLOURS.get(a.status, "#555")
        if sparklines is not None:
            spark = sparklines.get(a.meta.id, "")
        else:
            spark = sparkline_svg(runs[a.meta.id], a) if runs and a.meta.id in runs else ""
        findings = (
            "".join(
                f"<div><b>{esc(f.kind)}</b> ({esc(f.severity)}, {esc(f.metric)}, steps "
                f"{int(f.start_step)}–{int(f.end_step)}, conf. {f.confidence:.2f}): {esc(f.message)}"
                + (
                    f"<div class='muted'>{esc(ev)}</div>"
                    if (ev := evidence_readable(f.evidence))
                    else ""
                )
                + "</div>"
                for f in a.findings
            )
            or '<span class="muted">no finding</span>'
        )
        rationale = esc(a.suggestion.rationale) if a.suggestion else ""
        if a.lr_range_test is not None:
            rationale += f"<div>{esc(range_test_line(a))}</div>"
        m = a.meta
        url = safe_url(run_url(m))
        name = (
            f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{esc(m.name)}</a>'
            if url
            else esc(m.name)
        )
        state = esc(m.status or "")
        dark = " dark" if a.status in DARK_TEXT else ""
        sofar = " <span class='sofar'>so far</span>" if is_running(m) else ""
        sentence, line = advice_parts(a)
        rows.append(
            # the link says where an MLflow run is; a file's path is worth a line
            f"<tr><td><b>{name}</b><div class='muted'>{esc(m.source)}"
            + ("" if url else f": {esc(m.location)}")
            + f"</div></td><td>{esc(m.experiment or '')}</td>"
            f"<td>{esc(m.user or '')}</td>"
            f"<td><span class='state {re.sub(r'[^A-Z]', '', state)}'>{state}</span></td>"
            f"<td><span class='badge{dark}' style='background:{colour}'>"
            f"{esc(a.status.replace('_', ' '))}</span>{sofar}</td>"
            f"<td>{spark}</td><td>{findings}</td>"
            f"<td><b class='advice'>{esc(sentence)}</b>"
            + (f"<div class='muted'>{esc(line)}</div>" if line else "")
            + f"<div class='muted'>{rationale}</div></td></tr>"
        )
    summary = " · ".join(f"<b>{n}</b> {esc(s)}" for s, n in counts.items()) or "No runs."
    sweep_html = "".join(
        f"<li><b>{esc(h)}</b><div class='muted'>{esc(w)}</div>{sweep_svg(sw)}</li>"
        for (h, w), sw in zip(sweep_lines(sweeps), sweeps)
    )
    errs = "".join(
        f"<li class='err'><code>{esc(e['location'])}</code>: {esc(e['error'])}</li>" for e in errors
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>LR Tempo review</title>"
        f"<style>{HTML_STYLE}</style></head><body><h1>LR Tempo review</h1>"
        f"<p class='muted'>{esc(now)}</p><p>{summary}</p>"
        "<table><colgroup>"
        + "".join(f"<col style='width:{w}'>" for _, w in HTML_COLUMNS)
        + "</colgroup><tr>"
        + "".join(f"<th>{esc(h)}</th>" for h, _ in HTML_COLUMNS)
        + f"</tr>{''.join(rows)}</table>"
        + (f"<h2>Sweeps</h2><ul>{sweep_html}</ul>" if sweep_html else "")
        + (f"<h2>Sources that could not be read</h2><ul>{errs}</ul>" if errs else "")
        + "</body></html>\n"
    )


def sweep_svg(sweep: Sweep, width: int = 360, height: int = 140) -> str:
    """Inline SVG of a sweep: each run's loss against log10 LR (coloured by status, the
    tried LRs written below), the fitted curve, the recommended LR (green) and the
    stability edge (red, dashed)."""
    pts = [
        (math.log10(p.lr), p.value, p.status)
        for p in sweep.points
        if p.lr and p.lr > 0 and math.isfinite(p.value)
    ]
    if len(pts) < 2:
        return ""
    xs = [x for x, _, _ in pts]
    x0, x1 = min(xs) - 0.2, max(xs) + 0.2
    ys = [y for _, y, _ in pts] + list(sweep.curve.get("fit", []))
    lo, hi = float(np.percentile(ys, 0)), float(np.percentile(ys, 100))
    span = max(hi - lo, 1e-12)

    def sx(v: float) -> float:
        return 4 + (v - x0) / (x1 - x0) * (width - 8)

    def sy(v: float) -> float:
        return height - 16 - (min(max(v, lo), hi) - lo) / span * (height - 22)

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img">'
        )
    ]
    for lr, colour, dash in (
        (sweep.recommended_lr, "#27ae60", ""),
        (sweep.stability_edge_lr, "#c0392b", ' stroke-dasharray="4 3"'),
    ):
        if lr:
            x = sx(math.log10(lr))
            parts.append(
                f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height}" stroke="{colour}"{dash}/>'
            )
    curve = sweep.curve
    if curve.get("log10_lr"):
        coords = " ".join(
            f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(curve["log10_lr"], curve["fit"])
        )
        parts.append(
            f'<polyline fill="none" stroke="#2c7fb8" stroke-width="1.2" points="{coords}"/>'
        )
    parts.append(
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 13}" '
        'fill="none" stroke="#ddd"/>'
    )
    for lr in sweep.lrs:
        parts.append(
            f'<text x="{sx(math.log10(lr)):.1f}" y="{height - 2}" font-size="9" '
            f'text-anchor="middle" fill="#777">{html.escape(format_lr(lr))}</text>'
        )
    for x, y, status in pts:
        parts.append(
            f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" '
            f'fill="{KIND_COLOURS.get(status, "#555")}"/>'
        )
    parts.append("</svg>")
    return "".join(parts)
