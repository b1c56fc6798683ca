"""Shared fixtures. Server fixtures live in their own modules, registered here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

#: Property tests draw the same examples on every run unless a test asks otherwise (the
#: slow, nightly ones do): a CI run cannot fail by the luck of the draw.
settings.register_profile("lrtempo", derandomize=True)
settings.load_profile("lrtempo")

REPO = Path(__file__).resolve().parents[1]
REAL_LOGS = REPO.parent / "shared" / "real_logs"
SAMPLE_RUNS = REPO / "sample_runs"

pytest_plugins = ("tests.fixtures_mlflow", "tests.browser_fixtures")


@pytest.fixture(scope="session")
def real_logs() -> Path:
    """``../shared/real_logs`` beside the repo; tests using it skip when it is absent."""
    if not REAL_LOGS.is_dir():
        pytest.skip("../shared/real_logs is not present")
    return REAL_LOGS


@pytest.fixture(scope="session", autouse=True)
def _mlflow_cache_off() -> Iterator[None]:
    """The MLflow history cache is off in the test session (each test reads what the
    server holds now, and the user's ``$LRTEMPO_HOME`` is left alone); the cache's own
    tests (tests/test_mlflow_cache.py) turn it on with a file of their own."""
    import os

    old = os.environ.get("LRTEMPO_MLFLOW_CACHE")
    os.environ["LRTEMPO_MLFLOW_CACHE"] = "off"
    yield
    if old is None:
        os.environ.pop("LRTEMPO_MLFLOW_CACHE", None)
    else:
        os.environ["LRTEMPO_MLFLOW_CACHE"] = old
