"""What people read: one number format, one action wording, one suggestion line.

    lr_change(suggestion)    # LRChange(current_lr=0.003, suggested_lr=0.0003, factor=0.1,
                             #          text="decrease LR 3e-3 → 3e-4 (×0.1)", ...)

The Review grid, the Run page, the text/Markdown/HTML reports and the MLflow tags all
show a suggestion through :func:`lr_change`, so they quote the same two numbers.

Number format (:func:`format_lr`, :func:`format_number`): three significant digits with
trailing zeros dropped; plain decimals from 0.01 to below 100,000 (``0.1``, ``0.05``,
``250``), e-notation outside (``3e-3``, ``1e-4``, ``3.5e-5``, ``1.2e5``). An LR shown as
text parses back (``float("3e-3")``) to the number rounded to three significant digits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .findings import Finding, Suggestion, worst

#: Shown where a number is unknown.
UNKNOWN = "—"

#: The wording of each action (never the raw id in what people read).
ACTION_LABELS: Mapping[str, str] = {
    "keep_lr": "keep LR",
    "decrease_lr": "decrease LR",
    "increase_lr": "increase LR",
    "early_stop": "stop early",
    "add_warmup": "add warm-up",
    "decay_lr": "decay LR",
    "restore_lr": "restore LR",
    "check_data": "check the data",
}

#: Actions that lower the LR (``factor`` < 1) and those that raise it (``factor`` > 1);
#: the others keep the base LR (``restore_lr`` fixes a schedule that collapsed, keeping
#: the base LR it started from).
DECREASE_ACTIONS = frozenset({"decrease_lr", "decay_lr", "add_warmup"})
INCREASE_ACTIONS = frozenset({"increase_lr"})


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _round3(v: float) -> float:
    return float(f"{v:.3g}")


def _e_notation(v: float) -> str:
    mantissa, exp = f"{v:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exp)}"


def _plain(v: float) -> str:
    text = f"{_round3(v):.10f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def format_sig(value: Any) -> str:
    """A number to three significant digits: ``0.05``, ``250``, ``3e-3``, ``1.2e5``."""
    v = _finite(value)
    if v is None:
        return UNKNOWN
    if v == 0:
        return "0"
    r = _round3(v)
    if 1e-2 <= abs(r) < 1e5:
        return _plain(r)
    return _e_notation(v)


def format_lr(value: Any) -> str:
    """A learning rate as people type it (``3e-3``, ``1e-4``, ``0.1``); ``—`` if unknown."""
    return format_sig(value)


def format_factor(value: Any) -> str:
    """``×0.1``, ``×10``, ``×0.33``, ``×1000``; ``""`` if unknown."""
    v = _finite(value)
    if v is None:
        return ""
    r = _round3(v)
    return f"×{_plain(r) if 1e-3 <= abs(r) < 1e5 else _e_notation(v)}"


def action_label(action: str | None) -> str:
    """``decrease_lr`` → ``decrease LR``; an unknown id with its underscores as spaces."""
    if not action:
        return ""
    return ACTION_LABELS.get(action, action.replace("_", " "))


@dataclass(frozen=True)
class LRChange:
    """A suggestion as shown: the numbers (machine values, unrounded) and the line.

    ``factor`` is the one the line shows: ``suggested_lr / current_lr`` when both are
    known (so the three numbers never contradict each other), else the suggestion's.
    ``numbers`` is the line without the action (``3e-3 → 3e-4 (×0.1)``).
    """

    action: str
    label: str
    current_lr: float | None
    suggested_lr: float | None
    factor: float | None
    early_stop_step: int | None
    text: str
    numbers: str


def lr_change(s: Suggestion | None) -> LRChange:
    """The one rendering of a suggestion used by the dashboard, the reports and the tags."""
    if s is None:
        return LRChange("", "", None, None, None, None, UNKNOWN, UNKNOWN)
    cur, new = _finite(s.current_lr), _finite(s.suggested_lr)
    factor = _finite(s.factor)
    if cur is not None and new is not None and cur > 0:
        factor = new / cur
    stop = None if s.early_stop_step is None else int(s.early_stop_step)
    label = action_label(s.action)
    if s.action in ("keep_lr", "restore_lr"):
        shown = cur if cur is not None else new
        numbers = format_lr(shown) if shown is not None else ""
        factor = None
    elif cur is not None and new is not None:
        numbers = f"{format_lr(cur)} → {format_lr(new)}"
        if format_lr(cur) != format_lr(new) and factor is not None:
            numbers += f" ({format_factor(factor)})"
    elif factor is not None:
        numbers = format_factor(factor)
    elif cur is not None:
        numbers = f"from {format_lr(cur)}"
    elif new is not None:
        numbers = f"to {format_lr(new)}"
    else:
        numbers = ""
    lr_unchanged = new is None or (cur is not None and format_lr(new) == format_lr(cur))
    if s.action == "early_stop" and stop is not None:
        text = f"stop at step {stop}"
        if not lr_unchanged and numbers:
            text += f", LR {numbers}"
        numbers = numbers if not lr_unchanged else ""
    elif s.action == "restore_lr":
        floor = _finite(dict(s.extra).get("collapsed_lr"))
        text = f"{label} {numbers}".strip() + (
            f" (the schedule fell to {format_lr(floor)})" if floor is not None else ""
        )
    elif s.action == "add_warmup":
        warmup = _finite(dict(s.extra).get("warmup_steps"))
        text = label + (f" over {int(warmup)} steps" if warmup is not None else "")
        text += f", LR {numbers}" if numbers else ""
    else:
        text = f"{label} {numbers}".strip()
    if stop is not None and s.action != "early_stop":
        text += f", stop at step {stop}"
    return LRChange(s.action, label, cur, new, factor, stop, text, numbers or UNKNOWN)


def plain_advice(s: Suggestion | None) -> str:
    """The suggestion as a sentence for shared reports, with :func:`lr_change`'s numbers:
    ``lower the LR from 3e-4 to 3e-5``, ``raise the LR from 1e-4 to 1e-3``, ``keep the LR
    at 3e-4``, ``stop at step 1200``, ``add a warm-up of 200 steps and lower the LR from 3e-3
    to 3e-4``, ``restore the LR to 1e-3 (the schedule fell to 1e-8)``; ``—`` without one."""
    change = lr_change(s)
    if s is None:
        return UNKNOWN
    cur, new = change.current_lr, change.suggested_lr
    if cur is not None and new is not None and format_lr(cur) != format_lr(new):
        verb = "lower" if new < cur else "raise"
        lr = f"{verb} the LR from {format_lr(cur)} to {format_lr(new)}"
    elif change.factor is not None and s.action in DECREASE_ACTIONS | INCREASE_ACTIONS:
        verb = "lower" if change.factor < 1 else "raise"
        lr = f"{verb} the LR ({format_factor(change.factor)})"
    else:
        lr = ""
    if s.action == "add_warmup":
        warmup = _finite(dict(s.extra).get("warmup_steps"))
        head = "add a warm-up" + (f" of {int(warmup)} steps" if warmup is not None else "")
        text = head + (f" and {lr}" if lr else "")
    elif s.action == "restore_lr":
        text = lr_change(s).text.replace("restore LR", "restore the LR to", 1)
    elif s.action == "keep_lr":
        shown = cur if cur is not None else new
        return "keep the LR" + (f" at {format_lr(shown)}" if shown is not None else "")
    elif s.action == "early_stop" and change.early_stop_step is not None:
        text = f"stop at step {change.early_stop_step}" + (f" and {lr}" if lr else "")
    elif not lr:
        return change.text
    else:
        text = lr
    if change.early_stop_step is not None and s.action != "early_stop":
        text += f", and stop at step {change.early_stop_step}"
    return text


def finding_text(f: Finding) -> str:
    """``oscillation in train_loss, steps 1200–3400``."""
    return f"{f.kind} in {f.metric}, steps {int(f.start_step)}–{int(f.end_step)}"


def _is_count(key: str) -> bool:
    k = key.lower()
    return (
        "step" in k
        or k.endswith(("_points", "_count"))
        or k.startswith("evals")
        or k in ("evals", "windows_tested")
    )


def format_number(value: Any, key: str = "") -> str | None:
    """An evidence value as text; ``None`` for a value to leave out (None, NaN).

    Steps and counts (by key: ``*step*``, ``*_points``, ``*_count``, ``evals*``) are
    integers; ``*_pct`` values get ``%``; booleans read ``yes``/``no``; other numbers
    :func:`format_sig` (p-values in e-notation below 0.01).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    v = _finite(value)
    if v is None:
        if hasattr(value, "item") or isinstance(value, (int, float)):
            return None  # NaN / inf / unconvertible numbers are left out
        return str(value)
    if _is_count(key) and v == int(v):
        return str(int(v))
    if isinstance(value, int) or (
        hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu"
    ):
        return str(int(v))
    text = format_sig(v)
    return f"{text} %" if key.lower().endswith("_pct") else text


