"""MLflow fetch: LR Tempo's reader vs the naive ``MlflowClient.get_metric_history`` loop.

A real local ``mlflow server`` (sqlite backend, started in its own process group and
killed with it) holds ``runs x metrics x steps`` points, logged once over REST with
``runs/log-batch`` (1,000 metrics a call, MLflow's limit) and cached between suite
runs. The peer is what people write: ``search_runs`` then ``get_metric_history`` for
every run and metric, one after another. LR Tempo: ``read_mlflow(url, experiment=…)``
(runs search, ``get-history-bulk`` a history, a bounded thread pool, retries with
backoff), frames included. Both must return every point.

The REST floor (:func:`rest_floor`) bounds any REST client: the reader's own calls
(``get-history-bulk``, one run and metric a call) sent with 2, 4 and 8 threads, each
answer read to bytes and never parsed; and every other history endpoint once, so the
bound rests on the cheapest one.

This is the first review: every call of ours starts from an empty history cache (a new
file, which it fills: the cost of writing it is included). The second review is
:mod:`.mlflow_refresh`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .common import Result, Sizes, best_of, data_dir, ratio

EXPERIMENT = "lrtempo-bench"
METRIC_KEYS = ("train_loss", "val_loss", "lr")
BATCH = 1000  # MLflow's limit of metrics per log-batch call
FLOOR_THREADS = (2, 4, 8)  # concurrencies of the raw floor (the reader sends 8 at once)
BULK_CAP = 25_000  # most points of one get-history-bulk answer, all its runs together
INTERVAL_STEPS = 2_500  # get-history-bulk-interval's most unsampled steps per run
INTERVAL_SHARE = 10  # that endpoint re-reads whole histories: timed on 1/10 of the runs
_TOKEN = re.compile(rb'"next_page_token":\s*"([^"]+)"')
Call = tuple[str, dict[str, Any]]  # a GET: path under the server URL, query parameters


@contextmanager
def server(root: Path, workers: int = 2) -> Iterator[str]:
    """A running ``mlflow server`` on ``root``'s sqlite file; its URL. Killed on exit."""
    from ..mlflow_server import running

    with running(root, workers=workers) as srv:
        yield srv.url


def _post(session, url: str, endpoint: str, body: dict) -> dict:
    for attempt in range(5):
        resp = session.post(
            f"{url}/api/2.0/mlflow/{endpoint}",
            data=json.dumps(body),
            headers={"Content-Type": "application/json"},
            timeout=120,
        )
        if resp.status_code < 500:
            resp.raise_for_status()
            return resp.json()
        time.sleep(0.5 * 2**attempt)
    resp.raise_for_status()
    return {}


def log_fleet(
    url: str,
    n_runs: int,
    keys: tuple[str, ...],
    n_steps: int,
    threads: int = 6,
    experiment: str = EXPERIMENT,
) -> str:
    """Create the experiment and log every point over REST; returns the experiment id."""
    import requests

    session = requests.Session()
    exp_id = _post(session, url, "experiments/create", {"name": experiment})["experiment_id"]
    t0 = int(time.time() * 1000) - n_runs * 1000
    rng = np.random.default_rng(1)
    steps = np.arange(n_steps)

    def one(i: int) -> None:
        s = requests.Session()
        run = _post(
            s,
            url,
            "runs/create",
            {"experiment_id": exp_id, "run_name": f"run-{i:04d}", "start_time": t0 + i * 1000},
        )["run"]["info"]
        rid = run["run_id"]
        curves = {
            "train_loss": 2.5 * np.exp(-steps / (n_steps / 5))
            + 0.5
            + 0.05 * rng.standard_normal(n_steps),
            "val_loss": 2.5 * np.exp(-steps / (n_steps / 5)) + 0.6,
            "lr": 3e-4 * np.minimum(1.0, (steps + 1) / 100),
        }
        points = [
            {"key": k, "value": float(v), "timestamp": t0 + i * 1000 + int(st), "step": int(st)}
            for k in keys
            for st, v in zip(steps, curves.get(k, curves["train_loss"]))
        ]
        for j in range(0, len(points), BATCH):
            _post(s, url, "runs/log-batch", {"run_id": rid, "metrics": points[j : j + BATCH]})
        _post(
            s,
            url,
            "runs/update",
            {"run_id": rid, "status": "FINISHED", "end_time": t0 + i * 1000 + n_steps},
        )

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(n_runs)))
    return str(exp_id)


def store_root(sizes: Sizes) -> Path:
    keys = METRIC_KEYS[: sizes.mlflow_metrics]
    return data_dir() / f"mlflow_{sizes.mlflow_runs}x{len(keys)}x{sizes.mlflow_steps}"


