"""Browser-facing defences (issue 14, row 5): the ``Host`` header is checked and no page
may be framed — on real servers, through the real command line and in real Chromium.

* Every answer (page, Dash endpoints, assets, 401, 404, 400) carries
  ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff`` and a CSP with
  ``frame-ancestors 'none'``.
* A request naming a host the dashboard is not served as gets 400, before the
  credentials are even asked for; ``--allowed-hosts`` / ``$LRTEMPO_ALLOWED_HOSTS`` add
  names (a real ``lrtempo dashboard`` process).
* In Chromium (``--host-resolver-rules`` maps ``rebind.test`` and ``attacker.test`` to
  127.0.0.1, as a DNS-rebinding attacker's name would resolve): the dashboard opened by
  that name answers 400; a page of another origin framing the dashboard shows nothing
  of it; and every page still renders under the CSP, with no violation reported.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from dashboard.auth import AuthConfig
from dashboard.webguard import CSP, HEADERS, allowed_hosts, host_name
from tests.browser_fixtures import guarded_page, launch_chromium
from tests.fixtures_mlflow import free_port
from tests.serving import in_thread, serve_app

ROOT = Path(__file__).resolve().parents[1]
EVIL = "rebind.test"


def _jsonl(n: int = 200) -> str:
    return "".join(
        json.dumps(
            {
                "step": s,
                "loss": 2.0 * math.exp(-s / 50) + 0.2,
                "val_loss": 2.1 * math.exp(-s / 50) + 0.25,
                "lr": 1e-3,
            }
        )
        + "\n"
        for s in range(n)
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    (root / "alpha.jsonl").write_text(_jsonl())
    (root / "beta.jsonl").write_text(_jsonl(150))
    return root


# ------------------------------------------------------------------ the host policy


def test_host_names_and_the_policy() -> None:
    assert host_name("LOCALHOST:8050") == "localhost" and host_name("[::1]:80") == "::1"
    assert host_name("127.0.0.1") == "127.0.0.1" and host_name("a.example.org.") == "a.example.org"
    for bad in ("", " ", "a b", "x/y", "user@host", "[::1", "host:port"):
        assert host_name(bad) is None, bad
    loop = allowed_hosts("127.0.0.1", env=False)
    for ok in ("127.0.0.1:8050", "localhost", "LOCALHOST:1", "[::1]:8050", "127.0.0.7"):
        assert loop.allows(ok), ok
    for bad in (
        f"{EVIL}:8050",
        "192.168.1.5:8050",
        "localhost.evil.com",
        "127.0.0.1.nip.io",
        "",
        None,
        "evil.com@127.0.0.1",
    ):
        assert not loop.allows(bad), bad
    extra = allowed_hosts("127.0.0.1", "dash.example.org, *.lab.internal", env=False)
    assert extra.allows("dash.example.org:443") and extra.allows("gpu1.lab.internal")
    assert not extra.allows("lab.internal.evil.com") and not extra.allows(EVIL)
    wild = allowed_hosts("0.0.0.0", env=False)
    assert wild.allows("10.1.2.3:8050") and wild.allows("[fe80::1]") and not wild.allows(EVIL)
    assert allowed_hosts("0.0.0.0", "*", env=False).allows(EVIL)
    named = allowed_hosts("box.internal", env=False)
    assert named.allows("box.internal:8050") and not named.allows("10.1.2.3")


# ------------------------------------------------------------------ a served app


def _routes(base: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Page, Dash endpoints, a callback, an asset, a 404 and a callback Dash answers 500."""
    return [
        ("GET", base + "/", None),
        ("GET", base + "/settings", None),
        ("GET", base + "/_dash-layout", None),
        ("GET", base + "/_dash-dependencies", None),
        (
            "POST",
            base + "/_dash-update-component",
            {
                "output": "review-dates-col.style",
                "outputs": {"id": "review-dates-col", "property": "style"},
                "inputs": [{"id": "review-window", "property": "value", "value": "all"}],
                "changedPropIds": ["review-window.value"],
            },
        ),
        ("GET", base + "/assets/10_lrtempo.css", None),
        ("GET", base + "/assets/no-such-file.js", None),
        (
            "POST",
            base + "/_dash-update-component",
            {
                "output": "x.children",
                "outputs": {"id": "x", "property": "children"},
                "inputs": [],
                "changedPropIds": [],
            },
        ),
    ]


def _has_headers(r: requests.Response) -> None:
    for key, value in HEADERS.items():
        assert r.headers.get(key) == value, (r.request.method, r.url, r.status_code, key)
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_every_answer_forbids_framing_and_a_foreign_host_gets_400(run_dir: Path) -> None:
    from dashboard.app import create_app

    with serve_app(create_app([str(run_dir)], since_hours=0)) as base:
        for method, url, body in _routes(base):
            r = requests.request(method, url, json=body, timeout=60)
            assert r.status_code < 500 or (body and body["output"] == "x.children"), url
            _has_headers(r)
            bad = requests.request(
                method,
                url,
                json=body,
                timeout=60,
                headers={"Host": f"{EVIL}:{base.rsplit(':', 1)[1]}"},
            )
            assert bad.status_code == 400 and "--allowed-hosts" in bad.text, (url, bad.status_code)
            assert "_dash" not in bad.text
            _has_headers(bad)


def test_the_host_is_checked_before_the_credentials(run_dir: Path) -> None:
    from dashboard.app import create_app

    auth = AuthConfig(users={"ann": "pw-ann"}, source="test")
    with serve_app(create_app([str(run_dir)], since_hours=0, auth=auth)) as base:
        plain = requests.get(base + "/", timeout=30)
        assert plain.status_code == 401
        _has_headers(plain)
        bad = requests.get(base + "/", auth=("ann", "pw-ann"), headers={"Host": EVIL}, timeout=30)
        assert bad.status_code == 400 and "WWW-Authenticate" not in bad.headers
        ok = requests.get(base + "/", auth=("ann", "pw-ann"), timeout=30)
        assert ok.status_code == 200 and "_dash-config" in ok.text
        _has_headers(ok)


