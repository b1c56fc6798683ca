"""The analysis entry point: a run → findings, status and one suggestion.

    analyze_run(run: Run, roles: RoleMap | None = None, config: AnalysisConfig | None = None)
        -> RunAnalysis

``RunAnalysis.to_dict()`` returns one object of the contract's ``runs`` list.

Pipeline (pure: no I/O, no printing):

1. roles (``resolve_roles`` unless given) → train, val and LR series;
2. train loss: divergence first; oscillation when there is none of the critical kind
   (noise-like swings are dropped when a validation pass over the same steps stays
   smooth: minibatch noise, see ``_minibatch_noise``);
   stagnation when neither divergence nor oscillation was found;
3. val loss: non-finite values (divergence); after a critical train divergence nothing
   else (a val loss that explodes with it or plateaus before the blow-up is explained
   by the divergence); an erratic val loss (``detect_val_oscillation``, when the train
   loss showed no oscillation) is oscillation, and its lucky dips are not judged as a
   best checkpoint; otherwise overfitting (needs the train series to
   check that training still improves — when both rise it is reported as divergence
   of ``val_loss``, i.e. instability rather than overfitting; when the val loss jumps
   ≥ ``oscillation.val_jump`` per evaluation after its best while the train loss gained <
   ``oscillation.val_jump_train_gain`` after its first tenth, as oscillation, path
   ``erratic_rise``: the weights bounce, nothing is being memorised; an erratic
   overfitting whose val loss bounced ≥ ``oscillation.val_bounce`` on its way down, with
   the train loss jumping too, gets an oscillation finding beside it, path
   ``validation``), stagnation when no
   overfitting was found (diagnosis ``val_plateau`` when training still falls; a val
   plateau whose evaluations bounce ≥ ``oscillation.val_bounce`` is oscillation, path
   ``plateau_bounce``: a fixed val set moves only with the weights);
   a moderate upward drift (divergence ``path: drift``, warning) beside an oscillation is
   that oscillation seen from afar and is dropped;
4. no warning yet: ``detect_peak_phase`` — the peak-LR phase of a schedule that cuts the
   LR in one step judged on its own (an oscillation there, hidden by the fast fall after
   the cut, is the peak LR too large); then ``detect_slow_descent`` — a loss that falls in
   a straight line, by little, is an LR far too small (stagnation, diagnosis
   ``too_slow``); then (``analyze_run``, which has the run's params) ``detect_below_range``
   — an LR ≥ 30× below its optimizer's (or setting's) usual range whose loss fell by less
   than a third; else ``detect_slow_odds`` — the calibrated odds that a from-scratch run
   whose optimizer is known is too slow (stagnation ``too_slow``, path ``odds``);
5. status via ``status_of`` (info findings keep a run healthy), the suggestion via
   :func:`analyzer.suggest.suggest`.

Too few finite train points (``config.min_points``) and fewer than
:data:`MIN_VAL_POINTS` (5) validation points, with no finding → ``insufficient_data``
(findings still count: four val points rising every time are overfitting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .detectors import (
    DEFAULT_CONFIG,
    AnalysisConfig,
    detect_below_range,
    detect_divergence,
    detect_loss_spike,
    detect_oscillation,
    detect_overfitting,
    detect_peak_phase,
    detect_slow_descent,
    detect_slow_odds,
    detect_stagnation,
    detect_val_oscillation,
    train_bounce,
    val_not_recovered,
)
from .detectors.overfit_checks import (
    as_bouncing,
    as_instability,
    as_relapse,
    ev_float,
    jumps_not_memorises,
    late_train_gain,
    train_relapse,
)
from .findings import Finding, Status, Suggestion, status_of
from .lr_priors import base_lr, from_scratch_floor, usual_floor
from .model import Run, RunMeta
from .range_test import RangeTest, read_range_test
from .roles import RoleMap, resolve_roles, role_arrays
from .schedule import recognise
from .stats import bounce, finite_xy
from .suggest import suggest

__all__ = ["AnalysisConfig", "RunAnalysis", "analyze_run", "analyze_series"]


@dataclass(frozen=True)
class RunAnalysis:
    """A run's verdict: roles, status, findings and the suggestion."""

    meta: RunMeta
    roles: RoleMap
    status: Status
    findings: tuple[Finding, ...] = ()
    suggestion: Suggestion | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    lr_range_test: RangeTest | None = None  # set only for an LR range test

    def to_dict(self) -> dict[str, Any]:
        """The contract's run object (``lr_range_test`` only for a range test)."""
        m = self.meta
        out = {
            "run": {"id": m.id, "name": m.name, "source": m.source, "location": m.location},
            "metrics": self.roles.as_dict(),
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
            "suggestion": self.suggestion.to_dict() if self.suggestion else None,
        }
        if self.lr_range_test is not None:
            out["lr_range_test"] = self.lr_range_test.to_dict()
        return out


