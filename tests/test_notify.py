"""``lrtempo review --notify URL``: the summary posted to a real local HTTP server (the
standard library's ``http.server`` in a thread, recording each request), from a review of
a real MLflow server; the failure paths (HTTP 500, connection refused, timeout) exit 4
with one line and still write the report."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from analyzer.analysis import analyze_run
from analyzer.notify import TROUBLE, summary_payload
from analyzer.roles import resolve_roles
from benchmarks import curves as synthetic
from lrtempo.cli import main
from tests.fixtures_mlflow import MlflowServer, free_port, log_run

#: A Slack-like webhook path: the path itself is the secret and must never be printed.
SECRET_PATH = "/services/T0LRTEMPO/B0NOTIFY/s3cretTOKENxyz"
USER, PASSWORD = "hookuser", "hookpass-9f2"


@dataclass
class Recorder:
    """A local webhook: answers ``status`` (after ``delay`` seconds), records requests."""

    status: int = 200
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str = SECRET_PATH, creds: bool = True) -> str:
        auth = f"{USER}:{PASSWORD}@" if creds else ""
        return f"http://{auth}127.0.0.1:{self.port}{path}"


@pytest.fixture
def webhook() -> Iterator[Recorder]:
    rec = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            rec.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            time.sleep(rec.delay)
            reply = b"ok" if rec.status < 300 else b"invalid_payload"
            try:
                self.send_response(rec.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except OSError:  # the client gave up (the timeout test)
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


def review(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``lrtempo review ARGS`` in this process: (exit status, stderr)."""
    code = main(["review", *args])
    return code, capsys.readouterr().err


def assert_no_secret(text: str) -> None:
    for secret in (PASSWORD, "s3cretTOKENxyz", "/services/", USER):
        assert secret not in text
    assert "Traceback" not in text


def texts(payload: dict[str, Any]) -> str:
    """Every text in the message's blocks, one per line."""
    out = []
    for b in payload["blocks"]:
        if "text" in b:
            out.append(b["text"]["text"])
        out += [e["text"] for e in b.get("elements", [])]
    return "\n".join(out)


def counts_in(summary: str) -> dict[str, int]:
    """``{status: n}`` from ``… runs …: 1 divergence · 2 healthy`` (the first section)."""
    after = summary.split(":", 1)[1].split(";", maxsplit=1)[0]
    return {
        m.group(2).replace(" ", "_"): int(m.group(1))
        for m in re.finditer(r"(\d+) ([a-z ]+?)(?= ·|\*|$)", after.strip(" *"))
    }


def synthetic_analysis(kind: str, name: str, **meta: Any):
    gen = {
        "healthy": lambda: synthetic.healthy(600, seed=1),
        "divergence": lambda: synthetic.divergence(500, seed=2, variant="explosion"),
        "oscillation": lambda: synthetic.oscillation(1000, seed=3),
    }[kind]
    run = synthetic.to_run(gen(), name=name)
    run.meta = dataclasses.replace(run.meta, **meta)
    return analyze_run(run, resolve_roles(run, None, None, None))


# ------------------------------------------------------------------ the message itself


def test_payload_shape_escaping_and_limits() -> None:
    """Header, counts, the troubled runs worst first with links; Slack's limits kept;
    ``<!channel>`` in a name is escaped, not a ping."""
    link_meta = {
        "location": "http://mlflow.example:5000",
        "tags": {"mlflow.experiment_id": "7"},
        "source": "mlflow",
        "status": "RUNNING",
    }
    analyses = [
        synthetic_analysis("healthy", "calm"),
        synthetic_analysis("divergence", "<!channel> & co " + "x" * 300, **link_meta),
        synthetic_analysis("oscillation", "wobbly"),
    ]
    assert [a.status for a in analyses] == ["healthy", "divergence", "oscillation"]
    errors = [{"location": "/logs/broken.csv", "error": "line 3: not a number"}]
    now = datetime(2026, 12, 6, 8, 30, tzinfo=UTC)
    msg = summary_payload(analyses, errors, window="24h", now=now)
    assert set(msg) == {"text", "blocks"}
    assert msg["text"].startswith("LR Tempo review: 3 runs started in the last 24h: ")
    assert msg["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "LR Tempo review — 2026-12-06 08:30 UTC"},
    }
    assert counts_in(msg["blocks"][1]["text"]["text"]) == {
        "divergence": 1,
        "oscillation": 1,
        "healthy": 1,
    }
    assert "1 source could not be read" in msg["text"]
    runs = [b["text"]["text"] for b in msg["blocks"] if b["type"] == "section"][1:]
    assert len(runs) == 2  # the healthy run is counted, not listed
    assert "divergence (so far)" in runs[0] and "still running" in runs[0]
    assert "<http://mlflow.example:5000/#/experiments/7/runs/" in runs[0]
    assert "&lt;!channel&gt; &amp; co" in runs[0] and "<!channel>" not in json.dumps(msg)
    assert "wobbly" in runs[1] and "oscillation" in runs[1]
    assert re.search(r"→ (lower|raise|keep|stop|add|restore)", runs[0])
    assert "/logs/broken.csv" in texts(msg) and "line 3: not a number" in texts(msg)
    assert len(msg["blocks"]) <= 50
    for b in msg["blocks"]:
        if b["type"] == "header":
            assert len(b["text"]["text"]) <= 150
        if b["type"] == "section":
            assert len(b["text"]["text"]) <= 3000 and b["text"]["type"] == "mrkdwn"