@contextmanager
def history_cache(path: Path | None = None) -> Iterator[Path]:
    """Within the block the reader's history cache is the file ``path`` (default: a new
    file in a temporary folder, deleted on exit), never the user's."""
    old = os.environ.get("LRTEMPO_MLFLOW_CACHE")
    with tempfile.TemporaryDirectory(prefix="lrtempo-cache-") as tmp:
        os.environ["LRTEMPO_MLFLOW_CACHE"] = str(path or Path(tmp) / "mlflow.sqlite")
        try:
            yield Path(os.environ["LRTEMPO_MLFLOW_CACHE"])
        finally:
            if old is None:
                os.environ.pop("LRTEMPO_MLFLOW_CACHE", None)
            else:
                os.environ["LRTEMPO_MLFLOW_CACHE"] = old


def fetch_first(url: str, experiment: str = EXPERIMENT) -> int:
    """A first review: :func:`fetch_ours` with a new, empty history cache."""
    with history_cache():
        return fetch_ours(url, experiment)


def fetch_ours(url: str, experiment: str = EXPERIMENT) -> int:
    """``read_mlflow`` with whatever history cache is set; the points read."""
    from analyzer.readers.mlflow_store import read_mlflow

    res = read_mlflow(url, experiment=experiment)
    if res.errors:
        raise AssertionError(f"read errors: {res.errors[:3]}")
    return sum(len(r.frame) for r in res.runs)


def fetch_naive(url: str, experiment: str = EXPERIMENT) -> int:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url)
    exp = client.get_experiment_by_name(experiment)
    total = 0
    for run in client.search_runs([exp.experiment_id], max_results=1000):
        for key in run.data.metrics:
            total += len(client.get_metric_history(run.info.run_id, key))
    return total


