"""Reports people share: ``lrtempo review --out`` of a real MLflow server (one run left
RUNNING), the HTML opened in a real headless Chromium, the Markdown rendered by
Python-Markdown; colours checked against the dashboard's own stylesheet."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import pytest

from analyzer.report import KIND_COLOURS
from tests.fixtures_mlflow import MlflowServer, log_run

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "share/"
LIVE = "live-pretrain"
RAW_ACTIONS = (
    "decrease_lr",
    "increase_lr",
    "keep_lr",
    "early_stop",
    "add_warmup",
    "restore_lr",
    "decay_lr",
)
PLAIN = re.compile(
    r"^(lower the LR|raise the LR|keep the LR|stop at step|add a warm-up|"
    r"restore the LR|check the data|—)"
)


def test_report_badges_have_the_dashboards_colours() -> None:
    from dashboard.theme import STATUS_BADGE

    css = (ROOT / "dashboard" / "assets" / "00_bootstrap.min.css").read_text()
    for status, theme in STATUS_BADGE.items():
        found = re.search(rf"--bs-{theme}:(#[0-9a-fA-F]{{6}})", css)
        assert found, theme
        assert KIND_COLOURS[status].lower() == found.group(1).lower(), status


@pytest.fixture(scope="module")
def reports(mlflow_server: MlflowServer, tmp_path_factory):
    """The HTML and Markdown reviews of the sample runs plus a RUNNING run, via the CLI."""
    pytest.importorskip("mlflow")
    from dashboard.demo import seed_store
    from lrtempo.cli import main

    client = mlflow_server.client()
    seed_store(mlflow_server.url, prefix=PREFIX)
    exp = client.create_experiment(PREFIX + "a-rather-long-experiment-name/with/several/parts")
    loss = [2.0 * math.exp(-i / 40) + 0.3 for i in range(80)]
    log_run(
        client,
        exp,
        LIVE,
        {"loss": loss, "lr": [1e-3] * 80},
        status=None,
        start_time=time.time() - 1800,
        tags={"mlflow.user": "alice"},
    )
    out = tmp_path_factory.mktemp("reports")
    said = {}
    import contextlib
    import io

    for ext in ("html", "md"):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(
                [
                    "review",
                    mlflow_server.url,
                    "--since",
                    "30d",
                    "-q",
                    "--out",
                    str(out / f"review.{ext}"),
                ]
            )
        assert code in (0, 3), err.getvalue()
        said[ext] = err.getvalue()
    yield out, said, mlflow_server.url
    for e in client.search_experiments():
        if e.name.startswith(PREFIX):
            client.delete_experiment(e.experiment_id)


def test_review_out_says_where_it_wrote_and_the_counts(reports) -> None:
    out, said, _ = reports
    for ext, fmt in (("html", "html"), ("md", "markdown")):
        line = next(ln for ln in said[ext].splitlines() if "wrote the" in ln)
        assert (
            f"wrote the {fmt} report of" in line and str((out / f"review.{ext}").resolve()) in line
        )
        n = int(re.search(r"of (\d+) run", line).group(1))
        counts = re.search(r"run\(s\) \((.*?)\) to ", line).group(1)
        assert sum(int(c.split()[0]) for c in counts.split(", ")) == n >= 10


@pytest.mark.browser
def test_html_report_reads_well_in_chromium(reports) -> None:
    from tests.browser_fixtures import launch_chromium

    out, _, url = reports
    with launch_chromium() as b:
        page = b.new_page(viewport={"width": 1440, "height": 1000})
        outside: list[str] = []
        page.route(
            "**/*",
            lambda r: (
                r.continue_()
                if r.request.url.startswith("file:")
                else (outside.append(r.request.url), r.abort())
            ),
        )
        page.goto((out / "review.html").as_uri())
        widths = page.evaluate(
            "() => Object.fromEntries([...document.querySelectorAll('th')]"
            ".map(th => [th.innerText, th.getBoundingClientRect().width]))"
        )
        assert widths["findings"] >= 250 and widths["suggestion"] >= 200, widths
        assert max(widths.values()) <= 400, widths  # no column takes the page
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 1440
        rows = page.locator("table tr").all()[1:]
        assert len(rows) >= 10
        for row in rows:  # every MLflow run links to its page, in a new tab, http(s) only
            link = row.locator("td").first.locator("a")
            assert link.get_attribute("href").startswith(url + "/#/experiments/")
            assert link.get_attribute("target") == "_blank"
        live = page.locator("tr", has=page.get_by_text(LIVE, exact=True))
        cells = live.locator("td").all_inner_texts()
        assert cells[1].startswith(PREFIX + "a-rather-long") and cells[2] == "alice"
        assert cells[3] == "RUNNING" and "so far" in cells[4]
        done = page.locator("tr", has=page.get_by_text("cnn_overfit", exact=True))
        assert done.locator("td").nth(3).inner_text() == "FINISHED"
        assert "so far" not in done.inner_text()
        badge = done.locator(".badge")
        assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(13, 110, 253)"
        text = page.locator("table").inner_text()
        for raw in RAW_ACTIONS:
            assert raw not in text, raw
        advice = page.locator("b.advice").all_inner_texts()
        assert len(advice) == len(rows)
        for a in advice:  # shown capitalised; the text is the plain sentence
            assert PLAIN.match(a[:1].lower() + a[1:]), a
        assert any(a.startswith(("Lower the LR from", "Raise the LR from")) for a in advice)
        page.screenshot(
            path=str(ROOT / "tests" / "screenshots" / "report_html.png"), full_page=True
        )
        b.close()
    assert not outside, outside


def test_markdown_report_links_and_plain_actions(reports) -> None:
    import markdown

    out, _, url = reports
    md = (out / "review.md").read_text()
    html = markdown.markdown(md, extensions=["tables"])
    table = html.split("</table>")[0]
    links = re.findall(r'<a href="([^"]+)">', table)
    rows = table.count("<tr>") - 1
    assert rows >= 10 and len(links) == rows
    assert all(link.startswith(url + "/#/experiments/") for link in links)
    live = next(ln for ln in md.splitlines() if LIVE in ln and ln.startswith("|"))
    cells = [c.strip() for c in live.strip("|").split(" | ")]
    assert cells[3] == "RUNNING" and cells[5].endswith("(so far)"), cells
    assert cells[2] == "alice"
    table_lines = [ln for ln in md.splitlines() if ln.startswith("| ")][1:]
    assert len(table_lines) == rows
    for ln in table_lines:
        advice = [c.strip() for c in ln.strip("|").split(" | ")][7]
        assert PLAIN.match(advice), advice
        for raw in RAW_ACTIONS:
            assert raw.replace("_", "\\_") not in advice and raw not in advice, advice
