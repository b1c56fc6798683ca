"""One suggestion per run of an LR sweep, everywhere: the Review grid, the Run page, the
dashboard's exported report and the MLflow tags it writes, and ``lrtempo analyze``'s
JSON, Markdown and ``--write-tags`` — on a real MLflow server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from analyzer.writeback import format_float
from tests.fixtures_mlflow import MlflowServer, log_run

pytestmark = pytest.mark.mlflow_server


def _log_sweep(server: MlflowServer, prefix: str) -> tuple[str, dict[str, str]]:
    """Four runs of one experiment that differ in LR (param ``lr``): stuck at 1e-4,
    healthy at 1e-3, oscillating at 1e-2, blown up at 3e-2 (the folder sweep of
    ``test_run_page_and_grid_show_the_same_reconciled_lr``, logged to MLflow)."""
    from benchmarks import curves as S

    series = {
        "1e-4": S.stagnation(seed=1),
        "1e-3": S.healthy(seed=1),
        "1e-2": S.oscillation(seed=1, scale=2.5),  # ends above 1e-3: the bounce cost loss
        "3e-2": S.divergence(seed=1, variant="explosion"),
    }
    client = server.client()
    exp = client.create_experiment(f"{prefix}-{time.time_ns()}")
    ids = {
        lr: log_run(
            client,
            exp,
            f"{prefix}_lr{lr}",
            {"loss": [float(v) for v in s.values], "lr": [float(lr)] * len(s.values)},
            steps=[int(x) for x in s.steps],
            params={"lr": lr, "optimizer": "sgd"},  # its range sizes the stuck run's raise
        )
        for lr, s in series.items()
    }
    return exp, ids


def test_grid_run_page_report_tags_and_json_show_one_reconciled_lr(
    mlflow_server: MlflowServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The stuck run's own advice (raise the LR far past the 1e-2 where the sweep
    oscillated) is replaced by the sweep's everywhere, with the same two numbers."""
    from analyzer.lrtext import lr_change
    from analyzer.report import md_text
    from dashboard.app import create_app
    from dashboard.sweep_views import review_sweeps, with_sweep_columns
    from dashboard.views import ReviewFilters, analyze_safely, export_report, run_view
    from dashboard.writeback import write_runs
    from lrtempo.cli import main

    prefix = f"agree{time.time_ns() % 10**6}"
    exp, ids = _log_sweep(mlflow_server, prefix)
    client = mlflow_server.client()
    stuck_id = ids["1e-4"]
    try:
        app = create_app([mlflow_server.url], since_hours=0)
        with app.server.app_context():
            f = ReviewFilters("all")
            data, sweeps = review_sweeps(f)
            (sweep,) = [s for s in sweeps if stuck_id in {p.id for p in s.points}]
            assert {p.id for p in sweep.points} == set(ids.values())
            edge = sweep.stability_edge_lr
            assert edge is not None and edge <= 1e-2
            stuck = next(r for r in data.runs if r.meta.id == stuck_id)
            own = analyze_safely(stuck).suggestion
            assert own is not None and own.action == "increase_lr"
            assert own.suggested_lr is not None and own.suggested_lr >= edge  # the conflict
            own_text = lr_change(own).text

            # the Review grid
            row = next(
                r
                for r in with_sweep_columns(data.rows, sweeps, f, data.analyses)
                if r["id"] == stuck_id
            )
            shown, current, suggested = row["lr"], row["lr_current"], row["lr_suggested"]
            assert suggested is not None and suggested < edge and shown != own_text
            assert current == pytest.approx(1e-4)

            # the Run page's card
            _, side, _ = run_view(stuck_id)
            card = str(side).lower()
            assert shown.lower() in card and own_text.lower() not in card

            # the dashboard's exported reports (Markdown and HTML)
            md = export_report(f, "markdown")["content"]
            md_row = next(
                line
                for line in md.splitlines()
                if md_text(f"{prefix}_lr1e-4") in line and line.startswith("|")
            )
            assert shown in md_row and own_text not in md
            page = export_report(f, "html")["content"]
            assert shown in page and own_text not in page

            # the tags the dashboard writes
            write_runs([stuck_id])
            tags = client.get_run(stuck_id).data.tags
            assert tags["lrtempo.suggestion"] == shown
            assert tags["lrtempo.current_lr"] == format_float(current)
            assert tags["lrtempo.suggested_lr"] == format_float(suggested)

        # lrtempo analyze: JSON
        capsys.readouterr()  # MLflow's own "View run" lines
        assert (
            main(["analyze", mlflow_server.url, "--experiment", exp, "--format", "json", "-q"]) == 0
        )
        doc = json.loads(capsys.readouterr().out)
        run = next(r for r in doc["runs"] if r["run"]["id"] == stuck_id)
        assert run["suggestion"]["current_lr"] == pytest.approx(current)
        assert run["suggestion"]["suggested_lr"] == pytest.approx(suggested)
        assert run["suggestion"]["sweep"] == sweep.id
        assert [s["id"] for s in doc["sweeps"]] == [sweep.id]

        # lrtempo review: Markdown, and its tags equal the dashboard's (nothing to change)
        out = tmp_path / "review.md"
        assert (
            main(
                [
                    "review",
                    mlflow_server.url,
                    "--experiment",
                    exp,
                    "--since",
                    "30d",
                    "--out",
                    str(out),
                    "-q",
                    "--write-tags",
                ]
            )
            == 0
        )
        err = capsys.readouterr().err
        text = out.read_text()
        assert shown in text and own_text not in text
        assert "1 unchanged" in err, err
        assert client.get_run(stuck_id).data.tags == tags
    finally:
        client.delete_experiment(exp)  # other tests read every active experiment


