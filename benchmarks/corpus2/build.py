"""Generate corpus 2: sweep, good LR, ladder and overfitting runs, verification, labels.

Verification reuses corpus 1's :mod:`benchmarks.corpus.verify` (``curve_stats``,
``verify``, ``reconcile``), with the floor of a run = the best val loss of its group (same
family, setup and train subset). On top of ``reconcile`` two rules drop a run instead of
relabeling it:

- an LR far off the good one (x0.01 or less, x10 or more) whose curve reads healthy: the
  verification cannot see what the LR already says (dropped, not called healthy);
- a curve whose verified LR direction contradicts the construction (a too-large LR
  whose curve reads as stagnation, or the reverse);
- a curve that bounces as an oscillating one does at or below the good LR: the sweep
  shows that a smaller LR ends no better, so "lower the LR" is not the truth there (a
  noisy val loss at a tiny floor; since 2026-12-07 05:40 — such runs were labelled
  oscillation).
- the mirror image: a curve that reads as stagnation at or above the good LR (a seed at
  the good LR whose val loss settled far above the floor another seed reached, on a
  separable set whose floor is ~0): the sweep shows a larger LR ends no better, so
  "raise the LR" is not the truth there (since 2026-12-07 07:45; 5 tune runs, no
  held-out run).

And one rule relabels: a run below the good LR whose curve reads healthy — still falling,
so the verification's flat-tail test does not fire — but which ended outside the good
range (above ``1 + GOOD_RANGE_TOL``, 1.1×, the floor its setup's good LR reaches: the
sweep itself would not call its LR good) *and* short of ``TOO_SLOW_LEFT`` (a quarter) of
the way from its first val loss to that floor is *too slow*, the first symptom of a
too-small LR (issue 10): labelled stagnation. Otherwise, from ``LEVEL_NEG`` (1.25×) with a
tenth left, it is dropped as ambiguous. (A run that got most of the way is healthy even
when a ratio to a floor near 0 is large.) Added 2026-12-07: fresh tuning families showed
runs at 0.1× the good LR ending at 3× its loss, still falling in a straight line,
labelled healthy. The level bar was 1.5× (corpus 1's ``LEVEL_POS``) until 2026-12-07 19:10:
on a task whose floor sits near its start (a hard binary task: 0.73 → 0.61), a run
stuck at chance (0.69, 1.13×, two thirds of the way still to go) was labelled healthy
although the closed loop and the sweep truth both count its final loss as missing the
good LR's (11 tuning runs relabelled, 9 healthy and 2 dropped; no held-out label moved).
"""

from __future__ import annotations

import datetime as _dt
import math
import platform
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from ..corpus.verify import (
    LEVEL_NEG,
    Verdict,
    as_jsonable,
    curve_stats,
    expected_direction,
    group_floors,
    reconcile,
    verify,
)
from .families import FAMILIES, SPLITS, Setup, setups_of, split_of
from .plan import (
    GOOD_RANGE_TOL,
    Planned,
    constructed,
    corpus_plan,
    extension,
    sweep_plan,
)
from .train import Result, Spec, train

Log = Callable[[str], None]


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def train_many(specs: list[Spec], workers: int = 2, log: Log | None = None) -> list[Result]:
    """Train specs (in order) with ``workers`` processes of one thread each."""
    if not specs:
        return []
    t0 = time.time()
    out: list[Result] = []
    if workers <= 1:
        _init_worker()
        it: Iterable[Result] = map(train, specs)
        for r in it:
            out.append(r)
            _progress(len(out), len(specs), t0, log)
        return out
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker) as ex:
        for r in ex.map(train, specs, chunksize=1):
            out.append(r)
            _progress(len(out), len(specs), t0, log)
    return out


def _progress(done: int, total: int, t0: float, log: Log | None) -> None:
    if log is not None and (done % 25 == 0 or done == total):
        log(f"  trained {done}/{total} in {time.time() - t0:.0f}s")


def final_val(r: Result) -> float:
    """Last val loss (inf when the run ended on a non-finite loss)."""
    if len(r.val_loss) == 0 or not np.isfinite(r.val_loss[-1]):
        return math.inf
    if len(r.train_loss) and not np.isfinite(r.train_loss[-1]):
        return math.inf
    if r.val_step[-1] < min(r.spec.steps, r.spec.stop_step or r.spec.steps) - r.spec.eval_every:
        return math.inf  # stopped early by the NaN guard
    return float(r.val_loss[-1])


