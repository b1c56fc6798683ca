"""Settings shows the active tracking URI and checks a URI before saving it (issue 12).

Real parts: two real MLflow sqlite stores made with ``MlflowClient`` (the server-wide one
and a visitor's), the dashboard served by werkzeug on loopback, real headless Chromium.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.serving import serve_app

pytestmark = pytest.mark.browser


def _store(path: Path, run_name: str) -> str:
    """A real MLflow sqlite store holding one short run; its URI."""
    from mlflow import MlflowClient

    from tests.fixtures_mlflow import log_run

    uri = f"sqlite:///{path}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("settings-checks")
    log_run(
        client,
        exp,
        run_name,
        {"loss": [2.0 / (i + 1) + 0.1 for i in range(40)]},
        start_time=time.time() - 3600,
    )
    return uri


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    pytest.importorskip("mlflow")
    root = tmp_path_factory.mktemp("stores")
    return _store(root / "server.db", "server_run"), _store(root / "mine.db", "my_run")


@pytest.fixture(scope="module")
def app_args(
    stores: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[str], dict[str, Any]]:
    logs = tmp_path_factory.mktemp("logs")
    return [str(logs)], {
        "tracking_uri": stores[0],
        "since_hours": 0,
        "allow_uri_schemes": "sqlite",
    }


def _settings(page) -> None:
    page.goto(page.base + "/settings")
    page.wait_for_selector("#settings-save")


def _save(page, uri: str) -> str:
    page.locator("#settings-save-result").evaluate("e => e.replaceChildren()")
    page.fill("#settings-uri", uri)
    page.click("#settings-save")
    return page.locator("#settings-save-alert").inner_text()


def _saved_uri(page) -> object:
    return page.evaluate(
        "() => (JSON.parse(localStorage.getItem('user-settings') || 'null') || {}).tracking_uri"
    )


def test_the_active_uri_is_the_visitors_own_else_the_server_wide(page, stores) -> None:
    server, mine = stores
    _settings(page)
    page.wait_for_selector("#settings-active-value")
    assert page.inner_text("#settings-active-value") == server
    assert "server-wide" in page.inner_text("#settings-active-whose")
    assert "Saved. In this browser only" in _save(page, mine)
    page.wait_for_function(
        f"document.querySelector('#settings-active-value').innerText === {mine!r}"
    )
    _settings(page)  # a new visit: still the visitor's own
    page.wait_for_function(
        f"document.querySelector('#settings-active-value').innerText === {mine!r}"
    )
    assert "yours" in page.inner_text("#settings-active-whose")
    assert "Saved." in _save(page, "")  # empty: back to the server-wide URI
    page.wait_for_function(
        f"document.querySelector('#settings-active-value').innerText === {server!r}"
    )


def test_save_refuses_an_unreachable_uri_and_says_why(page, tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'nothing-here.db'}"
    _settings(page)
    text = _save(page, missing)
    assert text.startswith("Not saved: could not connect") and "nothing-here.db" in text, text
    assert _saved_uri(page) in (None, "")  # nothing saved in the browser
    _settings(page)
    assert "server-wide" in page.inner_text("#settings-active-whose")


@pytest.mark.parametrize(
    "typed, says",
    [
        ("not a uri at all", "'not a uri at all' is not a URI"),
        ("mlflow.internal:5000", "has no scheme; did you mean http://mlflow.internal:5000"),
    ],
)
def test_input_that_is_not_a_uri_is_refused_with_a_message(page, typed: str, says: str) -> None:
    _settings(page)
    text = _save(page, typed)
    assert text.startswith("Not saved: ") and says in text, text
    assert "path" not in text, text  # not taken as a local path
    assert _saved_uri(page) in (None, "")
    page.click("#settings-test")
    assert says in page.locator("#settings-test-alert").inner_text()


@pytest.mark.parametrize(
    "typed, says",
    [
        ("http://127.0.0.1:1", "Not saved: could not connect"),
        ("not a uri at all", "Not saved: 'not a uri at all' is not a URI"),
    ],
)
def test_an_admins_save_for_everyone_is_checked_too(tmp_path: Path, typed: str, says: str) -> None:
    """Callback level (a browser adds nothing): the admin's server-wide URI must be a URI
    the dashboard can reach; a refused one leaves the server-wide URI as it was."""
    import json

    from dashboard.app import create_app
    from dashboard.auth import AuthConfig
    from dashboard.store import STORE_KEY
    from tests.test_security_settings import _call

    auth = AuthConfig(users={"alice": "pw-alice"}, admins={"alice"}, source="test")
    app = create_app([str(tmp_path)], since_hours=0, auth=auth, allow_private_uris=True)
    with serve_app(app) as url:
        values = {
            "settings-save-all.n_clicks": 1,
            "settings-uri.value": typed,
            "settings-experiment.value": "",
        }
        resp = json.dumps(
            _call(url, "settings-save-result.children", values, ("alice", "pw-alice"))
        )
    assert says in resp, resp
    assert app.server.config[STORE_KEY].tracking_uri is None
