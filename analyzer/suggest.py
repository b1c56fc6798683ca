"""One suggestion per run, from its findings, LR series and parameters (pure).

Rules (the most severe non-info finding decides; ties: divergence > oscillation >
overfitting > stagnation):

* no problem → ``keep_lr`` (``suggested_lr = current_lr``, no factor): never a change
  for a healthy run;
* divergence: degenerate zero loss → ``check_data``; otherwise ``decrease_lr`` to 0.1×
  the largest LR seen up to the onset (``factor`` 0.1 even when no LR is known);
* oscillation: ``decrease_lr`` to 0.1× the LR at the onset (a decade: when in doubt,
  the smaller LR); ``add_warmup`` when the
  swings start in the first 10 % of a run without warm-up (length: 5 % of the run,
  at least 2× the onset) when they die down ≥ 10 % before the end (swings that last
  to the end mean the LR itself is too large: ``decrease_lr``; so do swings that die
  down because the schedule cut the LR to ≤ ½: ``decrease_lr`` 0.1× the LR they began
  at, ``current_lr`` that LR), or while a warm-up (≤ 30 % of the run; a longer rise is an
  LR ramp, answered by ``decrease_lr``) is still rising (length: 2× the old warm-up,
  peak capped at 0.1× the LR at onset);
  an oscillation that comes with overfitting (it settled, then the val loss climbed),
  or whose val loss never came back near its best, keeps that best step as
  ``early_stop_step``;
* overfitting → ``early_stop`` at the best validation step; when the val loss also
  bounces (``val_erratic``) → ``decrease_lr`` by 0.1 with that ``early_stop_step`` (on
  the corpus' closed loop 0.1 fixes more of these runs than 0.3)
  (unless the LR has already decayed to 0 by then);
* stagnation: ``stuck`` → ``increase_lr`` by :func:`stuck_multiplier` (the gain
  extrapolated to a quarter of the loss, ×3 … ×100; ×2 when already at/above the prior);
  ``noise_floor``/``plateau`` → ``decay_lr`` (cosine, to 0.3× now); ``lr_collapsed``
  → ``restore_lr`` to the peak before the collapse; ``val_plateau`` → ``early_stop`` at
  the plateau's lowest validation point (the checkpoint to keep).

``factor`` is the multiplier on the LR the change scales: for a decrease, the LR where
the trouble began (the largest LR before a divergence, the LR at an oscillation's
onset), so under a decaying schedule it scales the schedule and is < 1 even when the
LR has decayed below ``suggested_lr`` by the end of the finding (``current_lr``).

Priors from run parameters/tags and words of the run name: LoRA/PEFT/QLoRA → 1e-4; full fine-tune → 5e-6;
other fine-tunes/SFT → 5e-5 (4e-5 conservative). A decrease never suggests more than
the prior when the current LR is above it (when in doubt, the smaller LR); an
increase stops at the prior when the current LR is below it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

from .findings import KIND_RANK, SEVERITY_RANK, Finding, Suggestion
from .schedule import Schedule, lr_at, recognise
from .stats import finite_xy

#: Oscillation: cut the LR at the onset by a decade (the swings say it is past the edge,
#: not by how much; when in doubt, the smaller LR). Measured on the corpus' closed loop:
#: 0.1 removes the oscillation in 40 of 54 retrained runs, 0.3 in 30, with the final
#: validation loss improving as often.
OSCILLATION_FACTOR = 0.1

#: A divergence means the LR is past the stability edge by an unknown margin: cut it
#: by a decade (the usual first step), not by a fraction that may still be past it.
DIVERGENCE_FACTOR = 0.1

LR_PARAM_KEYS = ("learning_rate", "lr", "learning-rate", "learningrate", "lr0", "base_lr", "init_lr")


def _round(v: float | None) -> float | None:
    if v is None or not math.isfinite(v) or v <= 0:
        return v
    return float(f"{v:.2g}")


def param_lr(params: Mapping[str, str] | None) -> float | None:
    """The LR from run parameters (``learning_rate``, ``lr``, …), ``None`` if absent."""
    if not params:
        return None
    low = {str(k).lower(): v for k, v in params.items()}
    for k in LR_PARAM_KEYS:
        for key, v in low.items():
            if key == k or key.endswith(("." + k, "/" + k)):
                try:
                    f = float(v)
                except (TypeError, ValueError):
                    continue
                if math.isfinite(f) and f > 0:
                    return f
    return None


#: Words (at a word start: ``qlora_r`` and ``use_lora`` match, ``exploration`` does not).
_LORA = re.compile(r"(?<![a-z])(q?lora|peft|adapter)")
_FINE = re.compile(r"(?<![a-z])(fine[-_ ]?tun|finetun|sft)")
_FULL = re.compile(r"(?<![a-z])full")


def lr_prior(params: Mapping[str, str] | None, tags: Mapping[str, str] | None,
             name: str = "") -> tuple[float, str] | None:
    """The usual LR for the setting the params, tags or run name reveal, with its name."""
    items = [*(params or {}).items(), *(tags or {}).items()]
    text = " ".join([name, *(f"{k}={v}" for k, v in items)]).lower()
    if not text.strip():
        return None
    if _LORA.search(text):
        return 1e-4, "LoRA/PEFT fine-tune"
    fine = bool(_FINE.search(text))
    if fine and _FULL.search(text):
        return 5e-6, "full fine-tune"
    if fine:
        return 5e-5, "fine-tune (4e-5 conservative)"
    return None


def _primary(findings: Sequence[Finding]) -> Finding | None:
    probs = [f for f in findings if f.severity != "info"]
    if not probs:
        return None
    return max(probs, key=lambda f: (SEVERITY_RANK[f.severity], KIND_RANK[f.kind], -f.start_step))


def _max_lr_until(lr: tuple[np.ndarray, np.ndarray] | None, step: float) -> float | None:
    if lr is None:
        return None
    x, y = finite_xy(*lr)
    sel = y[x <= step]
    if len(sel) == 0:
        return lr_at(lr, step)
    return float(sel.max())


def _f(v: float | None) -> str:
    return "unknown" if v is None else f"{v:.3g}"


#: A stuck run's LR is raised so that, if progress grows with the LR (it does while the
#: LR is far below the stable range), the run would gain this share of its loss …
STUCK_TARGET_GAIN = 0.25
#: … by at least 3× and at most 100× in one step.
STUCK_MULTIPLIER = (3.0, 100.0)


def stuck_multiplier(gain: float) -> float:
    """How much to raise the LR of a run that gained ``gain`` (a share of its loss)."""
    lo, hi = STUCK_MULTIPLIER
    if not gain > 0:
        return hi
    return float(min(max(STUCK_TARGET_GAIN / gain, lo), hi))


def _best_checkpoint(findings: Sequence[Finding]) -> int | None:
    """The best validation step of a warning-level overfitting finding, or of a val
    oscillation after whose best evaluation every later one is clearly worse."""
    for f in findings:
        if f.severity != "info" and (f.kind == "overfitting" or "best_val_step" in f.evidence):
            return int(float(f.evidence.get("best_val_step", f.start_step)))
    return None


def suggest(
    findings: Sequence[Finding],
    lr: tuple[np.ndarray, np.ndarray] | None = None,
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    schedule: Schedule | None = None,
    insufficient: bool = False,
    name: str = "",
) -> Suggestion:
    """The one action for a run (see the module docstring for the rules); ``name`` (the
    run's name) is read for setting hints such as ``lora`` or ``sft``, like params."""
    if lr is not None and len(finite_xy(*lr)[0]) == 0:
        lr = None
    sched = schedule or (recognise(*lr) if lr is not None else None)
    plr = param_lr(params)
    prior = lr_prior(params, tags, name)
    main = _primary(findings)
    if main is None:
        cur = None
        if lr is not None:
            x, _ = finite_xy(*lr)
            cur = lr_at(lr, float(x.max()))
        cur = cur if cur is not None else plr
        why = ("Too few points to judge; nothing to change yet." if insufficient else
               "No problem found: keep the learning rate" + (" and schedule." if sched else "."))
        return Suggestion("keep_lr", current_lr=cur, suggested_lr=cur, rationale=why)

    ev = dict(main.evidence)
    cur = lr_at(lr, float(main.end_step)) if lr is not None else None
    if cur is None:
        cur = plr
    extra: dict[str, object] = {}

    def cap_decrease(v: float | None) -> tuple[float | None, str]:
        if v is None:
            return None, ""
        if prior is not None and v > prior[0] and (cur is None or cur > prior[0]):
            return prior[0], f"; capped at the usual {prior[1]} LR {prior[0]:.0e}"
        return v, ""

    def factor_of(v: float | None, ref: float | None = cur) -> float | None:
        """``v`` as a multiple of ``ref``: the LR the change scales (by default the
        current one; for a decrease, the LR where the trouble began)."""
        if v is None or ref is None or ref <= 0:
            return None
        return v / ref

    if main.kind == "divergence":
        if ev.get("degenerate_zero"):
            return Suggestion("check_data", current_lr=cur, suggested_lr=None,
                              rationale=f"Loss exactly 0 for {ev.get('zero_points')} points from step "
                                        f"{main.start_step}: check labels/masking and precision before tuning the LR.")
        base = _max_lr_until(lr, float(main.start_step)) if lr is not None else cur
        base = base if base is not None else plr
        sug, note = cap_decrease(None if base is None else base * DIVERGENCE_FACTOR)
        why = (f"{main.message} Largest LR before step {main.start_step}: {_f(base)}; suggest "
               f"{DIVERGENCE_FACTOR:g}× that{note}.")
        factor = factor_of(_round(sug), base) if sug is not None else DIVERGENCE_FACTOR
        return Suggestion("decrease_lr", current_lr=cur, suggested_lr=_round(sug),
                          factor=factor, rationale=why)

    if main.kind == "oscillation":
        onset = float(ev.get("onset_step", main.start_step))
        lr_on = ev.get("lr_at_onset")
        if not isinstance(lr_on, float):
            lr_on = (lr_at(lr, onset) if lr is not None else None) or cur
        sug, note = cap_decrease(None if lr_on is None else lr_on * OSCILLATION_FACTOR)
        in_warm = bool(sched and sched.warmup_steps > 0 and sched.first_step is not None
                       and onset < sched.first_step + sched.warmup_steps)
        first = sched.first_step if sched and sched.first_step is not None else None
        last = sched.last_step if sched and sched.last_step is not None else None
        span = (last - first) if first is not None and last is not None else None
        early = span is not None and span > 0 and (onset - first) <= 0.1 * span  # type: ignore[operator]
        # swings that die down well before the end are a start-up problem (warm-up);
        # swings that last to the end are an LR that is too large (decrease it)
        settled = span is not None and span > 0 and main.end_step < last - 0.1 * span  # type: ignore[operator]
        flips = ev.get("sign_flip_rate")
        if ev.get("path") == "bouncing":
            facts = f"step-to-step bouncing from step {int(onset)}"
        elif ev.get("path") == "spike":
            facts = (f"a spike to {float(ev.get('explosion_ratio', 0)):.1f}× the early maximum from step "
                     f"{int(onset)}, then recovered")
        elif ev.get("path") == "validation":
            facts = (f"validation loss bouncing {100 * float(ev.get('val_bounce', 0)):.0f}% per "
                     f"evaluation from step {int(onset)}")
        else:
            facts = f"swings ×{float(ev.get('scale_ratio', 1)):.1f} from step {int(onset)}"
        if isinstance(flips, float) and math.isfinite(flips):
            facts += f", sign-flip rate {flips:.2f}"
        if in_warm and sched is not None and span and sched.warmup_steps <= 0.3 * span:
            extra["warmup_steps"] = int(max(2 * sched.warmup_steps, 1))
            return Suggestion("add_warmup", current_lr=cur, suggested_lr=_round(sug),
                              factor=factor_of(_round(sug), lr_on), extra=extra,
                              rationale=f"Oscillation began during the warm-up ({facts}) at LR {_f(lr_on)}: "
                                        f"warm up over {extra['warmup_steps']} steps to a peak of "
                                        f"{_f(_round(sug))} ({OSCILLATION_FACTOR:g}× the LR at onset{note}).")
        keep = _best_checkpoint(findings)
        keep_txt = f"; keep the checkpoint of step {keep}, before the val loss climbed" if keep is not None else ""
        lr_end = lr_at(lr, float(last)) if lr is not None and last is not None else None
        if settled and lr_on and lr_end is not None and lr_end <= 0.5 * lr_on:
            return Suggestion("decrease_lr", current_lr=lr_on, suggested_lr=_round(sug),
                              factor=factor_of(_round(sug), lr_on), early_stop_step=keep,
                              rationale=f"Oscillation ({facts}) at LR {_f(lr_on)} until the schedule "
                                        f"lowered it (to {_f(lr_end)} by the end): start at "
                                        f"{OSCILLATION_FACTOR:g}× that{note}{keep_txt}.")
        if early and settled and sched is not None and sched.warmup_steps == 0 and span:
            extra["warmup_steps"] = int(max(0.05 * span, 2 * (onset - first)))  # type: ignore[operator]
            return Suggestion("add_warmup", current_lr=cur, suggested_lr=cur, factor=None, extra=extra,
                              rationale=f"Oscillation from the start until step {main.end_step} "
                                        f"({facts}) with no warm-up: warm up over "
                                        f"{extra['warmup_steps']} steps.")
        return Suggestion("decrease_lr", current_lr=cur, suggested_lr=_round(sug),
                          factor=factor_of(_round(sug), lr_on), early_stop_step=keep,
                          rationale=f"Oscillation ({facts}) at LR {_f(lr_on)}: suggest {OSCILLATION_FACTOR:g}× the LR at "
                                    f"onset{note}{keep_txt}.")

    if main.kind == "overfitting":
        step = int(float(ev.get("best_val_step", main.start_step)))
        why = (f"Validation loss best at step {step} ({float(ev.get('best_val', 0)):.4g}), "
               f"{float(ev.get('rise_pct', 0)):.1f}% higher since: keep that checkpoint")
        if ev.get("val_erratic") and (cur is None or cur > 0):  # an LR already at ~0 needs no cut
            sug, note = cap_decrease(None if cur is None else cur * OSCILLATION_FACTOR)
            return Suggestion("decrease_lr", current_lr=cur, suggested_lr=_round(sug),
                              factor=factor_of(_round(sug)) if sug is not None else OSCILLATION_FACTOR,
                              early_stop_step=step,
                              rationale=f"{why}, and lower the learning rate: the validation loss also "
                                        f"bounces {100 * float(ev.get('val_bounce', 0)):.0f}% per "
                                        f"evaluation, so the weights jump ({OSCILLATION_FACTOR:g}× the LR{note}).")
        return Suggestion("early_stop", current_lr=cur, suggested_lr=cur, early_stop_step=step,
                          rationale=why + ".")

    # stagnation
    diag = ev.get("diagnosis")
    if diag == "stuck":
        mult = stuck_multiplier(float(ev.get("rel_improvement") or 0.0))
        sug = None if cur is None else cur * mult
        note = ""
        if prior is not None and cur is not None:
            if cur >= prior[0]:
                sug = cur * 2.0
            elif sug is not None and sug > prior[0]:
                sug, note = prior[0], f" (the usual {prior[1]} LR)"
        return Suggestion("increase_lr", current_lr=cur, suggested_lr=_round(sug),
                          factor=factor_of(_round(sug)),
                          rationale=f"Loss improved {100 * float(ev.get('rel_improvement', 0)):.2f}% over "
                                    f"{100 * float(ev.get('plateau_frac', 0)):.0f}% of the run (equivalence "
                                    f"p={float(ev.get('p_value', 1)):.2g}) at LR {_f(cur)}: increase it{note}.")
    if diag == "lr_collapsed":
        peak = ev.get("peak_lr")
        peak = float(peak) if isinstance(peak, (int, float)) else None
        return Suggestion("restore_lr", current_lr=cur, suggested_lr=_round(peak), factor=factor_of(_round(peak)),
                          rationale=f"LR fell to ≤5% of its peak {_f(peak)} by step "
                                    f"{int(float(ev.get('collapse_step') or 0))} and the loss has been flat since "
                                    f"step {main.start_step}: fix the schedule and keep the LR near {_f(peak)}.")
    if diag == "val_plateau":
        best = ev.get("best_step")
        step = int(float(best)) if isinstance(best, (int, float)) else int(main.start_step)
        return Suggestion("early_stop", current_lr=cur, suggested_lr=cur, early_stop_step=step,
                          rationale=f"Validation loss flat since step {main.start_step} "
                                    f"({100 * float(ev.get('plateau_frac', 0)):.0f}% of the run) while training "
                                    f"loss falls: later steps only widen the gap; keep the checkpoint at its "
                                    f"lowest point, step {step}.")
    sug = None if cur is None else cur * 0.3
    extra["schedule"] = "cosine"
    return Suggestion("decay_lr", current_lr=cur, suggested_lr=_round(sug), factor=factor_of(_round(sug)),
                      extra=extra,
                      rationale=f"Loss flat since step {main.start_step} "
                                f"({100 * float(ev.get('plateau_frac', 0)):.0f}% of the run, change "
                                f"{-100 * float(ev.get('rel_improvement', 0)):+.2f}%) at LR {_f(cur)}: decay it "
                                "(cosine, or drop to 0.3× now).")
