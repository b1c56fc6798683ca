"""The dashboard's defences, against real servers on loopback and real archives.

* Authentication: every route of a served app answers 401 without (or with wrong)
  credentials; the CLI refuses to bind beyond loopback without authentication.
* Uploads: path traversal, zip bombs, too many entries, nested zips, symbolic links,
  oversized uploads and hostile names.
* MLflow state: a dead server and one that refuses access are named on the Review
  page, which keeps working.
* No ``pickle``/``eval``/``exec`` in the code that handles user data.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import socket
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from benchmarks.dash_protocol import callback_body, dash_config
from dashboard.auth import (
    AuthConfig,
    AuthConfigError,
    auth_config,
    is_loopback,
    load_users,
    serving_problem,
)
from dashboard.uploads import (
    MAX_ZIP_ENTRIES,
    UploadError,
    decode_contents,
    extract_zip,
    read_upload,
    safe_name,
)
from tests.serving import in_thread, serve_app

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
GOOD_JSONL = "".join(
    json.dumps({"step": s, "loss": 2.0 / (s + 1) + 0.1, "lr": 1e-3}) + "\n" for s in range(1, 60)
).encode()


# ======================================================================= authentication


def test_loopback_hosts_and_the_serving_decision() -> None:
    for host in ("127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
        assert serving_problem(host, None) is None
    for host in (
        "0.0.0.0",
        "::",
        "",
        "192.168.1.5",
        "10.0.0.1",
        "mybox.internal",
        "127.0.0.1.nip.io",
    ):
        assert not is_loopback(host), host
        problem = serving_problem(host, None)
        assert problem and "--auth-file" in problem and "--trust-proxy-header" in problem
        assert serving_problem(host, AuthConfig()) == problem  # configured but empty: still no
        assert serving_problem(host, AuthConfig(users={"a": "b"})) is None
        assert serving_problem(host, AuthConfig(proxy_header="X-Forwarded-User")) is None


def test_auth_file_errors_name_the_line_never_the_password(tmp_path: Path) -> None:
    f = tmp_path / "users"
    f.write_text("# team\nalice:s3cret-pw\n\nbob:pw:with:colons\n")
    assert load_users(f) == {"alice": "s3cret-pw", "bob": "pw:with:colons"}
    f.write_text("alice:s3cret-pw\nno-colon-hunter2\n")
    with pytest.raises(AuthConfigError, match="line 2: expected user:password") as err:
        load_users(f)
    assert "hunter2" not in str(err.value) and "s3cret" not in str(err.value)
    f.write_text("# nobody\n")
    with pytest.raises(AuthConfigError, match="no user:password line"):
        load_users(f)
    with pytest.raises(AuthConfigError, match="cannot read"):
        load_users(tmp_path / "missing")
    with pytest.raises(AuthConfigError, match="header name"):
        auth_config(None, "X-User: evil")
    assert "s3cret" not in repr(AuthConfig(users={"alice": "s3cret"}))


@pytest.fixture
def record_serve(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Replace the blocking ``serve`` with a recorder: the CLI runs to the point of serving."""
    import dashboard.serve

    calls: list[dict] = []
    monkeypatch.setattr(
        dashboard.serve, "serve", lambda app, **kw: calls.append({"app": app, **kw})
    )
    return calls


def test_cli_refuses_a_public_host_without_auth(record_serve, capsys, tmp_path: Path) -> None:
    from lrtempo.cli import main

    for argv in (
        ["dashboard", str(tmp_path), "--host", "0.0.0.0"],
        ["dashboard", "--host", "192.168.1.5", "--port", "9000"],
        ["demo", "--host", "0.0.0.0"],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert "refusing to serve" in err[0] and "--auth-file" in err[0]
        assert "--trust-proxy-header" in err[0]
    assert record_serve == []  # never got as far as serving


def test_cli_serves_a_public_host_with_auth_and_says_so(
    record_serve, capsys, tmp_path: Path
) -> None:
    from lrtempo.cli import main

    users = tmp_path / "users"
    users.write_text("alice:pw-alice-123\nbob:pw-bob-456\n")
    users.chmod(0o600)
    assert main(["dashboard", str(tmp_path), "--host", "0.0.0.0", "--auth-file", str(users)]) == 0
    err = capsys.readouterr().err
    assert "HTTP basic auth, 2 users" in err and "pw-alice" not in err and "pw-bob" not in err
    assert "clear text" in err and "can be read by other users" not in err
    (call,) = record_serve
    assert call["host"] == "0.0.0.0"
    client = call["app"].server.test_client()
    assert client.get("/").status_code == 401
    assert client.get("/", auth=("alice", "pw-alice-123")).status_code == 200
    users.chmod(0o644)  # readable by others: served, with a warning
    assert main(["dashboard", "--auth-file", str(users)]) == 0
    assert "can be read by other users" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.write_text("alice\n")
    assert main(["dashboard", "--host", "0.0.0.0", "--auth-file", str(bad)]) == 2
    assert "line 1" in capsys.readouterr().err


def test_cli_refusal_exits_at_once_in_a_real_process(tmp_path: Path) -> None:
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "lrtempo", "dashboard", "--host", "0.0.0.0", "--port", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "LRTEMPO_HOME": str(tmp_path)},
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "refusing to serve on 0.0.0.0" in proc.stderr
    assert time.monotonic() - t0 < 60


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    (root / "alpha.jsonl").write_bytes(GOOD_JSONL)
    return root


