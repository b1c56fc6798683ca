"""Sweeps and range tests measured on corpus 2's real PyTorch runs (issue 11).

    python -m benchmarks.sweeps [--data DIR] [--designs N] [--seed S] [--no-range-tests]
                                [--range-cache FILE] [--ramp-seeds N]
                                [--split {all,tune,heldout}] [--json FILE]

**Truth.** Per setup of corpus 2 (:mod:`benchmarks.corpus2`), the *good range* of its
dense sweep (11+ half-decade LRs, seed 0): the LRs whose final val loss is within 10 % of
the best one (``manifest["setups"][key]["good_range"]``, computed by corpus 2); and,
as a second truth closer to "a dense sweep with more seeds", the same rule on the mean
final val over every seed corpus 2 trained at each LR (1–4 seeds; 2–4 at the good LR
and at ×1e-3, ×1e-2, ×3 … ×1e2); and, third, the seed-0 range read between the grid
points (:func:`interpolated_range`: final val interpolated in log LR, within 10 % of
the best) — the first two hold only tried LRs, so an untried LR a third of a decade from
the good one (a ×3 step, a range test's continuous reading) counts as outside there.
Every truth comes from the dense sweep's trained runs, none from a rule under test.

**The team's sweeps.** Per setup, ``--designs`` seeded sub-samples of the runs corpus 2
trained at half-decade multipliers ``10**(j/2)`` of the good LR, ``j`` in -6..4 (×1e-3 …
×1e2): both ends, plus random interior multipliers to 5–9 LRs, and the second seed
wherever corpus 2 trained one at a chosen LR. Each design is analyzed like a user's runs
(``analyze_run`` per run, :func:`analyzer.sweeps.find_sweeps` on the points). Scored:
the recommended LR inside the good range (goal ≥ 90 %), within ×2 of it (goal 100 %);
beside the baseline "lowest loss tried" (the best run's LR).

**Range tests.** Per setup, three real exponential LR ramps (seeds 0–2: init and
batches differ) with the setup's model, data, batch size and optimizer (torch-lr-finder's
loop: 200 steps from 1e-7 to 10, stopped when its smoothed loss exceeds 5× its best),
cached in ``--range-cache``. Scored per ramp: the share of suggested LRs inside the good
range and within ×2 for LR Tempo's reading (:func:`analyzer.range_test.read_range_test`:
the LR where the centred-smoothed loss has made 90 % of its fall to its minimum; the
former min_loss/3, min_loss/10 and the steepest-descent LR of the same smoothing) and
the usual rules as the libraries compute them: torch-lr-finder's steepest descent (EMA
0.05, skip 10 first and 5 last points), fastai's min/10 (EMA 0.98, bias-corrected) and
fastai's ``valley`` (the longest falling stretch of that smoothed loss, 2/3 of the way
down, last 5 points skipped). Also printed: LR Tempo's reading split by its confidence
(≥ 0.6 / < 0.6: is the confidence worth reading?) and the median of a setup's 3 ramps
(one suggestion per setup: a team that ran the test three times).

``--split tune`` prints only the tune families' rows (choose rules there; the held-out
rows are for reporting, not choosing).

Caveat: the truth comes from one seed per LR (corpus 2's sweep), and the team's sweeps
reuse the runs at those LRs (a dense sweep with more seeds is future work).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.analysis import RunAnalysis, analyze_run
from analyzer.range_test import read_range_test
from analyzer.sweeps import Sweep, SweepPoint, find_sweeps, sweep_point

from .corpus2 import DATA_DIR, FAMILIES, result_to_run
from .corpus2.store import exists, load
from .corpus2.train import Result

SPAN = tuple(range(-6, 5))  # half-decade multipliers of the good LR: x1e-3 .. x1e2
SIZES = (5, 9)
RAMP = (1e-7, 10.0, 200)  # start, end, steps
RAMP_SEEDS = (0, 1, 2)  # one ramp per seed and setup (init and batches differ)
DEFAULT_RANGE_CACHE = Path(__file__).parent / "data" / "sweeps_range_tests.json"


@dataclass(frozen=True)
class SetupRuns:
    """A setup's truth and its full-data runs by multiplier index ``j`` and seed."""

    key: str
    split: str
    good_lr: float
    good_range: tuple[float, float]
    runs: dict[int, dict[int, tuple[str, Result]]]  # j -> seed -> (run id, result)
    seed_range: tuple[float, float] | None = None  # the same from every seed's mean
    interp_range: tuple[float, float] | None = None  # seed 0, interpolated in log LR


