"""Detection benchmark: LR Tempo vs baselines on the labeled corpus, plus the closed loop.

    python -m benchmarks.detection [--quick] [--limit N] [--json FILE] [--save-corpus DIR]
                                   [--parts real,synthetic,synth-indep,corpus2]

Prints one table: for LR Tempo and each baseline (:mod:`benchmarks.baselines`), on the
real-training corpus (``real``), the synthetic corpus from ``benchmarks.curves``
(``synthetic``), the independent synthetic generator (``synth-indep``) and all combined —

- per kind (oscillation, stagnation, overfitting, divergence): precision / recall / F1
  (a run counts once per kind; a method "detects" a kind when it reports it at
  severity warning/critical — LR Tempo's ``info`` findings do not count);
- macro-F1: mean F1 over the four kinds (F1 = 0 for a kind a method never reports);
- FA: false-alarm rate, the share of healthy-labeled runs with any detection;
- dir(all): LR-direction accuracy over all runs; dir(LR): over runs whose label calls
  for an LR change (divergence/oscillation → decrease, stagnation → increase, except
  ``benchmarks.curves``'s noise-floor plateau under a large LR → decrease);
  healthy and overfitting runs expect ``none``.

LR Tempo's direction comes from ``suggestion.action`` (rule, :data:`ACTION_DIRECTION`):
``decrease_lr``/``decay_lr``/``add_warmup`` → decrease (each lowers the LR where the
problem is), ``increase_lr``/``restore_lr`` → increase, ``keep_lr``/``early_stop``/
``check_data``/no suggestion → none.

Closed loop (real runs with a pathology): retrain with LR Tempo's suggestion and check
whether the pathology is gone (by the corpus' curve verification and by ``analyze_run``
on the retrained run) and whether the final validation loss improved; ``both`` counts
runs with the pathology gone (curve verification) *and* a better final val loss, and
``share`` is ``both`` over all pathological runs (a run not retrained counts as a
failure). How a suggestion
becomes a retrain (rule, :func:`apply_suggestion`): ``decrease_lr``/``increase_lr`` scale
the base LR by ``factor`` (else ``suggested_lr / current_lr``; else ``suggested_lr``
becomes the base LR), keeping the schedule; ``early_stop`` stops training at
``early_stop_step``; ``decay_lr`` switches a constant schedule to warmup+cosine
(and applies the factor, if any); ``add_warmup`` switches to warmup+cosine (and
applies the factor of a warm-up that also lowers the peak);
``restore_lr`` replaces a collapsing schedule by a constant LR (at ``suggested_lr`` when
given). ``keep_lr``/``check_data``/no suggestion: no retrain (counted as not fixed).

Corpus 2 (:mod:`benchmarks.corpus2`: real PyTorch runs, labels by construction, split by
family) gets its own table with rows ``corpus2 tune`` and ``corpus2 held-out`` (the
held-out families were never used to tune anything: those are the figures that count),
and its own closed loop per split: every pathological run is retrained (same setup,
seed, steps) once with LR Tempo's suggestion and once with the textbook fix, through
:func:`apply_suggestion` on the run's corpus-2 spec; ``reached good`` counts retrained
runs whose final val loss is within 10 % of the final val loss of the setup's good-LR
run (``final <= 1.1 x good``, a run not retrained counts as not reached). Corpus 2 is
included by default when its cache exists (``--parts`` chooses).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from analyzer.analysis import analyze_run
from analyzer.model import Run

from . import corpus2 as _c2
from .baselines import BASELINES, Detection
from .corpus import (
    KINDS,
    PARTS,
    LabeledRun,
    build_corpus,
    label_counts,
    result_to_run,
    save_corpus,
    train,
    verify_result,
)

ACTION_DIRECTION: dict[str, str] = {
    "decrease_lr": "decrease",
    "decay_lr": "decrease",
    "add_warmup": "decrease",
    "increase_lr": "increase",
    "restore_lr": "increase",
    "keep_lr": "none",
    "early_stop": "none",
    "check_data": "none",
}

LRTEMPO = "LR Tempo"
METHODS: tuple[str, ...] = (LRTEMPO, *BASELINES)


def _analyze(run: Run):
    """``analyze_run`` with numeric warnings silenced (diverged runs overflow on purpose)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return analyze_run(run)


