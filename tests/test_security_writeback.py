"""Write-back from the dashboard needs a writer and a confirmation the server checks
(issue 14, row 5), and the auth file is read safely (row 10).

A real ``mlflow server`` holds two runs of one experiment: one started an hour ago (in
the default 24 h view) and one started ten days ago (outside it). The dashboard is
served by werkzeug on loopback and its callbacks are driven as a browser (or a forger)
sends them: ``POST /_dash-update-component`` built from ``_dash-dependencies``. What
MLflow then holds is read back with the real client. The auth-file cases run the real
``lrtempo`` command in a subprocess under a 2 GiB address-space limit.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from benchmarks.dash_protocol import callback_body, dash_config
from dashboard.auth import AuthConfig, auth_config, load_roles, parse_line
from dashboard.writeback import ConfirmTokens, TokenRefused
from tests.fixtures_mlflow import MlflowServer, log_run
from tests.serving import serve_app

ROOT = Path(__file__).resolve().parents[1]
LOSS = [2.0 * math.exp(-i / 60) + 0.2 for i in range(300)]


# ------------------------------------------------------------------ driving callbacks


def call(
    base: str, first_output: str, values: dict[str, Any], auth: tuple[str, str] | None = None
) -> dict[str, Any]:
    """Run the callback whose first output is ``first_output`` with ``values``; the first
    value names the input that fired (``changedPropIds``, as the renderer sends it)."""
    page = requests.get(base + "/", auth=auth, timeout=60)
    assert page.status_code == 200, page.status_code
    deps = requests.get(base + "/_dash-dependencies", auth=auth, timeout=30).json()
    trigger = next(iter(values))

    def fits(d: dict[str, Any]) -> bool:
        outs = [o.split("@")[0] for o in d["output"].strip(".").split("...")]
        return first_output in outs and any(
            f"{i['id']}.{i['property']}" == trigger for i in d["inputs"]
        )

    out = next(d["output"] for d in deps if fits(d))
    body = callback_body(deps, out, values)
    body["changedPropIds"] = [trigger]
    end_id = dash_config(page.text).get("end_id", "")
    r = requests.post(
        f"{base}/_dash-update-component?endId={end_id}", auth=auth, timeout=300, json=body
    )
    assert r.status_code in (200, 204), r.text[:500]
    return r.json().get("response", {}) if r.status_code == 200 else {}


def lrtempo_tags(client: Any, run_id: str) -> dict[str, str]:
    return {k: v for k, v in client.get_run(run_id).data.tags.items() if k.startswith("lrtempo.")}


@pytest.fixture(scope="module")
def runs(mlflow_server: MlflowServer) -> Iterator[dict[str, Any]]:
    """An experiment with a run from an hour ago and one from ten days ago."""
    client = mlflow_server.client()
    name = f"sec-writeback-{time.time_ns()}"
    exp = client.create_experiment(name)
    recent = log_run(
        client,
        exp,
        "recent-run",
        {"loss": LOSS, "lr": [1e-3] * len(LOSS)},
        start_time=time.time() - 3600,
    )
    old = log_run(
        client,
        exp,
        "ten-days-old",
        {"loss": LOSS, "lr": [1e-3] * len(LOSS)},
        start_time=time.time() - 10 * 86400,
    )
    yield {
        "client": client,
        "experiment": name,
        "recent": recent,
        "old": old,
        "url": mlflow_server.url,
    }
    client.delete_experiment(exp)  # other tests read every active experiment


@pytest.fixture
def clean(runs: dict[str, Any]) -> dict[str, Any]:
    """``runs`` with no lrtempo.* tag on either run."""
    client = runs["client"]
    for rid in (runs["recent"], runs["old"]):
        for key in lrtempo_tags(client, rid):
            client.delete_tag(rid, key)
    return runs


def _open_values(runs: dict[str, Any], window: str = "24h") -> dict[str, Any]:
    return {
        "review-writeback.n_clicks": 1,
        "review-window.value": window,
        "review-experiment.value": runs["experiment"],
        "review-tag.value": "",
    }


def _confirm_values(token: Any, window: str = "all") -> dict[str, Any]:
    values: dict[str, Any] = {
        "writeback-confirm.n_clicks": 1,
        "review-window.value": window,
        "review-tag.value": "",
    }
    if token is not None:
        values["writeback-token.data"] = token
    return values


# ------------------------------------------------------------------ the forged request


@pytest.mark.mlflow_server
@pytest.mark.parametrize("token", [None, "", "made-up-token"])
def test_a_forged_confirm_writes_nothing(token: Any, clean: dict[str, Any]) -> None:
    """The issue's request: ``writeback-confirm.n_clicks`` with ``review-window: "all"``
    and no dialog opened. Today's main tagged both runs (the old one outside the view)."""
    from dashboard.app import create_app

    client = clean["client"]
    with serve_app(create_app([clean["url"]], since_hours=24)) as base:
        resp = call(base, "writeback-modal.is_open", _confirm_values(token))
    text = json.dumps(resp)
    assert "No tags were written" in text and "open the dialog again" in text, text
    assert lrtempo_tags(client, clean["recent"]) == {}
    assert lrtempo_tags(client, clean["old"]) == {}


