"""MLflow fetch: LR Tempo's reader vs the naive ``MlflowClient.get_metric_history`` loop.

A real local ``mlflow server`` (sqlite backend, started in its own process group and
killed with it) holds ``runs x metrics x steps`` points, logged once over REST with
``runs/log-batch`` (1,000 metrics a call, MLflow's limit) and cached between suite
runs. The peer is what people write: ``search_runs`` then ``get_metric_history`` for
every run and metric, one after another. LR Tempo: ``read_mlflow(url, experiment=…)``
(runs search, paged ``metrics/get-history``, a bounded thread pool, retries with
backoff), frames included. Both must return every point.

This is the first review: every call of ours starts from an empty history cache (a new
file, which it fills: the cost of writing it is included). The second review is
:mod:`.mlflow_refresh`.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .common import Result, Sizes, best_of, data_dir, ratio

EXPERIMENT = "lrtempo-bench"
METRIC_KEYS = ("train_loss", "val_loss", "lr")
BATCH = 1000  # MLflow's limit of metrics per log-batch call


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
    # The same store read straight from its file (no server): for a store on this machine.
    direct = best_of(lambda: fetch_ours(f"sqlite:///{root / 'mlflow.db'}"), sizes.repeats)
    if not (ours.value == peer.value == direct.value == expected):
        raise AssertionError(
            f"points: LR Tempo {ours.value}, naive {peer.value}, expected {expected}"
        )
    r = ratio(peer.best, ours.best)
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
        f"(sqlite:///): {direct.best:.2f} s, {ratio(peer.best, direct.best) or 0:.1f}x",
        extra={
            "points": expected,
            "log_s": log_s,
            "ours_times": list(ours.times),
            "peer_times": list(peer.times),
            "direct_sqlite_s": direct.best,
            "direct_sqlite_ratio": ratio(peer.best, direct.best),
        },
    )
