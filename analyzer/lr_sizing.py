"""How far to move an LR: the settings of the suggestion step (:class:`SuggestParams`),
the :class:`Context` every rule of :mod:`analyzer.suggest` reads, and the sizes of a
decrease and of an increase (pure).

Decrease: ``f = divergence_factor`` / ``oscillation_factor`` (a decade: when in doubt,
the smaller LR); ``immediate_factor`` (two decades) for a blow-up within the first
``immediate_onset`` of the run (a run just past the edge takes a while to blow up);
smaller when the run sits ``range_margin`` × above the usual range of its optimizer
(:func:`~analyzer.lr_priors.optimizer_range`): then the new LR is ``range_reach`` × the
top of that range. Increase: ``stuck_target_gain`` / the gain (10× the LR at which the
same straight line would take the whole loss; ×3 … ×10⁴), larger when the LR sits
``range_margin`` × below its optimizer's range (then 1/``range_reach`` of its bottom).
Setting priors from params, tags and the run name (LoRA/PEFT → 1e-4, full fine-tune →
5e-6, other fine-tunes/SFT → 5e-5, :func:`~analyzer.lr_priors.lr_prior`) cap both: a
decrease never suggests more than the prior when the current LR is above it; an increase
stops at the prior when the current LR is below it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .findings import Action, Finding, Suggestion
from .lr_priors import OPTIMIZER_RANGES, round_lr
from .schedule import Schedule, lr_at
from .stats import finite_xy


@dataclass(frozen=True)
class SuggestParams:
    """The sizes and limits of the suggestion step (documented where declared)."""

    #: Oscillation: cut the LR that drove it by a decade (the swings say it is past the
    #: edge, not by how much). Corpus 1 closed loop: 0.1 removes 40 of 54, 0.3 30.
    oscillation_factor: float = 0.1
    #: Divergence: past the stability edge by an unknown margin: a decade.
    divergence_factor: float = 0.1
    #: Overfitting with a bouncing val loss: the checkpoint and a decade lower.
    erratic_overfit_factor: float = 0.1
    #: Noise floor at a constant LR: decay to this share of the LR there.
    decay_factor: float = 0.3
    #: A run that gained g of its loss in a straight line at this LR would, at k× the LR,
    #: gain ≈ k·g until the curve bends, and a good LR bends early in the run. So the LR is
    #: raised by ``stuck_target_gain`` / g (ten times the LR at which the same straight
    #: line would take the whole loss; corpus 2 tuning families: 1/g lands 1–2 decades
    #: short; a surrogate closed loop over their LR sweeps reaches the good val loss in
    #: 16 % of the too-small runs at 3, 47 % at 10, 52 % at 30: 10, the smaller LR when in
    #: doubt) …
    stuck_target_gain: float = 10.0
    #: … by at least ×3 and at most ×10⁴ in one step (a loss that did not move at all
    #: says nothing about how far off it is; the optimizer's range and a setting's prior
    #: still cap the result). Surrogate closed loop on the 11 corpus-2 tuning families:
    #: the too-small runs reach the good val loss in 49 % with a cap of ×1000, 57 % at ×10⁴.
    stuck_multiplier: tuple[float, float] = (3.0, 10000.0)
    #: … and at most ×10 when no LR is known at all (neither logged nor a run parameter),
    #: or when neither the optimizer nor the setting is (a YOLO fine-tune at 1e-4 whose
    #: loss was flat was told ×761, to 0.076): then nothing caps the step, and a decade
    #: at a time is the smaller change when in doubt (up to the bottom of Adam's usual
    #: range, 1e-4, when the LR sits further below it: the most common optimizer's, and
    #: too small to throw any other's weights out).
    unknown_lr_cap: float = 10.0
    #: An onset LR below this share of the peak is the start of a warm-up, not the cause.
    onset_lr_share: float = 0.25
    #: A blow-up within this share of the run's first steps means the LR is far past the
    #: edge (a run just past it takes a while to blow up): cut by ``immediate_factor``. So
    #: does a log that ends at a NaN whose loss never fell below its first value (evidence
    #: ``rose_from_start``: it never trained; a NaN guard ends such logs, so the onset's
    #: share of the logged steps says nothing). Corpus 2 tuning families (640 runs), the
    #: surrogate closed loop: too-large runs reaching the good val loss 140 → 161 of 258.
    immediate_onset: float = 0.02
    immediate_factor: float = 0.01
    #: An LR this many times above the top of its optimizer's usual range (or below its
    #: bottom) is brought to ``range_reach`` × that end rather than moved by the default
    #: factor. The ranges are for typical deep nets; small models take larger LRs, so only
    #: LRs far outside them are pulled in, and only to near the edge of the range; an
    #: increase never goes past ``range_reach`` × the top. Corpus 2 tuning families, a
    #: surrogate closed loop over their LR sweeps: the too-large runs reach the good val
    #: loss in 44 % at a reach of 3, 68 % anywhere from 7 to 12, 55 % at 15, 24 % without
    #: the pull.
    range_margin: float = 30.0
    range_reach: float = 10.0


DEFAULT_PARAMS = SuggestParams()

#: Kept for callers of the previous module interface.
OSCILLATION_FACTOR = DEFAULT_PARAMS.oscillation_factor
DIVERGENCE_FACTOR = DEFAULT_PARAMS.divergence_factor


@dataclass(frozen=True)
class Context:
    """What every rule reads: the deciding finding, the LR series and the run's setting."""

    findings: Sequence[Finding]
    main: Finding
    lr: tuple[np.ndarray, np.ndarray] | None
    sched: Schedule | None
    base: float | None  # current_lr
    prior: tuple[float, str] | None
    opt_range: tuple[float, float, str] | None
    p: SuggestParams = field(default=DEFAULT_PARAMS)

    @property
    def ev(self) -> Mapping[str, object]:
        return self.main.evidence

    def lr_at(self, step: float) -> float | None:
        return lr_at(self.lr, step) if self.lr is not None else None

    def max_lr(self, a: float, b: float) -> float | None:
        """The largest logged LR over steps ``[a, b]`` (the LR at ``b`` if none logged)."""
        if self.lr is None:
            return None
        x, y = finite_xy(*self.lr)
        sel = y[(x >= a) & (x <= b)]
        return float(sel.max()) if len(sel) else self.lr_at(b)