@pytest.mark.mlflow_server
def test_the_token_writes_exactly_the_runs_the_dialog_listed_once(clean: dict[str, Any]) -> None:
    from dashboard.app import create_app

    client = clean["client"]
    with serve_app(create_app([clean["url"]], since_hours=24)) as base:
        opened = call(base, "writeback-modal.is_open", _open_values(clean))
        assert opened["writeback-modal"]["is_open"] is True
        body = json.dumps(opened["writeback-body"])
        assert "recent-run" in body and "ten-days-old" not in body and "1 MLflow run" in body
        token = opened["writeback-token"]["data"]
        assert isinstance(token, str) and len(token) >= 32
        assert lrtempo_tags(client, clean["recent"]) == {}  # opening writes nothing
        # The confirming request asks for "all": the token's runs are written, no other.
        done = call(base, "writeback-modal.is_open", _confirm_values(token, "all"))
        assert "1 written" in json.dumps(done), done
        assert lrtempo_tags(client, clean["recent"])["lrtempo.status"]
        assert lrtempo_tags(client, clean["old"]) == {}
        # Used once: replaying it (tags removed meanwhile, so a write would show) writes nothing.
        for key in lrtempo_tags(client, clean["recent"]):
            client.delete_tag(clean["recent"], key)
        again = call(base, "writeback-modal.is_open", _confirm_values(token, "all"))
        assert "already used" in json.dumps(again), again
        assert lrtempo_tags(client, clean["recent"]) == {}
        # Cancel throws the dialog's token away.
        opened = call(base, "writeback-modal.is_open", _open_values(clean))
        token = opened["writeback-token"]["data"]
        cancel = call(
            base,
            "writeback-modal.is_open",
            {"writeback-cancel.n_clicks": 1, "writeback-token.data": token},
        )
        assert cancel["writeback-token"]["data"] is None
        after = call(base, "writeback-modal.is_open", _confirm_values(token))
        assert "No tags were written" in json.dumps(after)
        assert lrtempo_tags(client, clean["recent"]) == {}


# ------------------------------------------------------------------ roles


