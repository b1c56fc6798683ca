"""Corpus 2 in the detection benchmark: rows per family split and the closed loop.

Rows ``corpus2 tune`` / ``corpus2 held-out`` score every method on the kept runs of each
side of the fixed family split (:mod:`benchmarks.corpus2.families`). The closed loop
retrains each pathological run with LR Tempo's suggestion, with the textbook fix (x0.1
for a too-large LR, x10 for a too-small one, stop at the val minimum for overfitting)
and with LR Tempo's suggestion given the team's sweep (below), each through
:func:`benchmarks.detection.apply_suggestion` on the run's :class:`~benchmarks.corpus2.Spec` (same setup, seed and steps), and reports per
split and group: retrained, pathology gone (curve verification against the run's group
floor), final val improved, and *reached good* — the final val within 10 % of the final
val of the setup's good-LR run (``final <= 1.1 x good``).

A third retrain, ``+ sweep``, gives each run the evidence a team usually has: the run is
analyzed together with its setup's *team sweep* (:data:`TEAM_SWEEP`: the seed-0 runs at
every decade, offset half a decade from the setup's good LR, so the good-LR run is never
in it and its best run is half a decade off), and its suggestion is the one
:func:`analyzer.sweeps.reconcile` gives it there (its docstring lists how a sweep
changes a run's suggestion).
A small-subset (overfitting) run is no member of its setup's full-data sweep and keeps
its own suggestion; so does a run the analyzer fails on (the error is kept). A run
whose suggestion the sweep leaves unchanged keeps the ``LR Tempo`` row's retrain
(training is seeded).
"""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from analyzer.findings import Suggestion
from analyzer.sweeps import find_sweeps, sweep_suggestion

from .corpus import LabeledRun
from .corpus2 import DATA_DIR, result_to_run, train
from .corpus2.build import final_val, verify_curves
from .detection import apply_suggestion, suggestion_for
from .sweeps import Analyzer, load_setups, same_group

SPLIT_ROWS: dict[str, str] = {"tune": "corpus2 tune", "heldout": "corpus2 held-out"}
REACH_TOL = 0.10
GROUPS: tuple[str, ...] = (
    "all",
    "LR too large",
    "LR too small",
    "oscillation",
    "stagnation",
    "overfitting",
    "divergence",
)


def split_of(lr: LabeledRun) -> str:
    return lr.run.meta.tags.get("split", "")


def _group_hits(labels: list[str], direction: str) -> list[str]:
    g = ["all", *labels]
    if direction == "decrease":
        g.append("LR too large")
    elif direction == "increase":
        g.append("LR too small")
    return g


#: The team sweep of the ``+ sweep`` retrain: half-decade lattice indices ``j`` (LR =
#: good LR x 10**(j/2)) at every decade, none at the good LR: x3e-3 ... x3e2.
TEAM_SWEEP: tuple[int, ...] = (-5, -3, -1, 1, 3, 5)


def team_sweep_suggestions(
    runs: list[LabeledRun], data_dir: Any = DATA_DIR
) -> dict[str, Suggestion | Exception | None]:
    """Run id -> the run's suggestion when analyzed with its setup's team sweep
    (:data:`TEAM_SWEEP` plus the run itself), through :func:`analyzer.sweeps.reconcile`
    (a small-subset run: its own suggestion; the analyzer's exception when it failed)."""
    setups = {st.key: st for st in load_setups(data_dir)}
    an = Analyzer()
    out: dict[str, Suggestion | Exception | None] = {}
    for lr in runs:
        key = f"{lr.params.family}/{lr.params.setup}"  # type: ignore[union-attr]
        team = [] if lr.params.n_train is not None else _team(setups[key], an, key)  # type: ignore[union-attr]
        try:
            own = same_group(an.point(lr.id, lr.result), key)  # type: ignore[arg-type]
        except Exception as exc:
            out[lr.id] = exc
            continue
        pts = [own, *(p for p in team if p.id != lr.id)]
        out[lr.id] = sweep_suggestion(an.analysis(lr.id), find_sweeps(pts) if team else [])
    return out


def _team(st: Any, an: Analyzer, key: str) -> list[Any]:
    """The sweep points of a setup's :data:`TEAM_SWEEP` runs the analyzer could read."""
    pts = []
    for j in TEAM_SWEEP:
        if 0 not in st.runs.get(j, {}):
            continue
        try:
            pts.append(same_group(an.point(*st.runs[j][0]), key))
        except Exception:
            continue
    return pts


def _one(args: tuple[LabeledRun, str, float, Suggestion | Exception | None]) -> dict[str, Any]:
    lr, mode, good_final, given = args
    row: dict[str, Any] = {
        "id": lr.id,
        "split": split_of(lr),
        "labels": sorted(lr.labels),
        "direction": lr.direction,
        "action": None,
        "retrained": False,
        "error": None,
        "good_final_val": good_final,
    }
    if isinstance(given, Exception):
        row["error"] = f"analyze_run on the run: {type(given).__name__}: {given}"
        return row
    if mode == "given":
        s = given
    else:
        s, row["error"] = suggestion_for(lr, mode)
    if row["error"]:
        return row
    row["action"] = s.action if s else None
    if s is not None:
        row["factor"] = s.factor
    q = apply_suggestion(lr, s)
    if q is None:
        return row
    res = train(q)
    verdict = verify_curves(res, float(lr.stats.get("floor", math.nan)))
    before, after = final_val(lr.result), final_val(res)  # type: ignore[arg-type]
    row.update(
        retrained=True,
        old_lr=lr.params.lr,
        new_lr=q.lr,  # type: ignore[union-attr]
        new_schedule=q.schedule,
        stop_step=q.stop_step,
        verified_after=sorted(verdict.kinds),
        ambiguous_after=sorted(verdict.ambiguous),
        fixed_verified=not (lr.labels & verdict.kinds),
        val_before=before,
        val_after=after,
        val_improved=bool(after < before),
        reached_good=bool(after <= (1 + REACH_TOL) * good_final),
    )
    return row


