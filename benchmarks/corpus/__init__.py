"""Labeled corpus of training runs for the detection benchmark.

Three parts, reported separately and combined:

- ``real``: small models really trained in numpy on scikit-learn's bundled data sets
  (:mod:`.train`), swept over LRs, schedules, data sizes and seeds (:mod:`.scenarios`);
  labels by construction, verified on the curves (:mod:`.verify`);
- ``synthetic``: seeded curves with known truth from ``benchmarks.curves`` (see
  :mod:`.analyzer_synthetic`);
- ``synth-indep``: seeded curves from this package's own generator (:mod:`.synthetic`),
  independent of the analyzer's authors (it is the ``synthetic`` part when
  ``benchmarks.curves`` is absent).

``build_corpus(out_dir=None, quick=False)`` returns ``list[LabeledRun]``; with
``out_dir`` the runs are also written as one CSV per run plus ``labels.json``.
Everything is deterministic: the same call gives identical series.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.model import Run, RunMeta, finalize_frame, frame_from_columns

from . import analyzer_synthetic as _asyn
from . import synthetic as _synthetic
from .scenarios import Scenario, scenarios
from .train import TrainParams, TrainResult, train
from .verify import (
    KINDS,
    Verdict,
    as_jsonable,
    curve_stats,
    expected_direction,
    group_floors,
    reconcile,
    verify,
)

__all__ = [
    "KINDS",
    "PARTS",
    "LabeledRun",
    "TrainParams",
    "build_corpus",
    "build_real",
    "build_synthetic",
    "build_synthetic_indep",
    "result_to_run",
    "save_corpus",
    "train",
    "verify_result",
]

#: Fixed wall-clock origin so frames are byte-identical across builds.
_T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@dataclass
class LabeledRun:
    """One run of the corpus with its truth."""

    run: Run
    labels: frozenset[str]  # subset of KINDS; empty = healthy
    direction: str  # "decrease" | "increase" | "none"
    lr: float | None  # base LR the run was trained at (None if unknown)
    part: str  # "real" | "synthetic"
    scenario: str  # what it was built as, e.g. "digits-mlp-adam/high"
    constructed: frozenset[str] = frozenset()  # labels by construction
    params: TrainParams | None = None  # to retrain it (real part only)
    note: str = ""  # relabel reason, if any
    stats: dict[str, Any] = field(default_factory=dict)  # verification statistics
    result: TrainResult | None = None  # raw curves (real part)

    @property
    def id(self) -> str:
        return self.run.meta.id

    @property
    def healthy(self) -> bool:
        return not self.labels

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "part": self.part,
            "scenario": self.scenario,
            "labels": sorted(self.labels),
            "constructed": sorted(self.constructed),
            "direction": self.direction,
            "lr": self.lr,
            "note": self.note,
            "params": self.params.to_dict() if self.params else None,
            "stats": as_jsonable(self.stats),
        }


# ---------------------------------------------------------------------------
# real part
# ---------------------------------------------------------------------------


def result_to_run(res: TrainResult, run_id: str, name: str | None = None) -> Run:
    """The canonical Run of a training result (metrics ``train_loss``, ``val_loss``, ``lr``)."""
    p = res.params
    ts, vs = res.train_step, res.val_step
    metric = np.concatenate(
        [
            np.full(len(ts), "train_loss", dtype=object),
            np.full(len(vs), "val_loss", dtype=object),
            np.full(len(ts), "lr", dtype=object),
        ]
    )
    step = np.concatenate([ts, vs, ts])
    value = np.concatenate([res.train_loss, res.val_loss, res.lr])
    wall = _T0 + 0.05 * step.astype(np.float64)
    frame = finalize_frame(frame_from_columns(metric, step, value, wall))
    params = {
        "learning_rate": repr(p.lr),
        "optimizer": p.optimizer,
        "schedule": p.schedule,
        "dataset": p.dataset,
        "model": p.model,
        "hidden": str(p.hidden),
        "batch_size": str(p.batch_size),
        "steps": str(p.steps),
        "n_train": "all" if p.n_train is None else str(p.n_train),
        "seed": str(p.seed),
    }
    meta = RunMeta(
        id=run_id,
        name=name or run_id,
        source="csv",
        location=f"corpus://{run_id}",
        params=params,
        tags={"corpus": "real"},
        start_time=_T0,
        end_time=float(wall.max()) if len(wall) else _T0,
    )
    return Run(meta=meta, frame=frame)


def _group_key(p: TrainParams) -> tuple:
    """Runs that share a reachable loss floor: same data, model, width, subset."""
    return (p.dataset, p.model, p.hidden if p.model == "mlp" else 0, p.n_train)


def verify_result(res: TrainResult, floor: float) -> Verdict:
    """Verification verdict of one training result against its group's floor."""
    n_steps = (
        res.params.steps
        if res.params.stop_step is None
        else min(res.params.steps, res.params.stop_step)
    )
    with np.errstate(all="ignore"):  # diverged runs overflow on purpose
        s = curve_stats(
            res.train_loss, res.val_step, res.val_loss, res.initial_val_loss, floor, n_steps
        )
    return verify(s)


