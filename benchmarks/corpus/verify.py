"""Label verification: does a run's curve show the pathology it was built to show?

Labels come from construction (an LR far above the stable range, a tiny train subset…)
and are then checked on the logged curves with the statistics below. A run whose
verification disagrees with its construction is relabeled (with the reason recorded)
or dropped when it falls into an ambiguous band, so the benchmark never scores a
detector against a label the curve does not support.

The statistics use the held-out ``val_loss`` (a full pass over a fixed split, so its
noise is small) for level and shape, and the minibatch ``train_loss`` for trend:

- ``floor``: the best val loss any run of the same data/model/subset reached in the
  corpus (the level a good LR gets to); levels are judged relative to it.
- ``bounce`` (per window): the mean upward move of ``log val`` that is later undone,
  ``(sum(max(d, 0)) - max(net, 0)) / n`` with ``d`` the successive differences — large
  when the loss goes up and down, ~0 for a falling (healthy) or steadily rising
  (overfitting) curve.
- ``rise``: relative rise of val from its minimum to the end; ``min_pos``: where the
  minimum is (fraction of the run); the noise of val around its trend bounds ``rise``.
- ``train_impr_total``: relative fall of the median-smoothed train loss from its start
  (as above) to its end;
- ``train_drop_after_min``: relative fall of the median-smoothed train loss from the val
  minimum to the end (overfitting needs train still falling).
- ``explode_ratio``: median train loss over the last 10% / its start (the median over the
  first 2%, or the val loss before training when that is lower: a loss that blew up
  within its first steps has its start before them);
  ``val_explode_ratio``: max of the last 3 val points / val before training.
- ``impr_tail``: relative improvement of val over the last 60% of the run (stagnation:
  barely moves while far above the floor).

Rules (thresholds below; a value between the positive and the negative threshold is
*ambiguous* and the run is dropped):

- divergence: a NaN/Inf loss, or the late train loss > 3x its start, or the last val
  > 3x the val before training while train did not fall by half;
- oscillation: in the first 30% or the last 50% of the run, bounce >= 0.04 per eval at
  a val level >= 1.5x the floor (the minibatch train loss is too noisy near convergence
  to separate bouncing from healthy noise, so val is the witness);
- overfitting: val rise after its minimum >= max(10%, 3x the val noise), the minimum
  before 85% of the run, and train still falling >= 5% after it (assessed after the
  first 30% when an early oscillation settled; not assessed while val bounces);
- stagnation: val improves < 5% over the last 60% while >= 1.5x the floor (or never
  left its start while a 25% lower loss is reachable);
- healthy: none of these, nothing ambiguous, and val fell >= 10% from its start.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

KINDS: tuple[str, ...] = ("oscillation", "stagnation", "overfitting", "divergence")

# Thresholds (positive / negative side; values in between are "ambiguous" -> dropped).
EXPLODE_RATIO = 3.0  # divergence: late loss above 3x its start (or non-finite)
BOUNCE_POS, BOUNCE_NEG = 0.04, 0.015  # oscillation: undone ascent of log val per eval
LEVEL_POS, LEVEL_NEG = 1.5, 1.25  # oscillation/stagnation: val level vs the floor
RISE_POS, RISE_NEG = 0.10, 0.04  # overfitting: val rise after its minimum
MIN_POS_MAX = 0.85  # overfitting: val minimum before 85% of the run
TRAIN_DROP_MIN = 0.05  # overfitting: train still falls >= 5% after the val minimum
STALL_POS, STALL_NEG = 0.05, 0.12  # stagnation: val improves < 5% over the tail (> 12% = moving)
HEALTHY_GAIN = 0.1  # healthy: val fell at least 10% from its initial value


@dataclass(frozen=True)
class Verdict:
    """Kinds the curves support, kinds in an ambiguous band, and the statistics."""

    kinds: frozenset[str]
    ambiguous: frozenset[str]
    stats: dict[str, float] = field(default_factory=dict)


def _median_smooth(x: np.ndarray, w: int) -> np.ndarray:
    if len(x) < w or w < 2:
        return x.copy()
    from numpy.lib.stride_tricks import sliding_window_view

    return np.median(sliding_window_view(x, w), axis=1)


def _bounce(logv: np.ndarray) -> float:
    if len(logv) < 3:
        return 0.0
    d = np.diff(logv)
    net = float(logv[-1] - logv[0])
    return float((np.maximum(d, 0).sum() - max(net, 0.0)) / len(d))


def _overfit_stats(
    t: np.ndarray, val_step: np.ndarray, v: np.ndarray, n_steps: int, start: int, suffix: str
) -> dict[str, float]:
    """Val minimum position, rise after it, val noise and train fall, from val index ``start``."""
    s: dict[str, float] = {}
    seg = v[start:]
    i = start + int(np.argmin(seg))
    s["min_pos" + suffix] = float(val_step[i] / n_steps)
    s["rise" + suffix] = float((v[-1] - v[i]) / v[i])
    tail = v[i:]
    if len(tail) >= 4:
        x = np.arange(len(tail))
        resid = tail - np.polyval(np.polyfit(x, tail, 2), x)
        s["val_noise" + suffix] = float(np.std(resid) / v[i])
    else:
        s["val_noise" + suffix] = 0.0
    w = max(5, len(t) // 30)
    ts = _median_smooth(t, w)
    k = min(len(ts) - 1, max(0, int(val_step[i]) - w // 2 - 1))
    s["train_drop_after_min" + suffix] = float((ts[k] - ts[-1]) / ts[k]) if ts[k] > 0 else 0.0
    return s


def curve_stats(
    train_loss: np.ndarray,
    val_step: np.ndarray,
    val_loss: np.ndarray,
    initial_val: float,
    floor: float,
    n_steps: int,
) -> dict[str, float]:
    """The verification statistics of one run (see the module docstring)."""
    t = np.asarray(train_loss, dtype=float)
    v = np.asarray(val_loss, dtype=float)
    s: dict[str, float] = {"floor": float(floor), "initial_val": float(initial_val)}
    finite = bool(np.all(np.isfinite(t)) and np.all(np.isfinite(v)))
    s["nonfinite"] = float(not finite)
    s["stopped_early"] = float(len(t) < n_steps)
    start = float(np.median(t[: max(5, len(t) // 50)])) if len(t) else math.nan
    if math.isfinite(initial_val) and initial_val > 0 and not start <= initial_val:
        start = float(initial_val)  # a loss blown up within its first steps: its start is before
    tf = t[np.isfinite(t)]
    late = tf[-max(5, len(tf) // 10) :] if len(tf) else tf
    s["train_start"] = start
    s["explode_ratio"] = float(np.median(late) / start) if len(late) and start > 0 else math.inf
    vf = v[np.isfinite(v)]
    s["val_explode_ratio"] = float(np.max(vf[-3:]) / initial_val) if len(vf) else math.inf
    if not finite or len(v) < 6:
        return s
    logv = np.log(np.maximum(v, 1e-300))
    n = len(v)
    early = logv[: max(3, int(0.3 * n))]
    late_v = logv[n // 2 :]
    s["bounce_early"] = _bounce(early)
    s["bounce_late"] = _bounce(late_v)
    s["bounce"] = _bounce(logv)
    s["level_early"] = float(np.exp(np.median(early)) / floor)
    s["level_late"] = float(np.exp(np.median(late_v)) / floor)
    s["level_end"] = float(v[-1] / floor)
    s.update(_overfit_stats(t, val_step, v, n_steps, 0, ""))
    s.update(_overfit_stats(t, val_step, v, n_steps, int(0.3 * n), "_after30"))
    w = max(5, len(t) // 30)
    ts = _median_smooth(t, w)
    t0 = min(float(ts[0]), start) if math.isfinite(start) else float(ts[0])
    s["train_impr_total"] = float((t0 - ts[-1]) / t0) if t0 > 0 else 0.0
    j = int(0.4 * n)
    s["impr_tail"] = float((v[j] - v[-1]) / v[j])
    s["val_gain"] = float((initial_val - v[-1]) / initial_val)
    return s


def verify(stats: dict[str, float]) -> Verdict:
    """Kinds supported by the statistics, and kinds in the ambiguous band."""
    kinds: set[str] = set()
    amb: set[str] = set()
    # A val blow-up counts only while train did not fall by half (else: overfitting).
    train_fell = stats.get("train_impr_total", 0.0) >= 0.5
    val_ratio = 0.0 if train_fell else stats["val_explode_ratio"]
    if stats["nonfinite"] or stats["explode_ratio"] > EXPLODE_RATIO or val_ratio > EXPLODE_RATIO:
        return Verdict(frozenset({"divergence"}), frozenset(), stats)
    if stats["explode_ratio"] > EXPLODE_RATIO / 1.5 or val_ratio > EXPLODE_RATIO / 1.5:
        amb.add("divergence")
    if "bounce" not in stats:
        return Verdict(frozenset(kinds), frozenset(amb | {"oscillation"}), stats)

    # oscillation: bouncing val at a level well above the floor, early or late
    for part in ("early", "late"):
        b, lev = stats[f"bounce_{part}"], stats[f"level_{part}"]
        if b >= BOUNCE_POS and lev >= LEVEL_POS:
            kinds.add("oscillation")
        elif b >= BOUNCE_NEG and lev >= LEVEL_NEG:
            amb.add("oscillation")
    if "oscillation" in kinds:
        amb.discard("oscillation")

    # overfitting: val minimum well before the end, clear rise, train still falling.
    # Not assessed while the val curve bounces (a bounce also "rises"); after an early
    # oscillation that settled, assessed on the part after the first 30%.
    suffix = None
    if "oscillation" not in kinds and "oscillation" not in amb:
        suffix = ""
    elif stats["bounce_late"] < BOUNCE_NEG:
        suffix = "_after30"
    if suffix is not None:
        rise, noise = stats["rise" + suffix], stats["val_noise" + suffix]
        rise_thr = max(RISE_POS, 3.0 * noise)
        if (
            rise >= rise_thr
            and stats["min_pos" + suffix] <= MIN_POS_MAX
            and stats["train_drop_after_min" + suffix] >= TRAIN_DROP_MIN
        ):
            kinds.add("overfitting")
        elif rise >= RISE_NEG:
            amb.add("overfitting")

    # stagnation: val barely improves over the tail while far above the floor
    if "oscillation" not in kinds and "overfitting" not in kinds:
        far = stats["level_end"] >= LEVEL_POS or (
            stats["val_gain"] < 0.05 and stats["level_end"] >= LEVEL_NEG
        )  # never left its start while a 25% lower loss is reachable
        if stats["impr_tail"] < STALL_POS and far:
            kinds.add("stagnation")
        elif stats["impr_tail"] < STALL_NEG and stats["level_end"] >= LEVEL_NEG:
            amb.add("stagnation")

    if not kinds and not amb and stats["val_gain"] < HEALTHY_GAIN:
        amb.add("stagnation")  # did not learn much, yet not clearly stalled
    return Verdict(frozenset(kinds), frozenset(amb - kinds), stats)


def group_floors(results: Iterable[Any], key: Callable[[Any], Hashable]) -> dict[Hashable, float]:
    """The ``floor`` of each group of runs: the best finite val loss (``.val_loss``) of
    the runs ``key`` puts in it — the level a good LR reaches there."""
    floors: dict[Hashable, float] = {}
    for r in results:
        v = r.val_loss[np.isfinite(r.val_loss)]
        if len(v):
            k = key(r)
            floors[k] = min(floors.get(k, math.inf), float(v.min()))
    return floors


def reconcile(constructed: frozenset[str], verdict: Verdict) -> tuple[frozenset[str] | None, str]:
    """Final labels from construction + verification, and the reason when they differ.

    ``None`` means drop the run (ambiguous). Rules:
    - verification agrees (same kinds, nothing ambiguous) -> keep;
    - every constructed kind is verified but more kinds are verified -> relabel to the
      verified set (e.g. an early-oscillating run that also overfits late);
    - a constructed kind is not verified -> relabel to the verified set when nothing is
      ambiguous, else drop; a run built to stagnate whose tail is flat but whose level
      is near the floor is dropped too (stall vs. convergence is not decidable).
    """
    v = verdict.kinds
    if verdict.ambiguous:
        return None, "ambiguous: " + ",".join(sorted(verdict.ambiguous))
    if (
        "stagnation" in constructed
        and "stagnation" not in v
        and verdict.stats.get("impr_tail", 1.0) < STALL_NEG
    ):
        # flat as built, but close to the floor: a stall or a convergence? Not decidable.
        return None, "ambiguous: stagnation built, flat tail near the floor"
    if v == constructed:
        return v, ""
    if constructed <= v:
        return v, f"relabeled: also shows {','.join(sorted(v - constructed))}"
    missing = ",".join(sorted(constructed - v)) or "none"
    got = ",".join(sorted(v)) or "healthy"
    return (
        v,
        f"relabeled: built as {','.join(sorted(constructed)) or 'healthy'}, curve shows {got} (missing {missing})",
    )


def expected_direction(labels: frozenset[str]) -> str:
    """The LR direction a correct suggestion takes for these labels.

    divergence/oscillation -> decrease (LR too large); stagnation alone -> increase
    (LR too small or collapsed); overfitting or healthy -> none (an LR change is not
    the fix; early stopping is).
    """
    if labels & {"divergence", "oscillation"}:
        return "decrease"
    if "stagnation" in labels:
        return "increase"
    return "none"


def as_jsonable(stats: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in stats.items()
    }
