"""What a run's setting says about its LR (pure): the LR a person typed (the peak of the
logged series, else a run parameter), the usual LR of the setting its params, tags or name
reveal (LoRA/PEFT, full fine-tune, fine-tune) and the usual from-scratch range of its
optimizer. :mod:`analyzer.suggest` sizes LR changes with them; :mod:`analyzer.sweeps` reads
a run's LR with them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np

from .stats import finite_xy

LR_PARAM_KEYS = (
    "learning_rate",
    "lr",
    "learning-rate",
    "learningrate",
    "lr0",
    "base_lr",
    "init_lr",
    "max_lr",
    "peak_lr",
)
OPTIMIZER_PARAM_KEYS = (
    "optimizer",
    "optim",
    "optimizer_name",
    "opt_name",
    "opt",
    "optimizer.type",
    "optimizer_type",
    "solver",
)

#: Usual LR ranges (low, high) by optimizer family, for training from scratch.
OPTIMIZER_RANGES: Mapping[str, tuple[float, float]] = {
    "adam": (1e-4, 1e-3),  # Adam, AdamW, NAdam, RAdam, Adamax
    "rmsprop": (1e-4, 1e-3),
    "lion": (1e-5, 3e-4),  # 3–10× below AdamW
    "sgd": (1e-2, 1e-1),  # plain, momentum, Nesterov
    "adagrad": (1e-2, 1e-1),
    "adadelta": (1e-1, 1.0),
}
_OPT_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("lion", re.compile(r"lion")),
    ("adagrad", re.compile(r"adagrad")),
    ("adadelta", re.compile(r"adadelta")),
    ("adam", re.compile(r"adam|nadam|radam|adamax|lamb")),
    ("rmsprop", re.compile(r"rmsprop")),
    ("sgd", re.compile(r"sgd|momentum|nesterov")),
)


def round_lr(v: float | None) -> float | None:
    """An LR to 2 significant digits (``None``/non-positive/non-finite unchanged)."""
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
#: Run parameters that name a pretrained model to start from (Hugging Face's
#: ``_name_or_path``/``model_name_or_path``, ``pretrained``, ``base_model``, …): no
#: from-scratch run, whatever its name says.
_PRETRAINED = re.compile(r"name_or_path|pretrained|base_model|init_checkpoint|hub_model_id")


def _setting_text(
    params: Mapping[str, str] | None, tags: Mapping[str, str] | None, name: str
) -> str:
    items = [*(params or {}).items(), *(tags or {}).items()]
    return " ".join([name, *(f"{k}={v}" for k, v in items)]).lower()


def lr_prior(
    params: Mapping[str, str] | None, tags: Mapping[str, str] | None, name: str = ""
) -> tuple[float, str] | None:
    """The usual LR for the setting the params, tags or run name reveal, with its name."""
    text = _setting_text(params, tags, name)
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


def optimizer_range(params: Mapping[str, str] | None) -> tuple[float, float, str] | None:
    """The usual from-scratch LR range of the optimizer a run parameter names
    (``optimizer``, ``optim``, ``optimizer_name``, …): ``(low, high, family)``."""
    if not params:
        return None
    for key, value in params.items():
        k = str(key).lower().rsplit(".", 1)[-1].rsplit("/", 1)[-1]
        if k not in OPTIMIZER_PARAM_KEYS and str(key).lower() not in OPTIMIZER_PARAM_KEYS:
            continue
        v = str(value).lower()
        for family, pat in _OPT_PATTERNS:
            if pat.search(v):
                lo, hi = OPTIMIZER_RANGES[family]
                return lo, hi, family
    return None


def usual_floor(
    params: Mapping[str, str] | None, tags: Mapping[str, str] | None, name: str = ""
) -> tuple[float, str] | None:
    """The lowest LR the setting usually trains at, with its name: the setting's usual
    LR (:func:`lr_prior`), else the bottom of the optimizer's usual range."""
    prior = lr_prior(params, tags, name)
    if prior is not None:
        return prior
    rng = optimizer_range(params)
    return None if rng is None else (rng[0], rng[2])


def from_scratch_floor(
    params: Mapping[str, str] | None, tags: Mapping[str, str] | None, name: str = ""
) -> tuple[float, str] | None:
    """The bottom of the optimizer's usual from-scratch range and its name, when a run
    parameter names the optimizer and nothing reveals a fine-tune setting or a
    pretrained model to start from."""
    rng = optimizer_range(params)
    if rng is None or lr_prior(params, tags, name) is not None:
        return None
    if any(_PRETRAINED.search(str(k).lower()) for k in params or {}):
        return None
    return rng[0], rng[2]


def base_lr(
    lr: tuple[np.ndarray, np.ndarray] | None, params: Mapping[str, str] | None
) -> float | None:
    """The LR a person types: the peak of the logged LR series, else the LR parameter."""
    if lr is not None:
        _, y = finite_xy(*lr)
        y = y[y > 0]
        if len(y):
            return float(y.max())
    return param_lr(params)