def lrtempo_detect(run: Run) -> Detection:
    """LR Tempo through the analysis seam: warning/critical kinds + suggestion direction."""
    a = _analyze(run)
    kinds = frozenset(f.kind for f in a.findings if f.severity != "info")
    s = a.suggestion
    direction = ACTION_DIRECTION.get(s.action, "none") if s is not None else "none"
    step = s.early_stop_step if s is not None else None
    return Detection(kinds, direction, step)


DETECTORS: dict[str, Callable[[Run], Detection]] = {LRTEMPO: lrtempo_detect, **BASELINES}


def _detect_all(run: Run) -> dict[str, tuple[list[str], str, str | None]]:
    """Every method on one run; an exception is recorded, never fatal."""
    out: dict[str, tuple[list[str], str, str | None]] = {}
    for name, fn in DETECTORS.items():
        try:
            d = fn(run)
            out[name] = (sorted(d.kinds), d.direction, None)
        except Exception as exc:  # noqa: BLE001 - a crash is a result to report
            out[name] = ([], "none", f"{type(exc).__name__}: {exc}")
    return out


def run_methods(corpus: list[LabeledRun], workers: int = 1) -> list[dict[str, Any]]:
    """Predictions of every method on every run (in corpus order)."""
    runs = [lr.run for lr in corpus]
    if workers > 1 and len(runs) >= 16:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            return list(ex.map(_detect_all, runs, chunksize=8))
    return [_detect_all(r) for r in runs]


# ---------------------------------------------------------------------------
# scores
# ---------------------------------------------------------------------------


@dataclass
class Scores:
    n: int
    per_kind: dict[str, dict[str, float]]  # kind -> precision, recall, f1, support, predicted
    macro_f1: float
    false_alarm: float  # share of healthy runs with any detection
    n_healthy: int
    dir_all: float
    dir_lr: float
    n_dir_lr: int
    errors: int = 0

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else math.nan
    r = tp / (tp + fn) if tp + fn else math.nan
    f = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return p, r, f


def score(corpus: list[LabeledRun], preds: list[dict[str, Any]], method: str) -> Scores:
    per: dict[str, dict[str, float]] = {}
    for k in KINDS:
        tp = fp = fn = 0
        for lr, pr in zip(corpus, preds):
            got = k in pr[method][0]
            want = k in lr.labels
            tp += got and want
            fp += got and not want
            fn += want and not got
        p, r, f = _prf(tp, fp, fn)
        per[k] = {"precision": p, "recall": r, "f1": f, "support": tp + fn, "predicted": tp + fp}
    healthy = [pr for lr, pr in zip(corpus, preds) if not lr.labels]
    fa = sum(1 for pr in healthy if pr[method][0]) / len(healthy) if healthy else math.nan
    dirs = [(lr.direction, pr[method][1]) for lr, pr in zip(corpus, preds)]
    dir_all = sum(a == b for a, b in dirs) / len(dirs) if dirs else math.nan
    lr_dirs = [(a, b) for a, b in dirs if a != "none"]
    dir_lr = sum(a == b for a, b in lr_dirs) / len(lr_dirs) if lr_dirs else math.nan
    return Scores(
        n=len(corpus),
        per_kind=per,
        macro_f1=float(np.mean([per[k]["f1"] for k in KINDS])),
        false_alarm=fa,
        n_healthy=len(healthy),
        dir_all=dir_all,
        dir_lr=dir_lr,
        n_dir_lr=len(lr_dirs),
        errors=sum(1 for pr in preds if pr[method][2]),
    )


# ---------------------------------------------------------------------------
# closed loop
# ---------------------------------------------------------------------------