def _guarded_requests(base: str) -> list[tuple[str, str, dict | None]]:
    """(method, url, json body) for the page, its layout, a callback, assets and bundles."""
    html = requests.get(base + "/", auth=("alice", "right-pw"), timeout=30).text
    end_id = dash_config(html).get("end_id", "")
    deps = requests.get(base + "/_dash-dependencies", auth=("alice", "right-pw"), timeout=30).json()
    body = callback_body(
        deps,
        ".._pages_content.children..._pages_store.data..",
        {"_pages_location.pathname": "/", "_pages_location.search": "?window=all"},
    )
    bundle = re.search(r'src="(/_dash-component-suites/[^"]+)"', html).group(1)
    return [
        ("GET", base + "/", None),
        ("GET", base + "/run?id=x", None),
        ("GET", base + "/_dash-layout", None),
        ("GET", base + "/_dash-dependencies", None),
        ("POST", f"{base}/_dash-update-component?endId={end_id}", body),
        ("GET", base + "/assets/10_lrtempo.css", None),
        ("GET", base + bundle, None),
        ("GET", base + "/_favicon.ico", None),
    ]


def test_basic_auth_guards_every_route_of_a_served_app(run_dir: Path) -> None:
    from dashboard.app import create_app

    auth = AuthConfig(users={"alice": "right-pw", "bob": "other-pw"}, source="test")
    with serve_app(create_app([str(run_dir)], since_hours=0, auth=auth)) as base:
        for method, url, body in _guarded_requests(base):
            for creds, want in (
                (None, 401),
                (("alice", "wrong"), 401),
                (("mallory", "right-pw"), 401),
                (("bob", "right-pw"), 401),
                (("alice", "right-pw"), 200),
            ):
                r = requests.request(method, url, json=body, auth=creds, timeout=60)
                assert r.status_code == want, (method, url, creds, r.status_code)
                if want == 401:
                    assert r.headers["WWW-Authenticate"].startswith("Basic")
                    assert "right-pw" not in r.text and "alpha" not in r.text
                elif body is not None:  # the callback really ran: the Review page came back
                    assert "review-grid" in r.text


def test_proxy_header_mode_needs_the_header(run_dir: Path) -> None:
    from dashboard.app import create_app

    auth = AuthConfig(proxy_header="X-Forwarded-User")
    with serve_app(create_app([str(run_dir)], since_hours=0, auth=auth)) as base:
        for path in ("/", "/_dash-layout", "/assets/10_lrtempo.css"):
            assert requests.get(base + path, timeout=30).status_code == 401
            assert (
                requests.get(base + path, headers={"X-Forwarded-User": ""}, timeout=30).status_code
                == 401
            )
            assert (
                requests.get(
                    base + path, headers={"X-Forwarded-User": "alice"}, timeout=30
                ).status_code
                == 200
            )


# ============================================================================== uploads