@pytest.mark.mlflow_server
def test_readers_cannot_write_and_a_token_is_its_users_only(
    clean: dict[str, Any], tmp_path: Path
) -> None:
    from dashboard.app import create_app

    client = clean["client"]
    users = tmp_path / "users"
    users.write_text(
        "# old format: a reader now\nreader:pw-reader\n"
        "writer:pw-writer:writer\nadmin:pw-admin:admin\n"
    )
    users.chmod(0o600)
    auth = auth_config(str(users), None)
    assert auth.writers == {"writer", "admin"} and auth.admins == {"admin"}
    reader, writer, admin = ("reader", "pw-reader"), ("writer", "pw-writer"), ("admin", "pw-admin")
    review = {
        "review-window.value": "24h",
        "review-experiment.value": clean["experiment"],
        "review-tag.value": "",
        "review-autorefresh.value": 0,
    }
    with serve_app(create_app([clean["url"]], since_hours=24, auth=auth)) as base:
        for who, disabled in ((reader, True), (writer, False), (admin, False)):
            resp = call(base, "review-grid.rowData", review, who)
            assert "recent-run" in json.dumps(resp["review-grid"])
            assert resp["review-writeback"]["disabled"] is disabled, who
        refused = call(base, "writeback-modal.is_open", _open_values(clean), reader)
        assert "may only read" in json.dumps(refused) and not refused["writeback-token"]["data"]
        token = call(base, "writeback-modal.is_open", _open_values(clean), writer)[
            "writeback-token"
        ]["data"]
        stolen = call(base, "writeback-modal.is_open", _confirm_values(token), reader)
        assert "may only read" in json.dumps(stolen)
        assert lrtempo_tags(client, clean["recent"]) == {}
        token = call(base, "writeback-modal.is_open", _open_values(clean), writer)[
            "writeback-token"
        ]["data"]
        other = call(base, "writeback-modal.is_open", _confirm_values(token), admin)
        assert "another user" in json.dumps(other)
        assert lrtempo_tags(client, clean["recent"]) == {}
        token = call(base, "writeback-modal.is_open", _open_values(clean), admin)[
            "writeback-token"
        ]["data"]
        done = call(base, "writeback-modal.is_open", _confirm_values(token), admin)
        assert "1 written" in json.dumps(done)
        assert lrtempo_tags(client, clean["recent"]) and lrtempo_tags(client, clean["old"]) == {}


def test_proxy_users_are_readers_and_loopback_writes() -> None:
    from dashboard.app import create_app
    from dashboard.auth import may_write

    app = create_app([], since_hours=0)
    with app.server.test_request_context("/"):
        assert may_write(None) and may_write(AuthConfig())
        assert not may_write(AuthConfig(proxy_header="X-Forwarded-User"))
        assert "its users are readers" in AuthConfig(proxy_header="X-Forwarded-User").describe()
    with app.server.test_request_context("/", headers={"Authorization": "Basic d3I6cHc="}):  # wr:pw
        assert may_write(AuthConfig(users={"wr": "pw"}, writers=frozenset({"wr"})))
        assert not may_write(AuthConfig(users={"wr": "pw"}))


def test_tokens_expire_and_are_one_time_across_instances(tmp_path: Path) -> None:
    """Two ``ConfirmTokens`` on one folder stand for two gunicorn workers."""
    a, b = ConfirmTokens(tmp_path), ConfirmTokens(tmp_path)
    token = a.issue(["r1", "r2"], "bob", now=1000.0)
    assert b.take(token, "bob", now=1001.0) == ("r1", "r2")
    with pytest.raises(TokenRefused, match="already used"):
        a.take(token, "bob", now=1002.0)
    late = a.issue(["r1"], "bob", now=1000.0)
    with pytest.raises(TokenRefused, match="expired"):
        b.take(late, "bob", now=1000.0 + a.ttl + 1)
    with pytest.raises(TokenRefused):
        a.take(None, "bob")
    assert list(tmp_path.iterdir()) == []  # nothing left behind


# ------------------------------------------------------------------ the auth file


