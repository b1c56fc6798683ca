"""Settings are per visitor, and the operator's credentials stay with the operator's server.

Real servers on loopback: the dashboard (werkzeug in a thread) and small HTTP listeners
that answer like an MLflow server and record every request's ``Authorization`` header;
callbacks are driven the way a browser sends them (``benchmarks.dash_protocol``), and two real
Chromium contexts (two visitors) check that one's Settings never change the other's
Review. Refused URIs are checked with an audit hook: nothing is opened or connected.
"""

from __future__ import annotations

import ipaddress
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from dashboard.auth import AuthConfig, load_auth_file
from benchmarks.dash_protocol import callback_body, dash_config
from dashboard.uri_policy import UriNotAllowed, UriPolicy, address_problem, origin, parse_schemes
from tests.serving import in_thread, serve_app

GOOD_JSONL = "".join(
    json.dumps({"step": s, "loss": 2.0 / (s + 1) + 0.1, "lr": 1e-3}) + "\n" for s in range(1, 60)
)
TOKEN = "operator-secret-token-123"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    (root / "alpha.jsonl").write_text(GOOD_JSONL)
    return root


@contextmanager
def recording_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A listener answering like an MLflow server with no experiments; it records each
    request's path and ``Authorization`` header (``""`` when none was sent)."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            seen.append({"path": self.path, "auth": self.headers.get("Authorization", "")})
            body = b'{"experiments": [], "runs": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    with in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        yield url, seen


def _call(
    base: str, first_output: str, values: dict[str, Any], auth: tuple[str, str] | None = None
) -> dict[str, Any]:
    """Run the callback whose first output is ``first_output`` as a browser would; its
    ``response`` (``{}`` when it updated nothing)."""
    page = requests.get(base + "/", auth=auth, timeout=60)
    assert page.status_code == 200
    deps = requests.get(base + "/_dash-dependencies", auth=auth, timeout=30).json()
    trigger = next(iter(values)).rpartition(".")[0]  # the first value names an input

    def fits(d: dict[str, Any]) -> bool:
        outs = [o.split("@")[0] for o in d["output"].strip(".").split("...")]
        return first_output in outs and any(i["id"] == trigger for i in d["inputs"])

    out = next(d["output"] for d in deps if fits(d))
    end_id = dash_config(page.text).get("end_id", "")
    r = requests.post(
        f"{base}/_dash-update-component?endId={end_id}",
        auth=auth,
        timeout=120,
        json=callback_body(deps, out, values),
    )
    assert r.status_code in (200, 204), r.text[:500]
    return r.json().get("response", {}) if r.status_code == 200 else {}


def _review(base: str, settings: dict[str, Any] | None, auth: Any = None) -> str:
    resp = _call(
        base,
        "review-grid.rowData",
        {
            "review-window.value": "all",
            "review-tag.value": "",
            "review-autorefresh.value": 0,
            "user-settings.data": settings,
        },
        auth,
    )
    return json.dumps([resp.get("review-grid"), resp.get("review-errors")])


def _test_connection(base: str, uri: str, auth: Any = None) -> str:
    resp = _call(
        base,
        "settings-test-result.children",
        {"settings-test.n_clicks": 1, "settings-uri.value": uri},
        auth,
    )
    return json.dumps(resp)