def _one_thread() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # tiny matrices: BLAS threads only contend across processes


def _train_all(params: list[TrainParams], workers: int) -> list[TrainResult]:
    if workers <= 1 or len(params) < 8:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return [train(p) for p in params]
    with ProcessPoolExecutor(max_workers=workers, initializer=_one_thread) as ex:
        return list(ex.map(train, params, chunksize=4))


def build_real(
    quick: bool = False,
    limit: int | None = None,
    workers: int | None = None,
    keep_dropped: bool = False,
    families: Iterable[str] | None = None,
    report: dict[str, Any] | None = None,
) -> list[LabeledRun]:
    """Train, verify and label the real part of the corpus.

    ``limit`` keeps every k-th scenario so that at most ``limit`` are trained (tests);
    ``families`` keeps only scenarios of those families/set-ups (the name before ``/``).
    Dropped (ambiguous) runs are left out unless ``keep_dropped`` (then labeled with
    their verified kinds and ``note`` starting with ``dropped``). ``report``, if given,
    receives the counts: trained, kept, relabeled, dropped and the reasons.
    """
    scs: list[Scenario] = scenarios(quick=quick)
    if families is not None:
        fams = set(families)
        scs = [s for s in scs if s.name.split("/")[0] in fams]
    if limit is not None and limit < len(scs):
        stride = len(scs) / limit
        scs = [scs[int(i * stride)] for i in range(limit)]
    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    results = _train_all([s.params for s in scs], workers)
    if report is not None:
        report["trained"] = len(results)
    floors = group_floors(results, lambda r: _group_key(r.params))
    out: list[LabeledRun] = []
    for i, (sc, res) in enumerate(zip(scs, results)):
        floor = floors.get(_group_key(res.params), math.nan)
        verdict = verify_result(res, floor)
        labels, note = reconcile(sc.labels, verdict)
        if report is not None:
            key = "dropped" if labels is None else ("relabeled" if note else "kept_as_built")
            report[key] = report.get(key, 0) + 1
            if note:
                reasons = report.setdefault("reasons", {})
                short = note.split(" (missing")[0]
                reasons[short] = reasons.get(short, 0) + 1
        if labels is None:
            if not keep_dropped:
                continue
            labels, note = verdict.kinds, "dropped " + note
        p = sc.params
        rid = f"real-{i:04d}-{sc.name.replace('/', '-')}-lr{p.lr:g}-s{p.seed}"
        out.append(
            LabeledRun(
                run=result_to_run(res, rid),
                labels=labels,
                direction=expected_direction(labels),
                lr=p.lr,
                part="real",
                scenario=sc.name,
                constructed=sc.labels,
                params=p,
                note=note,
                stats=dict(verdict.stats),
                result=res,
            )
        )
    return out


# ---------------------------------------------------------------------------
# synthetic part
# ---------------------------------------------------------------------------