def apply_suggestion(lr: LabeledRun, suggestion: Any):
    """The retrain parameters for a suggestion (rule in the module docstring), or None."""
    p = lr.params
    if p is None or suggestion is None:
        return None
    a = suggestion.action
    factor = suggestion.factor
    if factor is None and suggestion.suggested_lr and suggestion.current_lr:
        factor = suggestion.suggested_lr / suggestion.current_lr
    if a in ("decrease_lr", "increase_lr"):
        if factor and factor > 0 and math.isfinite(factor):
            return p.with_(lr=p.lr * factor)
        if suggestion.suggested_lr and suggestion.suggested_lr > 0:
            return p.with_(lr=float(suggestion.suggested_lr))
        return None
    if a == "early_stop" and suggestion.early_stop_step:
        return p.with_(stop_step=int(suggestion.early_stop_step))
    if a in ("decay_lr", "add_warmup"):
        q = p if a == "decay_lr" and p.schedule != "constant" else p.with_(schedule="warmup_cosine")
        if factor and factor > 0 and math.isfinite(factor):
            q = q.with_(lr=q.lr * factor)
        return q
    if a == "restore_lr":
        base = suggestion.suggested_lr if suggestion.suggested_lr else p.lr
        return p.with_(schedule="constant", lr=float(base))
    return None


def _final_val(res) -> float:
    v = res.val_loss
    if (
        len(v) == 0
        or not np.isfinite(v[-1])
        or len(res.train_loss)
        and not np.isfinite(res.train_loss[-1])
    ):
        return math.inf
    return float(v[-1])


def reference_suggestion(lr: LabeledRun):
    """The textbook fix the label calls for (calibrates the closed loop, uses the truth).

    divergence/oscillation: LR / 10; stagnation: LR x 10 (a collapsing schedule: a
    constant LR instead); overfitting: stop at the val minimum.
    """
    from analyzer.findings import Suggestion

    if lr.labels & {"divergence", "oscillation"}:
        return Suggestion("decrease_lr", factor=0.1)
    if "stagnation" in lr.labels:
        if lr.params is not None and lr.params.schedule == "collapse":
            return Suggestion("restore_lr")
        return Suggestion("increase_lr", factor=10.0)
    if "overfitting" in lr.labels and lr.result is not None and len(lr.result.val_loss):
        i = int(np.argmin(lr.result.val_loss))
        return Suggestion("early_stop", early_stop_step=int(lr.result.val_step[i]))
    return None


def _try_analyze(run: Run) -> tuple[Any, str | None]:
    try:
        return _analyze(run), None
    except Exception as exc:  # noqa: BLE001 - a crash is a result to report
        return None, f"{type(exc).__name__}: {exc}"


def suggestion_for(lr: LabeledRun, mode: str) -> tuple[Any, str | None]:
    """The suggestion a closed loop retrains with: LR Tempo's (``mode="lrtempo"``) or the
    label's textbook fix; ``(None, error)`` when LR Tempo crashed on the run."""
    if mode != "lrtempo":
        return reference_suggestion(lr), None
    a, err = _try_analyze(lr.run)
    if a is None:
        return None, f"analyze_run on the run: {err}"
    return a.suggestion, None


def _closed_loop_one(lr: LabeledRun, mode: str = "lrtempo") -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": lr.id,
        "labels": sorted(lr.labels),
        "action": None,
        "retrained": False,
        "error": None,
    }
    s, row["error"] = suggestion_for(lr, mode)
    if row["error"]:
        return row
    row["action"] = s.action if s else None
    q = apply_suggestion(lr, s)
    if q is None:
        return row
    res = train(q)
    floor = lr.stats.get("floor", math.nan)
    verdict = verify_result(res, floor)
    a2, err = _try_analyze(result_to_run(res, lr.id + "-retrained"))
    if a2 is None:
        row["error"] = f"analyze_run on the retrained run: {err}"
    before = _final_val(lr.result)
    after = _final_val(res)
    row.update(
        retrained=True,
        new_lr=q.lr,
        new_schedule=q.schedule,
        stop_step=q.stop_step,
        verified_after=sorted(verdict.kinds),
        ambiguous_after=sorted(verdict.ambiguous),
        fixed_verified=not (lr.labels & verdict.kinds),
        clean_verified=not verdict.kinds and not verdict.ambiguous,
        lrtempo_status_after=a2.status if a2 is not None else "error",
        fixed_lrtempo=(
            a2 is not None
            and not ({f.kind for f in a2.findings if f.severity != "info"} & lr.labels)
        ),
        val_before=before,
        val_after=after,
        val_improved=bool(after < before),
    )
    return row


