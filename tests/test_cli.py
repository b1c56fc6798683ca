"""The ``lrtempo`` command: contract document, formats, exit codes, errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_RUNS

RUN_KEYS = {"run", "metrics", "status", "findings", "suggestion"}
STATUSES = {
    "healthy",
    "oscillation",
    "stagnation",
    "overfitting",
    "divergence",
    "insufficient_data",
}


def lrtempo(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lrtempo", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def check_contract(doc: dict) -> None:
    assert doc["schema"] == "lrtempo.analysis/1"
    assert isinstance(doc["errors"], list)
    for r in doc["runs"]:
        assert RUN_KEYS <= set(r)
        assert set(r["run"]) >= {"id", "name", "source", "location"}
        assert r["run"]["source"] in {"csv", "tensorboard", "mlflow", "hf", "jsonl"}
        assert r["status"] in STATUSES
        assert set(r["metrics"]) <= {"train_loss", "val_loss", "lr"}
        for f in r["findings"]:
            assert f["kind"] in STATUSES - {"healthy", "insufficient_data"}
            assert f["severity"] in {"info", "warning", "critical"}
            assert 0.0 <= f["confidence"] <= 1.0 and f["start_step"] <= f["end_step"]


def test_json_on_sample_runs_is_a_contract_document() -> None:
    proc = lrtempo("analyze", str(SAMPLE_RUNS), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    check_contract(doc)
    assert doc["errors"] == []
    sources = {r["run"]["source"] for r in doc["runs"]}
    assert sources == {"csv", "tensorboard", "hf", "jsonl"}
    assert all("train_loss" in r["metrics"] for r in doc["runs"])


def test_bad_sources_are_reported_and_others_still_analyzed(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    good = tmp_path / "good.csv"
    good.write_text("step,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(50)))
    proc = lrtempo(
        "analyze", str(broken), str(good), str(tmp_path / "missing.csv"), "--format", "json"
    )
    assert proc.returncode == 3  # a partial read
    doc = json.loads(proc.stdout)
    check_contract(doc)
    assert [r["run"]["name"] for r in doc["runs"]] == ["good"]
    locations = {e["location"] for e in doc["errors"]}
    assert locations == {str(broken), str(tmp_path / "missing.csv")}
    assert "Traceback" not in proc.stderr
    assert len([ln for ln in proc.stderr.splitlines() if ln.startswith("lrtempo:")]) == 2


def _losses_csv(path: Path, rising: bool = False) -> Path:
    vals = [(1 + i / 10) ** 2 if rising else 1 / (i + 1) for i in range(200)]
    path.write_text("step,loss\n" + "".join(f"{i},{v}\n" for i, v in enumerate(vals)))
    return path


def test_partial_read_exits_3_full_read_0_fail_on_keeps_1(tmp_path: Path) -> None:
    """A cron job tells a partial read (3) from a full one (0); ``--fail-on`` keeps 1."""
    good = _losses_csv(tmp_path / "good.csv")
    (tmp_path / "cut.jsonl").write_bytes(bytes(range(256)))
    assert lrtempo("analyze", str(good), "-q").returncode == 0
    partial = lrtempo("analyze", str(good), str(tmp_path / "cut.jsonl"), "-q")
    assert partial.returncode == 3, partial.stderr
    assert [ln for ln in partial.stderr.splitlines() if ln.startswith("lrtempo:")] == [
        ln for ln in partial.stderr.splitlines() if "cut.jsonl" in ln
    ]
    bad = _losses_csv(tmp_path / "diverged.csv", rising=True)
    gate = lrtempo("analyze", str(bad), str(tmp_path / "cut.jsonl"), "--fail-on", "warning", "-q")
    assert gate.returncode == 1, gate.stderr
    review = lrtempo(
        "review",
        str(tmp_path),
        "--since",
        "1000d",
        "--executor",
        "processes:2",
        "-q",
        "--format",
        "json",
    )
    assert review.returncode == 3 and "cut.jsonl" in review.stderr, review.stderr


def test_no_readable_run_exits_2_with_one_line_per_source(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("")
    proc = lrtempo("analyze", str(tmp_path / "x.csv"), str(tmp_path / "nope"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and "x.csv" in lines[0] and "nope" in lines[1]
    assert "Traceback" not in proc.stderr


def test_bad_usage_exits_2() -> None:
    assert lrtempo("analyze").returncode == 2
    proc = lrtempo("analyze", str(SAMPLE_RUNS), "--since", "yesterday-ish")
    assert proc.returncode == 2 and "--since" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_role_override_is_an_error_entry() -> None:
    csv = SAMPLE_RUNS / "plain_csv" / "resnet18_cifar_cosine.csv"
    proc = lrtempo("analyze", str(csv), "--train-loss", "no_such_metric", "--format", "json")
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)
    assert doc["runs"] == [] and "no_such_metric" in doc["errors"][0]["error"]


def test_role_override_is_used() -> None:
    csv = SAMPLE_RUNS / "plain_csv" / "resnet18_cifar_cosine.csv"
    proc = lrtempo("analyze", str(csv), "--train-loss", "val_loss", "--format", "json")
    assert json.loads(proc.stdout)["runs"][0]["metrics"]["train_loss"] == "val_loss"


@pytest.mark.parametrize(
    ("fmt", "needle"), [("text", "LR Tempo:"), ("markdown", "| run |"), ("html", "<svg")]
)
def test_human_formats(fmt: str, needle: str, tmp_path: Path) -> None:
    out = tmp_path / f"report.{fmt}"
    proc = lrtempo("analyze", str(SAMPLE_RUNS), "--format", fmt, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    name = "resnet18_cifar_cosine"
    assert needle in text and (name.replace("_", "\\_") if fmt == "markdown" else name) in text
    # one line on stderr says where the report went and what it holds; stdout stays clean
    assert proc.stdout == ""
    said = [ln for ln in proc.stderr.splitlines() if "wrote the" in ln]
    assert len(said) == 1 and str(out) in said[0] and "run(s)" in said[0]
    if fmt == "html":
        assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no CDN


def test_review_takes_format_from_out_and_defaults_to_24h(tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    proc = lrtempo("review", str(SAMPLE_RUNS), "--since", "100000d", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("# LR Tempo review")


def test_since_filters_file_runs_by_last_write(tmp_path: Path) -> None:
    old = tmp_path / "old.csv"
    old.write_text("step,loss\n1,1\n2,0.5\n")
    import os

    os.utime(old, (1_000_000_000, 1_000_000_000))
    proc = lrtempo("analyze", str(old), "--since", "24h")
    assert proc.returncode == 2 and "no run found since 24h" in proc.stderr
    assert "default window" not in proc.stderr  # the user chose the window
    out = tmp_path / "r.html"
    proc = lrtempo("review", str(old), "--out", str(out))  # review's own 24 h
    assert proc.returncode == 2 and "no run found since 24h (review's default window" in proc.stderr


def test_fail_on_gates_on_severity() -> None:
    diverged = SAMPLE_RUNS / "tensorboard"
    proc = lrtempo("analyze", str(diverged), "--fail-on", "warning", "--format", "json")
    doc = json.loads(proc.stdout)
    severities = {f["severity"] for r in doc["runs"] for f in r["findings"]}
    assert proc.returncode == (1 if severities & {"warning", "critical"} else 0)


def test_review_on_a_process_pool_matches_the_local_review(tmp_path: Path) -> None:
    local, pooled = tmp_path / "local.json", tmp_path / "pooled.json"
    a = lrtempo("review", str(SAMPLE_RUNS), "--since", "100000d", "--out", str(local))
    b = lrtempo(
        "review",
        str(SAMPLE_RUNS),
        "--since",
        "100000d",
        "--out",
        str(pooled),
        "--executor",
        "processes:2",
    )
    assert a.returncode == b.returncode == 0, (a.stderr, b.stderr)
    doc_a, doc_b = json.loads(local.read_text()), json.loads(pooled.read_text())
    check_contract(doc_b)
    assert doc_a["runs"] == doc_b["runs"] and len(doc_b["runs"]) > 5
    html = tmp_path / "pooled.html"
    c = lrtempo(
        "review",
        str(SAMPLE_RUNS),
        "--since",
        "100000d",
        "--out",
        str(html),
        "--executor",
        "processes:2",
    )
    assert c.returncode == 0 and html.read_text().count("<svg") >= len(doc_b["runs"])


def test_review_with_a_bad_executor_is_bad_usage() -> None:
    proc = lrtempo("review", str(SAMPLE_RUNS), "--executor", "threads:many")
    assert proc.returncode == 2
    assert "threads:many" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_a_run_name_with_terminal_escapes_is_printed_inert(fmt: str, tmp_path: Path) -> None:
    log = tmp_path / "evil\x1b[2Jname\nsecond.csv"
    log.write_text("step,loss\n" + "".join(f"{i},{1.0 / (i + 1)}\n" for i in range(30)))
    proc = lrtempo("analyze", str(log), "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    shown = "\\x1b[2J" if fmt == "text" else "\\\\x1b\\[2J"  # Markdown escapes \ and [
    assert "\x1b" not in proc.stdout and shown in proc.stdout
    assert "name\nsecond" not in proc.stdout


@pytest.mark.parametrize("fmt", ["json", "html", "markdown", "text"])
def test_a_file_name_that_is_not_utf8_gives_a_valid_utf8_report(fmt: str, tmp_path: Path) -> None:
    # a Latin-1 name (caf\xe9.csv) decodes to a lone surrogate: the JSON held "\udce9",
    # which strict parsers refuse, and a UTF-8 file could not be written with it
    import os

    folder = os.fsencode(tmp_path)
    with open(os.path.join(folder, b"caf\xe9.csv"), "wb") as fh:
        fh.write(b"step,loss\n" + b"".join(b"%d,%f\n" % (i, 1 / (i + 1)) for i in range(30)))
    with open(os.path.join(folder, b"bad\xe9.csv"), "wb") as fh:
        fh.write(bytes(range(256)))
    out = tmp_path / f"report.{ {'markdown': 'md', 'text': 'txt'}.get(fmt, fmt) }"
    proc = lrtempo("analyze", str(tmp_path), "--format", fmt, "--out", str(out))
    assert proc.returncode == 3, proc.stderr  # the binary file: a partial read
    text = out.read_bytes().decode("utf-8")  # strict: no surrogates
    assert "caf\\xe9" in text.replace("\\\\", "\\") and "\\udc" not in text
    if fmt == "json":
        doc = json.loads(text)
        assert doc["runs"][0]["run"]["name"] == "caf\\xe9"
        assert any("bad\\xe9.csv" in e["location"] for e in doc["errors"])


def test_imports_run_one_way() -> None:
    """analyzer never imports the dashboard or the command line above it; the dashboard
    never imports the command line (``lrtempo.cli`` sits above both)."""
    import re

    root = Path(__file__).resolve().parent.parent
    upward = {"analyzer": ("dashboard", "lrtempo"), "dashboard": ("lrtempo",)}
    bad = []
    for pkg, above in upward.items():
        for f in (root / pkg).rglob("*.py"):
            for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
                if re.match(rf"\s*(from|import)\s+({'|'.join(above)})(\.|\s|$)", line):
                    bad.append(f"{f.relative_to(root)}:{n}: {line.strip()}")
    assert not bad, bad