def test_payload_lists_at_most_the_limit_and_says_how_many_more() -> None:
    analyses = [synthetic_analysis("divergence", f"run{i}") for i in range(4)]
    msg = summary_payload(analyses, limit=2)
    assert sum("run" in b.get("text", {}).get("text", "") for b in msg["blocks"][2:]) == 2
    assert "2 more run(s) with findings not listed" in texts(msg)
    calm = summary_payload([synthetic_analysis("healthy", "calm")])
    assert "No run needs attention." in texts(calm) and "calm" not in texts(calm)


# ------------------------------------------------------- review of a real MLflow server


@pytest.fixture(scope="module")
def team_experiment(mlflow_server: MlflowServer) -> Iterator[str]:
    """An experiment of four logged runs: healthy, diverging, oscillating, and a RUNNING one."""
    client = mlflow_server.client()
    name = f"notify-{uuid.uuid4().hex[:8]}"
    exp = client.create_experiment(name)
    start = time.time() - 3 * 3600
    gens = {
        "calm": synthetic.healthy(600, seed=1),
        "blowup": synthetic.divergence(500, seed=2, variant="explosion"),
        "wobbly": synthetic.oscillation(1000, seed=3),
        "live": synthetic.healthy(400, seed=4),
    }
    for i, (run, s) in enumerate(gens.items()):
        log_run(
            client,
            exp,
            run,
            {"loss": list(s.values), "lr": list(s.lr)},
            steps=list(s.steps),
            start_time=start + 600 * i,
            status=None if run == "live" else "FINISHED",
        )
    yield name
    client.delete_experiment(exp)


