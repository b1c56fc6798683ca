"""LR sweeps: runs of one setup at several LRs → a recommended LR (pure, no printing).

    sweeps_of(runs, analyses, group_by=None) -> list[Sweep]
    sweep_point(run, analysis, group_by=None) -> SweepPoint  # what a sweep needs of a run
    find_sweeps(points) -> list[Sweep]
    reconcile(analyses, sweeps) -> list[RunAnalysis]  # per-run suggestions vs the sweep

Grouping
--------
A run's group is its MLflow experiment (store + experiment name), else the folder that
holds its file (the parent of ``meta.location``); with ``group_by`` a run that has that
parameter is grouped by its value instead. Inside a group, runs with the same train/val
metric names (and the same LR metric name, if any: one training script logs its LR
under one name) and a known LR are candidates (a run that blew up before its first
evaluation, so has no val loss, joins as a failed point). The LR is the run parameter (``lr``,
``learning_rate``, …: :func:`analyzer.lr_priors.param_lr`), else the peak of the logged LR
series, else an LR written in the run name (``lr3e-4``, ``lr_0.001``, ``lr=1e-3``).
Range tests are never sweep members.

Other parameters that differ split the group: a *setup* parameter (one whose value is
shared by several runs and is not fixed by the LR — batch size, optimizer, schedule, …)
makes one sweep per value combination; seeds (``seed``, ``random_seed``, …) and labels
that only restate the LR or name the run (``output_dir=…/lr1e-3``) do not split and are
listed in ``varied``. A sweep needs ≥ 3 runs at ≥ 2 distinct LRs.

Recommendation
--------------
Per sweep, by :func:`analyzer.sweep_recommend.recommend` (the metric, the stability
edge, the fitted curve, the recommended LR and range, the rationale; see that module).

Batch size: sibling sweeps that differ only in batch size get ``batch_scaling``: the
best LR per batch size and the fitted exponent k of ``lr ∝ batch^k``, named
``linear`` (k nearer 1) or ``square-root`` (k nearer 0.5).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import PurePath
from typing import Any

import numpy as np

from .analysis import RunAnalysis
from .findings import Action, Suggestion
from .lr_priors import base_lr, param_lr, round_lr
from .model import Run
from .roles import role_arrays
from .stats import rolling_median
from .sweep_model import Sweep, SweepPoint, _fmt, _r, _varied  # noqa: F401
from .sweep_recommend import (  # noqa: F401  (re-exported: the public names stay here)
    EDGE_MARGIN,
    FIT_SPAN,
    GAP_STEP,
    MIN_GAP,
    RANGE_TOL,
    UNSTABLE,
    Fit,
    fit_curve,
    recommend,
    stability_edge,
    toward_gap,
)

MIN_RUNS, MIN_LRS = 3, 2
SEED_KEYS = ("seed", "random_seed", "rng_seed", "run_seed", "data_seed", "trial")
BATCH_KEYS = (
    "batch_size",
    "batch-size",
    "batchsize",
    "bs",
    "per_device_train_batch_size",
    "train_batch_size",
    "global_batch_size",
)
#: ``lr3e-4``, ``lr_0.001``, ``lr=1e-3``, and ``lr7e_5`` (a file-name-safe 7e-5: the
#: exponent's minus written as ``_``).
_NAME_LR = re.compile(r"(?<![a-z])lr[_=:-]?([0-9]*\.?[0-9]+(?:e[-+_]?[0-9]+)?)", re.IGNORECASE)


# --------------------------------------------------------------------------- one run


def name_lr(name: str) -> float | None:
    """An LR written in a run name (``lr3e-4``, ``lr_0.001``, ``lr=1e-3``, ``lr7e_5``)."""
    m = _NAME_LR.search(name or "")
    if not m:
        return None
    try:
        v = float(re.sub(r"[eE]_", "e-", m.group(1)))
    except ValueError:
        return None
    return v if math.isfinite(v) and 0 < v < 100 else None


def run_group(run_meta: Any, group_by: str | None = None) -> str:
    """The group of a run: ``PARAM=value`` with ``group_by``, else the MLflow experiment
    (store + name), else the folder of its file."""
    if group_by and group_by in run_meta.params:
        return f"{group_by}={run_meta.params[group_by]}"
    if run_meta.source == "mlflow":
        store = run_meta.location.split("#", 1)[0].rstrip("/")
        return f"{store} · {run_meta.experiment or 'experiment ?'}"
    return str(PurePath(run_meta.location).parent)


def final_loss(values: np.ndarray) -> float:
    """Median of the last tenth of a rolling median (window ≈ n/20); inf if not finite."""
    v = np.asarray(values, float)
    if len(v) == 0 or not np.isfinite(v[-1]):
        return math.inf
    v = v[np.isfinite(v)]
    sm = rolling_median(v, max(3, len(v) // 20))
    return float(np.median(sm[-max(1, len(v) // 10) :]))


def sweep_point(run: Run, analysis: RunAnalysis, group_by: str | None = None) -> SweepPoint:
    """What a sweep needs of one run (small and picklable: fleet workers build it)."""
    roles, meta = analysis.roles, run.meta
    lr_series = role_arrays(run, roles.lr)
    lr, src = param_lr(meta.params), "param"
    if lr is None:
        lr, src = base_lr(lr_series, None), "series"
    if lr is None:
        lr, src = name_lr(meta.name), "name"
    if lr is None:
        src = ""
    val, train = role_arrays(run, roles.val_loss), role_arrays(run, roles.train_loss)
    if val is not None:
        metric, value = "val_loss", final_loss(val[1])
    elif train is not None:
        metric, value = "train_loss", final_loss(train[1])
    else:
        metric, value = "", math.inf
    return SweepPoint(
        id=meta.id,
        name=meta.name,
        group=run_group(meta, group_by),
        lr=lr,
        lr_from=src,
        metric=metric,
        value=value,
        status=analysis.status,
        metrics_key=(roles.train_loss, roles.val_loss, roles.lr),
        params=dict(meta.params),
        range_test=getattr(analysis, "lr_range_test", None) is not None,
    )


# --------------------------------------------------------------------------- grouping


def _is_lr_key(key: str) -> bool:
    return param_lr({key: "1"}) is not None


def _is_seed_key(key: str) -> bool:
    k = key.lower().rsplit(".", 1)[-1].rsplit("/", 1)[-1]
    return k in SEED_KEYS or k.endswith("_seed")


def _setup_params(points: Sequence[SweepPoint]) -> list[str]:
    """Parameters that split a group: they differ, are not LR or seed, some value is
    shared by ≥ 2 runs, and the LR does not fix them (not a label restating the LR)."""
    keys = sorted({k for p in points for k in p.params})
    out = []
    for k in keys:
        vals = [p.params.get(k) for p in points]
        if len(set(vals)) < 2 or _is_lr_key(k) or _is_seed_key(k):
            continue
        if max(vals.count(v) for v in set(vals)) < 2:
            continue  # a label per run (name, output dir), not a setup
        by_lr: dict[float | None, set[str | None]] = defaultdict(set)
        for p, v in zip(points, vals):
            by_lr[p.lr].add(v)
        restates_lr = all(len(s) == 1 for s in by_lr.values()) and len(set(vals)) == len(by_lr)
        if not restates_lr:
            out.append(k)
    return out


def _candidates(points: Sequence[SweepPoint]) -> dict[tuple[Any, ...], list[SweepPoint]]:
    """Points by (group, metric names, metric kind), range tests and unknown LRs left out.

    A run that blew up before its first evaluation has no val loss: it joins the val
    sweep of its group (same train metric) as a failed point."""
    by: dict[tuple[Any, ...], list[SweepPoint]] = defaultdict(list)
    for p in points:
        if p.lr is not None and not p.range_test and p.metric:
            by[(p.group, p.metrics_key, p.metric)].append(p)
    for key in [k for k in by if k[2] == "train_loss"]:
        group, (train, *_), _ = key
        homes = [k for k in by if k[0] == group and k[2] == "val_loss" and k[1][0] == train]
        if len(homes) == 1:
            failed = [p for p in by[key] if not math.isfinite(p.value)]
            by[homes[0]] += failed
            by[key] = [p for p in by[key] if math.isfinite(p.value)]
    return {k: v for k, v in by.items() if v}


def find_sweeps(points: Sequence[SweepPoint]) -> list[Sweep]:
    """Every sweep among the points (grouping is in each point's ``group``)."""
    sweeps: list[Sweep] = []
    for (group, _, metric), pts in _candidates(points).items():
        split_keys = _setup_params(pts)
        parts: dict[tuple[str, ...], list[SweepPoint]] = defaultdict(list)
        for p in pts:
            parts[tuple(str(p.params.get(k, "")) for k in split_keys)].append(p)
        for values, members in parts.items():
            if len(members) >= MIN_RUNS and len({p.lr for p in members}) >= MIN_LRS:
                split = dict(zip(split_keys, values))
                sweeps.append(recommend(group, metric, members, split))
    return _batch_scaling(sweeps)


# --------------------------------------------------------------------------- batch size


def _batch_key(split: Mapping[str, str]) -> str | None:
    for k in split:
        if k.lower().rsplit(".", 1)[-1].rsplit("/", 1)[-1] in BATCH_KEYS:
            return k
    return None


def _batch_scaling(sweeps: list[Sweep]) -> list[Sweep]:
    """Attach ``batch_scaling`` to sibling sweeps that differ only in batch size."""
    families: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for i, s in enumerate(sweeps):
        key = _batch_key(s.split)
        if key is not None and s.recommended_lr is not None:
            rest = tuple(sorted((k, v) for k, v in s.split.items() if k != key))
            families[(s.group, s.metric, key, rest)].append(i)
    out = list(sweeps)
    for (_, _, key, _), idx in families.items():
        try:
            pairs = sorted(
                (float(sweeps[i].split[key]), float(sweeps[i].recommended_lr or 0)) for i in idx
            )
        except ValueError:
            continue
        if len({b for b, _ in pairs}) < 2:
            continue
        info = batch_scaling(pairs)
        for i in idx:
            out[i] = replace(out[i], batch_scaling={"param": key, **info})
    return out


def batch_scaling(pairs: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """Exponent k of ``lr ∝ batch^k`` (least squares through the smallest batch) and the
    rule it is nearer to: ``linear`` (k = 1) or ``square-root`` (k = 0.5)."""
    b0, l0 = pairs[0]
    xb = np.log([b / b0 for b, _ in pairs[1:]])
    yl = np.log([lr / l0 for _, lr in pairs[1:]])
    k = float((xb * yl).sum() / (xb * xb).sum())
    rule = "linear" if abs(k - 1) < abs(k - 0.5) else "square-root"
    return {
        "best_lr_by_batch_size": {f"{b:g}": _r(lr) for b, lr in pairs},
        "exponent": round(k, 2),
        "rule": rule,
    }


# --------------------------------------------------------------------------- reconcile


def reconcile(analyses: Sequence[RunAnalysis], sweeps: Sequence[Sweep]) -> list[RunAnalysis]:
    """The analyses with the suggestion of each run given the sweeps of its analysis set
    — the one suggestion the Review grid, the Run page, the Sweeps page, the reports, the
    MLflow tags and the JSON all show: a run's own, unless its LR change would land at or
    above its sweep's stability edge; then the sweep's recommended LR instead (an
    increase that would then not be one keeps the LR). Below the edge, a change in the
    direction of a recommendation that lies inside the LRs tried is sized by it (the new LR
    is the recommended one, :func:`_sized_by_sweep`); a warm-up for a run at or above the
    edge becomes a decrease to the recommended LR, and below it a warm-up's cut of the peak
    is sized by the sweep too (:func:`_warmup_in_sweep`); and a run whose curves show no
    problem but which ended clearly behind its sweep at an LR outside the recommended
    range is moved to the recommended LR (:func:`_behind_its_sweep`).
    Idempotent; an analysis outside every sweep is returned as it is."""
    if not sweeps:
        return list(analyses)
    by_run = {p.id: s for s in sweeps for p in s.points}
    return [_reconciled(a, by_run.get(a.meta.id)) for a in analyses]


def sweep_suggestion(analysis: RunAnalysis, sweeps: Sequence[Sweep]) -> Suggestion | None:
    """The suggestion of one run given the sweeps of its analysis set
    (:func:`reconcile` of that run)."""
    return reconcile([analysis], sweeps)[0].suggestion


def _reconciled(a: RunAnalysis, sweep: Sweep | None) -> RunAnalysis:
    s = a.suggestion
    if sweep is None or s is None:
        return a
    if s.action == "add_warmup":
        return _warmup_in_sweep(a, s, sweep)
    if s.action == "keep_lr" and a.status == "healthy" and "sweep" not in s.extra:
        return _behind_its_sweep(a, s, sweep)
    if s.action not in ("increase_lr", "decrease_lr") or s.suggested_lr is None:
        return a
    if sweep.stability_edge_lr is None or s.suggested_lr < sweep.stability_edge_lr:
        return _sized_by_sweep(a, s, sweep)
    edge, rec, cur = sweep.stability_edge_lr, sweep.recommended_lr, s.current_lr
    if cur is None or (rec is None and s.action == "decrease_lr"):
        return a
    why = (
        f" The sweep {sweep.id} shows {_fmt(edge)} and above oscillating or diverging; "
        f"it recommends {_fmt(rec)}."
    )
    moved = _moved_to(a, s, sweep, rec, why)
    if moved is not None:
        return moved
    new = Suggestion(
        "keep_lr",
        current_lr=cur,
        suggested_lr=cur,
        early_stop_step=s.early_stop_step,
        rationale=s.rationale + why,
        extra={**dict(s.extra), "sweep": sweep.id},
    )
    return replace(a, suggestion=new)


def _warmup_in_sweep(a: RunAnalysis, s: Suggestion, sweep: Sweep) -> RunAnalysis:
    """A warm-up suggested for a run in a sweep. When the run's peak LR — after the
    warm-up's own cut, if it has one — is at or above the sweep's stability edge, a
    decrease to the sweep's recommended LR: the team's runs show that LR itself unstable,
    and a warm-up only calms the first steps. Below the edge, a warm-up that also lowers
    the peak has that cut sized by the sweep like any decrease (:func:`_sized_by_sweep`)."""
    edge, rec = sweep.stability_edge_lr, sweep.recommended_lr
    peak = s.suggested_lr or s.current_lr
    if edge is not None and rec is not None and peak is not None and peak >= edge > rec:
        why = (
            f" The sweep {sweep.id} shows {_fmt(edge)} and above oscillating or diverging, "
            f"this run's LR among them: a warm-up alone leaves it there; it recommends "
            f"{_fmt(rec)}."
        )
        extra = {k: v for k, v in s.extra.items() if k != "warmup_steps"}
        moved = _moved_to(a, replace(s, action="decrease_lr", extra=extra), sweep, rec, why)
        return a if moved is None else moved
    if s.factor is not None and s.factor < 1:
        return _sized_by_sweep(a, s, sweep)
    return a


def _behind_its_sweep(a: RunAnalysis, s: Suggestion, sweep: Sweep) -> RunAnalysis:
    """A run whose curves show no problem, but whose sweep shows it behind: its LR lies
    outside the sweep's recommended range (inside what was tried) and its final loss is
    more than ``RANGE_TOL`` above the sweep's best — the LR change is the move to the
    recommended LR (the run alone could not tell that a better loss was within reach)."""
    rec, rng = sweep.recommended_lr, sweep.recommended_range
    me = next((p for p in sweep.points if p.id == a.meta.id), None)
    finite = [p.value for p in sweep.points if math.isfinite(p.value)]
    if sweep.at_edge is not None or rec is None or rng is None or me is None or not finite:
        return a
    lr, best = me.lr, min(finite)
    if lr is None or rng[0] / 1.01 <= lr <= rng[1] * 1.01:
        return a
    if not best > 0 or not me.value > (1 + RANGE_TOL) * best:  # a share of a positive loss
        return a
    action: Action = "increase_lr" if rec > lr else "decrease_lr"
    why = (
        f"No problem shows in this run's curves, but its sweep {sweep.id} reached "
        f"{best:.3g} where this run ended at {me.value:.3g}, and recommends "
        f"{_fmt(rec)}: move there."
    )
    base = replace(s, action=action, current_lr=s.current_lr or lr, rationale="")
    moved = _moved_to(a, base, sweep, rec, why)
    return a if moved is None else moved


def _sized_by_sweep(a: RunAnalysis, s: Suggestion, sweep: Sweep) -> RunAnalysis:
    """A run's LR change sized by its sweep: when the sweep's recommendation lies inside
    what was tried (not at its edge) and in the direction the run's own evidence says,
    the new LR is the sweep's recommended one — the team's runs measured how far to go,
    where one run only shows which way."""
    rec = sweep.recommended_lr
    if sweep.at_edge is not None:
        return a
    said = f" (this run alone said ×{s.factor:g})" if s.factor is not None else ""
    why = f" Sized by the sweep {sweep.id}: its runs put the best LR at {_fmt(rec)}{said}."
    moved = _moved_to(a, s, sweep, rec, why)
    if moved is None or moved.suggestion is None or moved.suggestion.factor == s.factor:
        return a
    return moved


def _moved_to(
    a: RunAnalysis, s: Suggestion, sweep: Sweep, lr: float | None, why: str
) -> RunAnalysis | None:
    """The analysis with the run's LR change (same action) taken to ``lr``, or None when
    that would be no change, or a change against the action's direction."""
    cur = s.current_lr
    if lr is None or cur is None or not cur > 0:
        return None
    factor = float(f"{lr / cur:.2g}")
    if factor == 1 or (factor > 1) != (s.action == "increase_lr"):
        return None
    new = Suggestion(
        s.action,
        current_lr=cur,
        suggested_lr=round_lr(cur * factor),
        factor=factor,
        early_stop_step=s.early_stop_step,
        rationale=s.rationale + why,
        extra={**dict(s.extra), "sweep": sweep.id},
    )
    return replace(a, suggestion=new)


def sweeps_of(
    runs: Sequence[Run], analyses: Sequence[RunAnalysis], group_by: str | None = None
) -> list[Sweep]:
    """Sweeps among analyzed runs (matched by run id)."""
    by_id = {r.meta.id: r for r in runs}
    pts = [sweep_point(by_id[a.meta.id], a, group_by) for a in analyses if a.meta.id in by_id]
    return find_sweeps(pts)