def history_calls(
    endpoint: str, run_ids: Sequence[str], keys: Sequence[str], steps: int
) -> list[Call]:
    """The GETs that fetch every point of ``run_ids`` x ``keys`` (``steps`` each) from one
    endpoint: ``bulk`` (the reader's: the UI's get-history-bulk, one run a call),
    ``bulk_multi`` (as many runs a call as its cap holds), ``history`` (REST
    get-history, 25,000-point pages), ``interval`` (get-history-bulk-interval by windows)."""
    ajax, api = "/ajax-api/2.0/mlflow/metrics/", "/api/2.0/mlflow/metrics/"
    if endpoint == "bulk_multi":
        k = max(1, min(100, (BULK_CAP - 1) // max(1, steps)))
        groups = [list(run_ids[i : i + k]) for i in range(0, len(run_ids), k)]
        return [
            (f"{ajax}get-history-bulk", {"run_id": g, "metric_key": key, "max_results": BULK_CAP})
            for g in groups
            for key in keys
        ]
    if endpoint == "interval":
        return [
            (
                f"{ajax}get-history-bulk-interval",
                {
                    "run_ids": rid,
                    "metric_key": key,
                    "start_step": lo,
                    "end_step": min(lo + INTERVAL_STEPS, steps) - 1,
                    "max_results": INTERVAL_STEPS,
                },
            )
            for rid in run_ids
            for key in keys
            for lo in range(0, steps, INTERVAL_STEPS)
        ]
    path = f"{api}get-history" if endpoint == "history" else f"{ajax}get-history-bulk"
    return [
        (path, {"run_id": rid, "metric_key": key, "max_results": BULK_CAP})
        for rid in run_ids
        for key in keys
    ]


def fetch_raw(url: str, calls: Sequence[Call], threads: int) -> int:
    """The fastest REST client: ``calls`` sent by ``threads`` threads (a session each),
    every answer read to bytes and never parsed (a page token is found by a regex); the
    points, counted as ``"timestamp"`` keys."""
    import requests

    local = threading.local()
    sessions: list[requests.Session] = []

    def one(call: Call) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            sessions.append(local.session)
        path, params = call
        n = 0
        while True:
            resp = local.session.get(f"{url}{path}", params=params, timeout=600)
            resp.raise_for_status()
            body = resp.content
            n += body.count(b'"timestamp"')
            token = _TOKEN.search(body) if b'"next_page_token"' in body else None
            if token is None:
                return n
            params = {**params, "page_token": token[1].decode()}

    try:
        with ThreadPoolExecutor(threads) as pool:
            return sum(pool.map(one, calls))
    finally:
        for session in sessions:
            session.close()


def rest_floor(
    url: str, keys: Sequence[str], steps: int, experiment: str = EXPERIMENT
) -> dict[str, Any]:
    """Raw REST times in seconds (each one call of :func:`fetch_raw`; the runs are listed
    first, untimed): ``bulk`` by thread count, and every other endpoint at the best count
    (``interval`` on 1/:data:`INTERVAL_SHARE` of the runs, scaled to all of them)."""
    import requests

    with requests.Session() as s:
        exp = s.get(
            f"{url}/api/2.0/mlflow/experiments/get-by-name",
            params={"experiment_name": experiment},
            timeout=60,
        ).json()["experiment"]["experiment_id"]
        runs = _post(s, url, "runs/search", {"experiment_ids": [exp], "max_results": 1000})
    run_ids = [r["info"]["run_id"] for r in runs["runs"]]

    def timed(endpoint: str, threads: int, ids: Sequence[str] = run_ids) -> float:
        t = best_of(lambda: fetch_raw(url, history_calls(endpoint, ids, keys, steps), threads), 1)
        if t.value != len(ids) * len(keys) * steps:
            raise AssertionError(
                f"{endpoint}: {t.value} points, not {len(ids) * len(keys) * steps}"
            )
        return t.best

    bulk = {n: timed("bulk", n) for n in FLOOR_THREADS}
    best = min(bulk, key=bulk.__getitem__)
    share = run_ids[: max(1, len(run_ids) // INTERVAL_SHARE)]
    return {
        "bulk": bulk,
        "threads": best,
        "bulk_multi": timed("bulk_multi", best),
        "history": timed("history", best),
        "interval": timed("interval", best, share) * len(run_ids) / len(share),
    }


def prepare(sizes: Sizes) -> Path:
    """The cached store for ``sizes``, logged over REST on first use; its root folder."""
    keys = METRIC_KEYS[: sizes.mlflow_metrics]
    root = store_root(sizes)
    done = root / ".complete"
    if done.exists():
        return root
    if root.exists():  # an interrupted logging: start again
        import shutil

        shutil.rmtree(root)
    root.mkdir(parents=True)
    with server(root) as url:
        t0 = time.perf_counter()
        log_fleet(url, sizes.mlflow_runs, keys, sizes.mlflow_steps)
        (root / "log_seconds").write_text(f"{time.perf_counter() - t0:.1f}\n")
    done.touch()
    return root


def bench(sizes: Sizes) -> Result:
    keys = METRIC_KEYS[: sizes.mlflow_metrics]
    expected = sizes.mlflow_runs * len(keys) * sizes.mlflow_steps
    root = prepare(sizes)
    log_s = float((root / "log_seconds").read_text()) if (root / "log_seconds").exists() else None
    with server(root) as url:
        fetch_first(url)  # warm the server's caches the same way for both
        ours = best_of(lambda: fetch_first(url), sizes.repeats)
        peer = best_of(lambda: fetch_naive(url), sizes.repeats, sizes.peer_budget_s)
        raw = rest_floor(url, keys, sizes.mlflow_steps)
    # The same store read straight from its file (no server): for a store on this machine.
    direct = best_of(lambda: fetch_ours(f"sqlite:///{root / 'mlflow.db'}"), sizes.repeats)
    if not (ours.value == peer.value == direct.value == expected):
        raise AssertionError(
            f"points: LR Tempo {ours.value}, naive {peer.value}, expected {expected}"
        )
    r = ratio(peer.best, ours.best)
    floor = raw["bulk"][raw["threads"]]
    others = {k: raw[k] for k in ("bulk_multi", "history", "interval")}
    cheapest = min(others, key=others.__getitem__)
    return Result(
        "mlflow_fetch",
        ours.best,
        "MlflowClient.get_metric_history loop",
        peer.best,
        r,
        target=">= 10x naive loop",
        met=r is not None and r >= 10,
        size=f"{sizes.mlflow_runs} runs x {len(keys)} metrics x {sizes.mlflow_steps:,} steps",
        notes=f"ours {ours.label}, each from an empty history cache; peer {peer.label}; "
        "local mlflow server, 2 workers, sqlite; the same store read directly "
        f"(sqlite:///): {direct.best:.2f} s, {ratio(peer.best, direct.best) or 0:.1f}x; "
        f"REST floor (the reader's calls, bytes only, {raw['threads']} threads): {floor:.2f} s, "
        f"{ratio(peer.best, floor) or 0:.1f}x; cheapest other endpoint ({cheapest}): "
        f"{others[cheapest]:.2f} s, {ratio(peer.best, others[cheapest]) or 0:.1f}x",
        extra={
            "points": expected,
            "log_s": log_s,
            "ours_times": list(ours.times),
            "peer_times": list(peer.times),
            "direct_sqlite_s": direct.best,
            "direct_sqlite_ratio": ratio(peer.best, direct.best),
            "rest_floor_s": floor,
            "rest_floor_threads": raw["threads"],
            "rest_floor_ratio": ratio(peer.best, floor),
            "ours_over_floor": ratio(ours.best, floor),
            "rest_floor_by_threads": {str(n): round(t, 3) for n, t in raw["bulk"].items()},
            "rest_endpoints_s": {k: round(t, 3) for k, t in others.items()},
            "rest_cheapest_ratio": ratio(peer.best, min(floor, others[cheapest])),
        },
    )
