"""One suggestion line and one worst finding, shown the same everywhere.

The Review grid row, the Run page's suggestion card, the JSON document, the text,
Markdown and HTML reports and the MLflow tags are rendered from one analysis and read
back: they must quote the same two LR numbers (and the same worst finding). The
Markdown report must stay inert for hostile user strings when rendered by
Python-Markdown (as MkDocs does).
"""

from __future__ import annotations

import html
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzer.analysis import RunAnalysis, analyze_run
from analyzer.findings import Finding, Suggestion, status_of, worst
from analyzer.lrtext import (
    evidence_text,
    format_factor,
    format_lr,
    lr_change,
    numbers_in,
)
from analyzer.model import Run, RunMeta, frame_from_columns
from analyzer.readers import read_sources
from analyzer.report import build_document, md_text, render_html, render_markdown, render_text
from analyzer.roles import resolve_roles
from analyzer.writeback import verdict_tags

markdown = pytest.importorskip("markdown")

SAMPLE_RUNS = Path(__file__).resolve().parent.parent / "sample_runs"
MKDOCS_EXTENSIONS = ["tables", "toc", "fenced_code", "attr_list"]


def make_run(name: str = "r", location: str = "http://mlflow:5000", **meta: Any) -> Run:
    steps = np.arange(1, 51) * 10
    train = np.exp(-steps / 200) + 0.2
    frame = frame_from_columns(
        ["loss"] * 50 + ["val_loss"] * 50 + ["lr"] * 50,
        np.concatenate([steps] * 3),
        np.concatenate([train, train + 0.1, np.full(50, 1e-3)]),
    )
    tags = {"mlflow.experiment_id": "7"}
    return Run(
        meta=RunMeta(
            id=f"id-{abs(hash(name))}",
            name=name,
            source="mlflow",
            location=location,
            tags=tags,
            **meta,
        ),
        frame=frame,
    )


def component_text(component: Any, wanted_id: str) -> str | None:
    """The text of the Dash component with ``id == wanted_id`` inside ``component``."""
    if getattr(component, "id", None) == wanted_id:
        return _all_text(component)
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, str):
            found = component_text(child, wanted_id)
            if found is not None:
                return found
    return None


def _all_text(component: Any) -> str:
    if isinstance(component, str):
        return component
    children = getattr(component, "children", None)
    if children is None:
        return ""
    if isinstance(children, (list, tuple)):
        return "".join(_all_text(c) for c in children if c is not None)
    return _all_text(children)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(text: str) -> _Tags:
    p = _Tags()
    p.feed(text)
    return p


def page_text(rendered_html: str) -> str:
    """The visible text of an HTML document (entities decoded)."""
    return "".join(parse_html(rendered_html).text)


# ------------------------------------------------------------------ one suggestion line

SUGGESTIONS = [
    Suggestion("decrease_lr", current_lr=3e-3, suggested_lr=3e-4, factor=0.1, rationale="r"),
    Suggestion("increase_lr", current_lr=1.234e-5, suggested_lr=1.234e-4, factor=10.0),
    Suggestion("increase_lr", factor=10.0, rationale="no LR logged"),
    Suggestion("keep_lr", current_lr=9.94e-4, suggested_lr=9.94e-4),
    Suggestion("early_stop", current_lr=1e-3, suggested_lr=1e-3, early_stop_step=1200),
    Suggestion("decrease_lr", current_lr=0.03, suggested_lr=0.003, factor=0.1, early_stop_step=500),
    Suggestion(
        "add_warmup", current_lr=3e-3, suggested_lr=3e-4, factor=0.1, extra={"warmup_steps": 200}
    ),
    Suggestion("restore_lr", current_lr=1e-3, suggested_lr=1e-3, extra={"collapsed_lr": 1e-8}),
]


def renderings(a: RunAnalysis, run: Run) -> dict[str, str]:
    """The suggestion as each surface shows it (visible text of the whole surface)."""
    from dashboard.layout import suggestion_card
    from dashboard.review_rows import review_row

    md = render_markdown([a], [])
    return {
        "grid": review_row(run, a)["lr"],
        "run page": component_text(suggestion_card(a.suggestion, a.status), "suggestion-text")
        or "",
        "text": render_text([a], []),
        "markdown": page_text(markdown.markdown(md, extensions=MKDOCS_EXTENSIONS)),
        "html": page_text(render_html([a], [], {run.meta.id: run})),
        "tag": verdict_tags(a)["lrtempo.suggestion"] or "",
    }