def _closed_loop_ref(lr: LabeledRun) -> dict[str, Any]:
    return _closed_loop_one(lr, "reference")


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for k in ("all", *KINDS):
        sel = [r for r in rows if k == "all" or k in r["labels"]]
        re = [r for r in sel if r["retrained"]]
        summary[k] = {
            "runs": len(sel),
            "retrained": len(re),
            "fixed_verified": sum(r["fixed_verified"] for r in re),
            "fixed_lrtempo": sum(r["fixed_lrtempo"] for r in re),
            "val_improved": sum(r["val_improved"] for r in re),
            "fixed_and_improved": sum(r["fixed_verified"] and r["val_improved"] for r in re),
            "errors": sum(1 for r in sel if r.get("error")),
        }
    return summary


def closed_loop(
    corpus: list[LabeledRun], workers: int = 1, reference: bool = True
) -> dict[str, Any]:
    """Retrain real pathological runs with LR Tempo's suggestion (and with the
    label-informed reference fix); summaries + per-run rows."""
    todo = [lr for lr in corpus if lr.part == "real" and lr.labels and lr.params is not None]
    out: dict[str, Any] = {}
    for name, fn in (("LR Tempo", _closed_loop_one), ("reference", _closed_loop_ref)):
        if name == "reference" and not reference:
            continue
        if workers > 1 and len(todo) >= 16:
            with ProcessPoolExecutor(max_workers=workers) as ex:
                rows = list(ex.map(fn, todo, chunksize=4))
        else:
            rows = [fn(lr) for lr in todo]
        out[name] = {"summary": _summary(rows), "rows": rows}
    return out


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------


def _f(x: float, w: int = 4) -> str:
    return "  —" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def format_table(
    results: dict[str, dict[str, Scores]], counts: dict[str, dict[str, int]], width: int = 11
) -> str:
    head = (
        f"{'corpus':<{width}} {'method':<18} {'n':>4}  "
        + "  ".join(f"{k[:5] + ' P/R/F1':<14}" for k in KINDS)
        + f"  {'macroF1':>7} {'FA':>5} {'dir(all)':>8} {'dir(LR)':>7}"
    )
    lines = [head, "-" * len(head)]
    for part, by_method in results.items():
        for method, s in by_method.items():
            cells = []
            for k in KINDS:
                pk = s.per_kind[k]
                cells.append(f"{_f(pk['precision'])}/{_f(pk['recall'])}/{_f(pk['f1'])}".ljust(14))
            err = f"  ({s.errors} errors)" if s.errors else ""
            lines.append(
                f"{part:<{width}} {method:<18} {s.n:>4}  "
                + "  ".join(cells)
                + f"  {_f(s.macro_f1):>7} {_f(s.false_alarm):>5} {_f(s.dir_all):>8} {_f(s.dir_lr):>7}"
                + err
            )
        c = counts[part]
        lines.append(
            f"{'':<{width}} labels: healthy {c['healthy']}, "
            + ", ".join(f"{k} {c[k]}" for k in KINDS)
            + f" (mixed/partial {c['mixed']})"
        )
    return "\n".join(lines)