def _no_warning(findings: list[Finding]) -> bool:
    """No finding above ``info`` yet: the later readings may still speak."""
    return all(f.severity == "info" for f in findings)


def _count_finite(s: tuple[np.ndarray, np.ndarray] | None) -> int:
    return 0 if s is None else len(finite_xy(*s)[0])


#: Fewer validation points than this (and too few train points) with no finding: too
#: short to call healthy. Two readers of real logs each called a 4-epoch run "too short"
#: (a DETR fine-tune and one of four YOLO trainings appended to one file) where LR Tempo,
#: at 4, called them healthy.
MIN_VAL_POINTS = 5

#: A val loss this many times its opening level at the end has blown up.
VAL_BLOWUP = 2.0


def _zero_with_val_blowup(
    f: Finding, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray] | None
) -> Finding:
    """A train loss stuck at exactly 0 is a data or precision bug (``check_data``) —
    unless the val loss blew up meanwhile (last tenth ≥ ``VAL_BLOWUP`` × its first
    evaluation or the first train loss, whichever is lower: the untrained level): then
    the logits overflowed at a far too large LR, so the 0 is saturation, not a bug
    (evidence ``val_blowup``; the suggestion lowers the LR)."""
    if not f.evidence.get("degenerate_zero") or val is None:
        return f
    _, vy = finite_xy(*val)
    _, ty = finite_xy(*train)
    start = min(float(vy[0]), float(ty[0])) if len(vy) and len(ty) else math.nan
    if len(vy) < 4 or not start > 0:
        return f
    ratio = float(np.median(vy[-max(1, len(vy) // 10) :])) / start
    if ratio < VAL_BLOWUP:
        return f
    ev = dict(f.evidence)
    ev["degenerate_zero"], ev["val_blowup"] = 0.0, ratio
    return replace(
        f,
        evidence=ev,
        message=(
            f"The training loss is exactly 0 from step {f.start_step} while the validation loss "
            f"ended {ratio:.0f}× its first value: the logits overflowed (saturated) at a far too "
            "large learning rate; lower it."
        ),
    )


def _minibatch_noise(
    f: Finding, val: tuple[np.ndarray, np.ndarray] | None, cfg: AnalysisConfig
) -> bool:
    """A train "oscillation" of noise-like swings (sign flips ~2/3, not period-2) while a
    validation pass over the same steps is not erratic (≥ 8 evaluations bouncing less than
    ``oscillation.val_bounce`` per evaluation, the level at which the val path calls the
    weights jumpy): the weights are not bouncing, the minibatch loss is just noisier as it
    falls (hard examples), so it is no LR problem. (The smoother bound ``stagnation.jitter``,
    0.5 %, was used before; a transformer classifier family added to corpus 2's tuning split
    on 2026-12-06 bounced 0.55–0.6 % at its good LR and was flagged: 3 of 32 false alarms.)"""
    if val is None or "growth" not in (f.evidence.get("path"), f.evidence.get("phase_path")):
        return False
    flips = f.evidence.get("sign_flip_rate")
    if not isinstance(flips, float) or not flips < cfg.oscillation.flip_rate:
        return False
    vx, vy = finite_xy(*val)
    sel = vx >= f.start_step
    return int(sel.sum()) >= 8 and bounce(vy[sel]) < cfg.oscillation.val_bounce


def _val_findings(
    val: tuple[np.ndarray, np.ndarray],
    train: tuple[np.ndarray, np.ndarray] | None,
    lr: tuple[np.ndarray, np.ndarray] | None,
    train_findings: list[Finding],
    cfg: AnalysisConfig,
) -> list[Finding]:
    """Oscillation of the val loss (unless the train loss already showed it), else
    overfitting (as divergence when training rose too), else a val plateau. An early
    oscillation that settled is followed by the overfitting test on what came after it
    (a run can bounce early and overfit late)."""
    vosc: list[Finding] = []
    train_osc = any(f.kind == "oscillation" for f in train_findings)
    if not train_osc:
        vosc = detect_val_oscillation(*val, train=train, lr=lr, config=cfg)
        if vosc and not all("settled_bounce" in f.evidence for f in vosc):
            return vosc
    if vosc:
        after = max(f.end_step for f in vosc)
        val, train = _after(val, after), None if train is None else _after(train, after)
    tx, ty = train if train is not None else (None, None)
    ovf = detect_overfitting(*val, tx, ty, config=cfg)
    gain = late_train_gain(train)
    ovf = [
        as_instability(f)
        if f.evidence.get("train_rising")
        else as_bouncing(f, gain)
        if f.severity != "info" and jumps_not_memorises(f, gain, cfg)
        else f
        for f in ovf
    ]
    # a fit the weights were thrown out of: an LR too large besides the overfitting
    # (the train series is scanned only when there is an overfitting warning to read)
    warned = [f for f in ovf if f.kind == "overfitting" and f.severity != "info"]
    relapse = train_relapse(train) if warned else 0.0
    relapsed = relapse >= cfg.oscillation.relapse_decades
    if relapsed:
        ovf += [as_relapse(f, relapse) for f in warned]
    if vosc:
        return vosc + [f for f in ovf if f.kind == "overfitting"]
    if any(
        f.kind == "divergence" and f.metric == "train_loss" and f.severity != "info"
        for f in train_findings
    ):
        ovf = [f for f in ovf if f.kind != "divergence"]
    if ovf:
        # an overfitting that also bounced, in a run not already read as oscillating
        return ovf + [
            _erratic_beside(f, b)
            for f in ([] if train_osc or relapsed else warned)
            if (b := _bounce_beside_rise(f, val, train, cfg)) >= cfg.oscillation.val_bounce
        ]
    stag = detect_stagnation(*val, lr=lr, metric="val_loss", reference=train, config=cfg)
    return [_as_bouncing_plateau(f) if _bounces_on_plateau(f, cfg) else f for f in stag]


def _bounce_beside_rise(
    f: Finding,
    val: tuple[np.ndarray, np.ndarray],
    train: tuple[np.ndarray, np.ndarray] | None,
    cfg: AnalysisConfig,
) -> float:
    """How much the val loss of an overfitting warning that is erratic (``val_erratic``:
    it bounces ≥ ``oscillation.val_bounce`` over the run) bounced on its way down to its
    best (``bounce`` over the ≥ 4 evaluations up to it) when the train loss, logged at
    least twice per evaluation, bounced over the same steps ≥ ``val_train_bounce`` (¼) as
    much; 0 otherwise. Both losses jumping while the val loss still improved is the
    weights bouncing; memorisation shows only after the best, and a val set's own noise
    beside a smooth (or epoch-mean) train loss is no LR matter."""
    best = f.evidence.get("best_val_step")
    if f.evidence.get("val_erratic") != 1.0 or not isinstance(best, float):
        return 0.0
    vx, vy = finite_xy(*val)
    n = int((vx <= best).sum())
    if n < 4:
        return 0.0
    b = bounce(vy[:n])
    tb = train_bounce(vx, 0, n, None if train is None else finite_xy(*train))
    return b if tb >= cfg.oscillation.val_train_bounce * b else 0.0


def _erratic_beside(f: Finding, val_bounce: float) -> Finding:
    """The oscillation an overfitting val loss also shows when it bounced on its way
    down: a val pass over a fixed set moves only with the weights. Its range and onset
    are the overfitting's (from the best val step): the LR to cut is the one the run
    overfit and bounced at, not an early phase a warm-up would calm."""
    best = ev_float(f.evidence, "best_val_step")
    ev: dict[str, float | int | str | None] = {
        "path": "validation",
        "val_bounce": val_bounce,
        "onset_step": float(f.start_step),
        "best_val_step": best,
    }
    return replace(
        f,
        kind="oscillation",
        evidence=ev,
        message=(
            f"The validation loss jumped {100 * val_bounce:.0f}% per evaluation (up and back "
            f"down) on its way to its best at step {int(best)}, and the training loss jumped "
            "with it: the weights bounce as well as overfit; lower the learning rate."
        ),
    )


def _bounces_on_plateau(f: Finding, cfg: AnalysisConfig) -> bool:
    """A val plateau (flat while the train loss still falls) whose evaluations jump
    ≥ ``oscillation.val_bounce`` per evaluation: a val pass over a fixed set moves only
    with the weights, so the val loss is not stuck, it bounces around a level it cannot
    get below — an LR too large, not a run to stop early."""
    jitter = f.evidence.get("jitter")
    return (
        f.evidence.get("diagnosis") == "val_plateau"
        and f.severity != "info"
        and isinstance(jitter, float)
        and jitter >= cfg.oscillation.val_bounce
    )


def _as_bouncing_plateau(f: Finding) -> Finding:
    ev = dict(f.evidence)
    ev["path"], ev["val_bounce"], ev["onset_step"] = (
        "plateau_bounce",
        ev["jitter"],
        float(f.start_step),
    )
    return replace(
        f,
        kind="oscillation",
        evidence=ev,
        message=(
            f"The validation loss has not improved since step {f.start_step} and jumps "
            f"{100 * ev_float(ev, 'jitter'):.0f}% per evaluation (up and back down) while the "
            "training loss keeps falling: the weights bounce around a level they cannot get "
            "below; lower the learning rate."
        ),
    )


def _drift_within_bounce(findings: list[Finding]) -> list[Finding]:
    """A moderate upward drift (divergence ``path: drift``, warning: < 50 % over its
    window) of a loss that oscillates is the bouncing seen from afar: the run did not
    blow up, its level wanders up while it jumps. Oscillation is the reading; the drift
    is dropped (both say lower the LR)."""
    if not any(f.kind == "oscillation" and f.severity != "info" for f in findings):
        return findings
    return [
        f
        for f in findings
        if not (
            f.kind == "divergence" and f.severity == "warning" and f.evidence.get("path") == "drift"
        )
    ]


def _after(series: tuple[np.ndarray, np.ndarray], step: float) -> tuple[np.ndarray, np.ndarray]:
    """The points of ``(steps, values)`` after ``step``."""
    keep = series[0] > step
    return series[0][keep], series[1][keep]


def analyze_series(
    train: tuple[np.ndarray, np.ndarray] | None,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    lr: tuple[np.ndarray, np.ndarray] | None = None,
    config: AnalysisConfig | None = None,
) -> tuple[list[Finding], bool]:
    """Findings for raw ``(steps, values)`` arrays, and whether data were insufficient."""
    cfg = config or DEFAULT_CONFIG
    findings: list[Finding] = []
    n_train, n_val = _count_finite(train), _count_finite(val)
    if lr is not None and _count_finite(lr) == 0:
        lr = None

    critical = False
    if train is not None and len(train[1]):
        div = [
            val_not_recovered(_zero_with_val_blowup(f, train, val), train, val, cfg)
            for f in detect_divergence(*train, metric="train_loss", config=cfg)
        ]
        findings += div
        critical = any(f.severity == "critical" for f in div)
        if not critical and n_train >= cfg.min_points:
            osc = detect_oscillation(*train, lr=lr, metric="train_loss", config=cfg)
            osc = [f for f in osc if not _minibatch_noise(f, val, cfg)]
            findings += osc
            if not osc and _no_warning(div):
                findings += detect_stagnation(*train, lr=lr, metric="train_loss", config=cfg)

    if val is not None and len(val[1]):
        vdiv = detect_divergence(*val, metric="val_loss", config=cfg, nonfinite_only=True)
        findings += vdiv
        if _no_warning(vdiv) and not critical:
            findings += _val_findings(val, train, lr, findings, cfg)

    findings = _drift_within_bounce(findings)
    if _no_warning(findings) and not critical:
        findings += [
            f
            for f in detect_peak_phase(train, val, lr, config=cfg)
            if not _minibatch_noise(f, val, cfg)
        ]
    if _no_warning(findings) and not critical:
        findings += detect_loss_spike(train, val, lr, config=cfg)
    if _no_warning(findings):
        findings += detect_slow_descent(train, val, lr, config=cfg)
    insufficient = n_train < cfg.min_points and n_val < MIN_VAL_POINTS
    return findings, insufficient


def _below_range_findings(
    run: Run,
    train: tuple[np.ndarray, np.ndarray] | None,
    val: tuple[np.ndarray, np.ndarray] | None,
    lr: tuple[np.ndarray, np.ndarray] | None,
    cfg: AnalysisConfig,
) -> list[Finding]:
    """What the run's setting adds to a run no detector warned about: an LR far below
    its usual range (:func:`detect_below_range`), else the too-slow odds of a
    from-scratch run whose optimizer is known (:func:`detect_slow_odds`)."""
    meta = run.meta
    base = base_lr(lr, meta.params)
    found = detect_below_range(
        train, val, base, usual_floor(meta.params, meta.tags, meta.name), cfg, lr
    )
    if found:
        return found
    floor = from_scratch_floor(meta.params, meta.tags, meta.name)
    return detect_slow_odds(train, val, base, floor, cfg)


def analyze_run(
    run: Run, roles: RoleMap | None = None, config: AnalysisConfig | None = None
) -> RunAnalysis:
    """Analyze one run: detectors on train/val losses, status, one suggestion."""
    cfg = config or DEFAULT_CONFIG
    roles = roles or resolve_roles(run)
    train = role_arrays(run, roles.train_loss)
    val = role_arrays(run, roles.val_loss)
    lr = role_arrays(run, roles.lr)
    # --- LR range test hook (issue 11): read against the LR, not judged as training ---
    range_test = read_range_test(lr, train)
    if range_test is not None:
        note = Suggestion(
            "keep_lr",
            rationale=(
                f"An LR range test, not a training run: train at {range_test.suggested_lr:.2g} "
                f"({range_test.rule}; the loss was lowest at {range_test.min_loss_lr:.2g})."
            ),
        )
        return RunAnalysis(
            meta=run.meta,
            roles=roles,
            status="healthy",
            suggestion=note,
            warnings=tuple(run.warnings),
            lr_range_test=range_test,
        )
    # --- end of range test hook ---
    findings, insufficient = analyze_series(train, val, lr, cfg)
    if not insufficient and _no_warning(findings):
        findings += _below_range_findings(run, train, val, lr, cfg)
    sched = recognise(*lr) if lr is not None and _count_finite(lr) else None
    sug = suggest(
        findings,
        lr=lr if sched else None,
        params=run.meta.params,
        tags=run.meta.tags,
        schedule=sched,
        insufficient=insufficient,
        name=run.meta.name,
    )
    status = status_of(findings, insufficient=insufficient)
    return RunAnalysis(
        meta=run.meta,
        roles=roles,
        status=status,
        findings=tuple(findings),
        suggestion=sug,
        warnings=(*run.warnings, *_left_out_warnings(run, roles)),
    )


def _left_out_warnings(run: Run, roles: RoleMap) -> tuple[str, ...]:
    """One warning per loss part left out of a sum for having no finite value at all."""
    return tuple(
        f"{run.meta.location}: {p}: no finite value in any row (all NaN/inf), left out of "
        "the summed loss"
        for p in roles.left_out
    )