def group_key(s: Spec) -> tuple:
    """Runs that share a loss floor: same family, setup and train subset."""
    return (s.family, s.setup, s.n_train)


def verify_curves(r: Result, floor: float) -> Verdict:
    """Corpus 1's curve verification of one run against its group floor."""
    n_steps = r.spec.steps if r.spec.stop_step is None else min(r.spec.steps, r.spec.stop_step)
    with np.errstate(all="ignore"):
        s = curve_stats(
            r.train_loss.astype(np.float64),
            r.val_step.astype(np.int64),
            r.val_loss.astype(np.float64),
            r.initial_val_loss,
            floor,
            n_steps,
        )
    return verify(s)


#: Too slow: at least this share of the way from the first val loss to the floor is left.
TOO_SLOW_LEFT = 0.25
#: … ambiguous (dropped) from this share on.
TOO_SLOW_AMBIGUOUS = 0.1


def _level_left(stats: dict[str, float]) -> tuple[float, float]:
    """The last val loss over the floor, and the share of the way from the first val
    loss to the floor still left at the end."""
    level, floor = stats.get("level_end", 0.0), stats.get("floor", math.nan)
    start = stats.get("initial_val", math.nan)
    if not (math.isfinite(level) and start > floor > 0):
        return level, 0.0
    return level, (level * floor - floor) / (start - floor)


def decide(
    built: frozenset[str], verdict: Verdict, j: int, small: bool
) -> tuple[frozenset[str] | None, str]:
    """Final labels (None = dropped) and the rule that decided them (see module doc)."""
    labels, note = reconcile(built, verdict)
    if labels is None:
        return None, "dropped " + note
    level, left = _level_left(verdict.stats)
    if not small and j < 0 and not labels:
        if level > 1 + GOOD_RANGE_TOL and left >= TOO_SLOW_LEFT:
            return frozenset({"stagnation"}), (
                f"relabeled: LR x{10 ** (j / 2):.3g} of the good one ends at {level:.2f}x the "
                f"floor, {100 * left:.0f}% of the way from its start still to go (too slow)"
            )
        if level >= LEVEL_NEG and left >= TOO_SLOW_AMBIGUOUS:
            return None, "dropped ambiguous: LR below the good one, val ends short of the floor"
    if not small and j <= 0 and "oscillation" in labels:
        return None, "dropped: oscillation at or below the good LR (a smaller LR is no better)"
    if not small and j >= 0 and "stagnation" in labels:
        return None, "dropped: stagnation at or above the good LR (a larger LR is no better)"
    if not small and (j <= -4 or j >= 2) and not labels:
        return None, f"dropped: LR x{10 ** (j / 2):.3g} of the good one, curve reads healthy"
    want, got = expected_direction(built), expected_direction(labels)
    if {want, got} == {"increase", "decrease"}:
        return None, (
            f"dropped: built {','.join(sorted(built))} ({want} LR), curve shows "
            f"{','.join(sorted(labels))} ({got} LR)"
        )
    if note:
        return labels, note
    return labels, "verified as built: " + (",".join(sorted(labels)) or "healthy")


def _best_index(runs: dict[int, Result]) -> int | None:
    vals = {i: final_val(r) for i, r in runs.items()}
    finite = {i: v for i, v in vals.items() if math.isfinite(v)}
    return min(finite, key=lambda i: (finite[i], i)) if finite else None