def check_same_numbers(a: RunAnalysis, run: Run) -> None:
    doc = json.loads(json.dumps(build_document([a], [])))
    js = doc["runs"][0]["suggestion"]
    change = lr_change(a.suggestion)
    assert change.current_lr == js["current_lr"] and change.suggested_lr == js["suggested_lr"]
    line = change.text
    for surface, text in renderings(a, run).items():
        shown = text if surface != "run page" else text[:1].lower() + text[1:]
        assert line in shown, (surface, line, text)
    # The numbers written in the line parse back to the JSON's, rounded to 3 digits.
    written = numbers_in(line)
    same = format_lr(js["current_lr"]) == format_lr(js["suggested_lr"])
    stop_only = js["action"] == "early_stop" and (same or js["suggested_lr"] is None)
    for key in ("current_lr", "suggested_lr"):
        if js[key] is not None and not stop_only and (key == "current_lr" or not same):
            assert float(format_lr(js[key])) in written, (key, js[key], line)
    if (
        js["current_lr"]
        and js["suggested_lr"]
        and js["action"] != "keep_lr"
        and format_lr(js["current_lr"]) != format_lr(js["suggested_lr"])
    ):
        factor = js["suggested_lr"] / js["current_lr"]
        assert format_factor(factor) in line
    # The tags hold the same numbers, machine-readable.
    tags = verdict_tags(a)
    for key in ("current_lr", "suggested_lr"):
        tag = tags[f"lrtempo.{key}"]
        if js[key] is None:
            assert tag is None
        else:
            assert math.isclose(float(tag), js[key], rel_tol=1e-5)
            assert format_lr(float(tag)) == format_lr(js[key])
    # The grid's sort value is the JSON number, not the text.
    from dashboard.review_rows import review_row

    row = review_row(run, a)
    assert row["lr_current"] == js["current_lr"] and row["lr_suggested"] == js["suggested_lr"]


@pytest.mark.parametrize("sug", SUGGESTIONS, ids=lambda s: s.action)
def test_every_surface_shows_the_same_two_numbers(sug: Suggestion) -> None:
    run = make_run("same-numbers")
    a = RunAnalysis(
        meta=run.meta, roles=resolve_roles(run), status="oscillation", findings=(), suggestion=sug
    )
    check_same_numbers(a, run)


def test_real_analyses_show_the_same_numbers_everywhere() -> None:
    runs = read_sources([str(SAMPLE_RUNS)]).runs
    assert len(runs) >= 5
    changing = 0
    for run in runs:
        a = analyze_run(run)
        check_same_numbers(a, run)
        changing += a.suggestion is not None and a.suggestion.action != "keep_lr"
    assert changing >= 3  # the sample runs include LR changes, not only "keep"


def test_line_wording_and_number_format() -> None:
    texts = [lr_change(s).text for s in SUGGESTIONS]
    assert texts[0] == "decrease LR 3e-3 → 3e-4 (×0.1)"
    assert texts[1] == "increase LR 1.23e-5 → 1.23e-4 (×10)"
    assert texts[2] == "increase LR ×10"
    assert texts[3] == "keep LR 9.94e-4"
    assert texts[4] == "stop at step 1200"
    assert texts[5] == "decrease LR 0.03 → 3e-3 (×0.1), stop at step 500"
    assert texts[6] == "add warm-up over 200 steps, LR 3e-3 → 3e-4 (×0.1)"
    assert lr_change(None).text == "—"
    assert not any("_" in t for t in texts)  # no raw action ids in what people read
    # The factor shown is the one of the two numbers shown, even when a suggestion's
    # own factor refers to another LR (the "0.03 → 0.0014 (×0.1)").
    odd = lr_change(Suggestion("decrease_lr", current_lr=0.03, suggested_lr=0.0014, factor=0.1))
    assert odd.text == "decrease LR 0.03 → 1.4e-3 (×0.0467)"