def seed_mean_range(
    entries: Sequence[dict[str, Any]], tol: float = 0.10
) -> tuple[float, float] | None:
    """The good range from the mean final val over every seed trained at each LR (a
    non-finite end counts as infinite): LRs within ``tol`` of the best mean."""
    by: dict[float, list[float]] = defaultdict(list)
    for m in entries:
        v = m["final_val"]
        by[float(m["lr"])].append(math.inf if v is None else float(v))
    means = {lr: float(np.mean(v)) for lr, v in by.items()}
    best = min(means.values(), default=math.inf)
    if not math.isfinite(best):
        return None
    ok = [lr for lr, v in means.items() if v <= best * (1 + tol)]
    return min(ok), max(ok)


def interpolated_range(
    sweep: Sequence[Sequence[Any]], tol: float = 0.10
) -> tuple[float, float] | None:
    """The good range on the continuous LR axis: the final val of the dense sweep
    (``[[lr, final_val or None], ...]``) interpolated linearly in log10 LR between tried
    LRs, the interval around the best where it stays within ``tol`` of the best. The
    lattice range (:func:`seed_mean_range`, corpus 2's ``good_range``) holds only tried
    LRs, so an untried LR between a good and a bad one (a ×3 step, a range test's
    reading) scores as outside however close it lies; this range is the same truth read
    between the grid points. A non-finite neighbour ends the range at the good LR."""
    pts = sorted((float(lr), math.inf if v is None else float(v)) for lr, v in sweep)
    x = np.log10([lr for lr, _ in pts])
    y = np.array([v for _, v in pts])
    if not len(y) or not math.isfinite(float(y.min())):
        return None
    ib = int(np.argmin(y))
    thr = float(y[ib]) * (1 + tol)
    lo = hi = ib
    while lo > 0 and y[lo - 1] <= thr:
        lo -= 1
    while hi < len(y) - 1 and y[hi + 1] <= thr:
        hi += 1

    def cross(i: int, j: int) -> float:  # i inside the range, j outside
        if not math.isfinite(float(y[j])):
            return float(x[i])
        return float(x[i] + (thr - y[i]) / (y[j] - y[i]) * (x[j] - x[i]))

    return (
        10 ** (cross(lo, lo - 1) if lo > 0 else float(x[lo])),
        10 ** (cross(hi, hi + 1) if hi < len(y) - 1 else float(x[hi])),
    )


def load_setups(data_dir: Path) -> list[SetupRuns]:
    """Corpus 2's setups with their runs (full data, not the small-subset ones)."""
    results, manifest = load(data_dir)
    by: dict[str, dict[int, dict[int, tuple[str, Result]]]] = defaultdict(lambda: defaultdict(dict))
    entries: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for res, m in zip(results, manifest["runs"]):
        if m["n_train"] is None:
            by[f"{m['family']}/{m['setup']}"][int(m["j"])][int(m["seed"])] = (m["id"], res)
            entries[f"{m['family']}/{m['setup']}"].append(m)
    out = []
    for key, info in manifest["setups"].items():
        if key in by:
            out.append(
                SetupRuns(
                    key,
                    _split(manifest, info["family"]),
                    float(info["good_lr"]),
                    (float(info["good_range"][0]), float(info["good_range"][1])),
                    dict(by[key]),
                    seed_mean_range(entries[key]),
                    interpolated_range(info.get("sweep", ())),
                )
            )
    return out


def _split(manifest: dict[str, Any], family: str) -> str:
    return next((k for k, fams in manifest["split"].items() if family in fams), "")


def designs(setup: SetupRuns, n: int, rng: np.random.Generator) -> list[list[tuple[int, int]]]:
    """``n`` team sweeps: ``(j, seed)`` lists with both ends of :data:`SPAN`, 5–9 LRs, and
    seed 1 wherever it was trained at a chosen LR."""
    have = [j for j in SPAN if 0 in setup.runs.get(j, {})]
    ends = [j for j in (SPAN[0], SPAN[-1]) if j in have]
    inner = [j for j in have if j not in ends]
    out = []
    for _ in range(n):
        size = int(rng.integers(SIZES[0], SIZES[1] + 1)) - len(ends)
        pick = sorted(ends + list(rng.choice(inner, size=min(size, len(inner)), replace=False)))
        out.append([(j, s) for j in pick for s in (0, 1) if s in setup.runs[j]])
    return out