@pytest.mark.parametrize("creds", ["token", "basic"])
def test_environment_credentials_go_only_to_the_configured_origin(
    creds: str, run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A visitor's URI (a second real listener) never receives the operator's credentials;
    the command-line URI does."""
    from dashboard.app import create_app

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    if creds == "token":
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
        wanted = f"Bearer {TOKEN}"
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "operator")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", TOKEN)
        import base64

        wanted = "Basic " + base64.b64encode(f"operator:{TOKEN}".encode()).decode()
    with (
        recording_server() as (configured, got_configured),
        recording_server() as (visitor, got_visitor),
    ):
        app = create_app(
            [str(run_dir)], tracking_uri=configured, since_hours=0, allow_private_uris=True
        )  # both listeners are on loopback
        with serve_app(app) as base:
            assert "alpha" in _review(base, None)
            text = _test_connection(base, visitor)
            assert "MLflow" in text and "server at" in text  # it really connected
            _review(base, {"tracking_uri": visitor})
            _review(base, {"tracking_uri": visitor + "/"})  # same origin, another spelling
            text = _test_connection(base, configured + "/")
    assert got_configured and got_visitor
    assert {r["auth"] for r in got_configured} == {wanted}
    assert {r["auth"] for r in got_visitor} == {""}, got_visitor
    assert any("runs/search" in r["path"] or "experiments/search" in r["path"] for r in got_visitor)


def test_a_visitors_saved_uri_changes_nothing_for_others(run_dir: Path) -> None:
    """Save returns the URI to the browser's store; the server-wide URI stays as it was."""
    from dashboard.app import create_app
    from dashboard.store import STORE_KEY

    with recording_server() as (visitor, got):
        app = create_app([str(run_dir)], since_hours=0, allow_private_uris=True)
        with serve_app(app) as base:
            resp = _call(
                base,
                "user-settings.data",
                {
                    "settings-save.n_clicks": 1,
                    "settings-uri.value": visitor,
                    "settings-experiment.value": "nlp",
                },
            )
            assert resp["user-settings"]["data"] == {"tracking_uri": visitor, "experiment": "nlp"}
            assert app.server.config[STORE_KEY].tracking_uri is None
            before = len(got)
            other = _review(base, None)  # another visitor, no saved settings
            assert "alpha" in other and len(got) == before  # the visitor's server not read
            mine = _review(base, {"tracking_uri": visitor})
            assert "alpha" in mine and len(got) > before


def test_only_an_admin_changes_the_server_wide_uri(run_dir: Path, tmp_path: Path) -> None:
    from dashboard.app import create_app
    from dashboard.store import STORE_KEY

    users = tmp_path / "users"
    users.write_text("alice:pw-alice:admin\nbob:pw-bob\ncarol:pass:with:colons\n")
    loaded, admins = load_auth_file(users)
    assert loaded == {"alice": "pw-alice", "bob": "pw-bob", "carol": "pass:with:colons"}
    assert admins == {"alice"}
    auth = AuthConfig(users=loaded, admins=admins, source=str(users))
    assert "1 admin" in auth.describe() and "pw-" not in auth.describe()
    with recording_server() as (uri, _):
        app = create_app([str(run_dir)], since_hours=0, auth=auth, allow_private_uris=True)
        store = app.server.config[STORE_KEY]
        with serve_app(app) as base:
            values = {
                "settings-save-all.n_clicks": 1,
                "settings-uri.value": uri,
                "settings-experiment.value": "",
            }
            page = requests.get(base + "/settings", auth=("bob", "pw-bob"), timeout=30)
            assert page.status_code == 200
            resp = _call(base, "settings-save-result.children", values, ("bob", "pw-bob"))
            assert "Only an admin" in json.dumps(resp) and store.tracking_uri is None
            resp = _call(base, "settings-save-result.children", values, ("alice", "pw-alice"))
            assert "Saved for everyone" in json.dumps(resp) and store.tracking_uri == uri


# ----------------------------------------------------------------------- refused URIs


class _Audit:
    """Records file opens, sqlite connects and socket connects while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.events: list[tuple[str, str]] = []
        sys.addaudithook(self)

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.on:
            return
        if event in ("open", "sqlite3.connect"):
            self.events.append((event, str(args[0])))
        elif event == "socket.connect":
            self.events.append((event, str(args[1])))


_AUDIT = _Audit()


@contextmanager
def audited() -> Iterator[list[tuple[str, str]]]:
    _AUDIT.events = []
    _AUDIT.on = True
    try:
        yield _AUDIT.events
    finally:
        _AUDIT.on = False


@pytest.mark.parametrize(
    "uri, reason",
    [
        ("sqlite:////etc/passwd", "'sqlite:' URIs may not be entered here"),
        ("file:///etc", "'file:' URIs may not be entered here"),
        ("/etc/passwd", "a URI without a scheme"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://[fd00:ec2::254]/", "fd00:ec2::254 is a cloud metadata address"),
        ("http://169.254.1.1:5000", "is a link-local address"),
        ("http://localhost:5000", "is a loopback address"),
        ("http://[::ffff:127.0.0.1]:5000", "is a loopback address"),
        ("http://0.0.0.0:5000", "the unspecified address"),
    ],
)
def test_refused_uris_say_why_and_touch_nothing(uri: str, reason: str, run_dir: Path) -> None:
    from dashboard.app import create_app

    app = create_app([str(run_dir)], since_hours=0)
    with serve_app(app) as base:
        _test_connection(base, "http://127.0.0.1:1")  # warm up: imports and pages loaded
        with audited() as events:
            text = _test_connection(base, uri)
        saved = _call(
            base,
            "user-settings.data",
            {
                "settings-save.n_clicks": 1,
                "settings-uri.value": uri,
                "settings-experiment.value": "",
            },
        )
        review = _review(base, {"tracking_uri": uri})  # a forged browser store: still refused
    assert "Not allowed here: " in text and reason in text, text
    assert "user-settings" not in saved and "not allowed here" in json.dumps(saved)
    assert "not allowed here" in review and "alpha" in review
    touched = [
        e
        for e in events
        if "/etc" in e[1]
        or e[0] == "sqlite3.connect"
        or (e[0] == "socket.connect" and ("169.254" in e[1] or "fd00" in e[1] or "5000" in e[1]))
    ]
    assert touched == [], touched


def test_operator_flags_widen_the_policy(tmp_path: Path) -> None:
    strict = UriPolicy()
    loose = UriPolicy(schemes=parse_schemes("sqlite,file"), allow_private=True)
    db = tmp_path / "mlflow.db"
    for uri in (f"sqlite:///{db}", "http://127.0.0.1:5000", "http://169.254.169.254"):
        with pytest.raises(UriNotAllowed):
            strict.check(uri)
        loose.check(uri)
    strict.check("http://10.1.2.3:5000")  # private networks are where MLflow servers live
    strict.check("https://192.168.0.7")
    strict.check("http://127.0.0.1:5000/", trusted=["http://127.0.0.1:5000"])  # the operator's
    with pytest.raises(UriNotAllowed, match="cannot resolve"):
        strict.check("http://no-such-host.invalid:5000")
    with pytest.raises(ValueError, match="unknown scheme 'gopher'"):
        parse_schemes("sqlite,gopher")
    assert origin("HTTP://Host.Example/x") == origin("http://host.example:80/y")
    assert address_problem(ipaddress.ip_address("8.8.8.8")) is None


def test_cli_flags_reach_the_policy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import dashboard.serve
    from lrtempo.cli import main
    from dashboard.store import STORE_KEY

    apps: list[Any] = []
    monkeypatch.setattr(dashboard.serve, "serve", lambda app, **kw: apps.append(app))
    assert (
        main(["dashboard", str(tmp_path), "--allow-uri-schemes", "sqlite", "--allow-private-uris"])
        == 0
    )
    policy = apps[0].server.config[STORE_KEY].uri_policy
    assert "sqlite" in policy.schemes and "file" not in policy.schemes and policy.allow_private
    assert main(["dashboard", str(tmp_path), "--allow-uri-schemes", "ftp"]) == 2
    assert "unknown scheme 'ftp'" in capsys.readouterr().err


# ----------------------------------------------------------------------- two browsers


@pytest.mark.browser
def test_two_browsers_keep_their_own_settings(run_dir: Path, tmp_path: Path) -> None:
    """Visitor A saves a tracking URI in Settings and sees its runs; visitor B (another
    browser context) still sees the server-wide sources only. A's store is a sqlite one
    made here with the real MlflowClient (the operator allows sqlite URIs)."""
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    from dashboard.app import create_app
    from tests.fixtures_mlflow import log_run
    from tests.browser_fixtures import launch_chromium

    visitor_uri = f"sqlite:///{tmp_path / 'visitor.db'}"
    client = MlflowClient(tracking_uri=visitor_uri)
    exp_id = client.create_experiment("settings-visitor")
    log_run(
        client,
        exp_id,
        "visitor_run",
        {"loss": [2.0 / (i + 1) + 0.1 for i in range(60)]},
        start_time=time.time() - 3600,
    )
    app = create_app([str(run_dir)], since_hours=0, allow_uri_schemes="sqlite")
    with serve_app(app) as base, launch_chromium() as browser:
        a = browser.new_context().new_page()
        b = browser.new_context().new_page()
        for pg in (a, b):
            pg.set_default_timeout(60_000)
        a.goto(base + "/settings")
        a.fill("#settings-uri", visitor_uri)
        a.click("#settings-save")
        a.wait_for_selector("#settings-save-alert")
        assert "Saved. In this browser only" in a.inner_text("#settings-save-alert")
        a.goto(base + "/?window=all")
        a.wait_for_selector(".ag-row >> text=visitor_run")
        assert a.locator(".ag-row >> text=alpha").count() == 1
        b.goto(base + "/?window=all")
        b.wait_for_selector(".ag-row >> text=alpha")
        time.sleep(1.0)  # any late rows would have come by now
        assert b.locator(".ag-row >> text=visitor_run").count() == 0
        b.goto(base + "/settings")
        b.wait_for_selector("#settings-server-uri")
        assert b.input_value("#settings-uri") == ""
        assert b.inner_text("#settings-server-uri") == "none"
        a.goto(base + "/settings")  # a new page load: the browser kept A's settings
        a.wait_for_function(
            "document.querySelector('#settings-uri') && "
            f"document.querySelector('#settings-uri').value === "
            f"{json.dumps(visitor_uri)}"
        )
