"""Stagnation: the loss stopped improving (a plateau), and why.

Algorithm
---------
1. Work on ≤ 512 block medians (O(n)), in log space when the loss is positive (changes
   are then relative, and an odd huge first value cannot inflate the margin). Candidate plateau starts on a fixed grid:
   0 %, 10 %, …, 70 % of the run; a plateau runs to the end and covers at least
   ``stagnation.min_frac`` (30 %) of the run and 8 points.
2. For each candidate window two tests must agree:
   * trend: Mann–Kendall (AR(1)-corrected) finds no significant *increase* (a rising
     window is left to the divergence/overfitting detectors); its p-values and the
     Theil–Sen slope go to evidence;
   * non-inferiority (one-sided half of TOST, AR(1)-corrected OLS): the change over
     the window is demonstrably above −margin (no meaningful improvement), margin = ``stagnation.progress_margin`` (4 %) of the progress made before the
     window + ``stagnation.level_margin`` (1 %) of the loss level. "No significant
     decrease" on few noisy points is NOT a plateau: the equivalence test must reject.
   (A rising window also counts as "no gain"; rises are judged by the overfitting and
   divergence detectors, which run first.)
   For the whole-run window the margin is at least ``stagnation.stuck_margin`` (5 %): a run
   that demonstrably gains < 5 % from start to end is stuck, however steady the gain.
   Bonferroni over the candidates; the earliest accepted start is reported.
3. Diagnosis with the LR series (``analyzer.schedule``):
   * ``stuck`` — plateau from ≤ 10 % with < 10 % improvement before it (for a val loss,
     also < 10 % fall of the training loss before the first evaluation: a model that
     learnt before it was first evaluated has converged, not stalled): LR too small
     (increase_lr), warning;
   * ``lr_collapsed`` — the LR fell to ≤ 5 % of its peak before 70 % of the run, the
     plateau starts after that, and the loss was still improving until then (a
     Mann–Kendall decrease, p < 0.05, over the 20 % of the run before the collapse; a
     loss that bounced at a too-large LR before a step down was not cut short), and
     the drop was abrupt (a step, or a curve no smooth decay fits — a linear/cosine/
     exponential decay that gets there is planned): broken schedule (restore_lr), warning;
   * ``converged`` — the plateau level is ≤ 5 % of the first level (≥ 95 % of the loss
     is gone: memorisation/convergence), info;
   * ``schedule_end`` — the LR decays and is ≤ 30 % of its peak where the plateau
     starts, or decays along a planned smooth curve (linear/cosine/exponential/
     one-cycle: the decay a noise floor calls for is already under way): converged as
     planned, info;
   * ``settled`` (``val_loss`` only, not stuck) — the plateau's points bounce less than ``stagnation.jitter`` (0.5 % per point, :func:`~analyzer.stats.bounce`):
     the weights have stopped moving, a smooth convergence rather than an LR noise
     floor, info. (A minibatch train loss bounces by sampling alone, so its jitter says
     nothing about the LR; a validation pass over a fixed set moves only with the weights.)
   * ``noise_floor`` — LR constant or still > 30 % of its peak: decay_lr;
   * ``val_plateau`` — validation flat while training still falls (≥
     ``stagnation.val_train_gain``, 15 % relative over the window; a smaller gain is what a
     converging run still makes): early_stop. For ``val_loss`` the margin is at least 10 % of the
     training loss's relative improvement over the same window (scaled to the val level).
   * no plateau demonstrable (a noisy loss) but the LR series itself shows training
     stopped: an abrupt drop to ≤ 0.1 % of the peak before half the run, kept to the
     end, after a falling loss that then gains < 10 % → ``lr_collapsed`` (evidence
     ``path: frozen_lr``), warning.
   Severity: warning when the plateau covers ≥ ``stagnation.warning_frac`` (50 %) of the
   run (half the compute bought nothing), else info; ``schedule_end`` is always info.

Negative-valued losses (adversarial objectives) are skipped: a GAN loss hovering
around 0 is an equilibrium, not a plateau of a minimisation.

Known false-positive modes: a fine-tune whose loss is already near its floor at step
0 (correctly "stuck" statistically, but sometimes intended); curves with long
flat phases followed by sudden drops (grokking, epoch-boundary drops in multi-epoch
LLM fine-tunes) — a plateau found before the drop is not reported because windows
run to the end.
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..schedule import UNKNOWN, Schedule, lr_at, recognise
from ..stats import (
    bonferroni,
    bounce,
    confidence,
    equivalence_test,
    reduce_blocks,
    rolling_median,
    sorted_finite,
    trend_test,
)
from .params import DEFAULT_CONFIG, AnalysisConfig, quiet

STARTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
#: Planned decays that fit the whole post-peak LR curve (``analyzer.schedule``): reaching
#: ≤ 5 % of the peak early is an aggressive plan, not a broken one.
SMOOTH_DECAYS = ("linear", "cosine", "exponential", "one_cycle")
REF_SHARE = 0.1
#: A plateau from the start is ``stuck`` when less than this share of the first level was
#: gained before it (for a val loss, also by the training loss before the first evaluation).
STUCK_PROGRESS = 0.1


def _ref_gain(reference: tuple[np.ndarray, np.ndarray] | None, a: float, b: float) -> float | None:
    """Relative improvement of the (sorted, finite) reference loss between steps a and b."""
    if reference is None:
        return None
    tx, ty = reference
    i, j = int(np.searchsorted(tx, a, side="left")), int(np.searchsorted(tx, b, side="right"))
    if j - i < 4:
        return None
    ty = ty[i:j]
    k = max(1, len(ty) // 10)
    t0, t1 = float(np.median(ty[:k])), float(np.median(ty[-k:]))
    if t0 <= 0:
        return None
    return max(0.0, (t0 - t1) / t0)


@quiet
def detect_stagnation(
    steps: np.ndarray,
    values: np.ndarray,
    lr: tuple[np.ndarray, np.ndarray] | None = None,
    metric: str = "train_loss",
    reference: tuple[np.ndarray, np.ndarray] | None = None,
    config: AnalysisConfig = DEFAULT_CONFIG,
) -> list[Finding]:
    """Findings of kind ``stagnation`` for one loss series.

    ``reference`` (for ``val_loss``): the training loss. Over a candidate window the
    validation loss must then also gain less than ``REF_SHARE`` (10 %) of the training
    loss's relative improvement, and when training still improves by ≥ 5 % the
    diagnosis is ``val_plateau``.
    """
    x, y = sorted_finite(steps, values)
    if len(y) < config.min_points or np.min(y) < 0:
        return []
    red = reduce_blocks(x, y)
    rx, ry = red.steps, red.values
    reference = None if reference is None else sorted_finite(*reference)
    n = len(ry)
    if n < 8 or np.ptp(ry) == 0.0:
        return []
    use_log = bool(np.min(ry) > 0)
    raw_ry = ry
    if use_log:
        ry = np.log(ry)
    trend = rolling_median(ry, max(3, (n // 10) | 1))
    span = float(rx[-1] - rx[0])
    if span <= 0:
        return []
    cands = []
    for f in STARTS:
        a = int(np.searchsorted(rx, rx[0] + f * span))
        if n - a < 8 or (rx[-1] - rx[a]) < 0.95 * config.stagnation.min_frac * span:
            continue
        cands.append(a)
    if not cands:
        return []
    chosen = None
    for a in cands:
        wx, wy = rx[a:], ry[a:]
        level = float(np.median(raw_ry[a:]))
        progress = max(float(trend[0] - trend[a]), 0.0)
        scale = 1.0 if use_log else abs(level)
        margin = config.stagnation.progress_margin * progress + config.stagnation.level_margin * scale
        if a == 0:
            margin = max(margin, config.stagnation.stuck_margin * scale)
        ref_gain = _ref_gain(reference, float(wx[0]), float(wx[-1]))
        if ref_gain is not None:
            g = -np.log1p(-min(ref_gain, 0.999)) if use_log else ref_gain * abs(level)
            margin = max(margin, REF_SHARE * g)
        if margin <= 0:
            continue
        eq = equivalence_test(wx, wy, margin)
        pa = bonferroni(eq.p_no_gain, len(cands))
        if pa >= config.alpha:
            continue
        mk = trend_test(wx, wy, slope=False)
        if mk.p_increase < config.alpha:
            continue  # rising: a matter for the divergence/overfitting detectors
        chosen = (a, eq, pa, mk, level, progress, margin, ref_gain)
        break
    if chosen is None:
        return _frozen_lr(x, y, rx, ry, lr, metric)
    a, eq, pa, mk, level, progress, margin, ref_gain = chosen
    mk = trend_test(rx[a:], ry[a:])
    train_improving = ref_gain is not None and ref_gain >= config.stagnation.val_train_gain
    jitter = bounce(y[x >= rx[a]])
    start = float(rx[a])
    frac = (float(rx[-1]) - start) / span
    first_level = float(np.exp(trend[0])) if use_log else float(trend[0])
    if use_log:
        progress = first_level - float(np.exp(trend[a]))
    sched = recognise(*lr) if lr is not None else UNKNOWN
    lr_start = lr_at(lr, start)
    lr_end = lr_at(lr, float(rx[-1]))
    improving_before = _improving_before(rx, ry, sched.collapse_step, span)
    # the training loss's fall before the first evaluation: a val loss first evaluated
    # after the model learnt cannot show that progress itself
    pre_eval = _ref_gain(reference, -np.inf, float(rx[0])) if metric == "val_loss" else None
    learnt_before = pre_eval is not None and pre_eval >= STUCK_PROGRESS
    diagnosis = _diagnose(sched, start, frac, progress, first_level, float(rx[0]), span, lr_start,
                          metric, train_improving, level, jitter < config.stagnation.jitter,
                          improving_before, learnt_before)
    sev = "warning" if frac >= config.stagnation.warning_frac else "info"
    if diagnosis in ("schedule_end", "converged", "settled"):
        sev = "info"
    if diagnosis in ("stuck", "lr_collapsed"):
        sev = "warning"
    if use_log:
        rel_change = float(np.expm1(eq.change))
    else:
        rel_change = eq.change / abs(level) if level else 0.0
    ev = {
        "diagnosis": diagnosis, "p_value": pa, "mk_p_decrease": mk.p_decrease,
        "slope": mk.slope, "change": eq.change, "margin": margin,
        "rel_improvement": -rel_change, "plateau_frac": frac, "level": level,
        "progress_before": progress, "lr_at_start": lr_start, "lr_end": lr_end,
        "peak_lr": sched.peak_lr, "schedule": sched.label,
        "collapse_step": sched.collapse_step,
        "train_rel_improvement": ref_gain,
        "jitter": jitter,
        "best_step": float(x[x >= rx[a]][int(np.argmin(y[x >= rx[a]]))]),  # lowest point of the plateau
        "log_space": 1.0 if use_log else 0.0,  # change/slope/margin are in log units when 1
    }
    if pre_eval is not None:
        ev["train_gain_before_first_eval"] = pre_eval
    conf = confidence(pa, frac, config.stagnation.min_frac)
    return [Finding(
        kind="stagnation", metric=metric, start_step=int(start), end_step=int(x[-1]),  # type: ignore[arg-type]
        severity=sev, confidence=conf, evidence=ev,  # type: ignore[arg-type]
        message=_message(diagnosis, metric, start, frac, rel_change, lr_start, sched),
    )]


#: Level of the "still improving before the LR collapsed" check: it picks a diagnosis
#: for a plateau already found, so it is not a detection threshold.
IMPROVING_P = 0.05


def _improving_before(rx: np.ndarray, ry: np.ndarray, collapse: float | None, span: float) -> bool:
    """Whether the loss fell (Mann–Kendall p < 0.05) over the 20 % of the run before the
    LR collapsed: a collapse only cut progress short when there was progress."""
    if collapse is None:
        return False
    sel = (rx >= collapse - 0.2 * span) & (rx < collapse)
    if sel.sum() < 4:
        return False
    return trend_test(rx[sel], ry[sel], slope=False).p_decrease < IMPROVING_P


#: An LR at or below this share of its peak has effectively stopped training.
FROZEN_SHARE = 1e-3
#: … when it stays there from before this share of the run to the end, …
FROZEN_BY = 0.5
#: … and the loss then gains less than this (relative): no plateau test is needed.
FROZEN_GAIN = 0.1


def _frozen_lr(x: np.ndarray, y: np.ndarray, rx: np.ndarray, ry: np.ndarray,
               lr: tuple[np.ndarray, np.ndarray] | None, metric: str) -> list[Finding]:
    """``lr_collapsed`` read off the LR series when the loss is too noisy for the
    equivalence test: an abrupt (not smoothly planned) drop of the LR to
    ≤ ``FROZEN_SHARE`` of its peak, kept from before ``FROZEN_BY`` of the run to its end,
    after a Mann–Kendall decrease of the loss, and a loss that then gains
    < ``FROZEN_GAIN`` — the run went on without learning."""
    if lr is None or metric != "train_loss":
        return []
    sched = recognise(*lr)
    if not sched.peak_lr or sched.name in SMOOTH_DECAYS:
        return []
    lx, ly = sorted_finite(*lr)
    high = np.flatnonzero(ly > FROZEN_SHARE * sched.peak_lr)
    if len(high) == 0 or high[-1] + 1 >= len(lx):
        return []
    freeze, x0, span = float(lx[high[-1] + 1]), float(rx[0]), float(rx[-1] - rx[0])
    after = y[x >= freeze]
    if span <= 0 or freeze - x0 > FROZEN_BY * span or len(after) < 8:
        return []
    if not _improving_before(rx, ry, freeze, span):
        return []
    k = max(2, len(after) // 10)
    first, last = float(np.median(after[:k])), float(np.median(after[-k:]))
    gain = (first - last) / first if first > 0 else 0.0
    if gain >= FROZEN_GAIN:
        return []
    frac = (float(rx[-1]) - freeze) / span
    ev = {"diagnosis": "lr_collapsed", "rel_improvement": gain, "plateau_frac": frac,
          "level": float(np.median(after)), "lr_at_start": lr_at(lr, freeze),
          "lr_end": float(ly[-1]), "peak_lr": sched.peak_lr, "schedule": sched.label,
          "collapse_step": freeze, "frozen_share": float(ly[-1] / sched.peak_lr), "path": "frozen_lr"}
    return [Finding(
        kind="stagnation", metric=metric, start_step=int(freeze), end_step=int(x[-1]),  # type: ignore[arg-type]
        severity="warning", confidence=confidence(0.0, FROZEN_GAIN - gain, FROZEN_GAIN / 2),
        evidence=ev,  # type: ignore[arg-type]
        message=(f"The LR fell to {ly[-1] / sched.peak_lr:.0e} of its peak at step {int(freeze)} "
                 f"({frac:.0%} of the run left) and the loss has gained {100 * gain:.1f}% since, after "
                 "improving until then: restore the schedule's learning rate."),
    )]


def _diagnose(sched: Schedule, start: float, frac: float, progress: float, first_level: float,
              x0: float, span: float, lr_start: float | None, metric: str,
              train_improving: bool | None, level: float, smooth: bool,
              improving_before: bool, learnt_before: bool = False) -> str:
    if metric == "val_loss" and train_improving:
        return "val_plateau"
    pos = (start - x0) / span
    if pos <= 0.1 + 1e-9 and progress < STUCK_PROGRESS * abs(first_level) and not learnt_before:
        return "stuck"
    if first_level > 0 and level <= 0.05 * first_level:
        return "converged"
    if (sched.peak_lr and sched.collapse_step is not None and sched.last_step is not None
            and sched.first_step is not None
            and (sched.collapse_step - sched.first_step) <= 0.7 * max(sched.last_step - sched.first_step, 1e-12)
            and start >= sched.collapse_step - 0.1 * span and improving_before
            and sched.name not in SMOOTH_DECAYS):
        return "lr_collapsed"
    if metric == "val_loss" and smooth:
        return "settled"
    if sched.peak_lr:
        if sched.decays and (sched.name in SMOOTH_DECAYS
                             or (lr_start is not None and lr_start <= 0.3 * sched.peak_lr)):
            return "schedule_end"
        return "noise_floor"
    return "plateau"


def _message(diagnosis: str, metric: str, start: float, frac: float, rel: float,
             lr_start: float | None, sched: Schedule) -> str:
    what = metric.replace("_", " ")
    head = (f"The {what} has not improved since step {int(start)} (over that {frac:.0%} of the run "
            f"it changed by {-100 * rel:+.2f}%)")
    lr_txt = f" at LR {lr_start:.3g}" if lr_start is not None else ""
    return head + {
        "stuck": f"{lr_txt}: it barely moved from the start; increase the learning rate.",
        "lr_collapsed": f": the LR fell to ~0 at step {int(sched.collapse_step or 0)} while the loss was "
                        "still improving; restore the schedule's learning rate.",
        "schedule_end": (": the LR was already cut on the plateau; it converged at this level "
                         "(more epochs or another LR cut will not help)."
                         if sched.name == "reduce_on_plateau" else
                         ": it converged as the LR schedule ran out (expected)."),
        "converged": ": over 95% of the initial loss is gone, it has converged (check validation "
                     "for overfitting).",
        "settled": ": it settled smoothly after its earlier progress (converged; "
                   "later steps could be saved).",
        "noise_floor": f"{lr_txt}: it sits at the noise floor of a high LR; decay the learning rate.",
        "val_plateau": " while the training loss keeps falling: further training does not "
                       "generalise; stop early.",
        "plateau": ": consider decaying the learning rate or stopping.",
    }[diagnosis]


def slow_descent_stats(steps: np.ndarray, values: np.ndarray) -> dict[str, float] | None:
    """Gain and deceleration of a positive loss: ``gain`` = relative fall from the first
    to the last tenth (medians), ``deceleration`` = the fall over the second half / the
    fall over the first half (≈ 1 for a straight line, ≪ 1 for a curve that bends
    towards its floor), and the
    Mann–Kendall p-value of a decrease. ``None`` with fewer than 10 points."""
    x, y = sorted_finite(steps, values)
    if len(y) < 10 or np.min(y) <= 0:
        return None
    red = reduce_blocks(x, y)
    rt, v = red.steps, red.values
    n = len(v)
    k = max(1, n // 10)
    mid = int(np.searchsorted(rt, 0.5 * (rt[0] + rt[-1])))
    mid = min(max(mid, k), n - k)
    a, b = float(np.median(v[:k])), float(np.median(v[-k:]))
    m = float(np.median(v[max(mid - k // 2, 0): mid + k // 2 + 1]))
    first, second = a - m, m - b
    decel = second / first if first > 0 else (np.inf if second > 0 else 0.0)
    return {"gain": (a - b) / a, "deceleration": float(decel),
            "p_decrease": trend_test(x, y, slope=False).p_decrease}


def _first_to_last(steps: np.ndarray, values: np.ndarray) -> float | None:
    """Relative fall from the first point (the first 2 %, median) to the last tenth."""
    _, y = sorted_finite(steps, values)
    if len(y) < 4:
        return None
    a = float(np.median(y[:max(1, len(y) // 50)]))
    b = float(np.median(y[-max(1, len(y) // 10):]))
    return (a - b) / a if a > 0 else None


@quiet
def detect_slow_descent(
    train: tuple[np.ndarray, np.ndarray] | None,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    lr: tuple[np.ndarray, np.ndarray] | None = None,
    config: AnalysisConfig = DEFAULT_CONFIG,
) -> list[Finding]:
    """``too_slow``: the loss falls significantly but in a straight line, and little; or
    a smooth val loss that barely moved while the train loss barely moved either.

    The first symptom of an LR far too small is not a plateau but a descent that never
    bends: each step moves the loss by an amount ∝ the LR, so while the LR is high the
    second half gains as much as the first. Judged after the warm-up (the LR's peak) on the train
    loss and, when there is one, the val loss (both must agree):

    * a significant decrease (Mann–Kendall p < ``alpha``; of the train loss when there
      is one — the val loss then only has to agree in gain and shape),
    * ``stagnation.slow_min_gain`` ≤ gain < ``stagnation.slow_max_gain`` (relative, first
      to last tenth),
    * ``stagnation.slow_min_deceleration`` ≤ deceleration ≤ ``slow_max_deceleration`` (no
      bend towards a floor, and no take-off after a slow start),
      judged where the LR is ≥ ``HIGH_LR_SHARE`` of its peak (a decaying schedule bends
      any curve).

    Stuck by effect (the plateau test needs noise to test against; a val loss computed on
    a fixed set is smooth): the val loss, from its first evaluation to its last tenth,
    gains < ``stagnation.stuck_margin`` while bouncing < ``stagnation.jitter`` per
    evaluation, and the train loss, from its first points, gains < 2× that.

    ``runs_to_halve`` = 0.5 / gain: at this rate, how many runs of this length halving
    the loss would take. Warning; the suggestion is ``increase_lr``.

    Known false-positive modes: a run stopped long before convergence at a good LR on a
    huge data set (its loss also falls in a line; a longer run, not a larger LR, is the
    fix); a loss dominated by a slowly decaying regulariser; a fine-tune whose val loss
    sits at its floor from the first evaluation and whose train loss logs start there.
    """
    p = config.stagnation
    stuck = _stuck_by_effect(train, val, config)
    if stuck is not None:
        return [stuck]
    series = [(name, s) for name, s in (("train_loss", train), ("val_loss", val)) if s is not None]
    if not series:
        return []
    start, stop = _high_lr_span(lr)
    found: dict[str, dict[str, float]] = {}
    for name, (sx, sy) in series:
        x, y = sorted_finite(sx, sy)
        keep = (x >= start) & (x <= stop)
        st = slow_descent_stats(x[keep], y[keep])
        if st is None and name == "val_loss":
            st = slow_descent_stats(x, y)  # few evaluations in the span: the whole run's shape
            if st is None:
                continue  # too few evaluations to judge: the train loss decides
        if st is None:
            return []
        # the (noisy, dense) train loss carries the significance; a smooth val loss, whose
        # AR(1)-corrected trend test has few effective points, only has to agree in shape
        significant = st["p_decrease"] < config.alpha or (name == "val_loss" and bool(found))
        if not (significant and p.slow_min_gain <= st["gain"] < p.slow_max_gain
                and p.slow_min_deceleration <= st["deceleration"] <= p.slow_max_deceleration):
            return []
        found[name] = st
    if not found:
        return []
    metric = "train_loss" if "train_loss" in found else "val_loss"
    st = found[metric]
    x, _ = sorted_finite(*(train if metric == "train_loss" else val))  # type: ignore[misc]
    first = float(x[x >= start][0]) if np.any(x >= start) else float(x[0])
    gain = st["gain"]
    ev: dict[str, float | str | None] = {
        "diagnosis": "too_slow", "rel_improvement": gain, "deceleration": st["deceleration"],
        "p_value": st["p_decrease"], "plateau_frac": 1.0, "runs_to_halve": 0.5 / gain,
        "lr_at_start": lr_at(lr, first), "path": "slow_descent",
    }
    if "val_loss" in found and metric != "val_loss":
        ev["val_gain"] = found["val_loss"]["gain"]
        ev["val_deceleration"] = found["val_loss"]["deceleration"]
    conf = confidence(st["p_decrease"], min(st["deceleration"], 10.0), p.slow_min_deceleration)
    lr_txt = f" at LR {ev['lr_at_start']:.3g}" if ev["lr_at_start"] is not None else ""
    return [Finding(
        kind="stagnation", metric=metric, start_step=int(first), end_step=int(x[-1]),  # type: ignore[arg-type]
        severity="warning", confidence=conf, evidence=ev,  # type: ignore[arg-type]
        message=(f"The {metric.replace('_', ' ')} falls in a straight line{lr_txt}: "
                 f"{100 * gain:.1f}% over the run, the second half gaining "
                 f"{st['deceleration']:.0%} of what the first did; at this rate halving it "
                 f"takes {0.5 / gain:.0f} runs of this length. Increase the learning rate."),
    )]


#: The shape of a descent is judged where the LR is at least this share of its peak: a
#: decaying schedule bends any curve, whatever the LR.
HIGH_LR_SHARE = 0.5


def _high_lr_span(lr: tuple[np.ndarray, np.ndarray] | None) -> tuple[float, float]:
    """Steps from the end of the warm-up or a one-cycle's rise (the LR's peak) to the last
    step whose LR is ≥
    ``HIGH_LR_SHARE`` of the peak, when that span covers ≥ 30 % of the run; else the
    whole run after the warm-up."""
    if lr is None:
        return -np.inf, np.inf
    lx, ly = sorted_finite(*lr)
    if len(lx) < 2 or not np.any(ly > 0):
        return -np.inf, np.inf
    sched = recognise(lx, ly)
    rises = sched.warmup_steps > 0 or sched.name == "one_cycle"  # the LR climbs to its peak
    start = float(sched.peak_step) if rises and sched.peak_step is not None else -np.inf
    high = lx[(ly >= HIGH_LR_SHARE * float(ly.max())) & (lx >= start)]
    stop = float(high[-1]) if len(high) else np.inf
    span = float(lx[-1] - lx[0])
    if span <= 0 or stop - max(start, float(lx[0])) < 0.3 * span:
        return start, np.inf
    return start, stop


def _stuck_by_effect(train: tuple[np.ndarray, np.ndarray] | None,
                     val: tuple[np.ndarray, np.ndarray] | None,
                     config: AnalysisConfig) -> Finding | None:
    """The smooth-val ``stuck`` path of :func:`detect_slow_descent` (``None`` if not)."""
    p = config.stagnation
    if val is None or train is None:
        return None
    vx, vy = sorted_finite(*val)
    if len(vy) < 8 or np.min(vy) <= 0:
        return None
    vgain, tgain = _first_to_last(vx, vy), _first_to_last(*train)
    if vgain is None or tgain is None:
        return None
    jitter = bounce(vy)
    if not (abs(vgain) < p.stuck_margin and tgain < 2 * p.stuck_margin and jitter < p.jitter):
        return None
    ev: dict[str, float | str | None] = {
        "diagnosis": "stuck", "rel_improvement": vgain, "train_rel_improvement": tgain,
        "jitter": jitter, "plateau_frac": 1.0, "path": "smooth_val",
    }
    return Finding(
        kind="stagnation", metric="val_loss", start_step=int(vx[0]), end_step=int(vx[-1]),
        severity="warning", confidence=confidence(0.0, p.stuck_margin - abs(vgain), p.stuck_margin / 2),
        evidence=ev,  # type: ignore[arg-type]
        message=(f"The validation loss moved {-100 * vgain:+.1f}% over the whole run and the "
                 f"training loss {-100 * tgain:+.1f}%: it barely moved from the start; "
                 "increase the learning rate."),
    )