def build_synthetic_indep(
    quick: bool = False, limit: int | None = None, seed: int = 0
) -> list[LabeledRun]:
    """Seeded synthetic curves with known truth from this package (:mod:`.synthetic`)."""
    items = _synthetic.generate(n_per_kind=6 if quick else 20, seed=seed)
    if limit is not None:
        items = items[:limit]  # the generator cycles through every kind/variant
    return [
        LabeledRun(
            run=it.run,
            labels=it.labels,
            direction=expected_direction(it.labels),
            lr=it.lr,
            part="synth-indep",
            scenario=it.scenario,
            constructed=it.labels,
        )
        for it in items
    ]


def build_synthetic(
    quick: bool = False, limit: int | None = None, seed: int = 0
) -> list[LabeledRun]:
    """The synthetic part: ``benchmarks.curves``'s generators when present (see
    :mod:`.analyzer_synthetic`), else this package's own generator (part ``synthetic``)."""
    if not _asyn.available():
        out = build_synthetic_indep(quick=quick, limit=limit, seed=seed)
        for r in out:
            r.part = "synthetic"
        return out
    items = _asyn.generate(n_seeds=2 if quick else 6, seed=seed)
    if limit is not None:
        items = items[:limit]
    return [
        LabeledRun(
            run=it.run,
            labels=it.labels,
            direction=it.direction,
            lr=it.lr,
            part="synthetic",
            scenario=it.scenario,
            constructed=it.labels,
        )
        for it in items
    ]


# ---------------------------------------------------------------------------
# both
# ---------------------------------------------------------------------------


PARTS: tuple[str, ...] = ("real", "synthetic", "synth-indep")


def build_corpus(
    out_dir: str | Path | None = None,
    quick: bool = False,
    *,
    parts: Iterable[str] = PARTS,
    limit: int | None = None,
    workers: int | None = None,
    report: dict[str, Any] | None = None,
) -> list[LabeledRun]:
    """The labeled corpus: ``real``, then ``synthetic`` (``benchmarks.curves``), then
    ``synth-indep`` (this package's generator; only when ``benchmarks.curves`` exists,
    else it *is* the ``synthetic`` part). Saved under ``out_dir`` if given."""
    parts = tuple(parts)
    bad = [p for p in parts if p not in PARTS]
    if bad:
        raise ValueError(f"unknown corpus part(s) {bad}; use some of {PARTS}")
    corpus: list[LabeledRun] = []
    if "real" in parts:
        corpus += build_real(quick=quick, limit=limit, workers=workers, report=report)
    if "synthetic" in parts:
        corpus += build_synthetic(quick=quick, limit=limit)
    if "synth-indep" in parts and _asyn.available():
        corpus += build_synthetic_indep(quick=quick, limit=limit)
    if out_dir is not None:
        save_corpus(corpus, out_dir)
    return corpus


def save_corpus(corpus: list[LabeledRun], out_dir: str | Path) -> Path:
    """Write ``<id>.csv`` (columns metric, step, value, wall_time) per run and ``labels.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for lr in corpus:
        wide = lr.run.frame.pivot(index="step", columns="metric", values="value").reset_index()
        wide.to_csv(out / f"{lr.id}.csv", index=False, float_format="%.9g")
    (out / "labels.json").write_text(json.dumps([lr.to_json() for lr in corpus], indent=1))
    return out


#: Scenarios whose pathology covers only part of the run.
MIXED_SCENARIOS: tuple[str, ...] = (
    "high-drop-early",
    "diverge-warmup",
    "collapse",
    "mid-long",
    "early-",
    "late-",
    "-partial",
)


def is_mixed(r: LabeledRun) -> bool:
    """Several kinds at once, or a pathology confined to part of the run."""
    return len(r.labels) > 1 or any(m in r.scenario for m in MIXED_SCENARIOS)


def label_counts(corpus: list[LabeledRun]) -> dict[str, int]:
    """Runs per kind (a run with several kinds counts in each), healthy, and mixed."""
    c = {k: 0 for k in ("runs", "healthy", *KINDS, "mixed")}
    for r in corpus:
        c["runs"] += 1
        if not r.labels:
            c["healthy"] += 1
        for k in r.labels:
            c[k] += 1
        if r.labels and is_mixed(r):
            c["mixed"] += 1
    return c