def generate(
    families: Iterable[str] | None = None,
    quick: bool = False,
    workers: int = 2,
    log: Log | None = None,
) -> tuple[list[Result], dict[str, Any]]:
    """Train and label corpus 2 for the given families (all by default)."""
    t0 = time.time()
    setups = setups_of(list(families) if families is not None else None)
    # 1. sweeps
    sweeps: dict[Setup, dict[int, Result]] = {s: {} for s in setups}
    plans = [(s, p) for s in setups for p in sweep_plan(s, quick)]
    if log:
        log(f"sweep: {len(plans)} runs over {len(setups)} setups")
    for (s, p), r in zip(plans, train_many([p.spec for _, p in plans], workers, log)):
        sweeps[s][p.index] = r
    ext = [
        (s, p)
        for s in setups
        for p in extension(s, _best_index(sweeps[s]) or 0, set(sweeps[s]), quick)
    ]
    if ext and log:
        log(f"sweep extension (best LR at an edge): {len(ext)} runs")
    for (s, p), r in zip(ext, train_many([p.spec for _, p in ext], workers, log)):
        sweeps[s][p.index] = r
    good: dict[Setup, int] = {}
    for s in setups:
        b = _best_index(sweeps[s])
        if b is None:
            raise RuntimeError(f"corpus 2: no finite run in the sweep of {s.family}/{s.name}")
        good[s] = b
    # 2. ladder, seeds, overfitting (sweep runs are reused)
    todo: list[tuple[Setup, Planned]] = []
    known = {Planned(r.spec, i, "sweep").key for s in setups for i, r in sweeps[s].items()}
    for s in setups:
        for p in corpus_plan(s, good[s], quick):
            if p.key not in known:
                known.add(p.key)
                todo.append((s, p))
    if log:
        log(f"corpus: {len(todo)} more runs")
    trained = train_many([p.spec for _, p in todo], workers, log)
    entries: list[tuple[Setup, Planned, Result]] = [
        (s, Planned(r.spec, i, "sweep"), r) for s in setups for i, r in sorted(sweeps[s].items())
    ] + [(s, p, r) for (s, p), r in zip(todo, trained)]
    order = {s: k for k, s in enumerate(setups)}
    entries.sort(key=lambda e: (order[e[0]], e[1].spec.n_train or 0, e[1].index, e[1].spec.seed))
    # 3. floors and verification
    floors = group_floors((r for _, _, r in entries), lambda r: group_key(r.spec))
    setup_info: dict[str, Any] = {}
    for s in setups:
        fv = {i: final_val(r) for i, r in sweeps[s].items()}
        best = fv[good[s]]
        in_range = [sweeps[s][i].spec.lr for i, v in fv.items() if v <= best * (1 + GOOD_RANGE_TOL)]
        setup_info[f"{s.family}/{s.name}"] = {
            "family": s.family,
            "optimizer": s.optimizer,
            "schedule": s.schedule,
            "good_lr": sweeps[s][good[s]].spec.lr,
            "good_index": good[s],
            "good_range": [min(in_range), max(in_range)],
            "good_final_val": best,
            "sweep": [
                [sweeps[s][i].spec.lr, v if math.isfinite(v) else None]
                for i, v in sorted(fv.items())
            ],
        }
    runs: list[dict[str, Any]] = []
    results: list[Result] = []
    for s, p, r in entries:
        sp = r.spec
        small = sp.n_train is not None
        j = p.index - good[s]
        built = constructed(j, small)
        floor = floors.get(group_key(sp), math.nan)
        verdict = verify_curves(r, floor)
        labels, note = decide(built, verdict, j, small)
        mult = 10 ** (j / 2)
        rid = f"c2-{sp.family}-{sp.setup}-j{j:+d}-s{sp.seed}" + ("-small" if small else "")
        runs.append(
            {
                "id": rid,
                "family": sp.family,
                "setup": sp.setup,
                "split": split_of(sp.family),
                "optimizer": sp.optimizer,
                "schedule": sp.schedule,
                "lr": sp.lr,
                "good_lr": setup_info[f"{s.family}/{s.name}"]["good_lr"],
                "multiplier": float(f"{mult:.4g}"),
                "j": j,
                "seed": sp.seed,
                "steps": sp.steps,
                "n_train": sp.n_train,
                "role": "overfit" if small else p.role,
                "scenario": f"{sp.family}/{sp.setup}/"
                + ("small-" if small else "")
                + f"x{mult:.3g}",
                "constructed": sorted(built),
                "labels": None if labels is None else sorted(labels),
                "direction": None if labels is None else expected_direction(labels),
                "kept": labels is not None,
                "note": note,
                "verified": sorted(verdict.kinds),
                "ambiguous": sorted(verdict.ambiguous),
                "floor": floor,
                "final_val": _jsonable_float(final_val(r)),
                "seconds": round(r.seconds, 2),
                "stats": as_jsonable(dict(verdict.stats)),
                "spec": sp.to_dict(),
            }
        )
        results.append(r)
    manifest = {
        "version": 1,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "python": platform.python_version(),
        "torch": _torch_version(),
        "split": {k: list(v) for k, v in SPLITS.items()},
        "families": {f: _family_info(f) for f in sorted({s.family for s in setups})},
        "setups": setup_info,
        "runs": runs,
        "build_seconds": round(time.time() - t0, 1),
    }
    manifest["report"] = report(manifest)
    return results, manifest


