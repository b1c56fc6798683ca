"""The demo store: seeded once from sample_runs/ into LR Tempo's own sqlite MLflow store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzer import read_sources
from dashboard.demo import demo_store, mlflow_key

from tests.conftest import SAMPLE_RUNS


@pytest.fixture(scope="module")
def demo_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    home = tmp_path_factory.mktemp("lrtempo_home")
    mp = pytest.MonkeyPatch()
    mp.setenv("LRTEMPO_HOME", str(home))
    try:
        yield demo_store()
    finally:
        mp.undo()


def test_demo_store_holds_every_sample_run(demo_uri: str) -> None:
    samples = read_sources([str(SAMPLE_RUNS)]).runs
    stored = read_sources([demo_uri]).runs
    assert sorted(r.meta.name for r in stored) == sorted(r.meta.name for r in samples)
    assert all(r.meta.source == "mlflow" and r.meta.experiment for r in stored)
    assert {r.meta.status for r in stored} == {"FINISHED"}


def test_demo_series_survive_the_round_trip(demo_uri: str) -> None:
    [sample] = [r for r in read_sources([str(SAMPLE_RUNS / "keras" / "cnn_overfit.log")]).runs]
    [stored] = [r for r in read_sources([demo_uri]).runs if r.meta.name == sample.meta.name]
    for metric in sample.metric_names:
        a, b = sample.series(metric), stored.series(mlflow_key(metric))
        assert a["step"].tolist() == b["step"].tolist()
        assert a["value"].tolist() == pytest.approx(b["value"].tolist())


def test_demo_window_has_recent_and_older_runs(demo_uri: str) -> None:
    import time

    recent = read_sources([demo_uri], since=time.time() - 24 * 3600).runs
    everything = read_sources([demo_uri]).runs
    assert 0 < len(recent) < len(everything)


def test_demo_is_seeded_once(demo_uri: str) -> None:
    db = Path(demo_uri.removeprefix("sqlite:///"))
    before = db.stat().st_mtime_ns
    assert demo_store() == demo_uri
    assert db.stat().st_mtime_ns == before
    assert json.loads((db.parent / "seeded.json").read_text())["runs"] >= 10


def test_mlflow_key_keeps_valid_names() -> None:
    assert mlflow_key("train/box_loss") == "train/box_loss"
    assert mlflow_key("metrics/mAP50(B)") == "metrics/mAP50_B_"