class Analyzer:
    """Sweep points of corpus runs, each run analyzed once."""

    def __init__(self) -> None:
        self._points: dict[str, tuple[SweepPoint, RunAnalysis]] = {}

    def point(self, run_id: str, res: Result) -> SweepPoint:
        if run_id not in self._points:
            run = result_to_run(res, run_id)
            a = analyze_run(run)
            self._points[run_id] = (sweep_point(run, a), a)
        return self._points[run_id][0]

    def analysis(self, run_id: str) -> RunAnalysis:
        """The analysis of a run already given to :meth:`point`."""
        return self._points[run_id][1]


def score(rec: float | None, good: tuple[float, float]) -> tuple[bool, bool]:
    """(inside the good range, within ×2 of it); ``None`` scores neither."""
    if rec is None or not math.isfinite(rec):
        return False, False
    lo, hi = good
    return lo / 1.05 <= rec <= hi * 1.05, lo / 2 <= rec <= hi * 2  # an LR to 2 digits: ≤ 5 % off


#: The truths a suggestion is scored against (key, column label).
TRUTHS = (("seed0", "seed 0"), ("seeds", "seed mean"), ("interp", "seed 0, interpolated"))


def scores(v: float | None, st: SetupRuns) -> dict[str, tuple[bool, bool]]:
    """:func:`score` of ``v`` against each truth of :data:`TRUTHS` (a missing truth
    scores neither)."""
    ranges = {"seed0": st.good_range, "seeds": st.seed_range, "interp": st.interp_range}
    return {k: score(v, r) if r else (False, False) for k, r in ranges.items()}


def run_sweeps(setups: Sequence[SetupRuns], n_designs: int, seed: int) -> list[dict[str, Any]]:
    """One row per (setup, design): the sweep's recommendation and its scores."""
    rng = np.random.default_rng(seed)
    an = Analyzer()
    rows = []
    for st in setups:
        for d in designs(st, n_designs, rng):
            pts = [an.point(*st.runs[j][s]) for j, s in d]
            pts = [same_group(p, st.key) for p in pts]
            found: list[Sweep] = find_sweeps(pts)
            sw = found[0] if len(found) == 1 else None
            best = min(
                (p for p in pts if math.isfinite(p.value)), key=lambda p: p.value, default=None
            )
            rec = sw.recommended_lr if sw else None
            fitted = (sw.fitted_min_lr or rec) if sw else None
            rows.append(
                {
                    "setup": st.key,
                    "split": st.split,
                    "good_lr": st.good_lr,
                    "good_range": list(st.good_range),
                    "js": sorted({j for j, _ in d}),
                    "runs": len(d),
                    "sweeps_found": len(found),
                    "recommended_lr": rec,
                    "at_edge": sw.at_edge if sw else None,
                    "confidence": sw.confidence if sw else None,
                    "edge_lr": sw.stability_edge_lr if sw else None,
                    "best_tried_lr": best.lr if best else None,
                    "fitted_min_lr": fitted,
                    "seed_range": list(st.seed_range) if st.seed_range else None,
                    "interp_range": list(st.interp_range) if st.interp_range else None,
                    "ok": scores(rec, st),
                    "best_ok": scores(best.lr if best else None, st),
                    "fit_ok": scores(fitted, st),
                }
            )
    return rows


def same_group(p: SweepPoint, key: str) -> SweepPoint:
    """A sweep point placed in its setup's group (one folder of runs per setup)."""
    from dataclasses import replace

    return replace(p, group=f"corpus2/{key}")


# --------------------------------------------------------------------------- range tests


