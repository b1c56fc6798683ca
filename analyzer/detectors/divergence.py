"""Divergence: the loss blows up, drifts upwards, collapses or degenerates.

Checks, in order (the first that fires wins, one finding per series):

1. **Non-finite** — any NaN/±Inf value: critical, from the first such step — unless the
   loss came back: finite for the last quarter of the run or more after the last such
   value, ending within ``divergence.explosion_factor`` × the level before the first
   (a batch skipped under mixed precision, a YOLO evaluation before the model predicts
   anything): then an info finding (``path: recovered``) and checks 2–6 on the finite
   points.
2. **Degenerate zero** — the run ends with ≥ max(3, 20 %) points exactly 0.0: not
   health but a data/precision bug (fp16 underflow, all labels masked). Reported as
   ``divergence`` with ``evidence["degenerate_zero"] = 1``; the suggestion is
   ``check_data``.
3. **Collapse to a constant** — the run ends with ≥ max(3, ``divergence.const_frac``·n)
   identical values (relative tolerance 1e-9) at a level *above* where the run was
   (≥ its first value or above the median before): a model that blew up and now
   predicts uniformly, e.g. exactly ln(32000) = 10.3735. ``exp_collapse_value`` hints
   at the vocabulary/class count. Critical.
4. **Explosion** — a positive loss exceeding ``divergence.explosion_factor`` (2×) the maximum
   of its first 10 % (≥ 1 point), sustained (≥ 2 consecutive points or at the end).
   Critical — unless the run recovers (median of its last 10 % below that early
   maximum, and below ``explosion_factor`` × its opening level, the median of its first
   2 %: a blow-up that began inside the first 10 % lifts that maximum too): a transient
   blow-up is instability, reported as kind ``oscillation`` (``path: spike``, warning,
   from the first to the last point above the limit).
4b. **Blown up at the start** — the explosion happened inside the first 10 % (so that
   window cannot be the reference): the median of the rest of the run and of its last
   10 % are both ≥ ``divergence.explosion_factor`` × the first value. Critical; a spike
   (oscillation, warning) when the last 10 % came back below that.
5. **Excursion** — the rolling-median trend (≤ 512 block medians) peaks at ≥
   ``divergence.excursion_factor`` (2×) both the first value and the final level, and
   stays ≥ ``excursion_hold`` (1.25×) that for ≥ ``excursion_share`` (5 %) of the run:
   the LR threw the weights out early (often within the first tenth, so check 4 has no
   clean reference) and the run spent its steps getting back, ending near where it
   began. Reported as kind ``oscillation`` (``path: excursion``), warning.
   A spike or excursion of checks 4–5 whose val loss ends ≥ ``val_blowup_factor`` (3×)
   the untrained loss is a divergence after all (:func:`val_not_recovered`, applied by
   the analysis, which has both losses).
6. **Sustained upward drift** — on ≤ 512 block medians, Mann–Kendall with AR(1)
   correction on 22 windows of a fixed grid (¼, ⅓, ½, ¾ of the run, starts every ⅛,
   and the whole run), Bonferroni over the windows. Needs p_adj < alpha AND a Theil–Sen
   rise ≥ ``divergence.rise_level`` (1 %) of the level at the window start AND ≥
   ``divergence.rise_range`` (10 %) of the run's trend range AND > 3× the value quantum
   AND the final level still ≥ ¼ of the rise above the window start (a bump that
   recovers is not divergence) AND ≥ ``divergence.rise_opening`` (1 %) of the opening
   level (a memorised train set creeping from 3e-4 to 1e-3 moved a thousandth of its
   fall). Warning; critical when the rise ≥ 50 % of the level.

Negative-valued losses (GANs, adversarial or likelihood objectives) only get check 1:
their level is not a distance from a minimum, so drifts around 0 are not divergence. A
loss that touches exactly 0 without going below (a batch whose cross-entropy underflows
under huge logits) is not signed: it gets checks 1–4b (a jump ×3,000 at step 1 read
healthy with check 1 only), not 5–6 (on corpus 1 they misread three oscillating runs).

Known false-positive modes: an LR restart (SGDR) or a curriculum adding harder data lifts
the loss for a while; the persistence gate usually, not always, filters them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..findings import Finding, MetricRole, Severity
from ..stats import (
    bonferroni,
    confidence,
    finite_xy,
    opening_and_end,
    reduce_blocks,
    rolling_median,
    trend_test,
)
from .params import DEFAULT_CONFIG, AnalysisConfig, quiet

WINDOW_FRACS = (0.25, 1.0 / 3.0, 0.5, 0.75, 1.0)
START_STEP = 0.125
#: Non-finite values are a divergence unless the loss is finite again for at least this
#: share of the run after the last of them (:func:`_came_back`).
RECOVERED_SHARE = 0.25


def _tail_run(y: np.ndarray, value: float, rtol: float = 1e-9) -> int:
    tol = abs(value) * rtol
    same = np.abs(y - value) <= tol
    if not same[-1]:
        return 0
    idx = np.flatnonzero(~same)
    return len(y) if len(idx) == 0 else len(y) - 1 - int(idx[-1])


def _windows(n: int) -> list[tuple[int, int]]:
    out = []
    for f in WINDOW_FRACS:
        s = 0.0
        while s + f <= 1.0 + 1e-9:
            a, b = round(s * n), round((s + f) * n)
            if b - a >= 6:
                out.append((a, min(b, n)))
            s += START_STEP
    return sorted(set(out))


def _quantum(y: np.ndarray) -> float:
    d = np.abs(np.diff(np.unique(y)))
    d = d[d > 0]
    return float(d.min()) if len(d) else 0.0


@quiet
def detect_divergence(
    steps: np.ndarray,
    values: np.ndarray,
    metric: MetricRole = "train_loss",
    config: AnalysisConfig = DEFAULT_CONFIG,
    nonfinite_only: bool = False,
) -> list[Finding]:
    """Findings of kind ``divergence`` for one loss series (``nonfinite_only``: check 1)."""
    xs = np.asarray(steps, dtype=np.float64)
    ys = np.asarray(values, dtype=np.float64)
    if len(xs) != len(ys) or len(ys) == 0:
        return []
    bad = ~np.isfinite(ys) & np.isfinite(xs)
    transient: list[Finding] = []
    if bad.any() and _came_back(ys, bad, config.divergence.explosion_factor):
        transient = [_transient(xs, bad, metric)]
    elif bad.any():
        i = int(np.flatnonzero(bad)[0])
        fin = ys[:i][np.isfinite(ys[:i])]
        kind = "nan" if np.isnan(ys[i]) else "inf"
        # it never trained at this LR: every finite value before the blow-up is at or above
        # (0.9×) the first, and the last is ≥ explosion_factor × it
        rose = bool(
            len(fin) >= 3
            and fin[0] > 0
            and np.min(fin) >= 0.9 * fin[0]
            and fin[-1] >= config.divergence.explosion_factor * fin[0]
        )
        return [
            _certain(
                metric,
                int(xs[i]),
                int(np.nanmax(xs)),
                evidence={
                    "nonfinite_count": int(bad.sum()),
                    "first_nonfinite_step": float(xs[i]),
                    "nonfinite": kind,
                    "last_finite_value": float(fin[-1]) if len(fin) else None,
                    "rose_from_start": 1.0 if rose else 0.0,
                },
                message=f"The loss became {'NaN' if kind == 'nan' else 'infinite'} at step {int(xs[i])}: training diverged; "
                "lower the learning rate (or add gradient clipping).",
            )
        ]
    x, y = finite_xy(xs, ys)
    if len(y) < 3 or nonfinite_only:
        return transient
    return transient + _finite_checks(x, y, metric, config)


def _came_back(ys: np.ndarray, bad: np.ndarray, factor: float) -> bool:
    """Whether the loss recovered from its non-finite values: finite for the last
    :data:`RECOVERED_SHARE` of the run or more (≥ 3 points) and ending within ``factor`` ×
    the level just before the first of them (any level when there was none). Diverged
    weights stay NaN; a batch skipped under mixed precision or an evaluation of a model
    that predicts nothing yet logs ``inf`` and the run goes on."""
    idx = np.flatnonzero(bad)
    after = ys[idx[-1] + 1 :]
    after = after[np.isfinite(after)]
    if len(after) < max(3, RECOVERED_SHARE * len(ys)):
        return False
    before = ys[: idx[0]][np.isfinite(ys[: idx[0]])]
    if not len(before):
        return True
    ref = float(np.median(before[-5:]))
    end = float(np.median(after[-max(1, len(after) // 10) :]))
    return ref <= 0 or end <= factor * ref


def _transient(xs: np.ndarray, bad: np.ndarray, metric: MetricRole) -> Finding:
    """Info: non-finite values the run came back from (:func:`_came_back`)."""
    steps = xs[bad]
    n_bad = int(bad.sum())
    where = (
        f"step {int(steps[0])}"
        if n_bad == 1
        else f"{n_bad} points, steps {int(steps[0])}–{int(steps[-1])}"
    )
    return Finding(
        kind="divergence",
        metric=metric,
        start_step=int(steps[0]),
        end_step=int(steps[-1]),
        severity="info",
        confidence=0.5,
        evidence={
            "path": "recovered",
            "nonfinite_count": n_bad,
            "first_nonfinite_step": float(steps[0]),
        },
        message=f"The {metric.replace('_', ' ')} was not finite at {where}, and the run came back "
        "to its level and went on: a batch skipped under mixed precision or an evaluation "
        "before the model predicts anything, not a divergence (if it recurs, clip gradients).",
    )


def _finite_checks(
    x: np.ndarray, y: np.ndarray, metric: MetricRole, config: AnalysisConfig
) -> list[Finding]:
    """Checks 2–6 of the module docstring on the finite points."""
    n = len(y)
    zeros = _tail_run(y, 0.0)
    if y[-1] == 0.0 and zeros >= max(3, int(0.2 * n)):
        s = float(x[n - zeros])
        return [
            _certain(
                metric,
                int(s),
                int(x[-1]),
                evidence={
                    "degenerate_zero": 1.0,
                    "zero_points": int(zeros),
                    "zero_share": zeros / n,
                },
                message=f"The loss is exactly 0 for the last {zeros} logged points (from step {int(s)}): "
                "a data or precision bug (masked labels, fp16 underflow), not convergence.",
            )
        ]

    lowest = float(np.min(y))
    if lowest < 0.0:
        return []  # adversarial / signed objectives: only non-finite values count

    tail = _tail_run(y, float(y[-1]))
    if tail >= max(3, int(config.divergence.const_frac * n)) and tail < n:
        v = float(y[-1])
        before = y[: n - tail]
        if v >= before[0] or v > float(np.median(before)):
            s = float(x[n - tail])
            ev = {
                "collapse_value": v,
                "constant_points": int(tail),
                "exp_collapse_value": float(math.exp(v)) if v < 50 else None,
                "max_before": float(before.max()),
                "first_value": float(y[0]),
            }
            hint = f" (= ln {math.exp(v):.0f}, uniform over the outputs)" if 1.0 < v < 20 else ""
            return [
                _certain(
                    metric,
                    int(s),
                    int(x[-1]),
                    evidence=ev,
                    message=f"The loss is stuck at exactly {v:.6g}{hint} since step {int(s)} after "
                    f"reaching {before.max():.4g}: the model collapsed; lower the learning rate.",
                )
            ]

    early = y[: max(1, min(n // 10, 50))]
    ref = float(early.max())
    final = float(np.median(y[-max(3, n // 10) :]))
    above = y > config.divergence.explosion_factor * ref
    if ref > 0 and above.any():
        run2 = above[1:] & above[:-1]
        sustained = bool(run2.any()) or bool(above[-1])
        if sustained:
            i = int(np.flatnonzero(above)[0])
            peak = float(y.max())
            # back below its early level and near where it began: a spike, not a broken run
            # (an early maximum the blow-up already lifted is no level to come back to)
            opening = opening_and_end(y, 50)[0]
            far_above_start = opening > 0 and final >= config.divergence.explosion_factor * opening
            if final < ref and not far_above_start:
                return [_spike(x, y, above, i, peak, ref, final, metric)]
            return [
                _blew_up(
                    x,
                    i,
                    metric,
                    ref,
                    peak,
                    evidence={
                        "explosion_ratio": peak / ref,
                        "early_max": ref,
                        "peak_value": peak,
                        "above_points": int(above.sum()),
                    },
                    message=f"The loss exploded to {peak:.4g} ({peak / ref:.1f}× its early maximum) from "
                    f"step {int(x[i])}: lower the learning rate.",
                )
            ]

    start = _blown_up_at_start(x, y, len(early), final, metric, config)
    if start is not None:
        return [start]
    if lowest == 0.0:
        return []
    excursion = _excursion(x, y, metric, config)
    if excursion is not None:
        return [excursion]
    return _drift(x, y, metric, config)


def _certain(
    metric: MetricRole,
    start: int,
    end: int,
    evidence: Mapping[str, float | int | str | None],
    message: str,
) -> Finding:
    """A critical divergence finding the data leave no doubt about (confidence 1)."""
    return Finding(
        kind="divergence",
        metric=metric,
        start_step=start,
        end_step=end,
        severity="critical",
        confidence=1.0,
        evidence=dict(evidence),
        message=message,
    )


def _blew_up(
    x: np.ndarray,
    i: int,
    metric: MetricRole,
    base: float,
    high: float,
    evidence: Mapping[str, float | int | str | None],
    message: str,
) -> Finding:
    """A critical divergence from step ``x[i]`` to the end: the loss rose from ``base`` to
    ``high`` (confidence from ½, nearer 1 the larger the rise)."""
    return Finding(
        kind="divergence",
        metric=metric,
        start_step=int(x[i]),
        end_step=int(x[-1]),
        severity="critical",
        confidence=min(1.0, 0.5 + 0.5 * (1 - base / high)),
        evidence=dict(evidence),
        message=message,
    )


def _spike(
    x: np.ndarray,
    y: np.ndarray,
    above: np.ndarray,
    i: int,
    peak: float,
    ref: float,
    final: float,
    metric: MetricRole,
) -> Finding:
    """A sustained explosion the run recovered from, as the oscillation it is."""
    j = int(np.flatnonzero(above)[-1])
    return Finding(
        kind="oscillation",
        metric=metric,
        start_step=int(x[i]),
        end_step=int(x[j]),
        severity="warning",
        confidence=min(1.0, 0.5 + 0.5 * (1 - ref / peak)),
        evidence={
            "onset_step": float(x[i]),
            "explosion_ratio": peak / ref,
            "early_max": ref,
            "peak_value": peak,
            "final_level": final,
            "above_points": int(above.sum()),
            "path": "spike",
        },
        message=f"The loss spiked to {peak:.4g} ({peak / ref:.1f}× its early maximum) between steps "
        f"{int(x[i])} and {int(x[j])}, then recovered: training is unstable; lower the learning rate.",
    )


def _blown_up_at_start(
    x: np.ndarray, y: np.ndarray, k: int, final: float, metric: MetricRole, config: AnalysisConfig
) -> Finding | None:
    """The loss jumped within its first ``k`` points to ≥ ``divergence.explosion_factor`` × its
    first value and the rest of the run (median, and ``final``, its last tenth's median)
    stays there; a spike (:func:`_spike`, relative to the first value) when the last
    tenth recovered."""
    y0 = float(y[0])
    rest = y[k:]
    if len(rest) < 3 or not y0 > 0:
        return None
    level = float(np.median(rest))
    limit = config.divergence.explosion_factor * y0
    if level < limit:
        return None
    above = y >= limit
    if not above.any():  # a median of two values can overflow above every value
        return None
    i = int(np.flatnonzero(above)[0])
    if final < limit:  # blown up for most of the run, recovered by the end (e.g. as the LR decayed)
        return _spike(x, y, above, i, float(y.max()), y0, final, metric)
    return _blew_up(
        x,
        i,
        metric,
        y0,
        level,
        evidence={
            "first_value": y0,
            "level_after": level,
            "final_level": final,
            "start_ratio": level / y0,
        },
        message=f"The loss jumped from {y0:.4g} at the first step to a median of {level:.4g} "
        f"({level / y0:.1f}×) by step {int(x[i])} and never came back: the learning rate blew "
        "the model up at the start; lower it.",
    )


def _excursion(
    x: np.ndarray, y: np.ndarray, metric: MetricRole, config: AnalysisConfig
) -> Finding | None:
    """The trend rose to ≥ ``divergence.excursion_factor`` (2) × both its first value and its
    final level, and stayed ≥ ``excursion_hold`` × that for ≥ ``excursion_share`` of the
    run: the LR threw the weights out and the run spent its steps getting back (an
    instability, reported as kind ``oscillation``, ``path: excursion``)."""
    p = config.divergence
    red = reduce_blocks(x, y)
    rx, ry = red.steps, red.values
    n = len(ry)
    if n < 24:
        return None
    trend = rolling_median(ry, max(3, (n // 20) | 1))
    final = float(np.median(ry[-max(3, n // 10) :]))
    ref = max(float(y[0]), final)
    peak = float(trend.max())
    held = trend >= p.excursion_hold * ref
    if not (ref > 0 and peak >= p.excursion_factor * ref and held.mean() >= p.excursion_share):
        return None
    i, j = int(np.flatnonzero(held)[0]), int(np.flatnonzero(held)[-1])
    share = float(held.mean())
    return Finding(
        kind="oscillation",
        metric=metric,
        start_step=int(rx[i]),
        end_step=int(rx[j]),
        severity="warning",
        confidence=min(1.0, 0.5 + 0.5 * (1 - ref / peak) + 0.5 * share),
        evidence={
            "onset_step": float(rx[i]),
            "excursion_ratio": peak / ref,
            "first_value": float(y[0]),
            "final_level": final,
            "peak_value": peak,
            "share_above": share,
            "path": "excursion",
            # real progress after the excursion (a warm-up may then be the fix): the
            # run ended at ≤ half its first value; else it went nowhere
            "recovered": float(final <= 0.5 * float(y[0])),
        },
        message=f"The {metric.replace('_', ' ')} rose to {peak:.4g} ({peak / ref:.1f}× both its first "
        f"value and its final level) and stayed above {p.excursion_hold:g}× that from step "
        f"{int(rx[i])} to {int(rx[j])} ({100 * share:.0f}% of the run): the learning rate threw "
        "the weights out and the run spent its steps getting back; lower it.",
    )


def _drift(
    x: np.ndarray, y: np.ndarray, metric: MetricRole, config: AnalysisConfig
) -> list[Finding]:
    red = reduce_blocks(x, y)
    rx, ry = red.steps, red.values
    n = len(ry)
    if n < 12:
        return []
    trend = rolling_median(ry, max(3, (n // 10) | 1))
    rng = float(trend.max() - trend.min())
    if rng <= 0:
        return []
    q = _quantum(y) if n < 100_000 else 0.0
    k_final = max(3, n // 10)
    final = float(np.median(ry[-k_final:]))
    if final < config.divergence.rise_opening * float(np.median(y[:3])):
        return []  # a rise within the last hundredth of the loss's fall is no instability
    wins = _windows(n)
    hits = []
    for a, b in wins:
        t = trend_test(rx[a:b], ry[a:b], slope=False)
        pa = bonferroni(t.p_increase, len(wins))
        if pa >= config.alpha:
            continue
        t = trend_test(rx[a:b], ry[a:b])
        rise = t.slope * float(rx[b - 1] - rx[a])
        level = float(np.median(ry[a : a + max(3, (b - a) // 5)]))
        if level <= 0:
            continue
        if (
            rise >= config.divergence.rise_level * level
            and rise >= config.divergence.rise_range * rng
            and rise > 3 * q
            and final - level >= 0.25 * rise
        ):
            hits.append((a, b, pa, rise, level))
    if not hits:
        return []
    a, b, pa, rise, level = min(hits, key=lambda h: (h[0], h[2]))
    rel = rise / level
    sev: Severity = "critical" if rel >= 0.5 else "warning"
    return [
        Finding(
            kind="divergence",
            metric=metric,
            start_step=int(rx[a]),
            end_step=int(x[-1]),
            severity=sev,
            confidence=confidence(pa, rel, config.divergence.rise_level),
            evidence={
                "p_value": pa,
                "rise": rise,
                "rise_pct": 100 * rel,
                "level_at_start": level,
                "final_level": final,
                "windows_tested": len(wins),
                "path": "drift",
            },
            message=f"The {metric.replace('_', ' ')} drifts upwards from step {int(rx[a])} "
            f"(+{100 * rel:.0f}%, p={pa:.2g}): training is destabilising; lower the learning rate.",
        )
    ]


def val_not_recovered(
    f: Finding,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None,
    config: AnalysisConfig = DEFAULT_CONFIG,
) -> Finding:
    """A train blow-up the train loss came back from (``f``: a ``spike`` or ``excursion``
    of checks 4, 4b and 5, kind ``oscillation``) is a divergence after all when the val
    loss says the model did not come back: its last tenth (median, ≥ 4 evaluations) ends
    ≥ ``divergence.val_blowup_factor`` (3) × the train loss's opening level (its first value,
    or the median of its first 2 % when lower: the untrained model's loss; a blow-up from
    the first steps lifts that median) while the train loss did not fall by half. The
    minibatch loss of weights thrown far out can return to the untrained level (a
    classifier that predicts one class) while a pass over held-out data still scores far
    worse than the untrained model. Critical (evidence ``val_end_ratio``); ``f`` unchanged
    otherwise."""
    if (
        val is None
        or f.kind != "oscillation"
        or f.evidence.get("path") not in ("spike", "excursion")
    ):
        return f
    _, ty = finite_xy(*train)
    vx, vy = finite_xy(*val)
    if len(ty) < 3 or len(vy) < 4:
        return f
    median_opening, train_end = opening_and_end(ty, 50)
    opening = min(float(ty[0]), median_opening)
    val_end = opening_and_end(vy, 10)[1]
    factor = config.divergence.val_blowup_factor
    if not (opening > 0 and train_end > 0.5 * opening and val_end >= factor * opening):
        return f
    ratio = val_end / opening
    return Finding(
        kind="divergence",
        metric="val_loss",
        start_step=f.start_step,
        end_step=int(vx[-1]),
        severity="critical",
        confidence=min(1.0, 0.5 + 0.5 * (1 - factor / ratio)),
        evidence=dict(f.evidence)
        | {
            "path": "val_not_recovered",
            "train_path": str(f.evidence.get("path")),
            "train_opening": opening,
            "val_end": val_end,
            "val_end_ratio": ratio,
        },
        message=(
            f"The training loss blew up from step {f.start_step} and came back near where it "
            f"began, but the validation loss ended at {val_end:.4g}, {ratio:.1f}× the loss the "
            f"run started at ({opening:.4g}): the weights did not recover; lower the learning "
            "rate."
        ),
    )