def format_closed_loop(cl: dict[str, Any]) -> str:
    lines = [
        (
            "Closed loop (real runs with a pathology, retrained with the suggestion; "
            "'reference' = the label's textbook fix: LR/10, LR x10 or constant LR, "
            "stop at val min):"
        ),
        (
            f"  {'by':<10} {'label':<12} {'runs':>5} {'retrained':>9} "
            f"{'gone(verify)':>12} {'gone(LR Tempo)':>14} {'val improved':>12} {'both':>5} {'share':>6}"
        ),
    ]
    for who, block in cl.items():
        for k, s in block["summary"].items():
            err = f"  ({s['errors']} analyzer errors)" if s["errors"] else ""
            lines.append(
                f"  {who:<10} {k:<12} {s['runs']:>5} {s['retrained']:>9} "
                f"{s['fixed_verified']:>12} {s['fixed_lrtempo']:>14} "
                f"{s['val_improved']:>12} {s['fixed_and_improved']:>5} "
                f"{s['fixed_and_improved'] / max(s['runs'], 1):>6.0%}{err}"
            )
        actions: dict[str, int] = {}
        for r in block["rows"]:
            actions[str(r["action"])] = actions.get(str(r["action"]), 0) + 1
        lines.append(
            f"  {who:<10} actions: " + ", ".join(f"{a} {n}" for a, n in sorted(actions.items()))
        )
    return "\n".join(lines)