def _zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tempfile`` and the working directory inside ``tmp_path``: any stray write shows."""
    t = tmp_path / "tmp"
    t.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(t))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "evil",
    [
        "../../x.csv",
        "a/../../x.csv",
        "/etc/x.csv",
        "..\\x.csv",
        "..\\..\\x.csv",
        "C:\\x.csv",
        "C:/x.csv",
        "\\\\server\\x.csv",
    ],
)
def test_zip_entries_that_leave_the_folder_are_refused_and_reported(
    evil: str, private_tmp: Path
) -> None:
    data = _zip([("run/ok.jsonl", GOOD_JSONL), (evil, b"step,loss\n1,2\n")])
    res = read_upload("evil.zip", data, limit_bytes=MB)
    assert res.runs == []
    assert len(res.errors) == 1 and res.errors[0].startswith("evil.zip: entry")
    assert repr(evil) in res.errors[0] or evil in res.errors[0]
    assert "/tmp" not in res.errors[0]
    assert _tree(private_tmp) == ["tmp"]  # nothing outside, and the private folder is gone
    dest = private_tmp / "dest"
    dest.mkdir()
    (private_tmp / "archive.zip").write_bytes(data)
    with pytest.raises(UploadError):
        extract_zip(private_tmp / "archive.zip", dest, max_bytes=MB)
    assert not any(p.name == "x.csv" for p in private_tmp.rglob("*"))


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 GiB of zeros deflated to ~1 MB, written in a stream (little memory)."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    chunk = bytes(MB)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open("zeros.csv", "w", force_zip64=True) as out,
    ):
        for _ in range(1024):
            out.write(chunk)
    return path


def test_zip_bomb_is_refused_by_the_byte_limit_without_writing(
    zip_bomb: Path, private_tmp: Path
) -> None:
    assert zip_bomb.stat().st_size < 2 * MB
    res = read_upload("bomb.zip", zip_bomb.read_bytes(), limit_bytes=2 * MB)
    assert res.runs == [] and len(res.errors) == 1
    assert res.errors[0] == "bomb.zip: unpacks to 1,024 MiB, more than the 8 MiB allowed"
    dest = private_tmp / "dest"
    dest.mkdir()
    with pytest.raises(UploadError, match="more than the 8 MiB allowed"):
        extract_zip(zip_bomb, dest, max_bytes=8 * MB)
    assert _tree(dest) == []


def _lying_zip(real: int, declared: int) -> bytes:
    """A zip whose headers declare ``declared`` bytes for ``real`` bytes of zeros."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("zeros.csv", bytes(real))
    data = bytearray(buf.getvalue())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 22 : local + 26] = declared.to_bytes(4, "little")
    data[central + 24 : central + 28] = declared.to_bytes(4, "little")
    return bytes(data)


def test_zip_with_lying_sizes_writes_at_most_what_it_declares(private_tmp: Path) -> None:
    (private_tmp / "liar.zip").write_bytes(_lying_zip(50 * MB, 1000))
    dest = private_tmp / "dest"
    dest.mkdir()
    with pytest.raises(UploadError, match="entry 'zeros.csv' is corrupt"):
        extract_zip(private_tmp / "liar.zip", dest, max_bytes=MB)
    assert sum(p.stat().st_size for p in dest.rglob("*") if p.is_file()) <= 1000
    res = read_upload("liar.zip", _lying_zip(50 * MB, 1000), limit_bytes=MB)
    assert res.errors == [res.errors[0]] and "corrupt" in res.errors[0] and res.runs == []


def test_too_many_entries_are_refused(private_tmp: Path) -> None:
    data = _zip([(f"f{i}.txt", b"") for i in range(MAX_ZIP_ENTRIES + 1)])
    res = read_upload("many.zip", data, limit_bytes=MB)
    assert res.errors == [
        (f"many.zip: {MAX_ZIP_ENTRIES + 1} entries, more than the {MAX_ZIP_ENTRIES} allowed")
    ]
    assert _tree(private_tmp) == ["tmp"]


def test_a_zip_inside_the_zip_is_not_extracted(zip_bomb: Path, private_tmp: Path) -> None:
    inner = _zip([("run.jsonl", GOOD_JSONL)])
    res = read_upload(
        "outer.zip",
        _zip([("inner.zip", inner), ("bomb.zip", zip_bomb.read_bytes())]),
        limit_bytes=2 * MB,
    )
    assert res.runs == [] and all(e.startswith("outer.zip: ") for e in res.errors)
    assert res.errors[-1] == (
        "outer.zip: bomb.zip, inner.zip: a zip inside the zip is not opened; upload it on its own"
    )
    dest = private_tmp / "dest"
    dest.mkdir()
    (private_tmp / "outer.zip").write_bytes(_zip([("inner.zip", inner)]))
    assert extract_zip(private_tmp / "outer.zip", dest, max_bytes=MB) == 1
    assert _tree(dest) == ["inner.zip"] and (dest / "inner.zip").read_bytes() == inner
    # next to a real log, the inner zip is ignored and the log is read
    res = read_upload(
        "both.zip", _zip([("inner.zip", inner), ("run.jsonl", GOOD_JSONL)]), limit_bytes=MB
    )
    assert [r.meta.location for r in res.runs] == ["upload:both.zip/run.jsonl"]