def test_auth_file_roles_are_backward_compatible_and_spaces_are_stripped(tmp_path: Path) -> None:
    f = tmp_path / "users"
    f.write_text(
        "\ufeffalice:pw-alice:admin\nbob:pw-bob\ncarol:pass:with:colons\n"
        "  dave :  inner space pw  : writer  \neve:\tpw\t\nfrank:pw:reader\n"
    )
    users, roles = load_roles(f)
    assert users == {
        "alice": "pw-alice",
        "bob": "pw-bob",
        "carol": "pass:with:colons",
        "dave": "inner space pw",
        "eve": "pw",
        "frank": "pw",
    }
    assert roles == {
        "alice": "admin",
        "bob": "reader",
        "carol": "reader",
        "dave": "writer",
        "eve": "reader",
        "frank": "reader",
    }
    # leading and trailing spaces of a password: both stripped (one rule)
    assert parse_line("u:  pw  ") == parse_line("u:pw") == ("u", "pw", "reader")
    with pytest.raises(ValueError):
        parse_line("u::writer")
    with pytest.raises(ValueError):
        parse_line("u:   ")
    described = auth_config(str(f), None).describe()
    assert "1 admin" in described and "1 writer" in described and "pw" not in described


def _cli_with_limit(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m lrtempo ARGS`` under a 2 GiB address-space limit, within 120 s."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "lrtempo", *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )


def _sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path


AUTH_FILES = {
    "dev-zero": (lambda d: Path("/dev/zero"), "more than 1 MiB"),
    "huge": (lambda d: _sparse(d / "huge-users", 3 << 30), "more than 1 MiB"),
    "binary": (
        lambda d: (d / "bin-users").write_bytes(b"alice:pw\n\x00\x01\xff" * 10) and d / "bin-users",
        "byte 9: binary data",
    ),
    "latin-1": (
        lambda d: (d / "l1-users").write_bytes(b"jos\xe9:pw\n") and d / "l1-users",
        "byte 3: not UTF-8 text",
    ),
    "missing": (lambda d: d / "nowhere", "cannot read it (No such file or directory)"),
}


@pytest.mark.parametrize("case", list(AUTH_FILES))
def test_a_hostile_auth_file_is_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    """Today's main read ``/dev/zero`` (or a 3 GiB file) whole: MemoryError."""
    make, expected = AUTH_FILES[case]
    path = make(tmp_path)
    t0 = time.monotonic()
    proc = _cli_with_limit(["dashboard", "--auth-file", str(path), "--port", "1"], ROOT)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert lines == [f"lrtempo: auth file {path}: {expected}"] or (
        len(lines) == 1
        and lines[0].startswith(f"lrtempo: auth file {path}")
        and expected in lines[0]
    ), proc.stderr[-2000:]
    assert "Error" not in proc.stderr and "internal error" not in proc.stderr
    assert time.monotonic() - t0 < 60


@pytest.mark.mlflow_server
def test_tokens_hold_across_gunicorn_workers(clean: dict[str, Any]) -> None:
    """``lrtempo dashboard --workers 2`` (real gunicorn): a token issued by one worker is
    taken by whichever answers the confirm, and only once in all."""
    from tests.fixtures_mlflow import free_port
    from tests.test_security_headers import _start_cli, _stop

    client = clean["client"]
    port = free_port()
    proc = _start_cli([clean["url"], "--workers", "2"], {"LRTEMPO_ALLOWED_HOSTS": ""}, port)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # the first worker may answer before the second is up
        while True:
            workers = [d for d in os.listdir("/proc") if d.isdigit() and _ppid(int(d)) == proc.pid]
            if len(workers) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(workers) == 2, workers
        for _ in range(4):
            opened = call(base, "writeback-modal.is_open", _open_values(clean))
            token = opened["writeback-token"]["data"]
            done = call(base, "writeback-modal.is_open", _confirm_values(token))
            assert "1 written" in json.dumps(done), done
            for key in lrtempo_tags(client, clean["recent"]):
                client.delete_tag(clean["recent"], key)
            for _ in range(3):  # replays, whichever worker answers
                again = call(base, "writeback-modal.is_open", _confirm_values(token))
                assert "already used" in json.dumps(again), again
            assert lrtempo_tags(client, clean["recent"]) == {}
            assert lrtempo_tags(client, clean["old"]) == {}
    finally:
        _stop(proc)


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1])
