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
    assert result.errors == [{"location": str(tmp_path), "error": "no training log found in this folder"}]
