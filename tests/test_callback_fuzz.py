"""Forged callback payloads (issue 14 row 10): no HTTP 500 from the dashboard's callbacks.

The review found 89 payloads answered with a 500 and a traceback in the server log (e.g.
``review-window.value = -1``). Here every callback of a real served app gets, in turn,
each of its inputs and states set to values no browser sends; every answer must be a
normal one (200, or 204 for "nothing to update").
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import requests

from benchmarks.dash_protocol import callback_body
from tests.conftest import SAMPLE_RUNS
from tests.serving import serve_app

FORGED = [-1, 1e308, True, {"a": 1}, [1, 2], "../../etc", None, "x" * 300]
#: Dash's own page-routing callback (dash.page_registry), answered through the app-level
#: error handler (``Dash(on_error=…)`` in dashboard/app.py).
DASH_INTERNAL = "_pages_location."


def _failures(base: str, internal: bool) -> dict[str, list[str]]:
    deps = requests.get(base + "/_dash-dependencies", timeout=60).json()
    bad: dict[str, list[str]] = {}
    for dep in deps:
        if dep.get("clientside_function"):
            continue
        for x in dep["inputs"] + dep.get("state", []):
            prop = f"{x['id']}.{x['property']}"
            if prop.startswith(DASH_INTERNAL) != internal:
                continue
            for value in FORGED:
                body = callback_body(deps, dep["output"], {prop: value})
                r = requests.post(base + "/_dash-update-component", json=body, timeout=120)
                if r.status_code >= 500:
                    bad.setdefault(prop, []).append(repr(value)[:20])
    return bad


@pytest.fixture(scope="module")
def base() -> str:
    from dashboard.app import create_app

    logging.getLogger("dashboard.app").setLevel(logging.CRITICAL)
    with serve_app(create_app([str(Path(SAMPLE_RUNS))], since_hours=0)) as url:
        requests.get(url + "/", timeout=60)
        yield url


def test_no_callback_of_ours_answers_a_forged_payload_with_500(base: str) -> None:
    assert _failures(base, internal=False) == {}


def test_dash_page_routing_answers_a_forged_path_without_500(base: str) -> None:
    assert _failures(base, internal=True) == {}
