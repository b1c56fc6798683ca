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
     also no fall of the training loss before the first evaluation — ≥ 10 % from its
     first quarter's median to its level next to that evaluation, and significant: a
     model that learnt before it was first evaluated has converged, not stalled): LR
     too small (increase_lr), warning;
   * ``lr_collapsed`` — the LR fell to ≤ 5 % of its peak before 70 % of the run, the
     plateau starts after that, and the loss was still improving until then (a
     Mann–Kendall decrease, p < 0.05, over the 20 % of the run before the collapse; a
     loss that bounced at a too-large LR before a step down was not cut short), and
     the drop was abrupt (a step, or a curve no smooth decay fits — a linear/cosine/
     exponential decay that gets there is planned, and so is a ReduceLROnPlateau
     staircase, whose drops follow the plateaus rather than cause them): broken schedule
     (restore_lr), warning;
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
     When the training loss is down to ≤ 5 % of its opening level and the val points
     bounce less than ``oscillation.val_bounce`` (2 %, below which a val plateau is not
     read as oscillation): ``learnt`` instead (info) — the train set is learnt and the
     val loss has found its floor, nothing an LR change would give.
   * no plateau demonstrable (a noisy loss) but the LR series itself shows training
     stopped: an abrupt drop to ≤ 0.1 % of the peak before half the run, kept to the
     end, after a falling loss that then gains < 10 % → ``lr_collapsed`` (evidence
     ``path: frozen_lr``, :mod:`.frozen_lr`), warning.
   Severity: warning when the plateau covers ≥ ``stagnation.warning_frac`` (50 %) of the
   run (half the compute bought nothing), else info; ``schedule_end`` is always info.

Negative-valued losses (adversarial objectives) are skipped: a GAN loss hovering
around 0 is an equilibrium, not a plateau of a minimisation.

