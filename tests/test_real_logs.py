"""Every log in ../shared/real_logs loads with a train-loss role (skips when absent)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analyzer import read_file, read_sources
from analyzer.readers import discover, read_log_source
from analyzer.roles import resolve_roles, role_series

LOG_SUFFIXES = (".csv", ".log", ".json", ".jsonl", ".txt")


def real_log_units(root: Path) -> list[str]:
    """Each log file, and each TensorBoard run folder, as SOURCES.md lists them."""
    units = [
        str(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in LOG_SUFFIXES and p.name != "SOURCES.md"
    ]
    units += [str(p) for p in sorted((root / "tensorboard").iterdir()) if p.is_dir()]
    return units


def test_there_are_forty_logs(real_logs: Path) -> None:
    assert len(real_log_units(real_logs)) == 40


def test_discovery_finds_each_log_once(real_logs: Path) -> None:
    found = {s.location for s in discover(real_logs)}
    assert found == set(real_log_units(real_logs))


@pytest.mark.parametrize("index", range(40))
def test_each_real_log_has_a_train_loss(real_logs: Path, index: int) -> None:
    unit = real_log_units(real_logs)[index]
    [source] = [
        s
        for s in discover(Path(unit).parent if Path(unit).is_file() else Path(unit))
        if s.location == unit
    ]
    runs = read_log_source(source)
    assert runs
    for run in runs:
        roles = resolve_roles(run)
        assert roles.train_loss, (unit, run.metric_names)
        series = role_series(run, roles.train_loss)
        assert len(series) >= 4 and np.isfinite(series["value"]).any()


def test_appended_keras_files_are_several_runs(real_logs: Path) -> None:
    keras = real_logs / "keras_csvlogger"
    assert len(read_file(keras / "brain_tumor_cnn_four_runs_appended.csv")) == 4
    assert len(read_file(keras / "sleep_apnea_cnn_two_runs_appended.csv")) == 2


def test_t5_trainer_state_and_tensorboard_agree(real_logs: Path) -> None:
    [hf] = read_file(real_logs / "hf_trainer_state/t5_summarization_3ep.json")
    [tb] = read_sources([str(real_logs / "tensorboard/hf_t5_summarization")]).runs
    a, b = hf.series("loss"), tb.series("train/loss")
    assert a["step"].tolist() == b["step"].tolist()
    np.testing.assert_allclose(a["value"], b["value"], rtol=1e-6)  # TB stores float32
    lr_a, lr_b = hf.series("learning_rate"), tb.series("train/learning_rate")
    np.testing.assert_allclose(lr_a["value"], lr_b["value"], rtol=1e-6)


def test_cli_reads_all_real_logs_without_errors(real_logs: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lrtempo", "analyze", str(real_logs), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert doc["errors"] == []
    locations = {r["run"]["location"] for r in doc["runs"]}
    assert locations == set(real_log_units(real_logs))
    assert len(doc["runs"]) == 40 + 3 + 1  # four-run and two-run Keras files
    assert all("train_loss" in r["metrics"] for r in doc["runs"])


# --- second set: tests/real_logs2 (in the repository) ----------------------------------

REAL_LOGS2 = Path(__file__).resolve().parent / "real_logs2"


def test_folder_scan_of_real_logs2_finds_each_log_and_not_its_notes() -> None:
    """SOURCES.md and manifest.json are not logs; every committed log is found once, and the
    CLI reads them all (the appended DETR log.txt is two runs)."""
    logs = {
        str(p)
        for p in REAL_LOGS2.rglob("*")
        if p.is_file() and p.name not in {"SOURCES.md", "manifest.json"}
    }
    assert {s.location for s in discover(REAL_LOGS2)} == logs
    proc = subprocess.run(
        [sys.executable, "-m", "lrtempo", "analyze", str(REAL_LOGS2), "--format", "json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert doc["errors"] == [] and len(doc["runs"]) == len(logs) + 1
    assert all({"train_loss", "val_loss"} & set(r["metrics"]) for r in doc["runs"])
    with_lr = [r for r in doc["runs"] if "lr" in r["metrics"]]
    assert len(with_lr) == len(
        [
            r
            for r in doc["runs"]
            if "lightning_csv" not in r["run"]["location"] and "keras" not in r["run"]["location"]
        ]
    )  # those log no LR