def _nice(factor: float) -> float:
    return float(f"{factor:.2g}")


def change(
    ctx: Context,
    action: Action,
    factor: float,
    rationale: str,
    *,
    early_stop_step: int | None = None,
    extra: Mapping[str, object] | None = None,
) -> Suggestion:
    """A Suggestion that scales the base LR by ``factor`` (rounded to 2 digits first)."""
    factor = _nice(factor)
    sug = round_lr(ctx.base * factor) if ctx.base is not None else None
    return Suggestion(
        action,
        current_lr=ctx.base,
        suggested_lr=sug,
        factor=factor,
        early_stop_step=early_stop_step,
        rationale=rationale,
        extra=dict(extra or {}),
    )


def keep(
    ctx: Context | None,
    action: Action,
    rationale: str,
    base: float | None = None,
    *,
    early_stop_step: int | None = None,
    extra: Mapping[str, object] | None = None,
) -> Suggestion:
    """A Suggestion that keeps the base LR (``suggested_lr = current_lr``, no factor)."""
    cur = ctx.base if ctx is not None else base
    return Suggestion(
        action,
        current_lr=cur,
        suggested_lr=cur,
        early_stop_step=early_stop_step,
        rationale=rationale,
        extra=dict(extra or {}),
    )


def decrease_size(ctx: Context, trouble_lr: float | None, f: float) -> tuple[float, str]:
    """The factor on the base LR that puts the LR which drove the trouble at ``f`` × itself,
    further down into the optimizer's usual range when the run sits far above it, and
    never above the setting's prior. Returns the factor and a note for the rationale."""
    base = ctx.base
    if base is None or trouble_lr is None or not trouble_lr > 0:
        return f, ""
    factor = f * min(trouble_lr, base) / base
    note = ""
    if ctx.opt_range is not None and ctx.prior is None:
        lo, hi, fam = ctx.opt_range
        top = ctx.p.range_reach * hi
        if base > ctx.p.range_margin * hi and top / base < factor:
            factor, note = top / base, f"; towards the usual {fam} range ({lo:g}–{hi:g})"
    if ctx.prior is not None and base * factor > ctx.prior[0] and base > ctx.prior[0]:
        factor, note = (
            ctx.prior[0] / base,
            f"; capped at the usual {ctx.prior[1]} LR {ctx.prior[0]:.0e}",
        )
    return factor, note