def evidence_items(evidence: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """``[(key, text)]`` of a finding's evidence, None/NaN entries left out."""
    out = []
    for k, v in dict(evidence or {}).items():
        text = format_number(v, str(k))
        if text is not None:
            out.append((str(k), text))
    return out


def evidence_text(evidence: Mapping[str, Any] | None, limit: int | None = None) -> str:
    """``best_val_step = 1000, rise_pct = 3.28 %`` (at most ``limit`` entries)."""
    items = evidence_items(evidence)
    if limit is not None:
        items = items[:limit]
    return ", ".join(f"{k} = {v}" for k, v in items)


#: Evidence keys people read otherwise (the rest: underscores as spaces).
EVIDENCE_WORDS: Mapping[str, str] = {"p_value": "p-value", "lr": "LR", "val": "val"}


def evidence_label(key: str) -> str:
    """``best_val_step`` → ``best val step``; ``rise_pct`` → ``rise`` (its value has ``%``);
    ``lr_at_start`` → ``LR at start``."""
    k = str(key)
    if k in EVIDENCE_WORDS:
        return EVIDENCE_WORDS[k]
    if k.lower().endswith("_pct"):
        k = k[:-4]
    return " ".join(EVIDENCE_WORDS.get(w, w) for w in k.split("_") if w)


def evidence_readable(evidence: Mapping[str, Any] | None, limit: int | None = None) -> str:
    """``best val step 1000 · rise 3.28 % · p-value 1e-9`` (None/NaN left out)."""
    items = evidence_items(evidence)
    if limit is not None:
        items = items[:limit]
    return " · ".join(f"{evidence_label(k)} {v}" for k, v in items)


_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def numbers_in(text: str) -> list[float]:
    """The numbers written in ``text`` (for tests and scripts reading a rendered line)."""
    return [float(m) for m in _NUMBER.findall(text or "")]


def worst_text(findings: Iterable[Finding]) -> str:
    """:func:`finding_text` of :func:`~analyzer.findings.worst`, or ``—`` without one."""
    f = worst(findings)
    return finding_text(f) if f is not None else UNKNOWN


__all__ = [
    "ACTION_LABELS",
    "DECREASE_ACTIONS",
    "INCREASE_ACTIONS",
    "UNKNOWN",
    "LRChange",
    "action_label",
    "evidence_items",
    "evidence_label",
    "evidence_readable",
    "evidence_text",
    "finding_text",
    "format_factor",
    "format_lr",
    "format_number",
    "format_sig",
    "lr_change",
    "numbers_in",
    "plain_advice",
    "worst_text",
]
