"""Load test: concurrent users opening the Review page and Run pages, the full Dash round trip.

    python -m tests.test_load [--clients 50] [--seconds 60] [--workers 2] [--json FILE]

The dashboard is served as the README deploys it, ``lrtempo demo --workers N``
(gunicorn) on the demo's MLflow store, seeded into a temporary ``LRTEMPO_HOME``, on a
free loopback port. Each simulated user (locust, headless, as a library) repeats what a
browser does for a page: GET the page, ``_dash-layout`` and ``_dash-dependencies``, then
the ``_dash-update-component`` POSTs the page makes (the page content, and the Review
grid, or the Run figure and findings), checking every answer. A user pauses 0.5–1.5 s
between pages. Bounded: N users for T seconds, loopback only; it stops by itself.
The result is a markdown table of p50/p95 per page and per request, and the error count.

The pytest tests run it in a subprocess (locust patches the process with gevent): a short
one in CI (10 users × 5 s) and the full one (50 × 60 s) in the nightly slow run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from benchmarks.dash_protocol import callback_body, dash_config

ROOT = Path(__file__).resolve().parents[1]
PAGES_OUTPUT = ".._pages_content.children..._pages_store.data.."
#: The values a browser sends for the Review and Run pages' inputs (from their layouts).
REVIEW_VALUES = {
    "review-window.value": "all",
    "review-tag.value": "",
    "review-autorefresh.value": 0,
}
RUN_VALUES = {"run-smoothing.value": 0.6, "run-logy.value": [], "run-x.value": "step"}


# ------------------------------------------------------------------------ the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def demo_server(workers: int, home: Path, timeout: float = 240.0) -> Iterator[str]:
    """``lrtempo demo --workers N`` on a free loopback port; its base URL once it answers."""
    import urllib.request

    port = free_port()
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lrtempo",
            "demo",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "LRTEMPO_HOME": str(home)},
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited ({proc.returncode}): "
                    + (home / "server.log").read_text(errors="replace")[-2000:]
                )
            try:
                with urllib.request.urlopen(base + "/_dash-layout", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer within {timeout:g} s")
            time.sleep(0.5)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)  # gunicorn: quick shutdown (no keep-alive wait)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


# -------------------------------------------------------------------------- the load


def run_load(base: str, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` locust users against ``base`` for ``seconds``; stats as a dict.

    Call it only in a process of its own: importing locust patches it with gevent.
    """
    import random

    import gevent
    from locust import HttpUser, between, task
    from locust.env import Environment

    class DashUser(HttpUser):
        host = base
        wait_time = between(0.5, 1.5)

        def on_start(self) -> None:
            self.deps = self.client.get("/_dash-dependencies", name="setup").json()
            self.run_ids: list[str] = []

        def _get(self, path: str, name: str) -> str:
            with self.client.get(path, name=name, catch_response=True) as r:
                if r.status_code != 200:
                    r.failure(f"HTTP {r.status_code} {r.error or ''}".strip())
                return r.text

        def _callback(
            self, end_id: str, output: str, values: dict[str, Any], name: str, expect: str
        ) -> dict[str, Any]:
            body = callback_body(self.deps, output, values)
            with self.client.post(
                f"/_dash-update-component?endId={end_id}", json=body, name=name, catch_response=True
            ) as r:
                try:
                    data = r.json()["response"]
                except (ValueError, KeyError, TypeError):
                    r.failure(f"HTTP {r.status_code}: not a Dash answer {r.error or ''}".strip())
                    return {}
                if r.status_code != 200 or expect not in data:
                    r.failure(f"HTTP {r.status_code}: no {expect} in the answer")
                return data

        def _page(self, path: str, search: str, label: str, callbacks: list[tuple]) -> None:
            t0 = time.perf_counter()
            html = self._get(path + search, f"{label}: GET page")
            end_id = dash_config(html).get("end_id", "")
            self._get("/_dash-layout", f"{label}: _dash-layout")
            self._get("/_dash-dependencies", f"{label}: _dash-dependencies")
            self._callback(
                end_id,
                PAGES_OUTPUT,
                {"_pages_location.pathname": path, "_pages_location.search": search},
                f"{label}: callback page content",
                "_pages_content",
            )
            for output, values, name, expect in callbacks:
                data = self._callback(end_id, output, values, f"{label}: callback {name}", expect)
                if expect == "review-grid":
                    self.run_ids = [row["id"] for row in data.get(expect, {}).get("rowData", [])]
            self.environment.events.request.fire(
                request_type="PAGE",
                name=f"{label} page (all requests)",
                context={},
                response_time=(time.perf_counter() - t0) * 1000,
                response_length=0,
                exception=None,
            )

        @task
        def review(self) -> None:
            grid = next(d["output"] for d in self.deps if d["output"].startswith("..review-grid."))
            self._page(
                "/",
                "?window=all",
                "Review",
                [
                    ("review-dates-col.style", REVIEW_VALUES, "dates", "review-dates-col"),
                    (grid, REVIEW_VALUES, "grid", "review-grid"),
                ],
            )

        @task
        def run_page(self) -> None:
            if not self.run_ids:
                return self.review()
            rid = random.choice(self.run_ids)
            values = {**RUN_VALUES, "run-id.data": rid}
            graph = next(d["output"] for d in self.deps if d["output"].startswith("..run-graph."))
            side = next(d["output"] for d in self.deps if d["output"].startswith("..run-header."))
            self._page(
                "/run",
                f"?id={rid}",
                "Run",
                [
                    (graph, values, "figure", "run-graph"),
                    (side, values, "header and findings", "run-header"),
                ],
            )

    env = Environment(user_classes=[DashUser])
    runner = env.create_local_runner()
    runner.start(clients, spawn_rate=clients)
    gevent.spawn(_quit_when_both_pages_seen, runner, env, seconds)
    runner.greenlet.join()
    rows = []
    for entry in sorted(env.stats.entries.values(), key=lambda e: (e.method != "PAGE", e.name)):
        rows.append(
            {
                "name": entry.name,
                "type": entry.method,
                "requests": entry.num_requests,
                "failures": entry.num_failures,
                "p50_ms": entry.get_response_time_percentile(0.5),
                "p95_ms": entry.get_response_time_percentile(0.95),
                "max_ms": entry.max_response_time,
            }
        )
    total = env.stats.total
    return {
        "clients": clients,
        "seconds": seconds,
        "requests": total.num_requests,
        "failures": total.num_failures,
        "errors": [
            f"{e.method} {e.name}: {e.error} (×{e.occurrences})" for e in env.stats.errors.values()
        ],
        "rps": total.num_requests / seconds if seconds else 0.0,
        "rows": rows,
    }


