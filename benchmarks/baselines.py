"""Baseline detectors the benchmark compares LR Tempo with.

Each baseline is a function ``Run -> Detection`` (kinds found, LR direction it implies,
and a step when it would act). All read the run through LR Tempo's role resolution,
so every method sees the same ``train_loss`` / ``val_loss`` / ``lr`` series.

- :func:`reduce_lr_on_plateau` — Keras ``ReduceLROnPlateau`` as a stagnation detector.
  Keras semantics and defaults: ``monitor='val_loss'`` (train loss when the run has no
  val loss), ``mode='min'``, ``patience=10``, ``min_delta=1e-4`` (absolute: an epoch
  improves only if ``current < best - min_delta``), ``cooldown=0``; evaluated once per
  logged val point (Keras' ``on_epoch_end``). For a train-only run the minibatch loss is
  averaged into 50 pseudo-epochs first (Keras monitors epoch means, not single batches).
  It flags *stagnation* when it would reduce the LR at least once; its direction is
  always ``decrease`` — that is what Keras does on a plateau, even when the plateau
  comes from an LR that is too small (scored as is).
- :func:`early_stopping` — Keras ``EarlyStopping(monitor='val_loss', patience=5,
  min_delta=0, restore_best_weights=True)`` as an overfitting detector: flags
  *overfitting* when it would stop before the last logged val point; its action is an
  early stop at the best val step, direction ``none``. No val loss → no detection.
- :func:`trainspotter_baseline` — ``trainspotter.run_all`` (0.2.6, default detectors)
  on the same series fed in-process as ``train/loss``, ``eval/loss`` and ``lr``.
  Mapping: ``divergence`` → divergence; ``spikes`` → oscillation; ``plateau`` →
  stagnation; ``overfitting`` → overfitting; other detectors (lr_schedule, eval_noise,
  loss_floor, grad_norm, throughput) have no counterpart and are ignored. Findings of
  severity ``warning``/``error`` count; ``plateau`` only ever emits ``info``, so its info
  findings count too (otherwise it could never detect stagnation); an ``overfitting``
  finding that trainspotter itself downgraded to ``info`` (explained by divergence)
  does not. Direction from its fix texts: divergence/spikes → ``decrease`` ("Lower the
  learning rate"), plateau → ``increase`` ("Try a higher LR"), else ``none``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from analyzer.model import Run
from analyzer.roles import resolve_roles, role_series


@dataclass(frozen=True)
class Detection:
    """What one method says about one run."""

    kinds: frozenset[str]
    direction: str = "none"  # decrease | increase | none
    action_step: int | None = None  # when it would act (reduce LR / stop)


def _series(
    run: Run,
) -> tuple[
    np.ndarray | None,
    np.ndarray | None,
    np.ndarray | None,
    np.ndarray | None,
    np.ndarray | None,
    np.ndarray | None,
]:
    roles = resolve_roles(run)
    out: list[np.ndarray | None] = []
    for name in (roles.train_loss, roles.val_loss, roles.lr):
        df = role_series(run, name)
        if df is None or df.empty:
            out += [None, None]
        else:
            out += [df["step"].to_numpy(np.int64), df["value"].to_numpy(np.float64)]
    return tuple(out)  # type: ignore[return-value]


def _epochs(steps: np.ndarray, values: np.ndarray, n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    if len(values) <= n:
        return steps, values
    idx = np.array_split(np.arange(len(values)), n)
    return (
        np.array([steps[i[-1]] for i in idx]),
        np.array([float(np.mean(values[i])) for i in idx]),
    )


def reduce_lr_on_plateau(
    run: Run, patience: int = 10, min_delta: float = 1e-4, cooldown: int = 0
) -> Detection:
    """Keras ReduceLROnPlateau (see the module docstring)."""
    ts, tv, vs, vv, _, _ = _series(run)
    if vv is not None and len(vv):
        steps, values = vs, vv
    elif tv is not None and len(tv):
        steps, values = _epochs(ts, tv)
    else:
        return Detection(frozenset())
    best, wait, cool = math.inf, 0, 0
    for s, cur in zip(steps, values):
        if cool > 0:
            cool -= 1
            wait = 0
        if cur < best - min_delta:  # NaN compares False, as in Keras (np.less)
            best, wait = cur, 0
        elif cool <= 0:
            wait += 1
            if wait >= patience:
                return Detection(frozenset({"stagnation"}), "decrease", int(s))
    return Detection(frozenset())


def early_stopping(run: Run, patience: int = 5, min_delta: float = 0.0) -> Detection:
    """Keras EarlyStopping on val_loss (see the module docstring)."""
    _, _, vs, vv, _, _ = _series(run)
    if vv is None or len(vv) < 2:
        return Detection(frozenset())
    best, best_step, wait = math.inf, int(vs[0]), 0
    for i, (s, cur) in enumerate(zip(vs, vv)):
        if cur - min_delta < best:
            best, best_step, wait = cur, int(s), 0
        else:
            wait += 1
            if wait >= patience and i < len(vv) - 1:
                return Detection(frozenset({"overfitting"}), "none", best_step)
    return Detection(frozenset())


_TS_MAP = {
    "divergence": "divergence",
    "spikes": "oscillation",
    "plateau": "stagnation",
    "overfitting": "overfitting",
}


def to_trainspotter(run: Run):  # -> trainspotter.Run
    """The run's train/val/lr series as a ``trainspotter.Run``."""
    import trainspotter

    ts, tv, vs, vv, ls, lv = _series(run)
    tr = trainspotter.Run(source_format="lrtempo-corpus", source_path=run.meta.location)
    for name, st, va in (("train/loss", ts, tv), ("eval/loss", vs, vv), ("lr", ls, lv)):
        if st is None:
            continue
        series = trainspotter.MetricSeries(
            name=name,
            points=[trainspotter.Point(step=int(s), value=float(v)) for s, v in zip(st, va)],
        )
        tr.metrics[name] = series
    tr.finalize()
    return tr


def trainspotter_baseline(run: Run) -> Detection:
    """trainspotter's default detectors, mapped to our kinds (see the module docstring)."""
    import trainspotter

    findings = trainspotter.run_all(to_trainspotter(run))
    kinds: set[str] = set()
    first: int | None = None
    for f in findings:
        kind = _TS_MAP.get(f.detector)
        if kind is None:
            continue
        if f.severity == "info" and f.detector != "plateau":
            continue
        kinds.add(kind)
        first = f.step_start if first is None else min(first, f.step_start)
    if kinds & {"divergence", "oscillation"}:
        direction = "decrease"
    elif "stagnation" in kinds:
        direction = "increase"
    else:
        direction = "none"
    return Detection(frozenset(kinds), direction, first)


BASELINES: dict[str, Callable[[Run], Detection]] = {
    "ReduceLROnPlateau": reduce_lr_on_plateau,
    "EarlyStopping": early_stopping,
    "trainspotter": trainspotter_baseline,
}

#: Kinds each baseline can detect at all (for reading its macro-F1).
COVERS: dict[str, frozenset[str]] = {
    "ReduceLROnPlateau": frozenset({"stagnation"}),
    "EarlyStopping": frozenset({"overfitting"}),
    "trainspotter": frozenset({"divergence", "oscillation", "stagnation", "overfitting"}),
}
