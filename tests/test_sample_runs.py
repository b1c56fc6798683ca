"""Golden statuses for sample_runs/: each file was generated to show one case."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer import read_sources
from analyzer.analysis import analyze_run
from sample_runs.generate import EXPECTED

from tests.conftest import SAMPLE_RUNS


def _runs_by_key() -> dict[str, object]:
    out = {}
    for run in read_sources([str(SAMPLE_RUNS)]).runs:
        rel = Path(run.meta.location).relative_to(SAMPLE_RUNS).as_posix()
        key = rel
        if "#" in run.meta.name:  # appended Keras runs: "name #2"
            key = f"{rel}#{run.meta.name.rsplit('#', 1)[1].strip()}"
        elif (
            run.meta.name != Path(rel).stem
            and run.meta.name != Path(rel).parent.name
            and rel.endswith(".csv")
        ):
            key = f"{rel}#{run.meta.name}"  # W&B export: one run per run name
        out[key] = run
    return out


@pytest.fixture(scope="module")
def runs() -> dict[str, object]:
    return _runs_by_key()


def test_every_expected_sample_is_read(runs: dict[str, object]) -> None:
    assert set(runs) == set(EXPECTED)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_golden_status(key: str, runs: dict[str, object]) -> None:
    analysis = analyze_run(runs[key])
    assert analysis.status == EXPECTED[key], [f.to_dict() for f in analysis.findings]
    if EXPECTED[key] == "healthy":
        assert analysis.suggestion is None or analysis.suggestion.action == "keep_lr"
    else:
        assert analysis.suggestion is not None and analysis.suggestion.action != "keep_lr"