def test_evidence_is_formatted_for_people() -> None:
    ev = {
        "best_val_step": 1000.0,
        "lr_at_start": None,
        "sign_flip_rate_before": float("nan"),
        "rise_pct": 3.2812,
        "p_value": 1e-9,
        "evals": 12.0,
        "stuck": True,
        "onset_step": 12345.0,
    }
    text = evidence_text(ev)
    assert text == (
        "best_val_step = 1000, rise_pct = 3.28 %, p_value = 1e-9, evals = 12, "
        "stuck = yes, onset_step = 12345"
    )
    f = Finding("overfitting", "val_loss", 400, 900, "warning", 0.9, ev, "m")
    run = make_run("evidence")
    a = RunAnalysis(
        meta=run.meta,
        roles=resolve_roles(run),
        status="overfitting",
        findings=(f,),
        suggestion=SUGGESTIONS[4],
    )
    from dashboard.layout import findings_table

    for shown in (
        render_html([a], []),
        render_markdown([a], []).replace("\\_", "_"),
        _all_text(findings_table([f])),
    ):
        assert "1000" in shown and "3.28 %" in shown, shown
        for raw in ("None", "nan", "1e+03", "1000.0", "12345.0"):
            assert raw not in shown, (raw, shown)


# ------------------------------------------------------------------ one worst finding


def F(kind: str, metric: str, start: int, end: int, severity: str, conf: float) -> Finding:
    return Finding(kind, metric, start, end, severity, conf, {}, "m")  # type: ignore[arg-type]


TIES = [
    # same severity, kind and confidence: the earlier start
    (
        [
            F("oscillation", "train_loss", 100, 400, "warning", 0.8),
            F("oscillation", "val_loss", 50, 300, "warning", 0.8),
            F("overfitting", "val_loss", 10, 900, "warning", 0.99),
            F("divergence", "train_loss", 0, 10, "info", 1.0),
        ],
        ("oscillation", "val_loss", 50, 300),
    ),
    # same severity and kind: the higher confidence
    (
        [
            F("oscillation", "train_loss", 10, 40, "warning", 0.7),
            F("oscillation", "val_loss", 500, 800, "warning", 0.9),
        ],
        ("oscillation", "val_loss", 500, 800),
    ),
    # same severity: the worse kind, whatever the confidence or order
    (
        [
            F("stagnation", "train_loss", 0, 100, "warning", 0.99),
            F("overfitting", "val_loss", 300, 400, "warning", 0.6),
            F("oscillation", "train_loss", 200, 250, "warning", 0.5),
        ],
        ("oscillation", "train_loss", 200, 250),
    ),
    # severity first
    (
        [
            F("divergence", "train_loss", 5, 6, "warning", 0.99),
            F("stagnation", "train_loss", 0, 100, "critical", 0.5),
        ],
        ("stagnation", "train_loss", 0, 100),
    ),
]

PICKED = re.compile(r"(\w+) in (\w+), steps (\d+)[-–](\d+)")


@pytest.mark.parametrize(("findings", "expected"), TIES)
def test_grid_report_and_tags_pick_the_same_worst_finding(
    findings: list[Finding], expected: tuple
) -> None:
    from dashboard.review_rows import review_row

    for order in (findings, findings[::-1]):
        assert (w := worst(order)) is not None
        assert (w.kind, w.metric, w.start_step, w.end_step) == expected
        run = make_run("ties")
        a = RunAnalysis(
            meta=run.meta,
            roles=resolve_roles(run),
            status=status_of(order),
            findings=tuple(order),
            suggestion=SUGGESTIONS[0],
        )
        assert a.status == expected[0]
        md = page_text(markdown.markdown(render_markdown([a], []), extensions=MKDOCS_EXTENSIONS))
        picks = {
            "grid": review_row(run, a)["finding"],
            "markdown": md,
            "tags": verdict_tags(a)["lrtempo.worst_finding"] or "",
        }
        for surface, text in picks.items():
            found = PICKED.findall(text)
            assert len(found) == 1, (surface, text)
            kind, metric, start, end = found[0]
            assert (kind, metric, int(start), int(end)) == expected, surface


def test_only_info_findings_have_no_worst() -> None:
    from dashboard.review_rows import review_row

    info = [F("stagnation", "train_loss", 0, 10, "info", 1.0)]
    assert worst(info) is None and status_of(info) == "healthy"
    run = make_run("info")
    a = RunAnalysis(
        meta=run.meta,
        roles=resolve_roles(run),
        status="healthy",
        findings=tuple(info),
        suggestion=SUGGESTIONS[3],
    )
    assert review_row(run, a)["finding"] == "" and verdict_tags(a)["lrtempo.worst_finding"] is None
    assert "| — |" in render_markdown([a], [])


# ------------------------------------------------------------------ Markdown stays inert