def test_symlink_entries_are_refused_and_not_created(private_tmp: Path) -> None:
    link = zipfile.ZipInfo("run/passwd.csv")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    data = _zip([("run/ok.jsonl", GOOD_JSONL), (link, b"/etc/passwd")])
    res = read_upload("links.zip", data, limit_bytes=MB)
    assert res.runs == [] and res.errors == ["links.zip: entry 'run/passwd.csv' is a symbolic link"]
    dest = private_tmp / "dest"
    dest.mkdir()
    (private_tmp / "links.zip").write_bytes(data)
    with pytest.raises(UploadError, match="symbolic link"):
        extract_zip(private_tmp / "links.zip", dest, max_bytes=MB)
    assert not any(p.is_symlink() for p in dest.rglob("*"))


def test_an_upload_over_the_limit_is_refused_before_decoding() -> None:
    # Not even valid base64: had it been decoded first, the error would say so.
    url = "data:text/csv;base64," + "!" * (4 * 1024)
    with pytest.raises(UploadError, match=r"big.csv: .* over the 0.00195312 MiB upload limit"):
        decode_contents(url, "big.csv", 2048)
    with pytest.raises(UploadError, match="not valid base64"):
        decode_contents("data:text/csv;base64," + "!" * 100, "small.csv", 2048)
    ok = "data:text/csv;base64," + base64.b64encode(b"x" * 2048).decode()
    assert decode_contents(ok, "fits.csv", 2048) == b"x" * 2048
    assert "limit" in read_upload("big.jsonl", GOOD_JSONL, limit_bytes=100).errors[0]


def test_a_request_over_the_size_cap_gets_413_from_the_server(run_dir: Path) -> None:
    from dashboard.app import create_app

    app = create_app([str(run_dir)], since_hours=0, upload_limit_mb=1)
    cap = app.server.config["MAX_CONTENT_LENGTH"]
    with serve_app(app) as base:
        r = requests.post(
            base + "/_dash-update-component",
            data=b"0" * (cap + 1),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert r.status_code == 413


@pytest.mark.parametrize(
    "name",
    [
        "run\x00.jsonl",
        "\x1b[31mred\x07.jsonl",
        "tab\tnew\nline.jsonl",
        "é漢字 run.jsonl",
        "a" * 5000 + ".jsonl",
        ".jsonl",
        "..\\..\\windows.jsonl",
        "CON.jsonl",
    ],
)
def test_hostile_file_names_are_read_safely(name: str, private_tmp: Path) -> None:
    clean = safe_name(name)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,120}", clean) and not clean.startswith(".")
    res = read_upload(name, GOOD_JSONL, limit_bytes=MB)
    if clean.endswith(".jsonl"):
        assert res.errors == [] and len(res.runs) == 1
        assert res.runs[0].meta.location == f"upload:{name}"
    else:  # ".jsonl" alone is a hidden name: no extension left, refused by type
        assert res.runs == [] and "unsupported file type" in res.errors[0]
    assert _tree(private_tmp) == ["tmp"]


def test_hostile_names_inside_a_zip(private_tmp: Path) -> None:
    deep = "/".join(["d" * 100] * 60) + "/run.jsonl"  # a path longer than the OS allows
    entries = [
        ("ctl\x1b\x07/run.jsonl", GOOD_JSONL),
        ("b" * 400 + ".jsonl", GOOD_JSONL),
        (deep, GOOD_JSONL),
    ]
    res = read_upload("names.zip", _zip(entries), limit_bytes=MB)
    assert res.runs == [] and res.errors == [f"names.zip: entry {'d' * 80!r}… has a path too long"]
    res = read_upload("names.zip", _zip(entries[:2]), limit_bytes=MB)
    assert res.errors == [] and len(res.runs) == 2
    assert _tree(private_tmp) == ["tmp"]


def test_no_pickle_eval_or_exec_in_the_code() -> None:
    banned = re.compile(
        r"\bpickle\b|\bmarshal\.loads?\(|\bshelve\b|(?<![\w.])(eval|exec)\(|"
        r"shell\s*=\s*True|\bos\.system\(|yaml\.unsafe_load|\bdill\b"
    )
    hits = []
    for pkg in ("analyzer", "dashboard"):
        for path in (ROOT / pkg).rglob("*.py"):
            for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if banned.search(line.split("#", 1)[0]):
                    hits.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert hits == []
    assert banned.search("x = eval(s)") and banned.search("pickle.load(f)")  # the net works