def stuck_multiplier(gain: float, params: SuggestParams = DEFAULT_PARAMS) -> float:
    """How much to raise the LR of a run that gained ``gain`` (a share of its loss):
    ``stuck_target_gain`` / gain within ``stuck_multiplier`` (no gain: the upper bound)."""
    lo, hi = params.stuck_multiplier
    if not gain > 0:
        return hi
    return float(min(max(params.stuck_target_gain / gain, lo), hi))


def increase_size(ctx: Context, gain: float) -> tuple[float, str]:
    """The factor for a run that gained ``gain`` (a share of its loss) where it should
    move: :func:`stuck_multiplier`, at least the way towards the optimizer's range when
    the LR sits far below it, at most the setting's prior or ``range_reach`` × the top of the
    optimizer's usual range (×2 when already at or above either)."""
    factor = stuck_multiplier(gain, ctx.p)
    note = ""
    base = ctx.base
    if base is None:
        if factor > ctx.p.unknown_lr_cap:
            return ctx.p.unknown_lr_cap, " (the LR is not logged: a decade at a time)"
        return factor, note
    if ctx.prior is not None:
        if base >= ctx.prior[0]:
            return 2.0, ""
        if base * factor > ctx.prior[0]:
            return _capped(base, ctx.prior[0], factor, f"the usual {ctx.prior[1]} LR")
        return factor, note
    if ctx.opt_range is not None:
        lo, hi, fam = ctx.opt_range
        bottom, top = lo / ctx.p.range_reach, hi * ctx.p.range_reach
        if base * ctx.p.range_margin < lo and bottom / base > factor:
            factor, note = bottom / base, f" (towards the usual {fam} range {lo:g}–{hi:g})"
        if base >= top:  # already past that edge: a small step, as above a setting's prior
            factor, note = min(factor, 2.0), f" (already above the usual {fam} range {lo:g}–{hi:g})"
        elif base * factor > top:  # never past the edge a too-large LR is pulled back to
            factor, note = _capped(
                base,
                top,
                factor,
                f"{ctx.p.range_reach:g}× the top of the usual {fam} range {lo:g}–{hi:g}",
            )
    else:  # neither optimizer nor setting known: nothing says how far a good LR is
        floor = OPTIMIZER_RANGES["adam"][0]
        cap = max(ctx.p.unknown_lr_cap, floor / base)
        if factor > cap:
            factor, note = (
                cap,
                (
                    " (the optimizer is not logged: a decade at a time)"
                    if cap == ctx.p.unknown_lr_cap
                    else f" (the optimizer is not logged: up to {floor:g}, the bottom of Adam's usual range)"
                ),
            )
    return factor, note


def _capped(base: float, cap: float, factor: float, why: str) -> tuple[float, str]:
    """An increase cut to ``cap`` (``why``: what the cap is); when the cap sits just above
    the current LR, the small step a run already past it gets instead (``min(factor,
    2)``): ×1.0 or ×1.1 is no change a person can act on."""
    step = min(factor, 2.0)
    if cap / base >= step:
        return cap / base, f" (at most {cap:g}: {why})"
    return step, f" (a small step: the LR is already near {cap:g}, {why})"