def ramp_run(
    setup_key: str, start: float, end: float, steps: int, seed: int = 0
) -> tuple[list[float], list[float]]:
    """torch-lr-finder's loop on a corpus-2 setup: LR × const per step, raw batch loss,
    stopped when the EMA(0.05)-smoothed loss exceeds 5× its best or is not finite."""
    import torch

    from .corpus2.data import dataset
    from .corpus2.models import build
    from .corpus2.train import SEQ_LEN, _loss_fn, _optimizer

    family, setup = setup_key.split("/")
    optimizer = setup.split("-")[0]
    fam = FAMILIES[family]
    data = dataset(fam.data)
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    text = data.kind == "text"
    if text:
        xtr_t = torch.from_numpy(data.x_train)
        n_pos = len(data.x_train) - SEQ_LEN - 1
        d_in, d_out = 0, data.n_classes
    else:
        xtr_t, ytr_t = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
        d_in = data.x_train.shape[-1]
        d_out = {"classification": data.n_classes, "sequence": data.n_classes}.get(
            data.kind, d_in if data.kind == "reconstruction" else 1
        )
    model = build(fam.arch, d_in, d_out, seq_len=SEQ_LEN, hidden=fam.hidden)
    opt = _optimizer(optimizer, model.parameters(), start)
    loss_fn = _loss_fn(fam.loss)
    gamma = (end / start) ** (1 / (steps - 1))
    n = len(data.x_train)
    lrs, losses, smooth, best = [], [], None, math.inf
    for i in range(steps):
        if text:
            s = torch.from_numpy(rng.integers(0, n_pos, fam.batch_size))
            chunk = xtr_t[s[:, None] + torch.arange(SEQ_LEN + 1)[None, :]]
            xb, yb = chunk[:, :-1], chunk[:, 1:]
        else:
            b = torch.from_numpy(rng.choice(n, size=min(fam.batch_size, n), replace=False))
            xb, yb = xtr_t[b], ytr_t[b]
        lr = start * gamma**i
        for g in opt.param_groups:
            g["lr"] = lr
        loss = loss_fn(model(xb), yb)
        v = float(loss.detach())
        lrs.append(lr)
        losses.append(v)
        if not math.isfinite(v):
            break
        smooth = v if smooth is None else 0.05 * v + 0.95 * smooth
        best = min(best, smooth)
        if smooth > 5 * best:
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return lrs, losses


def ramp_key(setup_key: str, seed: int) -> str:
    """The cache key of a setup's ramp at ``seed`` (seed 0 keeps the bare setup key)."""
    return setup_key if seed == 0 else f"{setup_key}@seed{seed}"


def range_tests(
    setups: Sequence[SetupRuns], cache: Path, seeds: Sequence[int] = RAMP_SEEDS, train: bool = True
) -> dict[str, tuple[list, list]]:
    """Ramps per setup and seed, trained once and cached as JSON (``{key: [lrs, losses]}``,
    key :func:`ramp_key`); with ``train=False`` only the cached ones."""
    have: dict[str, Any] = json.loads(cache.read_text()) if cache.is_file() else {}
    missing = [(s.key, sd) for sd in seeds for s in setups if ramp_key(s.key, sd) not in have]
    for i, (key, sd) in enumerate(missing if train else (), 1):
        print(f"range test {i}/{len(missing)}: {key} seed {sd}", file=sys.stderr)
        lrs, losses = ramp_run(key, *RAMP, seed=sd)
        have[ramp_key(key, sd)] = [lrs, [x if math.isfinite(x) else None for x in losses]]
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(have))
    return {k: (v[0], [math.nan if x is None else x for x in v[1]]) for k, v in have.items()}


def ema(losses: np.ndarray, beta: float, bias_correct: bool) -> np.ndarray:
    """Exponential smoothing as the lr finders do it."""
    out, avg = np.empty(len(losses)), 0.0
    for i, v in enumerate(losses):
        avg = beta * avg + (1 - beta) * v if i or bias_correct else v
        out[i] = avg / (1 - beta ** (i + 1)) if bias_correct else avg
    return out