# ------------------------------------------------------------------ the command line


def _start_cli(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lrtempo", "dashboard", *args, "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the dashboard exited: {proc.stderr.read()[-2000:]}")
        try:
            requests.get(f"http://127.0.0.1:{port}/_dash-layout", timeout=2)
        except requests.ConnectionError:
            time.sleep(0.3)
        else:
            return proc
    _stop(proc)
    pytest.fail("the dashboard did not start within 90 s")


def _stop(proc: subprocess.Popen[str]) -> str:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
    return err


@pytest.mark.parametrize("how", ["option", "environment"])
def test_allowed_hosts_from_the_command_line(how: str, run_dir: Path) -> None:
    port = free_port()
    names = "dash.example.org,*.lab.internal"
    args, env = [str(run_dir)], {"LRTEMPO_ALLOWED_HOSTS": ""}
    if how == "option":
        args += ["--allowed-hosts", names]
    else:
        env["LRTEMPO_ALLOWED_HOSTS"] = names
    proc = _start_cli(args, env, port)
    try:
        base = f"http://127.0.0.1:{port}"
        for host, status in (
            (f"dash.example.org:{port}", 200),
            ("gpu7.lab.internal", 200),
            (f"127.0.0.1:{port}", 200),
            (f"localhost:{port}", 200),
            (f"{EVIL}:{port}", 400),
            ("lab.internal.evil.com", 400),
        ):
            r = requests.get(base + "/", headers={"Host": host}, timeout=60)
            assert r.status_code == status, (host, r.status_code)
            _has_headers(r)
    finally:
        err = _stop(proc)
    assert "answering Host: " in err and "dash.example.org" in err


# ------------------------------------------------------------------ real Chromium


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Chromium resolving the attackers' names to this machine (for the DNS-rebinding tests)."""
    rules = f"--host-resolver-rules=MAP {EVIL} 127.0.0.1, MAP attacker.test 127.0.0.1"
    with launch_chromium(rules) as b:
        yield b


@pytest.fixture(scope="module")
def served(run_dir: Path) -> Iterator[str]:
    from dashboard.app import create_app

    with serve_app(create_app([str(run_dir)], since_hours=0)) as base:
        yield base


#: Collects CSP violations the page reports (the browser also logs them as errors).
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest.mark.browser
def test_every_page_renders_under_the_csp(chromium: Any, served: str) -> None:
    with guarded_page(chromium, served, "csp_pages", 30_000) as page:
        page.add_init_script(WATCH_CSP)
        page.goto(served + "/?window=all")
        row = page.locator(".ag-row", has=page.get_by_text("alpha", exact=True)).first
        row.wait_for()
        page.wait_for_selector(".ag-row svg, .ag-row canvas, .ag-row .status-badge")
        assert page.evaluate("window.__csp") == []
        page.get_by_role("link", name="alpha", exact=True).click()
        page.wait_for_url("**/run?id=*")
        page.wait_for_selector("#run-graph .main-svg")
        assert page.evaluate("window.__csp") == []
        for path, selector in (
            ("/compare", "#_pages_content"),
            ("/settings", "#settings-uri"),
            ("/upload", "#upload-files"),
        ):
            page.goto(served + path)
            page.wait_for_selector(selector, state="attached")
            page.wait_for_timeout(500)
            assert page.evaluate("window.__csp") == [], path
        resp = page.request.get(served + "/")
        assert resp.headers["content-security-policy"] == CSP


@pytest.mark.browser
def test_a_rebound_name_gets_400_in_the_browser(chromium: Any, served: str) -> None:
    port = served.rsplit(":", 1)[1]
    ctx = chromium.new_context()
    try:
        page = ctx.new_page()
        resp = page.goto(f"http://{EVIL}:{port}/")
        assert resp is not None and resp.status == 400
        assert "not served under that host name" in page.inner_text("body")
        assert page.locator("#_pages_content").count() == 0
        # What the rebinding page's script would do next: read the dashboard, same origin.
        assert page.evaluate("fetch('/_dash-layout').then(r => r.status)") == 400
        ok = page.goto(f"http://localhost:{port}/")  # the same server by a served name
        assert ok is not None and ok.status == 200
        page.wait_for_selector("#_pages_content", state="attached")
    finally:
        ctx.close()


@pytest.fixture
def attacker(served: str) -> Iterator[str]:
    """Another origin's page framing the dashboard (and, as a control, one of its own)."""
    page = (
        f'<html><body><iframe id="dash" src="{served}/" width="800" height="600"></iframe>'
        '<iframe id="own" src="/own" width="200" height="100"></iframe></body></html>'
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = (
                b"<html><body><p id=own-text>own frame</p></body></html>"
                if self.path == "/own"
                else page.encode()
            )
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        yield url.replace("127.0.0.1", "attacker.test")


@pytest.mark.browser
def test_another_origin_cannot_frame_the_dashboard(
    chromium: Any, served: str, attacker: str
) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    ctx = chromium.new_context()
    try:
        page = ctx.new_page()
        page.goto(attacker + "/")
        own = page.frame_locator("#own").locator("#own-text")
        own.wait_for()  # control: frames load on this page
        dash_frame = page.frame_locator("#dash")
        with pytest.raises(PlaywrightTimeoutError):
            dash_frame.locator("#_pages_content").wait_for(state="attached", timeout=8000)
        assert dash_frame.locator("#_dash-config").count() == 0
    finally:
        ctx.close()