def _retrain_all(
    args: list[tuple[LabeledRun, str, float, Suggestion | Exception | None]], workers: int
) -> list[dict[str, Any]]:
    if workers > 1 and len(args) >= 8:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            return list(ex.map(_one, args, chunksize=2))
    return [_one(a) for a in args]


def closed_loop(
    corpus: list[LabeledRun],
    good_final: dict[str, float],
    workers: int = 1,
) -> dict[str, Any]:
    """LR Tempo's, the textbook and LR Tempo's with the team sweep retrains of corpus 2's
    pathological runs."""
    todo = [lr for lr in corpus if lr.labels and lr.params is not None]
    out: dict[str, Any] = {}
    for name, mode in (("LR Tempo", "lrtempo"), ("textbook", "reference")):
        rows = _retrain_all([(lr, mode, good_final[lr.id], None) for lr in todo], workers)
        out[name] = {"summary": summarize(rows), "rows": rows}
    given = team_sweep_suggestions(todo)
    own = {r["id"]: r for r in out["LR Tempo"]["rows"]}
    changed = [lr for lr in todo if _differs(given[lr.id], own[lr.id])]
    fresh = _retrain_all(
        [(lr, "given", good_final[lr.id], given[lr.id]) for lr in changed], workers
    )
    by_id = {**own, **{r["id"]: r for r in fresh}}
    rows = [by_id[lr.id] for lr in todo]
    out["+ sweep"] = {"summary": summarize(rows), "rows": rows, "resized": len(changed)}
    return out


def _differs(s: Suggestion | Exception | None, own_row: dict[str, Any]) -> bool:
    """Whether the sweep changed a run's suggestion (its action or its factor)."""
    if isinstance(s, Exception):
        return own_row.get("error") is None
    action = s.action if s is not None else None
    factor = s.factor if s is not None else None
    return action != own_row["action"] or factor != own_row.get("factor")


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, int]]]:
    """Counts per split and group."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for split in SPLIT_ROWS:
        per: dict[str, dict[str, int]] = {}
        for g in GROUPS:
            sel = [
                r
                for r in rows
                if r["split"] == split and g in _group_hits(r["labels"], r["direction"])
            ]
            re = [r for r in sel if r["retrained"]]
            per[g] = {
                "runs": len(sel),
                "retrained": len(re),
                "gone": sum(r["fixed_verified"] for r in re),
                "improved": sum(r["val_improved"] for r in re),
                "both": sum(r["fixed_verified"] and r["val_improved"] for r in re),
                "reached_good": sum(r["reached_good"] for r in re),
                "errors": sum(1 for r in sel if r.get("error")),
            }
        out[split] = per
    return out


def format_closed_loop(cl: dict[str, Any]) -> str:
    lines = [
        (
            "Closed loop on corpus 2 (pathological runs retrained once, same setup/seed/steps; "
            "textbook = x0.1 too large, x10 too small, stop at val min; reached good = final "
            "val <= 1.1 x the setup's good-LR run):"
        ),
        (
            f"  {'by':<9} {'split':<17} {'group':<13} {'runs':>5} {'retrained':>9} "
            f"{'gone':>5} {'improved':>8} {'both':>5} {'reached':>7} {'share':>6}"
        ),
    ]
    for split, row_name in SPLIT_ROWS.items():
        for who, block in cl.items():
            for g, c in block["summary"][split].items():
                if not c["runs"]:
                    continue
                err = f"  ({c['errors']} analyzer errors)" if c["errors"] else ""
                lines.append(
                    f"  {who:<9} {row_name:<17} {g:<13} {c['runs']:>5} {c['retrained']:>9} "
                    f"{c['gone']:>5} {c['improved']:>8} {c['both']:>5} {c['reached_good']:>7} "
                    f"{c['reached_good'] / max(c['runs'], 1):>6.0%}{err}"
                )
    for who, block in cl.items():
        actions: dict[str, int] = {}
        for r in block["rows"]:
            actions[str(r["action"])] = actions.get(str(r["action"]), 0) + 1
        lines.append(
            f"  {who:<9} actions: " + ", ".join(f"{a} {n}" for a, n in sorted(actions.items()))
        )
    return "\n".join(lines)


def good_finals(corpus: list[LabeledRun], manifest: dict[str, Any]) -> dict[str, float]:
    """Run id -> final val of its setup's good-LR run."""
    return {
        lr.id: float(
            manifest["setups"][f"{lr.params.family}/{lr.params.setup}"]["good_final_val"]  # type: ignore[union-attr]
        )
        for lr in corpus
    }


def retrain_run(lr: LabeledRun, **changes: Any):
    """Retrain a corpus-2 run with changes (``lr``, ``schedule``, ``stop_step``, ``warmup``)."""
    return train(lr.params.with_(**changes))  # type: ignore[union-attr]


__all__ = [
    "GROUPS",
    "SPLIT_ROWS",
    "closed_loop",
    "format_closed_loop",
    "good_finals",
    "result_to_run",
    "retrain_run",
    "split_of",
    "summarize",
]