def test_report_and_tags_reconcile_when_given_unreconciled_analyses(tmp_path: Path) -> None:
    """``render_markdown``, ``build_document`` and ``verdict_tags`` via ``write_back``
    reconcile what they are given (a caller that forgot still shows the sweep's LR)."""
    import pandas as pd

    from analyzer.analysis import analyze_run
    from analyzer.lrtext import lr_change
    from analyzer.readers import read_sources
    from analyzer.report import build_document, render_markdown
    from analyzer.sweeps import reconcile, sweep_suggestion, sweeps_of
    from benchmarks import curves as S

    for lr, s in {
        "1e-4": S.stagnation(seed=1),
        "1e-3": S.healthy(seed=1),
        "1e-2": S.oscillation(seed=1, scale=2.5),  # ends above 1e-3: the bounce cost loss
        "3e-2": S.divergence(seed=1, variant="explosion"),
    }.items():
        pd.DataFrame({"step": s.steps, "loss": s.values, "lr": float(lr)}).to_csv(
            tmp_path / f"mlp_lr{lr}.csv", index=False
        )
    runs = read_sources([str(tmp_path)]).runs
    analyses = [analyze_run(r) for r in runs]
    sweeps = sweeps_of(runs, analyses)
    stuck = next(a for a in analyses if a.meta.name == "mlp_lr1e-4")
    settled = sweep_suggestion(stuck, sweeps)
    assert settled is not None and stuck.suggestion is not None
    assert settled.suggested_lr != stuck.suggestion.suggested_lr
    assert reconcile(reconcile(analyses, sweeps), sweeps) == reconcile(analyses, sweeps)
    md = render_markdown(analyses, [], sweeps)
    assert lr_change(settled).text in md and lr_change(stuck.suggestion).text not in md
    doc = build_document(analyses, [], sweeps)
    run = next(r for r in doc["runs"] if r["run"]["id"] == stuck.meta.id)
    assert run["suggestion"]["suggested_lr"] == settled.suggested_lr
    assert reconcile(analyses, []) == analyses