@pytest.mark.mlflow_server
def test_review_posts_the_summary_that_matches_its_report(
    mlflow_server: MlflowServer,
    team_experiment: str,
    webhook: Recorder,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "review.json"
    code, err = review(
        mlflow_server.url,
        "--experiment",
        team_experiment,
        "-q",
        "--out",
        str(out),
        "--notify",
        webhook.url(),
        capsys=capsys,
    )
    assert code == 0, err
    assert_no_secret(err)
    assert f"posted the summary of 4 run(s) to http://127.0.0.1:{webhook.port}" in err
    assert len(webhook.requests) == 1
    req = webhook.requests[0]
    assert req["path"] == SECRET_PATH
    assert req["headers"]["Content-Type"] == "application/json"
    assert req["headers"]["Authorization"].startswith("Basic ")  # the URL's user info
    msg = json.loads(req["body"])
    assert set(msg) == {"text", "blocks"} and msg["blocks"][0]["type"] == "header"
    doc = json.loads(out.read_text())
    statuses = [r["status"] for r in doc["runs"]]
    expected = {s: statuses.count(s) for s in set(statuses)}
    assert counts_in(msg["blocks"][1]["text"]["text"]) == expected
    assert "4 runs started in the last 24h: " in msg["text"]
    assert {"divergence", "oscillation"} <= set(statuses)  # the synthetic truths
    body = texts(msg)
    for r in doc["runs"]:
        link = f"<{r['run']['location']}|{r['run']['name']}>"
        assert (link in body) == (r["status"] in TROUBLE), (r["run"]["name"], r["status"])
    assert "calm" not in body  # healthy runs are counted, not listed


@pytest.mark.mlflow_server
def test_a_500_still_writes_the_report_and_exits_4(
    mlflow_server: MlflowServer,
    team_experiment: str,
    webhook: Recorder,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    webhook.status = 500
    out = tmp_path / "review.html"
    code, err = review(
        mlflow_server.url,
        "--experiment",
        team_experiment,
        "-q",
        "--out",
        str(out),
        "--notify",
        webhook.url(),
        capsys=capsys,
    )
    assert code == 4
    assert out.read_text().startswith("<!doctype html>")
    assert "wrote the html report of 4 run(s)" in err
    lines = [ln for ln in err.splitlines() if "--notify" in ln]
    assert lines == [
        f"lrtempo: --notify: the summary was not posted: http://127.0.0.1:"
        f"{webhook.port}: HTTP 500 Internal Server Error: invalid_payload"
    ]
    assert_no_secret(err)
    assert len(webhook.requests) == 1


# ------------------------------------------------------------ failures, from local files


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "run.csv"
    path.write_text("step,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(200)))
    return path


def test_connection_refused_exits_4_after_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing listens there
    url = f"http://{USER}:{PASSWORD}@127.0.0.1:{port}{SECRET_PATH}"
    out = tmp_path / "r.md"
    code, err = review(
        str(_csv(tmp_path)),
        "--since",
        "30d",
        "-q",
        "--out",
        str(out),
        "--notify",
        url,
        capsys=capsys,
    )
    assert code == 4 and out.read_text().startswith("# LR Tempo review")
    assert [ln for ln in err.splitlines() if "--notify" in ln] == [
        f"lrtempo: --notify: the summary was not posted: http://127.0.0.1:{port}: "
        "connection refused (nothing listens there)"
    ]
    assert_no_secret(err)


def test_timeout_exits_4_and_names_the_wait(
    tmp_path: Path,
    webhook: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    webhook.delay = 3.0
    monkeypatch.setenv("LRTEMPO_NOTIFY_TIMEOUT", "0.5")
    t0 = time.monotonic()
    code, err = review(
        str(_csv(tmp_path)),
        "--since",
        "30d",
        "-q",
        "--format",
        "json",
        "--notify",
        webhook.url(),
        capsys=capsys,
    )
    assert time.monotonic() - t0 < 2.9  # did not wait for the answer
    assert code == 4
    assert (
        f"lrtempo: --notify: the summary was not posted: http://127.0.0.1:{webhook.port}: "
        "no answer within 0.5 s ($LRTEMPO_NOTIFY_TIMEOUT sets the wait)"
    ) in err
    assert_no_secret(err)


def test_review_status_wins_over_a_failed_post(
    tmp_path: Path, webhook: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--fail-on`` (1) and a partial read (3) keep their status when the post fails."""
    webhook.status = 404
    rising = tmp_path / "rising.csv"
    rising.write_text("step,loss\n" + "".join(f"{i},{(1 + i / 10) ** 2}\n" for i in range(200)))
    code, err = review(
        str(rising),
        "--since",
        "30d",
        "-q",
        "--format",
        "json",
        "--fail-on",
        "warning",
        "--notify",
        webhook.url(),
        capsys=capsys,
    )
    assert code == 1 and "HTTP 404" in err
    code, err = review(
        str(_csv(tmp_path)),
        str(tmp_path / "missing.csv"),
        "--since",
        "30d",
        "-q",
        "--format",
        "json",
        "--notify",
        webhook.url(),
        capsys=capsys,
    )
    assert code == 3 and "HTTP 404" in err
    msg = json.loads(webhook.requests[-1]["body"])
    assert "1 source could not be read" in msg["text"] and "missing.csv" in texts(msg)


@pytest.mark.parametrize(
    "url, says",
    [
        ("ftp://hooks.example/services/x", "a 'ftp:' URL"),
        ("hooks.example/services/x", "not a URL"),
        ("http:///services/x", "the URL has no host"),
        ("https://u:p@hooks.example:99999/services/x", "not a valid URL"),
    ],
)
def test_bad_urls_are_refused_before_reading(
    url: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    code, err = review(str(_csv(tmp_path)), "--out", str(out), "--notify", url, capsys=capsys)
    assert code == 2 and not out.exists()
    assert err.count("\n") == 1 and says in err and "services" not in err
    assert "Traceback" not in err


def test_a_bad_timeout_setting_is_refused(
    tmp_path: Path,
    webhook: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LRTEMPO_NOTIFY_TIMEOUT", "soon")
    code, err = review(str(_csv(tmp_path)), "--notify", webhook.url(), capsys=capsys)
    assert code == 2 and "LRTEMPO_NOTIFY_TIMEOUT" in err and not webhook.requests


def test_no_run_is_still_posted_and_exits_2(
    tmp_path: Path, webhook: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    """A morning with no readable run still tells the channel (and why), exit 2 as before."""
    code, err = review(str(tmp_path / "gone.csv"), "-q", "--notify", webhook.url(), capsys=capsys)
    assert code == 2 and "posted the summary of 0 run(s)" in err
    msg = json.loads(webhook.requests[0]["body"])
    assert msg["text"] == (
        "LR Tempo review: 0 runs started in the last 24h: no run; 1 source could not be read"
    )
    assert "gone.csv" in texts(msg)
    assert_no_secret(err)
