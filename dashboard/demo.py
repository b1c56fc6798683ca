"""The demo's embedded MLflow store: a sqlite file in the user's data folder, seeded once
from ``sample_runs/`` so the dashboard has a team's worth of recent runs to review.
The caller says where the samples are (``lrtempo demo`` finds them in the installed
package); the default is the checkout's ``sample_runs/``.

This is LR Tempo's own store; nothing here touches a user's logs or servers. Seeding it
needs MLflow's client (``pip install 'lrtempo[mlflow]'``, which ``make demo`` installs);
reading it, like every MLflow store, does not.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

from analyzer.model import Run
from analyzer.readers import read_sources
from analyzer.roles import resolve_roles, role_series
from analyzer.writeback import mlflow_client_class
from dashboard.settings_file import data_dir

#: The checkout's samples (an installed wheel has them as ``lrtempo/sample_runs``).
SAMPLE_RUNS = Path(__file__).resolve().parents[1] / "sample_runs"
SEED_VERSION = 2  # 2: the LR sweep of sample_runs/lr_sweep
#: Which demo experiment each sample folder belongs to.
EXPERIMENTS = {
    "plain_csv": "vision",
    "lightning": "vision",
    "keras": "vision",
    "ultralytics": "detection",
    "lr_sweep": "vision-lr-sweep",
    "hf": "llm-finetune",
    "jsonl": "llm-finetune",
    "tensorboard": "llm-pretrain",
    "wandb": "llm-pretrain",
}
#: Samples started days ago, so the 24 h window visibly leaves them out.
OLD_SAMPLES = ("ultralytics", "wandb")
_BAD_KEY_CHARS = re.compile(r"[^\w\-. /:]")
#: Named in the one-line error when MLflow's client (the ``mlflow`` extra) is missing.
DEMO_NEEDS = "the demo (seeding its MLflow store)"


def mlflow_key(name: str) -> str:
    """A metric name MLflow accepts (``metrics/mAP50(B)`` → ``metrics/mAP50_B_``)."""
    return _BAD_KEY_CHARS.sub("_", name)


def _params(run: Run) -> dict[str, str]:
    params = {k: v for k, v in run.meta.params.items() if len(v) < 250}
    lr = role_series(run, resolve_roles(run).lr)
    if lr is not None and len(lr) and "learning_rate" not in params:
        params["learning_rate"] = f"{lr['value'].max():.3g}"
    params["source_format"] = run.meta.source
    return params


def _log_run(client, exp_id: str, run: Run, start: float, rel: str) -> None:
    from mlflow.entities import Metric, Param, RunTag

    frame = run.frame
    steps = frame["step"].to_numpy()
    span = max(int(steps.max() - steps.min()), 1) if len(steps) else 1
    seconds_per_step = 3 * 3600 / span  # spread each run over ~3 h of wall time
    created = client.create_run(
        exp_id,
        start_time=int(start * 1000),
        run_name=run.meta.name,
        tags={"lrtempo.sample": rel, "mlflow.user": "demo"},
    )
    rid = created.info.run_id
    metrics = [
        Metric(
            mlflow_key(m),
            float(v),
            int((start + (s - steps.min()) * seconds_per_step) * 1000),
            int(s),
        )
        for m, s, v in zip(frame["metric"], steps, frame["value"])
    ]
    params = [Param(k, v) for k, v in _params(run).items()]
    for i in range(0, len(metrics), 1000):
        client.log_batch(
            rid, metrics=metrics[i : i + 1000], params=params if i == 0 else [], tags=[]
        )
    client.log_batch(
        rid, tags=[RunTag("mlflow.note.content", f"Sample run from sample_runs/{rel}")]
    )
    client.set_terminated(rid, status="FINISHED", end_time=int((start + 3 * 3600) * 1000))


def seed_store(
    uri: str, samples: Path = SAMPLE_RUNS, now: float | None = None, prefix: str = ""
) -> int:
    """Log every sample run into the MLflow store at ``uri``; returns how many runs.

    ``prefix`` goes before each experiment name (``demo/vision``), so a shared server
    keeps them apart from its own experiments.
    """
    client_class = mlflow_client_class(DEMO_NEEDS)
    now = time.time() if now is None else now
    result = read_sources([str(samples)])
    client = client_class(tracking_uri=uri)
    exp_ids: dict[str, str] = {}
    for i, run in enumerate(sorted(result.runs, key=lambda r: r.meta.location)):
        rel = os.path.relpath(run.meta.location, samples)
        folder = Path(rel).parts[0]
        exp = prefix + EXPERIMENTS.get(folder, "samples")
        if exp not in exp_ids:
            exp_ids[exp] = client.create_experiment(exp)
        hours_ago = 70 + i if folder in OLD_SAMPLES else 4 + 1.5 * i
        _log_run(client, exp_ids[exp], run, now - hours_ago * 3600, rel)
    return len(result.runs)


def demo_store(reset: bool = False, samples: Path = SAMPLE_RUNS) -> str:
    """The demo store's URI, seeding it from ``samples`` on first use (or again with ``reset``)."""
    folder = data_dir() / "demo"
    db = folder / "mlflow.db"
    marker = folder / "seeded.json"
    uri = f"sqlite:///{db}"
    if (
        not reset
        and marker.exists()
        and db.exists()
        and json.loads(marker.read_text()).get("version") == SEED_VERSION
    ):
        return uri  # reading the seeded store needs no MLflow client
    mlflow_client_class(DEMO_NEEDS)  # before anything is deleted
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    n = seed_store(uri, samples)
    marker.write_text(json.dumps({"version": SEED_VERSION, "runs": n, "seeded_at": time.time()}))
    return uri
