"""Every suggestion's LR numbers agree with themselves (CONTRACT: ``suggested_lr`` =
``current_lr`` × ``factor``; a decrease-type action has ``factor`` < 1, an increase-type
one > 1; ``keep_lr`` keeps the LR), over the runs LR Tempo is measured on: corpus 2 (cached), the real part
of corpus 1 (quick; ``LRTEMPO_CONSISTENCY_LIMIT`` keeps that many scenarios, default all),
``sample_runs/`` and ``../shared/real_logs`` (skipped when absent).

The checks are the contract's, not a model of ``analyzer.suggest``: a failure lists
the runs and their numbers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer.analysis import analyze_run
from analyzer.findings import Suggestion
from analyzer.lrtext import DECREASE_ACTIONS, INCREASE_ACTIONS
from analyzer.readers import read_sources

REPO = Path(__file__).resolve().parent.parent
SAMPLE_RUNS = REPO / "sample_runs"
REAL_LOGS = REPO.parent / "shared" / "real_logs"
#: Rounding the suggestion may apply to its numbers (2 significant digits: 5 %).
REL_TOL = 0.051


def problems(s: Suggestion) -> list[str]:
    """What is inconsistent in one suggestion (empty when it is consistent)."""
    out: list[str] = []
    cur, new, f = s.current_lr, s.suggested_lr, s.factor

    def known(v: float | None) -> bool:
        return v is not None and math.isfinite(v)

    if s.action == "add_warmup" and not known(f):
        return out  # a warm-up at the same peak changes no LR
    if s.action == "keep_lr":
        if known(cur) and known(new) and not math.isclose(cur, new, rel_tol=1e-9):
            out.append("keep_lr changes the LR")
        return out
    if s.action in DECREASE_ACTIONS:
        if known(f) and not f < 1:
            out.append("decrease with factor >= 1")
        if known(cur) and known(new) and not new < cur:
            out.append("decrease with suggested >= current")
    if s.action in INCREASE_ACTIONS:
        if known(f) and not f > 1:
            out.append("increase with factor <= 1")
        if known(cur) and known(new) and not new > cur:
            out.append("increase with suggested <= current")
        if not known(f) and not (known(cur) and known(new)):
            out.append("increase without a factor")
    if (
        s.action in DECREASE_ACTIONS | INCREASE_ACTIONS
        and known(cur)
        and known(new)
        and known(f)
        and not math.isclose(new, cur * f, rel_tol=REL_TOL)
    ):
        out.append(f"suggested != current × factor ({cur * f:.3g})")
    return out


def _limit() -> int | None:
    n = int(os.environ.get("LRTEMPO_CONSISTENCY_LIMIT", "0"))
    return None if n <= 0 else n


def corpus_runs() -> Iterator[tuple[str, object]]:
    from benchmarks.corpus import build_corpus

    for lr in build_corpus(quick=True, parts=("real",), limit=_limit(), workers=1):
        yield f"corpus1:{lr.id}", lr.run


def corpus2_runs() -> Iterator[tuple[str, object]]:
    from benchmarks.corpus2 import load_corpus2

    for lr in load_corpus2(regenerate=False):
        yield f"corpus2:{lr.id}", lr.run


def file_runs(root: Path) -> Iterator[tuple[str, object]]:
    for run in read_sources([str(root)]).runs:
        yield f"{root.name}:{Path(run.meta.location).name}#{run.meta.name}", run


def check(named_runs: Iterator[tuple[str, object]]) -> tuple[int, list[str]]:
    seen, bad = 0, []
    for name, run in named_runs:
        s = analyze_run(run).suggestion  # type: ignore[arg-type]
        if s is None:
            continue
        seen += 1
        wrong = problems(s)
        if wrong:
            bad.append(
                f"{name}: {s.action} current={s.current_lr!r} suggested={s.suggested_lr!r} "
                f"factor={s.factor!r}: {'; '.join(wrong)}"
            )
    return seen, bad


def test_problems_catches_each_contradiction() -> None:
    assert problems(Suggestion("decrease_lr", 3e-3, 3e-4, 0.1)) == []
    assert problems(Suggestion("increase_lr", None, None, 10.0)) == []
    assert problems(Suggestion("keep_lr", 1e-3, 1e-3)) == []
    assert problems(Suggestion("decrease_lr", 1.25e-5, 9.9e-5, 0.1))  # the example
    assert problems(Suggestion("decrease_lr", 0.03, 0.0014, 0.1))  # ×0.1 of an LR not shown
    assert problems(Suggestion("increase_lr", 1e-3, 1e-2, 0.5))
    assert problems(Suggestion("keep_lr", 9.9e-4, 2.47e-9))
    assert problems(Suggestion("increase_lr"))


def _assert_consistent(seen: int, bad: list[str]) -> None:
    assert seen > 0
    assert not bad, f"{len(bad)} of {seen} suggestions contradict themselves:\n" + "\n".join(bad)


def test_sample_runs_suggestions_are_consistent() -> None:
    _assert_consistent(*check(file_runs(SAMPLE_RUNS)))


def test_real_logs_suggestions_are_consistent() -> None:
    if not REAL_LOGS.is_dir():
        pytest.skip("../shared/real_logs is not present")
    _assert_consistent(*check(file_runs(REAL_LOGS)))


def test_committed_real_logs2_suggestions_are_consistent() -> None:
    _assert_consistent(*check(file_runs(REPO / "tests" / "real_logs2")))


def test_corpus2_suggestions_are_consistent() -> None:
    """Every kept run of corpus 2 (real PyTorch runs, both family splits; from its cache)."""
    seen, bad = check(corpus2_runs())
    if seen == 0:
        pytest.skip("corpus 2 cache absent")
    _assert_consistent(seen, bad)


def test_corpus1_suggestions_are_consistent() -> None:
    _assert_consistent(*check(corpus_runs()))


def peak_lr_problems(named_runs: Iterator[tuple[str, object]]) -> tuple[int, list[str]]:
    """Runs whose ``current_lr`` is not their LR series' peak (CONTRACT: the base LR)."""
    import numpy as np

    from analyzer.roles import role_series

    seen, bad = 0, []
    for name, run in named_runs:
        a = analyze_run(run)  # type: ignore[arg-type]
        s = a.suggestion
        if s is None or s.current_lr is None or not a.roles.lr:
            continue
        lr = role_series(run, a.roles.lr)  # type: ignore[arg-type]
        values = lr["value"].to_numpy(dtype=float) if lr is not None else np.array([])
        values = values[np.isfinite(values)]
        if not len(values):
            continue
        seen += 1
        if not math.isclose(s.current_lr, float(values.max()), rel_tol=REL_TOL):
            bad.append(
                f"{name}: {s.action} current={s.current_lr:.3g}, peak LR logged {values.max():.3g}"
            )
    return seen, bad


def test_current_lr_is_the_logged_peak() -> None:
    seen, bad = peak_lr_problems(file_runs(SAMPLE_RUNS))
    if REAL_LOGS.is_dir():
        more = peak_lr_problems(file_runs(REAL_LOGS))
        seen, bad = seen + more[0], bad + more[1]
    assert seen > 0
    assert not bad, f"{len(bad)} of {seen}:\n" + "\n".join(bad)