HOSTILE = [
    "</script><script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "![x](http://host/t.png)",
    "<img src=x onerror=alert(1)>",
    "<javascript:alert(1)>",
    '## h {: onclick="alert(1)" }',
    "a | b ` c *d* __e__ \\ &lt;script&gt;",
]


def assert_inert(md: str) -> str:
    """Render ``md`` as MkDocs would; no script, image, event handler or non-http link."""
    out = markdown.markdown(md, extensions=MKDOCS_EXTENSIONS)
    low = out.lower()
    assert "<script" not in low and "<img" not in low, out
    for tag, attrs in parse_html(out).tags:
        assert tag in {
            "h1",
            "h2",
            "p",
            "table",
            "thead",
            "tbody",
            "tr",
            "th",
            "td",
            "strong",
            "ul",
            "li",
            "a",
        }, (tag, out)
        for key, value in attrs:
            assert not key.startswith("on"), (tag, key, out)
            if tag == "a" and key == "href":
                assert re.match(r"https?://", value or ""), value
    return out


def test_markdown_report_escapes_every_user_string() -> None:
    analyses = []
    for i, name in enumerate(HOSTILE):
        run = make_run(name, location=name, experiment=name, user=name, status=name)
        f = Finding(
            "overfitting", "val_loss", 10, 20, "warning", 0.9, {name: 1.0, "note": name}, name
        )
        analyses.append(
            RunAnalysis(
                meta=run.meta,
                roles=resolve_roles(run),
                status="overfitting",
                findings=(f,),
                suggestion=Suggestion("early_stop", early_stop_step=i, rationale=name),
                warnings=(name,),
            )
        )
    errors = [{"location": n, "error": n} for n in HOSTILE]
    out = assert_inert(render_markdown(analyses, errors))
    text = page_text(out)
    for name in HOSTILE:  # shown as the characters it has
        assert name.replace("  ", " ") in text, name
    assert "<a " not in out  # none of these locations is an http(s) run page


def test_markdown_links_only_http_run_pages() -> None:
    good = make_run("good", location="http://mlflow:5000")
    evil = make_run("evil", location="http://h/#/x)[y](javascript:alert(1))")
    js = make_run("js", location="javascript:alert(1)")
    analyses = [
        RunAnalysis(
            meta=r.meta,
            roles=resolve_roles(r),
            status="healthy",
            findings=(),
            suggestion=SUGGESTIONS[3],
        )
        for r in (good, evil, js)
    ]
    out = assert_inert(render_markdown(analyses, []))
    hrefs = [dict(attrs)["href"] for tag, attrs in parse_html(out).tags if tag == "a"]
    assert f"http://mlflow:5000/#/experiments/7/runs/{good.meta.id}" in hrefs
    assert len(hrefs) == 2  # the javascript: location is text, not a link
    html_out = render_html(analyses, [])
    assert 'href="javascript' not in html_out and "http://mlflow:5000/#/experiments/7" in html_out


def test_markdown_of_a_wandb_export_with_hostile_run_names(tmp_path: Path) -> None:
    names = [n for n in HOSTILE if " - " not in n and '"' not in n]
    header = "Step," + ",".join(f'"{n} - train/loss","{n} - <img src=x> lr"' for n in names)
    rows = "".join(
        f"{s}," + ",".join(f"{1.0 / (s + 1) + 0.01 * (s % 3)},1e-3" for _ in names) + "\n"
        for s in range(60)
    )
    f = tmp_path / "wandb_export.csv"
    f.write_text(header + "\n" + rows, encoding="utf-8")
    result = read_sources([str(f)])
    assert sorted(r.meta.name for r in result.runs) == sorted(names)
    analyses = [analyze_run(r) for r in result.runs]
    out = assert_inert(render_markdown(analyses, result.errors))
    text = page_text(out)
    assert all(n in text for n in names)


@given(
    st.text(
        alphabet=st.characters(
            min_codepoint=32, max_codepoint=0x2FF, blacklist_categories=("Cc", "Cs")
        ),
        max_size=40,
    )
)
def test_md_text_renders_as_the_literal_string(s: str) -> None:
    out = markdown.markdown(f"x {md_text(s)} y", extensions=MKDOCS_EXTENSIONS)
    parsed = parse_html(out)
    assert [t for t, _ in parsed.tags] == ["p"], out
    assert "".join(parsed.text) == html.unescape(html.escape(f"x {s} y")).strip(), out
