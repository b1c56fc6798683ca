"""The self-contained HTML report (inline CSS and SVG sparklines, no CDN) (pure: a string).

:func:`render_html` is re-exported by :mod:`analyzer.report`.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np

from . import report_rows
from .analysis import RunAnalysis
from .lrtext import evidence_readable, format_lr
from .model import Run
from .roles import role_series
from .sweeps import Sweep, reconcile
from .theme import DARK_TEXT


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
        colour = report_rows.KIND_COLOURS.get(f.kind, "#999")
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
    counts = report_rows.status_counts(analyses)
    rows = []
    for a in report_rows.triage_order(analyses):
        colour = report_rows.KIND_COLOURS.get(a.status, "#555")
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
            rationale += f"<div>{esc(report_rows.range_test_line(a))}</div>"
        m = a.meta
        url = report_rows.safe_url(report_rows.run_url(m))
        name = (
            f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{esc(m.name)}</a>'
            if url
            else esc(m.name)
        )
        state = esc(m.status or "")
        dark = " dark" if a.status in DARK_TEXT else ""
        sofar = " <span class='sofar'>so far</span>" if report_rows.is_running(m) else ""
        sentence, line = report_rows.advice_parts(a)
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
        for (h, w), sw in zip(report_rows.sweep_lines(sweeps), sweeps)
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
    parts.extend(
        f'<text x="{sx(math.log10(lr)):.1f}" y="{height - 2}" font-size="9" '
        f'text-anchor="middle" fill="#777">{html.escape(format_lr(lr))}</text>'
        for lr in sweep.lrs
    )
    for x, y, status in pts:
        parts.append(
            f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" '
            f'fill="{report_rows.KIND_COLOURS.get(status, "#555")}"/>'
        )
    parts.append("</svg>")
    return "".join(parts)