def machine() -> str:
    return (
        f"{platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )


ALL_PARTS: tuple[str, ...] = (*PARTS, _c2.PART)


def default_parts() -> tuple[str, ...]:
    """Corpus 1's parts, plus corpus 2 when its cache exists."""
    return ALL_PARTS if _c2.store.exists() else PARTS


def _every_kth(runs: list[LabeledRun], limit: int | None) -> list[LabeledRun]:
    if limit is None or limit >= len(runs):
        return runs
    stride = len(runs) / limit
    return [runs[int(i * stride)] for i in range(limit)]


def load_corpus2_parts(
    limit: int | None = None, workers: int = 1
) -> tuple[list[LabeledRun], dict[str, Any]]:
    """Corpus 2's kept runs (at most ``limit`` per split) and its manifest."""
    runs = _c2.load_corpus2(workers=workers, limit=limit)
    if not runs:
        raise SystemExit(
            "corpus 2 is not cached and torch is not installed: "
            "pip install -e '.[corpus]' and run python -m benchmarks.corpus2"
        )
    from .corpus2_loop import split_of

    out: list[LabeledRun] = []
    for side in ("tune", "heldout"):
        out += _every_kth([r for r in runs if split_of(r) == side], limit)
    return out, _c2.load_manifest()


def run_benchmark(
    quick: bool = False,
    limit: int | None = None,
    workers: int | None = None,
    closed: bool = True,
    save_dir: str | None = None,
    parts: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Build the corpus, run every method, score, closed loop. Returns a JSON-able dict."""
    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    parts = default_parts() if parts is None else parts
    c1_parts = tuple(p for p in parts if p in PARTS)
    t0 = time.time()
    build_report: dict[str, Any] = {}
    corpus = (
        build_corpus(quick=quick, limit=limit, workers=workers, report=build_report, parts=c1_parts)
        if c1_parts
        else []
    )
    if save_dir:
        save_corpus(corpus, save_dir)
    c2: list[LabeledRun] = []
    c2_manifest: dict[str, Any] = {}
    if _c2.PART in parts:
        c2, c2_manifest = load_corpus2_parts(limit, workers)
    t_build = time.time() - t0
    preds = run_methods(corpus + c2, workers=workers)
    t_detect = time.time() - t0 - t_build
    groups = {p: [i for i, c in enumerate(corpus) if c.part == p] for p in c1_parts}
    groups = {p: idx for p, idx in groups.items() if idx or p != "synth-indep"}
    if c1_parts:
        groups["combined"] = list(range(len(corpus)))
    results: dict[str, dict[str, Scores]] = {}
    counts: dict[str, dict[str, int]] = {}
    for part, idx in groups.items():
        sub = [corpus[i] for i in idx]
        sp = [preds[i] for i in idx]
        counts[part] = label_counts(sub)
        results[part] = {m: score(sub, sp, m) for m in METHODS}
    results2: dict[str, dict[str, Scores]] = {}
    counts2: dict[str, dict[str, int]] = {}
    cl2 = None
    if c2:
        from .corpus2_loop import SPLIT_ROWS, good_finals, split_of
        from .corpus2_loop import closed_loop as closed_loop2

        off = len(corpus)
        for side, row in SPLIT_ROWS.items():
            idx = [i for i, c in enumerate(c2) if split_of(c) == side]
            sub = [c2[i] for i in idx]
            sp = [preds[off + i] for i in idx]
            counts2[row] = label_counts(sub)
            results2[row] = {m: score(sub, sp, m) for m in METHODS}
        if closed and _c2._torch_available():  # retraining needs PyTorch (extra "corpus")
            cl2 = closed_loop2(c2, good_finals(c2, c2_manifest), workers=workers)
    cl = closed_loop(corpus, workers=workers) if closed and corpus else None
    t_total = time.time() - t0
    every = corpus + c2
    errors = {
        m: [(every[i].id, p[m][2]) for i, p in enumerate(preds) if p[m][2]][:5] for m in METHODS
    }
    runs = [{**c.to_json(), "predictions": p} for c, p in zip(every, preds)]
    for r, c in zip(runs[len(corpus) :], c2):
        r["split"] = c.run.meta.tags.get("split")
        r["family"] = c.run.meta.tags.get("family")
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "quick": quick,
        "limit": limit,
        "parts": list(parts),
        "timing_s": {
            "build": round(t_build, 1),
            "detect": round(t_detect, 1),
            "total": round(t_total, 1),
        },
        "counts": counts,
        "real_build": build_report,
        "results": results,
        "closed_loop": cl,
        "corpus2": {
            "results": results2,
            "counts": counts2,
            "closed_loop": cl2,
            "closed_loop_asked": closed,
            "split": c2_manifest.get("split"),
            "build": c2_manifest.get("report", {}),
        }
        if c2
        else None,
        "errors": errors,
        "runs": runs,
    }


def render(out: dict[str, Any]) -> str:
    lines = [
        f"LR Tempo detection benchmark — {out['date']} — {out['machine']}",
        f"mode: {'quick' if out['quick'] else 'full'}"
        + (f", limit {out['limit']}" if out["limit"] else "")
        + f"; build {out['timing_s']['build']}s, detect {out['timing_s']['detect']}s, "
        f"total {out['timing_s']['total']}s",
        "",
    ]
    if out["results"]:
        lines += [
            format_table(out["results"], out["counts"]),
            _build_line(out.get("real_build") or {}),
        ]
    c2 = out.get("corpus2")
    if c2:
        lines += [
            "",
            ("Corpus 2 (real PyTorch runs; tuning families / held-out families, never tuned on):"),
            format_table(c2["results"], c2["counts"], width=16),
            _c2_build_line(c2),
        ]
    lines.append(
        "P/R/F1 per kind; '—' = undefined (no predictions / no support). FA = healthy "
        "runs with any detection. dir(LR) = direction accuracy on runs whose label "
        "calls for an LR change."
    )
    lines += ["", format_confusion(out["runs"], LRTEMPO)]
    if c2 and c2.get("closed_loop"):
        from .corpus2_loop import format_closed_loop as _fcl2

        lines += ["", _fcl2(c2["closed_loop"])]
    elif c2:
        why = (
            "retraining needs PyTorch (pip install -e '.[corpus]')"
            if c2.get("closed_loop_asked", True)
            else "--no-closed-loop"
        )
        lines += ["", f"Closed loop on corpus 2 skipped: {why}."]
    if out["closed_loop"] is not None:
        lines += ["", format_closed_loop(out["closed_loop"])]
        cl_errs = [
            (r["id"], r["error"])
            for block in out["closed_loop"].values()
            for r in block["rows"]
            if r.get("error")
        ]
        if cl_errs:
            lines.append(
                f"  analyzer errors in the closed loop ({len(cl_errs)}, first 3): "
                + json.dumps(cl_errs[:3])
            )
    errs = {m: e for m, e in out["errors"].items() if e}
    if errs:
        lines += ["", "Method errors (first 5 each): " + json.dumps(errs)]
    return "\n".join(lines)


def format_confusion(runs: list[dict[str, Any]], method: str) -> str:
    """What ``method`` reported for each label, per corpus part (counts of runs)."""
    lines = [f"What {method} reported, by label (runs; '-' = nothing):"]
    parts: dict[str, dict[str, dict[str, int]]] = {}
    for r in runs:
        lab = ",".join(r["labels"]) or "healthy"
        got = ",".join(r["predictions"][method][0]) or "-"
        where = f"c2 {r['split']}" if r.get("split") else r["part"]
        cell = parts.setdefault(where, {}).setdefault(lab, {})
        cell[got] = cell.get(got, 0) + 1
    for part, by_label in parts.items():
        for lab in sorted(by_label, key=lambda x: (x != "healthy", x)):
            got = ", ".join(
                f"{k} {n}" for k, n in sorted(by_label[lab].items(), key=lambda kv: -kv[1])
            )
            lines.append(f"  {part:<11} {lab:<24} -> {got}")
    return "\n".join(lines)


def _build_line(b: dict[str, Any]) -> str:
    if not b:
        return ""
    reasons = "; ".join(
        f"{k} x{n}" for k, n in sorted(b.get("reasons", {}).items(), key=lambda kv: -kv[1])
    )
    return (
        f"real part: trained {b.get('trained', 0)}, kept as built "
        f"{b.get('kept_as_built', 0)}, relabeled {b.get('relabeled', 0)}, dropped "
        f"{b.get('dropped', 0)} by curve verification ({reasons})"
    )


def _c2_build_line(c2: dict[str, Any]) -> str:
    b = c2.get("build") or {}
    split = c2.get("split") or {}
    reasons = "; ".join(f"{k} x{n}" for k, n in (b.get("drop_reasons") or {}).items())
    return (
        f"corpus 2: tune families {', '.join(split.get('tune', []))}; held-out families "
        f"{', '.join(split.get('heldout', []))}; trained {b.get('trained', 0)}, kept "
        f"{b.get('kept', 0)} (relabeled {b.get('relabeled', 0)}), dropped "
        f"{b.get('dropped', 0)} by curve verification ({reasons})"
    )


def _jsonable(o: Any) -> Any:
    if isinstance(o, Scores):
        return _jsonable(dict(o.__dict__))
    if isinstance(o, dict):
        return {k: _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, (np.floating, np.integer)):
        return _jsonable(o.item())
    if isinstance(o, np.bool_):
        return bool(o)
    return o


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.detection", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--quick", action="store_true", help="smaller corpus (~2 min on 2 cores)")
    ap.add_argument(
        "--limit", type=int, default=None, help="at most N runs per corpus part (tiny smoke runs)"
    )
    ap.add_argument("--json", metavar="FILE", help="write all results (per run too) as JSON")
    ap.add_argument("--save-corpus", metavar="DIR", help="write the corpus as CSV + labels.json")
    ap.add_argument("--workers", type=int, default=None, help="processes (default: CPUs, max 4)")
    ap.add_argument("--no-closed-loop", action="store_true", help="skip the retraining loop")
    ap.add_argument(
        "--parts",
        default=None,
        help=(
            f"comma-separated corpus parts, some of {','.join(ALL_PARTS)} "
            "(default: all; corpus2 when its cache exists)"
        ),
    )
    args = ap.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        ap.error(f"--limit must be >= 1, got {args.limit}")
    parts = None
    if args.parts is not None:
        parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
        bad = [p for p in parts if p not in ALL_PARTS]
        if bad or not parts:
            ap.error(f"--parts: unknown part(s) {bad}; use some of {','.join(ALL_PARTS)}")
    out = run_benchmark(
        quick=args.quick,
        limit=args.limit,
        workers=args.workers,
        closed=not args.no_closed_loop,
        save_dir=args.save_corpus,
        parts=parts,
    )
    print(render(out))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(_jsonable(out), fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
