"""Write-back of verdicts as MLflow run tags, against a real ``mlflow server``."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator

import numpy as np
import pytest

from analyzer.analysis import RunAnalysis, analyze_run
from analyzer.findings import Finding, Suggestion
from analyzer.model import Run, RunMeta, empty_frame
from analyzer.roles import RoleMap
from analyzer.writeback import (
    ANALYZED_AT,
    VERDICT_KEYS,
    plan_changes,
    summary,
    tracking_uri_of,
    verdict_tags,
    without_credentials,
    write_back,
)
from tests.fixtures_mlflow import MlflowServer, log_run

pytestmark = pytest.mark.mlflow_server


def _analysis(
    status="overfitting",
    suggestion=None,
    findings=(),
    location="/logs/a.csv",
    source="csv",
    run_id="r1",
) -> RunAnalysis:
    meta = RunMeta(id=run_id, name="a", source=source, location=location)
    return RunAnalysis(
        meta=meta,
        roles=RoleMap("loss", "val_loss", "lr"),
        status=status,
        findings=tuple(findings),
        suggestion=suggestion,
    )


FINDING = Finding(
    kind="overfitting",
    metric="val_loss",
    start_step=1200,
    end_step=3000,
    severity="warning",
    confidence=0.934,
    evidence={},
    message="m",
)
INFO = Finding(
    kind="stagnation",
    metric="train_loss",
    start_step=5,
    end_step=9,
    severity="info",
    confidence=0.99,
    evidence={},
    message="m",
)
STOP = Suggestion(
    action="early_stop",
    current_lr=3e-3,
    suggested_lr=1e-3,
    factor=1 / 3,
    early_stop_step=1200,
    rationale="r",
)


# ------------------------------------------------------------------------ pure parts


def test_verdict_tags_values_and_absent_keys() -> None:
    tags = verdict_tags(_analysis(suggestion=STOP, findings=(INFO, FINDING)))
    assert tuple(tags) == VERDICT_KEYS
    assert tags["lrtempo.status"] == "overfitting"
    assert tags["lrtempo.action"] == "early_stop"
    assert tags["lrtempo.current_lr"] == "0.003" and tags["lrtempo.suggested_lr"] == "0.001"
    assert tags["lrtempo.early_stop_step"] == "1200" and tags["lrtempo.factor"] == "0.333333"
    assert tags["lrtempo.suggestion"] == "stop at step 1200, LR 3e-3 → 1e-3 (×0.333)"
    # info findings are not the worst problem
    assert tags["lrtempo.worst_finding"] == (
        "overfitting in val_loss, steps 1200-3000 (warning, confidence 0.93)"
    )
    healthy = verdict_tags(_analysis(status="healthy", findings=(INFO,)))
    assert healthy["lrtempo.status"] == "healthy"
    assert all(healthy[k] is None for k in VERDICT_KEYS if k != "lrtempo.status")
    nan_lr = verdict_tags(_analysis(suggestion=dataclasses.replace(STOP, current_lr=math.nan)))
    assert nan_lr["lrtempo.current_lr"] is None


def test_plan_changes_sets_only_differences_and_deletes_stale() -> None:
    current = {"lrtempo.status": "healthy", "lrtempo.action": "keep_lr", "mlflow.user": "x"}
    to_set, to_delete = plan_changes(
        current,
        {"lrtempo.status": "healthy", "lrtempo.action": None, "lrtempo.suggested_lr": "0.001"},
    )
    assert to_set == {"lrtempo.suggested_lr": "0.001"}
    assert to_delete == ["lrtempo.action"]
    assert plan_changes(
        {"lrtempo.status": "healthy"}, {"lrtempo.status": "healthy", "lrtempo.action": None}
    ) == ({}, [])


def test_tracking_uri_of_locations() -> None:
    assert tracking_uri_of("http://h:5000/#/experiments/1/runs/abc") == "http://h:5000"
    assert tracking_uri_of("https://h/mlflow/#/experiments/1/runs/abc") == "https://h/mlflow"
    assert tracking_uri_of("sqlite:////tmp/m.db#abc") == "sqlite:////tmp/m.db"
    assert tracking_uri_of("file:///tmp/mlruns#abc") == "file:///tmp/mlruns"
    assert tracking_uri_of("/logs/run.csv") is None
    assert without_credentials("http://u:p@h:5000/") == "http://h:5000"


def test_non_mlflow_runs_are_skipped_without_a_client() -> None:
    def no_client(uri: str):
        raise AssertionError("no client may be made for a file run")

    res = write_back([_analysis()], client_for=no_client)
    assert [r.outcome for r in res] == ["skipped"]
    assert summary(res) == "1 skipped (not MLflow)"


# --------------------------------------------------------------- real MLflow server


@pytest.fixture(scope="module")
def tagged_runs(mlflow_server: MlflowServer) -> Iterator[tuple[MlflowServer, list[Run]]]:
    """Two runs on the real server (an overfitting one, a healthy one), read back as Runs."""
    from analyzer.readers.mlflow_store import read_mlflow

    client = mlflow_server.client()
    exp = client.create_experiment(f"writeback-{time.time_ns()}")
    steps = np.arange(0, 3000, 10)
    train = 2.0 * np.exp(-steps / 600) + 0.3
    val_steps = np.arange(0, 3000, 100)
    val = 2.0 * np.exp(-val_steps / 600) + 0.45 + 0.0006 * np.clip(val_steps - 1200, 0, None)
    ids = []
    for name, v in (("wb-overfit", val), ("wb-healthy", 2.0 * np.exp(-val_steps / 600) + 0.45)):
        rid = log_run(
            client,
            exp,
            name,
            {"loss": list(train), "lr": [1e-3] * len(steps)},
            steps=list(steps),
            params={"learning_rate": "0.001"},
            tags={"team": "cv"},
        )
        from mlflow.entities import Metric

        client.log_batch(
            rid,
            metrics=[
                Metric("val_loss", float(x), int(time.time() * 1000), int(s))
                for s, x in zip(val_steps, v)
            ],
        )
        ids.append(rid)
    res = read_mlflow(mlflow_server.url, run_ids=ids)
    assert not res.errors
    yield mlflow_server, sorted(res.runs, key=lambda r: r.meta.name)
    client.delete_experiment(exp)  # other tests read every active experiment of this server


def _state(client, run_id: str):
    run = client.get_run(run_id)
    history = {
        k: [(m.step, m.value) for m in client.get_metric_history(run_id, k)]
        for k in run.data.metrics
    }
    return dict(run.data.tags), dict(run.data.params), dict(run.data.metrics), history


def test_write_back_sets_tags_only_and_is_idempotent(tagged_runs) -> None:
    server, runs = tagged_runs
    client = server.client()
    analyses = [analyze_run(r) for r in runs]
    before = {r.meta.id: _state(client, r.meta.id) for r in runs}

    first = write_back(analyses, tracking_uris=[server.url], now=1_800_000_000)
    assert [r.outcome for r in first] == ["written", "written"], first
    for a in analyses:
        tags, params, metrics, history = _state(client, a.meta.id)
        old_tags, old_params, old_metrics, old_history = before[a.meta.id]
        assert (params, metrics, history) == (old_params, old_metrics, old_history)
        assert tags["lrtempo.status"] == a.status
        assert tags[ANALYZED_AT] == "2027-01-15T08:00:00Z"
        assert tags["team"] == "cv"  # the run's own tags are kept
        wanted = {k: v for k, v in verdict_tags(a).items() if v is not None}
        assert {k: tags[k] for k in wanted} == wanted
        assert set(tags) - set(old_tags) == set(wanted) | {ANALYZED_AT}

    after_first = {r.meta.id: _state(client, r.meta.id) for r in runs}
    second = write_back(analyses, tracking_uris=[server.url], now=1_900_000_000)
    assert [r.outcome for r in second] == ["unchanged", "unchanged"]
    assert {r.meta.id: _state(client, r.meta.id) for r in runs} == after_first  # nothing changed
    assert summary(second) == "2 unchanged"


def test_write_back_updates_changed_values_and_removes_stale(tagged_runs) -> None:
    server, runs = tagged_runs
    client = server.client()
    run = runs[0]
    base = analyze_run(run)
    write_back(
        [dataclasses.replace(base, status="overfitting", findings=(FINDING,), suggestion=STOP)],
        now=1_800_000_000,
    )
    healthy = dataclasses.replace(
        base,
        status="healthy",
        findings=(),
        suggestion=Suggestion(action="keep_lr", current_lr=1e-3),
    )
    [res] = write_back([healthy], now=1_800_000_100)
    assert res.outcome == "written"
    assert set(res.changed) == {
        "lrtempo.status",
        "lrtempo.action",
        "lrtempo.current_lr",
        "lrtempo.suggested_lr",
        "lrtempo.factor",
        "lrtempo.early_stop_step",
        "lrtempo.worst_finding",
        "lrtempo.suggestion",
    }
    tags = dict(client.get_run(run.meta.id).data.tags)
    assert tags["lrtempo.status"] == "healthy" and tags["lrtempo.action"] == "keep_lr"
    assert "lrtempo.suggested_lr" not in tags and "lrtempo.worst_finding" not in tags
    assert tags[ANALYZED_AT] == "2027-01-15T08:01:40Z"
    # restore what the other test expects of this run
    write_back([base], now=1_800_000_000)


def test_unreachable_server_fails_that_run_only(tagged_runs, monkeypatch) -> None:
    from analyzer.writeback import _default_client

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    _, runs = tagged_runs
    good = analyze_run(runs[1])
    meta = dataclasses.replace(runs[0].meta, location="http://127.0.0.1:9/#/experiments/1/runs/x")
    gone = RunAnalysis(meta=meta, roles=good.roles, status="healthy")
    file_run = analyze_run(
        Run(RunMeta(id="f", name="f", source="csv", location="/x.csv"), empty_frame())
    )
    res = write_back([gone, good, file_run], client_for=_default_client)
    assert [r.outcome for r in res] == ["failed", "unchanged", "skipped"]
    assert res[0].message and "\n" not in res[0].message
    assert res[0].tracking_uri == "http://127.0.0.1:9"


# -------------------------------------------------------------------------- the CLI


def test_cli_review_write_tags_only_when_asked(tagged_runs, tmp_path, capsys) -> None:
    from lrtempo.cli import main

    server, _ = tagged_runs
    client = server.client()
    exp = client.create_experiment(f"cli-writeback-{time.time_ns()}")
    rid = log_run(
        client,
        exp,
        "cli-run",
        {"loss": [2.0 * math.exp(-i / 50) + 0.2 for i in range(300)], "lr": [3e-4] * 300},
    )
    out = tmp_path / "review.md"
    assert main(["review", server.url, "--experiment", str(exp), "--out", str(out), "-q"]) == 0
    assert not any(k.startswith("lrtempo.") for k in client.get_run(rid).data.tags)  # not asked

    assert (
        main(
            [
                "review",
                server.url,
                "--experiment",
                str(exp),
                "--out",
                str(out),
                "-q",
                "--write-tags",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "MLflow tags: 1 written" in err
    tags = client.get_run(rid).data.tags
    assert main(["analyze", server.url, "--experiment", str(exp), "--format", "json", "-q"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert tags["lrtempo.status"] == doc["runs"][0]["status"]

    assert (
        main(
            [
                "review",
                server.url,
                "--experiment",
                str(exp),
                "--out",
                str(out),
                "-q",
                "--write-tags",
            ]
        )
        == 0
    )
    assert "MLflow tags: 1 unchanged" in capsys.readouterr().err
    assert client.get_run(rid).data.tags == tags
    client.delete_experiment(exp)


def test_cli_write_tags_on_files_says_there_is_nothing_to_tag(tmp_path, capsys) -> None:
    from lrtempo.cli import main

    log = tmp_path / "run.jsonl"
    log.write_text("".join(f'{{"step": {s}, "loss": {1 / (s + 1)}}}\n' for s in range(50)))
    assert (
        main(
            [
                "review",
                str(tmp_path),
                "--since",
                "30d",
                "--out",
                str(tmp_path / "r.md"),
                "--write-tags",
            ]
        )
        == 0
    )
    assert "no MLflow run to tag" in capsys.readouterr().err


def test_running_runs_are_skipped_unless_asked_then_marked_not_final(tagged_runs, capsys) -> None:
    """A RUNNING run (created with the real client, never terminated) is left out of
    --write-tags; --include-running tags it with lrtempo.final=false; once it ended, the
    next write removes that tag."""
    from lrtempo.cli import main

    server, _ = tagged_runs
    client = server.client()
    exp = client.create_experiment(f"running-writeback-{time.time_ns()}")
    loss = [2.0 * math.exp(-i / 50) + 0.2 for i in range(300)]
    done = log_run(client, exp, "ended-run", {"loss": loss, "lr": [3e-4] * 300})
    live = log_run(client, exp, "live-run", {"loss": loss, "lr": [3e-4] * 300}, status=None)
    assert client.get_run(live).info.status == "RUNNING"
    args = [
        "review",
        server.url,
        "--experiment",
        str(exp),
        "--format",
        "json",
        "-q",
        "--write-tags",
    ]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "MLflow tags: 1 written, 1 skipped (still running)" in err, err
    assert not any(k.startswith("lrtempo.") for k in client.get_run(live).data.tags)
    assert "lrtempo.final" not in client.get_run(done).data.tags

    assert main([*args, "--include-running"]) == 0
    assert "MLflow tags: 1 written, 1 unchanged" in capsys.readouterr().err
    tags = client.get_run(live).data.tags
    assert tags["lrtempo.final"] == "false" and tags["lrtempo.status"]
    assert "lrtempo.final" not in client.get_run(done).data.tags

    client.set_terminated(live, "FINISHED")
    assert main(args) == 0
    assert "MLflow tags: 1 written, 1 unchanged" in capsys.readouterr().err
    tags = client.get_run(live).data.tags
    assert "lrtempo.final" not in tags and tags["lrtempo.status"]
    client.delete_experiment(exp)


def test_include_running_without_write_tags_says_so(tmp_path, capsys) -> None:
    from lrtempo.cli import main

    log = tmp_path / "run.jsonl"
    log.write_text("".join(f'{{"step": {s}, "loss": {1 / (s + 1)}}}\n' for s in range(50)))
    assert (
        main(
            [
                "review",
                str(tmp_path),
                "--since",
                "30d",
                "--out",
                str(tmp_path / "r.md"),
                "--include-running",
            ]
        )
        == 0
    )
    assert "--include-running applies only with --write-tags" in capsys.readouterr().err