#: At most this long past the planned duration for every page to have been timed once.
GRACE_S = 120.0


def _quit_when_both_pages_seen(runner: Any, env: Any, seconds: float) -> None:
    """Stop the users after ``seconds`` — or later, up to :data:`GRACE_S` more, until a Run
    page has been timed too (each user opens Review first; on a loaded machine its first
    answer can take most of a short run)."""
    import gevent

    gevent.sleep(seconds)
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline and not any(
        e.name == "Run page (all requests)" and e.num_requests for e in env.stats.entries.values()
    ):
        gevent.sleep(0.5)
    runner.quit()


def markdown(result: dict[str, Any]) -> str:
    """The result as a markdown table (pages first, then each request)."""
    head = (
        f"{result['clients']} users × {result['seconds']:g} s, {result.get('workers', '?')} "
        f"gunicorn workers × 4 threads, {os.cpu_count()} CPUs: {result['requests']:,} requests "
        f"({result['rps']:.1f}/s), {result['failures']} errors"
    )
    lines = [
        head,
        "",
        "| page / request | count | errors | p50 | p95 | max |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['name']} | {r['requests']:,} | {r['failures']} | {r['p50_ms']:.0f} ms "
            f"| {r['p95_ms']:.0f} ms | {r['max_ms']:.0f} ms |"
        )
    lines += [f"- {e}" for e in result["errors"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tests.test_load", description=__doc__.split("\n")[0]
    )
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers of the demo server")
    p.add_argument("--json", metavar="FILE", help="also write the result as JSON")
    args = p.parse_args(argv)
    if not (1 <= args.clients <= 200 and 0 < args.seconds <= 600):
        p.error("--clients 1..200 and --seconds up to 600: this test is bounded")
    import locust  # noqa: F401 - first: it patches the process with gevent

    with tempfile.TemporaryDirectory(prefix="lrtempo-load-") as home:
        with demo_server(args.workers, Path(home)) as base:
            result = run_load(base, args.clients, args.seconds)
        if result["failures"]:  # what the server said about it
            log = (Path(home) / "server.log").read_text(errors="replace").splitlines()
            print("\n".join(["server log (last lines):", *log[-30:]]), file=sys.stderr)
    result["workers"] = args.workers
    print(markdown(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if result["failures"] == 0 and result["requests"] > 0 else 1


# ------------------------------------------------------------------------------ tests


def _load(tmp_path: Path, clients: int, seconds: float) -> dict[str, Any]:
    out = tmp_path / "load.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.test_load",
            "--clients",
            str(clients),
            "--seconds",
            str(seconds),
            "--json",
            str(out),
        ],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=seconds + GRACE_S + 400,
    )
    print(proc.stdout)  # the table (pytest -s shows it)
    assert out.exists(), proc.stdout + proc.stderr[-3000:]
    return json.loads(out.read_text())


def _check(result: dict[str, Any]) -> None:
    assert result["failures"] == 0, result["errors"]
    names = {r["name"] for r in result["rows"]}
    assert {
        "Review page (all requests)",
        "Run page (all requests)",
        "Review: callback grid",
        "Run: callback figure",
    } <= names
    assert all(r["requests"] > 0 for r in result["rows"])


def test_load_short(tmp_path: Path) -> None:
    """10 users × 5 s (CI): every request of both pages answers, none fails."""
    _check(_load(tmp_path, 10, 5))


@pytest.mark.slow
def test_load_50_users_60_seconds(tmp_path: Path) -> None:
    result = _load(tmp_path, 50, 60)
    _check(result)
    assert result["requests"] > 500


if __name__ == "__main__":
    sys.exit(main())
