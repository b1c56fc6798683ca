"""Folder discovery: what counts as a log, what is skipped, and how runs are grouped."""

from __future__ import annotations

import os
from pathlib import Path

from analyzer import read_sources
from analyzer.readers import discover


def test_stray_files_and_data_sets_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "iris.csv").write_text("sepal_length,sepal_width,species\n5.1,3.5,setosa\n")
    (tmp_path / "metrics.csv").write_text("step,loss\n1,2.0\n2,1.5\n")
    assert [s.path.name for s in discover(tmp_path)] == ["metrics.csv"]


def test_an_explicit_non_log_csv_is_an_error(tmp_path: Path) -> None:
    data = tmp_path / "iris.csv"
    data.write_text("sepal_length,sepal_width,species\n5.1,3.5,setosa\n")
    result = read_sources([str(data)])
    assert not result.runs and result.errors[0]["location"] == str(data)


def test_symlink_loops_end(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "log.csv").write_text("step,loss\n1,2.0\n")
    os.symlink(tmp_path, tmp_path / "run" / "loop")
    assert [s.path.name for s in discover(tmp_path)] == ["log.csv"]


def test_symlinks_to_folders_outside_the_scan_are_not_followed(tmp_path: Path) -> None:
    outside, scanned = tmp_path / "elsewhere", tmp_path / "runs"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "foreign.csv").write_text("step,loss\n1,2.0\n")
    (scanned / "a").mkdir(parents=True)
    (scanned / "a" / "log.csv").write_text("step,loss\n1,2.0\n")
    os.symlink(outside, scanned / "to_elsewhere")  # e.g. a link to / or a home folder
    os.symlink(scanned / "a", scanned / "alias")  # inside the scan: followed (and deduplicated)
    assert [s.path.name for s in discover(scanned)] == ["log.csv"]


def test_names_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    folder = tmp_path / "expériences 2026"
    folder.mkdir()
    (folder / "résumé run.csv").write_text("epoch,loss\n0,2.0\n1,1.0\n")
    [run] = read_sources([str(tmp_path)]).runs
    assert run.meta.name == "résumé run" and run.meta.step_axis == "epoch"


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    result = read_sources([str(tmp_path)])
    assert result.errors == [
        {"location": str(tmp_path), "error": "no training log found in this folder"}
    ]


def test_a_link_that_leads_nowhere_is_named_as_such(tmp_path: Path) -> None:
    """A symlink loop or a dangling link given by name exists as a link: "no such file"
    sent the user looking for a file that is there."""
    os.symlink(tmp_path / "self.csv", tmp_path / "self.csv")
    os.symlink(tmp_path / "gone.csv", tmp_path / "dangling.csv")
    result = read_sources([str(tmp_path / "self.csv"), str(tmp_path / "dangling.csv")])
    assert [e["error"] for e in result.errors] == [
        "a symbolic link that leads nowhere (a loop, or its target is gone)"
    ] * 2
    assert read_sources([str(tmp_path / "absent.csv")]).errors[0]["error"] == (
        "no such file or folder"
    )


def _scan_folder(root: Path) -> dict[str, str]:
    """Good logs beside logs that cannot be read, and non-logs; returns bad name → text."""
    from tests.tb_writers import event_name

    log = "step,loss\n" + "".join(f"{i},{2 / (i + 1) + 0.1}\n" for i in range(60))
    (root / "a").mkdir()
    (root / "a" / "good.csv").write_text(log)
    (root / "b").mkdir()
    (root / "b" / "also_good.jsonl").write_text(
        "".join(f'{{"step": {i}, "loss": {2 / (i + 1)}}}\n' for i in range(60))
    )
    bad = {
        "a/empty.csv": "empty file",
        "a/binary.csv": "binary data",  # NUL bytes
        "a/latin.tsv": "not UTF-8",  # bytes no text encoding decodes
        "b/trainer_state.json": "broken JSON",
        "b/run.jsonl": "",  # binary junk
        f"c/{event_name(1700000000)}": "not a TensorBoard event file",
    }
    (root / "a" / "empty.csv").write_bytes(b"")
    (root / "a" / "binary.csv").write_bytes(bytes(range(256)) * 8)
    (root / "a" / "latin.tsv").write_bytes(bytes(range(128, 256)) * 8)
    (root / "b" / "trainer_state.json").write_text('{"log_history": [{"step": 1, ')
    (root / "b" / "run.jsonl").write_bytes(bytes(range(256)) * 8)
    (root / "c").mkdir()
    (root / "c" / event_name(1700000000)).write_bytes(b"\xff" * 512)
    (root / "config.json").write_text('{\n  "model": "resnet"\n}\n')  # not a log
    (root / "notes.txt").write_text("lr 3e-4 looked fine\n")  # not a log
    (root / "iris.csv").write_text("sepal_length,sepal_width,species\n5.1,3.5,setosa\n")
    (root / "README.md").write_text("# runs\n")  # not log-like at all: not counted
    return bad


def test_a_folder_scan_reports_every_log_it_cannot_read(tmp_path: Path) -> None:
    """Issue 14 row 9: nothing named as a log is dropped without a word; non-logs are
    counted; the good runs are still read."""
    from analyzer.readers import Skipped

    bad = _scan_folder(tmp_path)
    skipped: list[Skipped] = []
    result = read_sources([str(tmp_path)], skipped=skipped)
    assert sorted(r.meta.name for r in result.runs) == ["also_good", "good"]
    errors = {str(Path(e["location"]).relative_to(tmp_path)): e["error"] for e in result.errors}
    assert set(errors) == set(bad), errors
    for name, text in bad.items():
        assert text in errors[name], (name, errors[name])
    [note] = skipped
    assert note.location == str(tmp_path)
    assert note.files == ("config.json", "iris.csv", "notes.txt")
    assert note.message == "3 files skipped, not training logs: config.json, iris.csv, notes.txt"


def test_the_cli_and_the_fleet_review_report_them_too(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    (tmp_path / "runs").mkdir()
    bad = _scan_folder(tmp_path / "runs")
    for argv in (["analyze"], ["review", "--since", "1000d", "--executor", "processes:2"]):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "lrtempo",
                *argv,
                str(tmp_path / "runs"),
                "--format",
                "json",
                "-q",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert proc.returncode == 3, proc.stderr  # a partial read
        doc = json.loads(proc.stdout)
        assert sorted(r["run"]["name"] for r in doc["runs"]) == ["also_good", "good"]
        assert len(doc["errors"]) == len(bad)
        lines = proc.stderr.splitlines()
        for name in bad:
            assert any(ln.startswith(f"lrtempo: {tmp_path / 'runs' / name}: ") for ln in lines)
        assert f"note: {tmp_path / 'runs'}: 3 files skipped, not training logs: " in proc.stderr
        assert "Traceback" not in proc.stderr


def test_the_dashboard_review_keeps_the_good_runs_and_lists_the_bad(tmp_path: Path) -> None:
    from dashboard.store import DataStore

    bad = _scan_folder(tmp_path)
    runs, errors = DataStore([str(tmp_path)]).runs("all")
    assert sorted(r.meta.name for r in runs) == ["also_good", "good"]
    assert {str(Path(e["location"]).relative_to(tmp_path)) for e in errors} == set(bad)
