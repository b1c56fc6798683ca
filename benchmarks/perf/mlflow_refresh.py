"""MLflow refresh: the second review, after 5 % of the runs got new steps.

The store of :mod:`.mlflow_fetch` (``runs x metrics x steps``) is copied and served by a
real local ``mlflow server``; 5 % of its runs are set RUNNING and reviewed once (the
first review, which fills LR Tempo's history cache). Then, before each timed review,
every RUNNING run gets 5 % more steps of every metric (logged over REST, not timed), and
``read_mlflow`` reviews the experiment again: it lists the runs, takes the unchanged
histories from the cache and fetches only the new steps of the running runs. The peer
is the naive ``MlflowClient`` loop, which fetches every history each time. Both must
return every point, the new ones included.
"""

from __future__ import annotations

import shutil
import time

import numpy as np

from .common import Result, Sizes, best_of, data_dir, ratio
from .mlflow_fetch import (
    BATCH,
    EXPERIMENT,
    METRIC_KEYS,
    _post,
    fetch_naive,
    fetch_ours,
    history_cache,
    prepare,
    server,
)

#: Share of the runs that get new steps, and new steps per round (share of the steps).
SHARE = 0.05


def run_ids(url: str, experiment: str = EXPERIMENT) -> list[str]:
    """The experiment's run ids, oldest first."""
    import requests

    s = requests.Session()
    exp = s.get(
        f"{url}/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": experiment},
        timeout=60,
    ).json()["experiment"]
    ids: list[str] = []
    token = None
    while True:
        body = {
            "experiment_ids": [exp["experiment_id"]],
            "max_results": 1000,
            "order_by": ["attributes.start_time ASC"],
        }
        if token:
            body["page_token"] = token
        page = _post(s, url, "runs/search", body)
        ids += [r["info"]["run_id"] for r in page.get("runs", [])]
        token = page.get("next_page_token")
        if not token:
            return ids


def pick_running(url: str, ids: list[str]) -> list[str]:
    """Every twentieth run (at least one) set RUNNING: the runs that will get new steps."""
    import requests

    chosen = ids[:: max(1, round(1 / SHARE))][: max(1, round(len(ids) * SHARE))]
    s = requests.Session()
    for rid in chosen:
        _post(s, url, "runs/update", {"run_id": rid, "status": "RUNNING"})
    return chosen


def append_steps(url: str, ids: list[str], keys: tuple[str, ...], first: int, n: int) -> None:
    """Log steps ``first .. first+n-1`` of every key to each run (timestamps after the rest)."""
    import requests

    s = requests.Session()
    now = int(time.time() * 1000)
    for rid in ids:
        points = [
            {"key": k, "value": float(0.5 + 0.01 * np.sin(st)), "timestamp": now + st, "step": st}
            for k in keys
            for st in range(first, first + n)
        ]
        for j in range(0, len(points), BATCH):
            _post(s, url, "runs/log-batch", {"run_id": rid, "metrics": points[j : j + BATCH]})


def measure(
    url: str, sizes: Sizes, experiment: str = EXPERIMENT, keys: tuple[str, ...] | None = None
) -> Result:
    """The refresh benchmark on a server whose ``experiment`` holds the fleet of ``sizes``
    (all FINISHED); it sets runs RUNNING and logs new steps to them."""
    keys = keys or METRIC_KEYS[: sizes.mlflow_metrics]
    ids = run_ids(url, experiment)
    expected = len(ids) * len(keys) * sizes.mlflow_steps
    chosen = pick_running(url, ids)
    new = max(10, round(sizes.mlflow_steps * SHARE))
    with history_cache() as cache:
        t0 = time.perf_counter()
        if fetch_ours(url, experiment) != expected:
            raise AssertionError("the first review missed points")
        first_s = time.perf_counter() - t0
        times: list[float] = []
        for r in range(max(1, sizes.repeats)):
            append_steps(url, chosen, keys, sizes.mlflow_steps + r * new, new)
            expected += len(chosen) * len(keys) * new
            t0 = time.perf_counter()
            got = fetch_ours(url, experiment)
            times.append(time.perf_counter() - t0)
            if got != expected:
                raise AssertionError(f"refresh read {got} points, expected {expected}")
        cache_mb = cache.stat().st_size / 2**20
    peer = best_of(lambda: fetch_naive(url, experiment), sizes.repeats, sizes.peer_budget_s)
    if peer.value != expected:
        raise AssertionError(f"naive loop read {peer.value} points, expected {expected}")
    ours = min(times)
    r = ratio(peer.best, ours)
    return Result(
        "mlflow_refresh",
        ours,
        "MlflowClient.get_metric_history loop",
        peer.best,
        r,
        target=">= 50x naive loop",
        met=r is not None and r >= 50,
        size=f"{len(ids)} runs x {len(keys)} metrics x {sizes.mlflow_steps:,} steps; "
        f"{len(chosen)} running runs get {new:,} new steps per metric",
        notes=f"ours best of {len(times)} second reviews (cache filled by a first review of "
        f"{first_s:.1f} s), peer {peer.label}; local mlflow server, 2 workers, sqlite",
        extra={
            "points": expected,
            "first_review_s": first_s,
            "ours_times": times,
            "peer_times": list(peer.times),
            "running_runs": len(chosen),
            "new_steps": new,
            "cache_mb": cache_mb,
        },
    )


def bench(sizes: Sizes) -> Result:
    """Copy the :mod:`.mlflow_fetch` store (left untouched) and measure on the copy."""
    root = prepare(sizes)
    work = data_dir() / f"{root.name}_refresh"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    shutil.copy2(root / "mlflow.db", work / "mlflow.db")
    try:
        with server(work) as url:
            return measure(url, sizes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
