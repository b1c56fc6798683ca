"""An admin's server-wide settings survive a restart (issue 12): kept in a JSON file under
``$LRTEMPO_HOME``, restored at the next start unless ``--tracking-uri`` is given; a bad
file is named (path and line) and otherwise ignored.

Real parts: a real MLflow sqlite store (``MlflowClient``), the dashboard served by
werkzeug on loopback, the admin's Save sent as the browser sends it.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from dashboard import settings_file
from tests.serving import serve_app


def test_save_then_load_round_trips_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "home" / "settings.json"
    settings_file.save(path, {"tracking_uri": " http://mlflow:5000 ", "experiment": "", "x": "y"})
    assert settings_file.load(path) == settings_file.Saved({"tracking_uri": "http://mlflow:5000"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temporary left


def test_a_missing_file_is_no_settings(tmp_path: Path) -> None:
    assert settings_file.load(tmp_path / "none.json") == settings_file.Saved()


@pytest.mark.parametrize(
    "text, says",
    [
        ('{\n "tracking_uri": "http://a",\n "experiment": }\n', "line 3: not valid JSON"),
        ('["http://a"]', "expected a JSON object, found list"),
        ('{"tracking_uri": 5}', "'tracking_uri' must be a string, found int"),
    ],
)
def test_a_bad_file_is_named_and_ignored(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(text)
    saved = settings_file.load(path)
    assert saved.values == {}
    assert saved.problem is not None and str(path) in saved.problem and says in saved.problem


def test_home_follows_lrtempo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRTEMPO_HOME", str(tmp_path))
    assert settings_file.default_path() == tmp_path / "settings.json"


def test_the_saved_uri_applies_unless_the_command_line_gives_one(tmp_path: Path) -> None:
    from dashboard.app import create_app
    from dashboard.store import STORE_KEY

    path = tmp_path / "settings.json"
    settings_file.save(path, {"tracking_uri": "http://saved:5000", "experiment": "team-a"})
    store = create_app([], since_hours=0, settings_file=path).server.config[STORE_KEY]
    assert (store.tracking_uri, store.experiment) == ("http://saved:5000", "team-a")
    store = create_app(
        [], since_hours=0, tracking_uri="http://cli:5000", settings_file=path
    ).server.config[STORE_KEY]
    assert (store.tracking_uri, store.experiment) == ("http://cli:5000", "team-a")
    store = create_app([], since_hours=0).server.config[STORE_KEY]  # not kept: nothing read
    assert (store.tracking_uri, store.experiment) == (None, None)


def test_an_unreadable_file_still_starts_and_settings_names_it(tmp_path: Path) -> None:
    from dashboard.app import create_app
    from dashboard.store import STORE_KEY
    from tests.test_security_settings import _call

    path = tmp_path / "settings.json"
    path.write_text("{oops")
    app = create_app([], since_hours=0, settings_file=path)
    assert app.server.config[STORE_KEY].tracking_uri is None
    with serve_app(app) as url:
        page = json.dumps(
            _call(
                url,
                "_pages_content.children",
                {"_pages_location.pathname": "/settings", "_pages_location.search": ""},
            )
        )
    assert str(path) in page and "line 1: not valid JSON" in page, page[:2000]


def test_an_admins_save_for_everyone_survives_a_restart(tmp_path: Path) -> None:
    """Save for everyone writes the file; a new app on the same file reads that store."""
    pytest.importorskip("mlflow")
    from dashboard.app import create_app
    from dashboard.auth import AuthConfig
    from dashboard.store import STORE_KEY
    from tests.test_security_settings import _call
    from tests.test_settings_checks import _store

    uri = _store(tmp_path / "team.db", "team_run")
    path = tmp_path / "home" / "settings.json"
    auth = AuthConfig(users={"alice": "pw-alice"}, admins={"alice"}, source="test")
    app = create_app([], since_hours=0, auth=auth, settings_file=path)
    values = {
        "settings-save-all.n_clicks": 1,
        "settings-uri.value": uri,
        "settings-experiment.value": "settings-checks",
    }
    with serve_app(app) as url:
        said = json.dumps(
            _call(url, "settings-save-result.children", values, ("alice", "pw-alice"))
        )
    assert "Saved for everyone" in said and str(path) in said, said
    assert json.loads(path.read_text()) == {"experiment": "settings-checks", "tracking_uri": uri}
    again = create_app([], since_hours=0, settings_file=path).server.config[STORE_KEY]
    assert (again.tracking_uri, again.experiment) == (uri, "settings-checks")