def torch_lr_finder_steepest(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """torch-lr-finder's suggestion: steepest gradient of its EMA(0.05) history, 10 first
    and 5 last points skipped."""
    sm = ema(losses, 0.95, bias_correct=False)
    a, b = 10, len(sm) - 5
    if b - a < 3:
        return None
    return float(lrs[a:b][int(np.argmin(np.gradient(sm[a:b])))])


def fastai_min10(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai's ``lr_min``: the LR at the minimum of the bias-corrected EMA(0.98) loss / 10."""
    sm = ema(losses, 0.98, bias_correct=True)
    return float(lrs[int(np.argmin(sm))]) / 10


def fastai_valley(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai's ``valley``: the longest decreasing subsequence of the bias-corrected
    EMA(0.98) loss (last 5 points skipped), the LR 1/3 + 1/6 of the way along it."""
    if len(lrs) > 10:
        lrs, losses = lrs[:-5], losses[:-5]
    sm = ema(losses, 0.98, bias_correct=True)
    n = len(sm)
    lds = [1] * n
    start = end = 0
    for i in range(1, n):
        for j in range(i):
            if sm[i] < sm[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[end] < lds[i]:
                end, start = i, i - lds[i]
    sections = (end - start) / 3
    return float(lrs[start + int(sections) + int(sections / 2)])


SUGGESTED = "LR Tempo suggested (90% of the fall, centred smoothing)"
MEDIAN = "LR Tempo suggested, median of the setup's 3 ramps (one per setup)"


def score_range_tests(
    setups: Sequence[SetupRuns],
    ramps: dict[str, tuple[list, list]],
    seeds: Sequence[int] = RAMP_SEEDS,
) -> list[dict[str, Any]]:
    """Per setup and ramp seed: each rule's LR and whether it lies in the good range /
    within ×2."""
    rows = []
    for st, sd in ((st, sd) for sd in seeds for st in setups):
        if ramp_key(st.key, sd) not in ramps:
            continue
        lrs, losses = (np.asarray(x, float) for x in ramps[ramp_key(st.key, sd)])
        finite = np.isfinite(losses)
        stop = int(np.argmin(finite)) if not finite.all() else len(losses)
        steps = np.arange(len(lrs), dtype=float)
        t = read_range_test((steps, lrs), (steps, losses))
        rules = {
            SUGGESTED: t.suggested_lr if t else None,
            "LR Tempo min_loss/3 (the rule before, same smoothing)": t.min_loss_lr / 3
            if t
            else None,
            "LR Tempo min_loss/10 (same smoothing)": t.min_loss_lr / 10 if t else None,
            "LR Tempo steepest": t.steepest_lr if t else None,
            "torch-lr-finder steepest (EMA 0.05)": torch_lr_finder_steepest(
                lrs[:stop], losses[:stop]
            ),
            "fastai lr_min (min/10, EMA 0.98)": fastai_min10(lrs[:stop], losses[:stop]),
            "fastai valley (EMA 0.98)": fastai_valley(lrs[:stop], losses[:stop]),
        }
        rows.append(
            {
                "setup": st.key,
                "seed": sd,
                "split": st.split,
                "good_range": list(st.good_range),
                "points": len(lrs),
                "confidence": t.confidence if t else None,
                "lrs": rules,
                "ok": {k: scores(v, st) for k, v in rules.items()},
            }
        )
    return rows + combined_rows(setups, rows)


def combined_rows(
    setups: Sequence[SetupRuns], rows: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per setup with ≥ 2 ramps: LR Tempo's suggestion as the median over its ramps
    (a team that ran the range test several times), scored like one ramp (``seed``
    ``"median"``)."""
    by: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        v = r["lrs"][SUGGESTED]
        if v is not None and math.isfinite(v):
            by[r["setup"]].append(float(v))
    out = []
    for st in setups:
        if len(by.get(st.key, ())) >= 2:
            v = float(np.median(by[st.key]))
            out.append(
                {
                    "setup": st.key,
                    "seed": "median",
                    "split": st.split,
                    "good_range": list(st.good_range),
                    "points": None,
                    "confidence": None,
                    "lrs": {MEDIAN: v},
                    "ok": {MEDIAN: scores(v, st)},
                }
            )
    return out

    return rows


# --------------------------------------------------------------------------- report


def _share(flags: Sequence[bool]) -> str:
    return f"{100 * sum(flags) / len(flags):.0f}% ({sum(flags)}/{len(flags)})" if flags else "—"


def table(
    sweep_rows: Sequence[dict[str, Any]],
    rt_rows: Sequence[dict[str, Any]],
    splits: Sequence[str] = ("all", "tune", "heldout"),
) -> str:
    """The printed table (Markdown): per method and split, the share inside each truth's
    good range and within ×2 of it (:data:`TRUTHS`)."""
    head = "| method | split | n |" + "".join(
        f" in good range ({label}) | within ×2 |" for _, label in TRUTHS
    )
    out = [head, "|---|---|---|" + "---|---|" * len(TRUTHS)]

    def line(name: str, split: str, flags: Sequence[dict[str, tuple[bool, bool]]]) -> str:
        cells = "".join(
            f" {_share([f[k][0] for f in flags])} | {_share([f[k][1] for f in flags])} |"
            for k, _ in TRUTHS
        )
        return f"| {name} | {split} | {len(flags)} |{cells}"

    def lines(name: str, rows: Sequence[dict[str, Any]], get: Any) -> None:
        for split in splits:
            part = [r for r in rows if split == "all" or r["split"] == split]
            if part:
                out.append(line(name, split, [get(r) for r in part]))

    for name, key in (
        ("sweep: LR Tempo recommended", "ok"),
        ("sweep: the fitted curve's minimum", "fit_ok"),
        ("sweep: lowest loss tried (one run)", "best_ok"),
    ):
        lines(name, sweep_rows, lambda r, key=key: r[key])
    ramps = [r for r in rt_rows if r["seed"] != "median"]
    for rule in ramps[0]["lrs"] if ramps else ():
        lines(f"range test: {rule}", ramps, lambda r, rule=rule: r["ok"][rule])
    if ramps:
        for name, keep in (
            ("confidence ≥ 0.6", lambda c: c is not None and c >= 0.6),
            ("confidence < 0.6", lambda c: c is None or c < 0.6),
        ):
            lines(
                f"range test: LR Tempo suggested, ramps with {name}",
                [r for r in ramps if keep(r["confidence"])],
                lambda r: r["ok"][SUGGESTED],
            )
    lines(
        f"range test: {MEDIAN}",
        [r for r in rt_rows if r["seed"] == "median"],
        lambda r: r["ok"][MEDIAN],
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.sweeps", description=__doc__.splitlines()[0]
    )
    p.add_argument("--data", type=Path, default=DATA_DIR, help="corpus 2 cache directory")
    p.add_argument("--designs", type=int, default=4, help="team sweeps per setup (default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sub-sampling")
    p.add_argument("--no-range-tests", dest="range_tests", action="store_false")
    p.add_argument("--range-cache", type=Path, default=DEFAULT_RANGE_CACHE)
    p.add_argument(
        "--ramp-seeds",
        type=int,
        default=len(RAMP_SEEDS),
        help=f"range-test ramps per setup, seeds 0..N-1 (default {len(RAMP_SEEDS)})",
    )
    p.add_argument(
        "--split",
        choices=("all", "tune", "heldout"),
        default=None,
        help="print only this split's rows (default: all, tune and held-out)",
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="write every row as JSON")
    args = p.parse_args(argv)
    if not exists(args.data):
        print(
            f"benchmarks.sweeps: no corpus 2 cache in {args.data} "
            "(generate it: python -m benchmarks.corpus2)",
            file=sys.stderr,
        )
        return 2
    setups = load_setups(args.data)
    seeds = tuple(range(args.ramp_seeds))
    sweep_rows = run_sweeps(setups, args.designs, args.seed)
    rt_rows: list[dict[str, Any]] = []
    if args.range_tests:
        try:
            import torch  # noqa: F401
        except ImportError:
            print(
                "benchmarks.sweeps: torch not importable: range tests from the cache only",
                file=sys.stderr,
            )
            ramps = range_tests(setups, args.range_cache, seeds, train=False)
        else:
            ramps = range_tests(setups, args.range_cache, seeds)
        rt_rows = score_range_tests(setups, ramps, seeds)
    print(
        f"corpus 2: {len(setups)} setups, {len(sweep_rows)} team sweeps "
        f"({args.designs} per setup, seed {args.seed}), "
        f"{sum(r['seed'] != 'median' for r in rt_rows)} range tests "
        f"({len(seeds)} seeds per setup)\n"
    )
    print(table(sweep_rows, rt_rows, (args.split,) if args.split else ("all", "tune", "heldout")))
    edge = [r for r in sweep_rows if r["at_edge"]]
    print(
        f"\nsweeps whose best LR sat at the edge of what was tried: {len(edge)}; "
        f"found != 1 sweep: {sum(r['sweeps_found'] != 1 for r in sweep_rows)}"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"sweeps": sweep_rows, "range_tests": rt_rows}, indent=1, default=float)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
