"""Fit the too-slow odds model (:mod:`analyzer.detectors.slow_odds`) on corpus 2's
tuning families and report it by families left out.

    python -m benchmarks.fit_slow_odds [--workers N] [--c VALUE]

Only the tuning families are loaded (``load_corpus2("tune")``); the held-out families
are never read. The rows are the runs that the analyzer, with the odds model switched
off, gives no warning — the runs the model is asked about — whose labels are healthy
or stagnation (the constructed too-small LRs), with both losses and a known optimizer.
The model is a logistic regression over the standardised statistics (L2, ``C``); the
script prints, for each threshold, how many too-slow runs and healthy runs it flags
when every family is scored by a model fitted on the others (leave-one-family-out),
and the fitted parameters to paste into :class:`analyzer.detectors.params.SlowOddsParams`.
"""

from __future__ import annotations

import argparse
import dataclasses
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from analyzer.analysis import analyze_run
from analyzer.detectors import DEFAULT_CONFIG, odds_features
from analyzer.lr_priors import base_lr, from_scratch_floor
from analyzer.roles import resolve_roles, role_arrays

from .corpus import LabeledRun
from .corpus2 import load_corpus2

#: The analyzer with the odds model switched off (no odds reach 2).
_OFF = dataclasses.replace(
    DEFAULT_CONFIG, slow_odds=dataclasses.replace(DEFAULT_CONFIG.slow_odds, threshold=2.0)
)
THRESHOLDS = (0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85)


def row_of(lab: LabeledRun) -> tuple[str, bool, list[float]] | None:
    """(family, too slow?, statistics) of a run the model would be asked about, else None."""
    if lab.labels not in (frozenset(), frozenset({"stagnation"})):
        return None
    run = lab.run
    if any(f.severity != "info" for f in analyze_run(run, config=_OFF).findings):
        return None
    meta = run.meta
    floor = from_scratch_floor(meta.params, meta.tags, meta.name)
    if floor is None:
        return None
    roles = resolve_roles(run)
    lr = role_arrays(run, roles.lr)
    feats = odds_features(
        role_arrays(run, roles.train_loss),
        role_arrays(run, roles.val_loss),
        base_lr(lr, meta.params),
        floor[0],
    )
    if feats is None:
        return None
    family = lab.id.split("-")[1]
    names = DEFAULT_CONFIG.slow_odds.features
    return family, bool(lab.labels), [feats[n] for n in names]


def fit(x: np.ndarray, y: np.ndarray, c: float) -> Any:
    """The standardised L2 logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000)).fit(x, y)


def left_out_odds(x: np.ndarray, y: np.ndarray, fam: np.ndarray, c: float) -> np.ndarray:
    """Each family's odds from a model fitted on the other families."""
    p = np.zeros(len(y))
    for f in np.unique(fam):
        out = fam == f
        p[out] = fit(x[~out], y[~out], c).predict_proba(x[out])[:, 1]
    return p


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fit_slow_odds")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--c", type=float, default=0.1, help="inverse L2 strength (default 0.1)")
    args = ap.parse_args(argv)
    runs = load_corpus2("tune", workers=args.workers)
    with ProcessPoolExecutor(args.workers) as ex:
        rows = [r for r in ex.map(row_of, runs, chunksize=8) if r is not None]
    fam = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows])
    x = np.array([r[2] for r in rows])
    print(
        f"{len(rows)} runs without a warning ({int(y.sum())} too slow, "
        f"{int((~y).sum())} healthy) in {len(set(fam))} tuning families"
    )
    p = left_out_odds(x, y, fam, args.c)
    print(
        "threshold  too-slow flagged  healthy flagged   (each family by a model fitted on the others)"
    )
    for t in THRESHOLDS:
        k = p >= t
        print(
            f"{t:9.2f}  {int(np.sum(k & y)):5d} / {int(y.sum()):<9d} {int(np.sum(k & ~y)):4d} / {int((~y).sum())}"
        )
    model = fit(x, y, args.c)
    scaler, lg = model[0], model[-1]

    def tup(a: np.ndarray) -> str:
        return "(" + ", ".join(f"{v:.4g}" for v in a) + ")"

    print("SlowOddsParams fitted on all of them:")
    print(f"    mean = {tup(scaler.mean_)}")
    print(f"    scale = {tup(scaler.scale_)}")
    print(f"    coef = {tup(lg.coef_[0])}")
    print(f"    intercept = {float(lg.intercept_[0]):.4g}")
    shipped = DEFAULT_CONFIG.slow_odds
    fitted = np.concatenate([scaler.mean_, scaler.scale_, lg.coef_[0], lg.intercept_])
    same = np.allclose(
        fitted, [*shipped.mean, *shipped.scale, *shipped.coef, shipped.intercept], rtol=1e-3
    )
    print("the shipped parameters are these" if same else "the shipped parameters DIFFER")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