Known false-positive modes: a fine-tune whose loss is already near its floor at step
0 (correctly "stuck" statistically, but sometimes intended); curves with long
flat phases followed by sudden drops (grokking, epoch-boundary drops in multi-epoch
LLM fine-tunes) — a plateau found before the drop is not reported because windows
run to the end. (A loss that falls in a straight line, by little, is
:mod:`.slow_descent`.)
"""

from __future__ import annotations

import numpy as np
from scipy.stats import mannwhitneyu

from ..findings import Finding, MetricRole, Severity
from ..schedule import UNKNOWN, Schedule, lr_at, recognise
from ..stats import (
    bonferroni,
    bounce,
    confidence,
    equivalence_test,
    opening_and_end,
    reduce_blocks,
    rolling_median,
    sorted_finite,
    trend_test,
)
from .frozen_lr import IMPROVING_P, SMOOTH_DECAYS, frozen_lr, improving_before
from .params import DEFAULT_CONFIG, AnalysisConfig, quiet

STARTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
REF_SHARE = 0.1
#: A plateau from the start is ``stuck`` when less than this share of the first level was
#: gained before it (for a val loss, also by the training loss before the first evaluation).
STUCK_PROGRESS = 0.1
#: … and when it starts within this share of the run.
STUCK_START = 0.1
#: A loss whose plateau level is at most this share of its first level has converged
#: (≥ 95 % of it is gone); for a val plateau, the training loss's share.
CONVERGED_SHARE = 0.05


def _share_left(reference: tuple[np.ndarray, np.ndarray] | None) -> float:
    """The reference loss's last tenth (median) as a share of its opening level (the
    median of its first hundredth); 1 when unknown."""
    if reference is None or len(reference[1]) < 20:
        return 1.0
    t0, t1 = opening_and_end(reference[1], 100)
    return t1 / t0 if t0 > 0 and t1 >= 0 else 1.0


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
    metric: MetricRole = "train_loss",
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
        margin = (
            config.stagnation.progress_margin * progress + config.stagnation.level_margin * scale
        )
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
        return frozen_lr(x, y, rx, ry, lr, metric)
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
    was_improving = improving_before(rx, ry, sched.collapse_step, span)
    # the lowest LR over the plateau: one cut to ≤ 30 % already is the schedule's end
    lr_low = lr_start if lr_end is None or lr_start is None else min(lr_start, lr_end)
    # the training loss's fall before the first evaluation: a val loss first evaluated
    # after the model learnt cannot show that progress itself
    pre_eval, fell = (
        _learnt_before(reference, float(rx[0])) if metric == "val_loss" else (None, False)
    )
    learnt_before = fell and pre_eval is not None and pre_eval >= STUCK_PROGRESS
    train_left = _share_left(reference)
    diagnosis = _diagnose(
        sched,
        start,
        frac,
        progress,
        first_level,
        float(rx[0]),
        span,
        lr_low,
        metric,
        train_improving,
        level,
        jitter < config.stagnation.jitter,
        was_improving,
        learnt_before,
        train_left <= CONVERGED_SHARE and jitter < config.oscillation.val_bounce,
    )
    sev: Severity = "warning" if frac >= config.stagnation.warning_frac else "info"
    if diagnosis in ("schedule_end", "converged", "settled", "learnt"):
        sev = "info"
    if diagnosis in ("stuck", "lr_collapsed"):
        sev = "warning"
    if use_log:
        rel_change = float(np.expm1(eq.change))
    else:
        rel_change = eq.change / abs(level) if level else 0.0
    ev: dict[str, float | int | str | None] = {
        "diagnosis": diagnosis,
        "p_value": pa,
        "mk_p_decrease": mk.p_decrease,
        "slope": mk.slope,
        "change": eq.change,
        "margin": margin,
        "rel_improvement": -rel_change,
        "plateau_frac": frac,
        "level": level,
        "progress_before": progress,
        "lr_at_start": lr_start,
        "lr_end": lr_end,
        "peak_lr": sched.peak_lr,
        "schedule": sched.label,
        "collapse_step": sched.collapse_step,
        "train_rel_improvement": ref_gain,
        "jitter": jitter,
        "best_step": float(
            x[x >= rx[a]][int(np.argmin(y[x >= rx[a]]))]
        ),  # lowest point of the plateau
        "log_space": 1.0 if use_log else 0.0,  # change/slope/margin are in log units when 1
    }
    if pre_eval is not None:
        ev["train_gain_before_first_eval"] = pre_eval
    if reference is not None:
        ev["train_share_left"] = train_left
    conf = confidence(pa, frac, config.stagnation.min_frac)
    return [
        Finding(
            kind="stagnation",
            metric=metric,
            start_step=int(start),
            end_step=int(x[-1]),
            severity=sev,
            confidence=conf,
            evidence=ev,
            message=_message(diagnosis, metric, start, frac, rel_change, lr_start, sched),
        )
    ]


def _learnt_before(
    reference: tuple[np.ndarray, np.ndarray] | None, step: float
) -> tuple[float | None, bool]:
    """How much the training loss fell before the first evaluation at ``step``: the
    relative gain of its median over the tenth of the run after ``step`` (≥ 8 points; a
    ``stuck`` plateau starts within that tenth) over the median of the first quarter of
    the points before, and whether the points before sit significantly above those after
    (one-sided Mann–Whitney, p < ``IMPROVING_P``, ≥ 4 points before). A fall over the
    first few steps, then flat, is what a fast learner shows — no trend *within* the
    steps before, which a trend test would ask for — and a minibatch loss that only
    bounces there neither gains by the medians nor sits above what follows. Only the
    points next to the first evaluation count: learning later in the run is not learning
    before it."""
    if reference is None:
        return None, False
    tx, ty = reference
    before = ty[tx < step]
    near = (tx >= step) & (tx <= step + STUCK_START * (tx[-1] - tx[0]))
    after = ty[near] if near.sum() >= 8 else ty[tx >= step][:8]
    if len(before) < 4 or len(after) < 4:
        return None, False
    m0 = float(np.median(before[: -(-len(before) // 4)]))
    if not m0 > 0:
        return None, False
    gain = max(0.0, (m0 - float(np.median(after))) / m0)
    p = mannwhitneyu(before, after, alternative="greater").pvalue
    return gain, bool(p < IMPROVING_P)


def _diagnose(
    sched: Schedule,
    start: float,
    frac: float,
    progress: float,
    first_level: float,
    x0: float,
    span: float,
    lr_low: float | None,
    metric: MetricRole,
    train_improving: bool | None,
    level: float,
    smooth: bool,
    improving_before: bool,
    learnt_before: bool = False,
    train_converged: bool = False,
) -> str:
    if metric == "val_loss" and train_improving:
        return "learnt" if train_converged else "val_plateau"
    pos = (start - x0) / span
    if (
        pos <= STUCK_START + 1e-9
        and progress < STUCK_PROGRESS * abs(first_level)
        and not learnt_before
    ):
        return "stuck"
    if first_level > 0 and level <= CONVERGED_SHARE * first_level:
        return "converged"
    if (
        sched.peak_lr
        and sched.collapse_step is not None
        and sched.last_step is not None
        and sched.first_step is not None
        and (sched.collapse_step - sched.first_step)
        <= 0.7 * max(sched.last_step - sched.first_step, 1e-12)
        and start >= sched.collapse_step - 0.1 * span
        and improving_before
        and sched.name not in (*SMOOTH_DECAYS, "reduce_on_plateau")
    ):
        return "lr_collapsed"
    if metric == "val_loss" and smooth:
        return "settled"
    if sched.peak_lr:
        if sched.decays and (
            sched.name in SMOOTH_DECAYS or (lr_low is not None and lr_low <= 0.3 * sched.peak_lr)
        ):
            return "schedule_end"
        return "noise_floor"
    return "plateau"


def _message(
    diagnosis: str,
    metric: MetricRole,
    start: float,
    frac: float,
    rel: float,
    lr_start: float | None,
    sched: Schedule,
) -> str:
    what = metric.replace("_", " ")
    head = (
        f"The {what} has not improved since step {int(start)} (over that {frac:.0%} of the run "
        f"it changed by {100 * rel:+.2f}%)"
    )
    lr_txt = f" at LR {lr_start:.3g}" if lr_start is not None else ""
    return (
        head
        + {
            "stuck": f"{lr_txt}: it barely moved from the start; increase the learning rate.",
            "lr_collapsed": f": the LR fell to ~0 at step {int(sched.collapse_step or 0)} while the loss was "
            "still improving; restore the schedule's learning rate.",
            "schedule_end": (
                ": the LR was already cut on the plateau; it converged at this level "
                "(more epochs or another LR cut will not help)."
                if sched.name == "reduce_on_plateau"
                else ": it converged as the LR schedule ran out (expected)."
            ),
            "converged": ": over 95% of the initial loss is gone, it has converged (check validation "
            "for overfitting).",
            "learnt": ": the training loss is down to under 5% of its opening level, so the "
            "train set is learnt and the validation loss has found its floor; later steps "
            "could be saved.",
            "settled": ": it settled smoothly after its earlier progress (converged; "
            "later steps could be saved).",
            "noise_floor": f"{lr_txt}: it sits at the noise floor of a high LR; decay the learning rate.",
            "val_plateau": " while the training loss keeps falling: further training does not "
            "generalise; stop early.",
            "plateau": ": consider decaying the learning rate or stopping.",
        }[diagnosis]
    )