# ========================================================================= MLflow state


def _free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def refusing_server(status: int = 401) -> Iterator[str]:
    """A small HTTP server answering every request with ``status`` and MLflow-style JSON."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = json.dumps(
                {"error_code": "UNAUTHENTICATED", "message": "You are not authenticated."}
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args) -> None:  # quiet
            pass

    with in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        yield url


def _review_errors(base: str) -> tuple[int, str]:
    """Status and text of the Review callback's ``review-errors`` output, as a browser gets it."""
    html = requests.get(base + "/", timeout=60)
    assert html.status_code == 200
    deps = requests.get(base + "/_dash-dependencies", timeout=30).json()
    out = next(d["output"] for d in deps if d["output"].startswith("..review-grid.rowData"))
    body = callback_body(
        deps,
        out,
        {"review-window.value": "all", "review-tag.value": "", "review-autorefresh.value": 0},
    )
    end_id = dash_config(html.text).get("end_id", "")
    r = requests.post(f"{base}/_dash-update-component?endId={end_id}", json=body, timeout=120)
    resp = r.json()["response"] if r.status_code == 200 else {}
    return r.status_code, json.dumps([resp.get("review-errors"), resp.get("review-grid")])


def _run_header(base: str, run_id: str) -> tuple[int, str]:
    """Status and text of the Run page's header callback for ``run_id``."""
    deps = requests.get(base + "/_dash-dependencies", timeout=30).json()
    out = next(d["output"] for d in deps if d["output"].startswith("..run-header.children"))
    r = requests.post(
        base + "/_dash-update-component",
        json=callback_body(deps, out, {"run-id.data": run_id}),
        timeout=120,
    )
    return r.status_code, json.dumps(r.json()) if r.status_code == 200 else r.text


@pytest.mark.parametrize("kind", ["down", "refuses"])
def test_review_names_an_unusable_mlflow_server_and_stays_up(kind: str, run_dir: Path) -> None:
    from dashboard.app import create_app

    @contextmanager
    def mlflow() -> Iterator[str]:
        if kind == "down":
            yield f"http://127.0.0.1:{_free_port()}"
        else:
            with refusing_server(401) as url:
                yield url

    with (
        mlflow() as uri,
        serve_app(create_app([str(run_dir)], tracking_uri=uri, since_hours=0)) as base,
    ):
        t0 = time.monotonic()
        status, text = _review_errors(base)
        took = time.monotonic() - t0
        run_status, run_text = _run_header(base, "an-mlflow-run-id")
    assert status == 200
    headline = {
        "down": f"MLflow server {uri} is unreachable",
        "refuses": f"MLflow server {uri} refused access: check the credentials",
    }[kind]
    assert headline in text
    assert {"down": "cannot connect", "refuses": "HTTP 401"}[kind] in text
    assert "mlflow-status" in text and "alpha" in text  # the file run is still listed
    assert "Traceback" not in text and "Error(" not in text
    assert took < 30  # the probe answers quickly; the full read's retries are not waited for
    # A link to one of its runs says why the run is missing.
    assert run_status == 200
    assert "No run with id 'an-mlflow-run-id'" in run_text and headline in run_text


@pytest.mark.slow
def test_review_names_a_slow_mlflow_server(run_dir: Path) -> None:
    """A server that accepts connections and never answers: the probe gives up in ~20 s."""
    from dashboard.app import create_app

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # the kernel accepts; nobody ever reads or answers
    uri = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with serve_app(create_app([str(run_dir)], tracking_uri=uri, since_hours=0)) as base:
            status, text = _review_errors(base)
    finally:
        listener.close()
    assert status == 200
    assert f"MLflow server {uri} is too slow" in text and "alpha" in text


def test_run_link_on_a_fresh_worker_names_a_dead_server(run_dir: Path) -> None:
    """A worker that has not read the store yet probes it once instead of retrying for long."""
    from dashboard.app import create_app

    uri = f"http://127.0.0.1:{_free_port()}"
    with serve_app(create_app([str(run_dir)], tracking_uri=uri, since_hours=0)) as base:
        t0 = time.monotonic()
        status, text = _run_header(base, "some-run")
        assert status == 200 and f"MLflow server {uri} is unreachable" in text
        status, text = _run_header(base, "another-run")  # known down now: no probe again
        assert status == 200 and f"MLflow server {uri} is unreachable" in text
        assert time.monotonic() - t0 < 30
