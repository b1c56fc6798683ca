"""One suggestion per run, from its findings, LR series and parameters (pure).

The numbers (contract: ``current_lr``, ``suggested_lr``, ``factor``)
--------------------------------------------------------------------
``current_lr`` is the LR a person types into a config: the schedule's base (peak) LR
from the logged LR series, else a run parameter (``lr``, ``learning_rate``, …), else
``None``. An LR change is a ``factor`` on that number and ``suggested_lr`` =
``current_lr × factor`` (rounded to 2 significant digits; the factor is rounded first,
so the two numbers shown and the factor agree). A decrease-type action
(``decrease_lr``, ``decay_lr``, ``add_warmup`` with a lower peak) has ``factor < 1``;
``increase_lr`` has ``factor > 1``; every other action keeps ``suggested_lr =
current_lr`` and has no factor. With no LR known, an LR change still gives its factor.

When the trouble began below the peak (an oscillation or a blow-up during a warm-up),
the factor is taken so that the new *peak* sits at the wanted multiple of the LR where
it began: ``factor = f × lr_trouble / peak``. An onset LR below ``onset_lr_share`` of the
peak (the first steps of a warm-up, where no LR is large) is not what drove it: the
largest LR over the finding is used instead.

Rules (the most severe non-info finding decides: :func:`~analyzer.findings.worst`)
---------------------------------------------------------------------------------
* no problem → ``keep_lr``;
* divergence: degenerate zero loss → ``check_data``; otherwise ``decrease_lr`` by
  :func:`~analyzer.lr_sizing.decrease_size` from the largest LR up to the onset;
* oscillation: ``decrease_lr`` by :func:`~analyzer.lr_sizing.decrease_size` from the LR that drove it;
  ``add_warmup`` only for swings that began inside a warm-up (peak lowered as well) or
  that began in the first 10 % of a run without warm-up, died down ≥ 10 % before the end
  and were followed by real progress (``recovered`` evidence: the loss ended below its
  level before the swings) — swings that last, or after which the run went nowhere,
  mean the LR itself is too large; an oscillation that comes with a clearly worse
  later val loss keeps the best step as ``early_stop_step``;
* overfitting → ``early_stop`` at the best validation step; with a bouncing val
  (``val_erratic``) also ``decrease_lr`` by ``erratic_overfit_factor``;
* stagnation: ``stuck``/``too_slow`` → ``increase_lr`` by :func:`~analyzer.lr_sizing.increase_size`;
  ``noise_floor``/``plateau`` → ``decay_lr`` (cosine, to ``decay_factor`` of the LR
  there); ``lr_collapsed`` → ``restore_lr`` (keep the base LR, fix the schedule: the
  floor it fell to is in ``collapsed_lr``); ``val_plateau`` → ``early_stop``.

Size of an LR change: :mod:`analyzer.lr_sizing`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .findings import Finding, Suggestion, worst
from .lr_priors import base_lr, lr_prior, optimizer_range
from .lr_sizing import (
    DEFAULT_PARAMS,
    DIVERGENCE_FACTOR,
    OSCILLATION_FACTOR,
    Context,
    SuggestParams,
    change,
    decrease_size,
    increase_size,
    keep,
)
from .schedule import Schedule, recognise
from .stats import finite_xy

#: The public names (the sizes and ``SuggestParams`` live in :mod:`analyzer.lr_sizing`).
__all__ = [
    "DEFAULT_PARAMS",
    "DIVERGENCE_FACTOR",
    "OSCILLATION_FACTOR",
    "SuggestParams",
    "best_checkpoint",
    "suggest",
]


def _f(v: float | None) -> str:
    return "unknown" if v is None else f"{v:.3g}"


def best_checkpoint(findings: Sequence[Finding]) -> int | None:
    """The best validation step of a warning-level overfitting finding, or of a val
    oscillation after whose best evaluation every later one is clearly worse."""
    for f in findings:
        if f.severity != "info" and (f.kind == "overfitting" or "best_val_step" in f.evidence):
            return int(_num(f.evidence.get("best_val_step"), f.start_step))
    return None


def _num(v: object, default: float = 0.0) -> float:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(float(v)) else default


# ---------------------------------------------------------------------------
# one rule per kind
# ---------------------------------------------------------------------------


def suggest_divergence(ctx: Context) -> Suggestion:
    """``check_data`` for a degenerate zero loss, else a decrease from the largest LR
    up to the onset."""
    main, ev = ctx.main, ctx.ev
    if ev.get("degenerate_zero"):
        return keep(
            ctx,
            "check_data",
            f"Loss exactly 0 for {ev.get('zero_points')} points from step {main.start_step}: "
            "check labels/masking and precision before tuning the LR.",
        )
    trouble = ctx.max_lr(-math.inf, float(main.start_step)) if ctx.lr is not None else ctx.base
    f, how = ctx.p.divergence_factor, ""
    sched = ctx.sched
    if ev.get("rose_from_start") or (
        sched is not None
        and sched.first_step is not None
        and sched.last_step is not None
        and sched.last_step > sched.first_step
        and main.start_step - sched.first_step
        <= ctx.p.immediate_onset * (sched.last_step - sched.first_step)
    ):
        f, how = ctx.p.immediate_factor, " (it blew up at once: far past the edge)"
    factor, note = decrease_size(ctx, trouble, f)
    why = (
        f"{main.message} Largest LR before step {main.start_step}: {_f(trouble)}; "
        f"suggest {f:g}× that{how}{note}."
    )
    return change(ctx, "decrease_lr", factor, why)


def _oscillation_facts(ev: Mapping[str, object], onset: float) -> str:
    path = ev.get("path")
    if path == "bouncing":
        facts = f"step-to-step bouncing from step {int(onset)}"
    elif path == "spike":
        facts = (
            f"a spike to {_num(ev.get('explosion_ratio')):.1f}× the early maximum from step "
            f"{int(onset)}, then recovered"
        )
    elif path == "relapse":
        which, ratio = (
            ("val", ev["spike_ratio"])
            if "spike_ratio" in ev
            else ("train", ev.get("train_spike_ratio"))
        )
        facts = (
            f"a jump to {_num(ratio):.3g}× the best {which} loss so far from step "
            f"{int(onset)}, then back"
        )
    elif path in ("validation", "plateau_bounce", "erratic_rise"):
        facts = f"validation loss bouncing {100 * _num(ev.get('val_bounce')):.0f}% per evaluation from step {int(onset)}"
    else:
        facts = f"swings ×{_num(ev.get('scale_ratio'), 1.0):.1f} from step {int(onset)}"
    flips = ev.get("sign_flip_rate")
    if isinstance(flips, float) and math.isfinite(flips):
        facts += f", sign-flip rate {flips:.2f}"
    return facts


def suggest_oscillation(ctx: Context) -> Suggestion:
    """A decrease from the LR that drove the swings; a warm-up only for swings at the
    start that died down and were followed by progress."""
    main, ev, sched, p = ctx.main, ctx.ev, ctx.sched, ctx.p
    onset = _num(ev.get("onset_step"), float(main.start_step))
    lr_on = ev.get("lr_at_onset")
    lr_on = float(lr_on) if isinstance(lr_on, (int, float)) else ctx.lr_at(onset)
    peak = ctx.base
    # an onset low in a warm-up is where the swings were first seen, not what drove them
    # (the largest LR over the swings did): no warm-up advice then, a lower peak
    driven_at_onset = not (lr_on is None or (peak is not None and lr_on < p.onset_lr_share * peak))
    if not driven_at_onset:
        lr_on = ctx.max_lr(onset, float(main.end_step)) or peak
    facts = _oscillation_facts(ev, onset)
    first = sched.first_step if sched is not None else None
    last = sched.last_step if sched is not None else None
    span = (last - first) if first is not None and last is not None else None
    early = bool(span and first is not None and onset - first <= 0.1 * span)
    died_down = bool(span and last is not None and main.end_step < last - 0.1 * span)
    recovered = bool(ev.get("recovered", 1.0))
    keep_step = best_checkpoint(ctx.findings)
    keep_txt = (
        f"; keep the checkpoint of step {keep_step}, before the val loss climbed"
        if keep_step is not None
        else ""
    )
    in_warm = bool(
        driven_at_onset
        and sched
        and sched.warmup_steps > 0
        and sched.first_step is not None
        and onset < sched.first_step + sched.warmup_steps
        and span
        and sched.warmup_steps <= 0.3 * span
    )
    factor, note = decrease_size(ctx, lr_on, p.oscillation_factor)
    if in_warm and sched is not None:
        steps = int(max(2 * sched.warmup_steps, 1))
        return change(
            ctx,
            "add_warmup",
            factor,
            f"Oscillation began during the warm-up ({facts}) at LR {_f(lr_on)}: warm up over "
            f"{steps} steps to a peak of {p.oscillation_factor:g}× the LR at onset{note}.",
            extra={"warmup_steps": steps},
        )
    lr_end = ctx.lr_at(float(last)) if last is not None else None
    if died_down and lr_on and lr_end is not None and lr_end <= 0.5 * lr_on:
        advice = (
            f"Oscillation ({facts}) at LR {_f(lr_on)} until the schedule lowered it (to "
            f"{_f(lr_end)} by the end): start the schedule {p.oscillation_factor:g}× lower"
        )
    elif (
        early and died_down and recovered and sched is not None and sched.warmup_steps == 0 and span
    ):
        steps = int(max(0.05 * span, 2 * (onset - (first or 0.0))))  # early: first is set
        return keep(
            ctx,
            "add_warmup",
            f"Oscillation from the start until step {main.end_step} ({facts}) with no warm-up, "
            f"then steady progress: warm up over {steps} steps.",
            extra={"warmup_steps": steps},
        )
    else:
        advice = (
            f"Oscillation ({facts}) at LR {_f(lr_on)}: suggest {p.oscillation_factor:g}× the LR "
            "that drove it"
        )
    return change(
        ctx, "decrease_lr", factor, f"{advice}{note}{keep_txt}.", early_stop_step=keep_step
    )


def suggest_overfitting(ctx: Context) -> Suggestion:
    """The best checkpoint; with a bouncing val loss, a lower LR too."""
    main, ev = ctx.main, ctx.ev
    step = int(_num(ev.get("best_val_step"), float(main.start_step)))
    why = (
        f"Validation loss best at step {step} ({_num(ev.get('best_val')):.4g}), "
        f"{_num(ev.get('rise_pct')):.1f}% higher since: keep that checkpoint"
    )
    lr_there = ctx.lr_at(float(main.end_step))
    if ev.get("val_erratic") and (lr_there is None or lr_there > 0):  # an LR at ~0 needs no cut
        factor, note = decrease_size(ctx, ctx.base, ctx.p.erratic_overfit_factor)
        return change(
            ctx,
            "decrease_lr",
            factor,
            f"{why}, and lower the learning rate: the validation loss also bounces "
            f"{100 * _num(ev.get('val_bounce')):.0f}% per evaluation, so the weights jump "
            f"({ctx.p.erratic_overfit_factor:g}× the LR{note}).",
            early_stop_step=step,
        )
    return keep(ctx, "early_stop", why + ".", early_stop_step=step)


def suggest_stagnation(ctx: Context) -> Suggestion:
    """Increase a stuck/too-slow LR, restore a collapsed schedule, stop at a val plateau,
    decay at a noise floor."""
    main, ev = ctx.main, ctx.ev
    diag = ev.get("diagnosis")
    frac = 100 * _num(ev.get("plateau_frac"))
    if diag in ("stuck", "too_slow"):
        gain = _num(ev.get("rel_improvement"))
        factor, note = increase_size(ctx, gain)
        how = "improved" if diag == "stuck" else "fell in a straight line by"
        if ev.get("path") == "odds":
            how = "fell, with no fast opening,"
        return change(
            ctx,
            "increase_lr",
            factor,
            f"Loss {how} {100 * gain:.2f}% over {frac:.0f}% of the run at LR {_f(ctx.base)}"
            f"{_slow_txt(ev)}: increase it{note}.",
        )
    if diag == "lr_collapsed":
        peak = _num(ev.get("peak_lr"), ctx.base or 0.0) or ctx.base
        floor = ev.get("lr_end")
        return keep(
            ctx,
            "restore_lr",
            f"LR fell to ≤5% of its peak {_f(peak)} by step "
            f"{int(_num(ev.get('collapse_step')))} and the loss has been flat since step "
            f"{main.start_step}: keep the base LR {_f(ctx.base)} and fix the schedule "
            f"(it ended at {_f(floor if isinstance(floor, float) else None)}).",
            extra={"collapsed_lr": floor if isinstance(floor, float) else None},
        )
    if diag == "val_plateau":
        best = ev.get("best_step")
        step = int(float(best)) if isinstance(best, (int, float)) else int(main.start_step)
        return keep(
            ctx,
            "early_stop",
            f"Validation loss flat since step {main.start_step} ({frac:.0f}% of the run) while "
            f"training loss falls: later steps only widen the gap; keep the checkpoint at its "
            f"lowest point, step {step}.",
            early_stop_step=step,
        )
    there = ctx.lr_at(float(main.start_step)) or ctx.base
    factor = ctx.p.decay_factor * (there / ctx.base if there and ctx.base else 1.0)
    return change(
        ctx,
        "decay_lr",
        min(factor, ctx.p.decay_factor),
        f"Loss flat since step {main.start_step} ({frac:.0f}% of the run, change "
        f"{-100 * _num(ev.get('rel_improvement')):+.2f}%) at LR {_f(there)}: decay it "
        f"(cosine, to {ctx.p.decay_factor:g}× that).",
        extra={"schedule": "cosine"},
    )


def _slow_txt(ev: Mapping[str, object]) -> str:
    runs, odds = ev.get("runs_to_halve"), ev.get("p_too_slow")
    if isinstance(runs, (int, float)) and math.isfinite(float(runs)):
        return f" (at this rate, halving the loss takes {float(runs):.0f} runs of this length)"
    if isinstance(odds, float):
        return f" (the odds that it is too small: {100 * odds:.0f}%)"
    return ""


RULES: Mapping[str, Callable[[Context], Suggestion]] = {
    "divergence": suggest_divergence,
    "oscillation": suggest_oscillation,
    "overfitting": suggest_overfitting,
    "stagnation": suggest_stagnation,
}


def suggest(
    findings: Sequence[Finding],
    lr: tuple[np.ndarray, np.ndarray] | None = None,
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    schedule: Schedule | None = None,
    insufficient: bool = False,
    name: str = "",
    config: SuggestParams = DEFAULT_PARAMS,
) -> Suggestion:
    """The one action for a run (rules in the module docstring); ``name`` (the run's
    name) is read for setting hints such as ``lora`` or ``sft``, like params."""
    if lr is not None and len(finite_xy(*lr)[0]) == 0:
        lr = None
    sched = schedule or (recognise(*lr) if lr is not None else None)
    base = base_lr(lr, params)
    main = worst(findings)
    if main is None:
        why = (
            "Too few points to judge; nothing to change yet."
            if insufficient
            else "No problem found: keep the learning rate" + (" and schedule." if sched else ".")
        )
        return keep(None, "keep_lr", why, base)
    ctx = Context(
        findings=findings,
        main=main,
        lr=lr,
        sched=sched,
        base=base,
        prior=lr_prior(params, tags, name),
        opt_range=optimizer_range(params),
        p=config,
    )
    return RULES[main.kind](ctx)