def relabel(results: list[Result], manifest: dict[str, Any]) -> dict[str, Any]:
    """Verify every stored run again with today's rules (floors from the stored curves,
    no training): the labels, notes, verification and statistics of the manifest are
    replaced and its report recomputed. For a change of the verification rules."""
    floors = group_floors(results, lambda r: group_key(r.spec))
    for r, m in zip(results, manifest["runs"]):
        small = r.spec.n_train is not None
        built = constructed(int(m["j"]), small)
        floor = floors.get(group_key(r.spec), math.nan)
        verdict = verify_curves(r, floor)
        labels, note = decide(built, verdict, int(m["j"]), small)
        m.update(
            labels=None if labels is None else sorted(labels),
            direction=None if labels is None else expected_direction(labels),
            kept=labels is not None,
            note=note,
            verified=sorted(verdict.kinds),
            ambiguous=sorted(verdict.ambiguous),
            floor=floor,
            stats=as_jsonable(dict(verdict.stats)),
        )
    manifest["report"] = report(manifest)
    return manifest


def _jsonable_float(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _torch_version() -> str:
    import torch

    return str(torch.__version__)


def _family_info(name: str) -> dict[str, Any]:
    from .data import dataset

    f = FAMILIES[name]
    d = {
        "arch": f.arch,
        "data": f.data,
        "loss": f.loss,
        "steps": f.steps,
        "batch_size": f.batch_size,
        "hidden": f.hidden,
        "small_n": f.small_n,
        "description": f.description,
        "split": split_of(name),
    }
    digest = dataset(f.data).digest
    if digest:
        d["text_sha256_16"] = digest
    return d


def report(manifest: dict[str, Any]) -> dict[str, Any]:
    """Counts: trained, kept, dropped (with reasons), kept per label per split and family."""
    runs = manifest["runs"]
    rep: dict[str, Any] = {"trained": len(runs), "kept": sum(r["kept"] for r in runs)}
    rep["dropped"] = rep["trained"] - rep["kept"]
    reasons: dict[str, int] = {}
    for r in runs:
        if not r["kept"]:
            key = r["note"].split(" (missing")[0]
            key = key.split(", curve shows")[0] if key.startswith("dropped: built") else key
            if key.startswith("dropped: LR x"):
                key = "dropped: far-off LR, curve reads healthy"
            reasons[key] = reasons.get(key, 0) + 1
    rep["drop_reasons"] = dict(sorted(reasons.items(), key=lambda kv: -kv[1]))
    rep["relabeled"] = sum(r["kept"] and r["note"].startswith("relabeled") for r in runs)
    per: dict[str, dict[str, int]] = {}
    for r in runs:
        if not r["kept"]:
            continue
        for where in (r["split"], r["family"], "all"):
            c = per.setdefault(
                where,
                {
                    "runs": 0,
                    "healthy": 0,
                    "oscillation": 0,
                    "stagnation": 0,
                    "overfitting": 0,
                    "divergence": 0,
                },
            )
            c["runs"] += 1
            if not r["labels"]:
                c["healthy"] += 1
            for k in r["labels"]:
                c[k] += 1
    rep["kept_by"] = per
    return rep


def merge(
    old: tuple[list[Result], dict[str, Any]] | None, new: tuple[list[Result], dict[str, Any]]
) -> tuple[list[Result], dict[str, Any]]:
    """The cache with ``new``'s families replaced (runs kept in family order)."""
    if old is None:
        return new
    (ro, mo), (rn, mn) = old, new
    fams = set(mn["families"])
    keep = [(r, m) for r, m in zip(ro, mo["runs"]) if m["family"] not in fams]
    both = keep + list(zip(rn, mn["runs"]))
    order = {f: k for k, f in enumerate(FAMILIES)}
    both.sort(key=lambda rm: order[rm[1]["family"]])
    m = dict(mn)
    m["families"] = {**{k: v for k, v in mo["families"].items() if k not in fams}, **mn["families"]}
    m["setups"] = {
        **{k: v for k, v in mo["setups"].items() if v["family"] not in fams},
        **mn["setups"],
    }
    m["runs"] = [x[1] for x in both]
    m["build_seconds"] = round(mo.get("build_seconds", 0) + mn["build_seconds"], 1)
    m["report"] = report(m)
    return [x[0] for x in both], m


def main_log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
