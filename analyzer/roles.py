"""Role resolution: which metric of a run is its train loss, validation loss and LR.

Names follow ``CONTRACT.md`` (case-insensitive). When several listed names exist the
one with most points wins (ties: list order), so ``train_loss_step`` beats a
one-point ``train_loss_epoch``. When no listed name exists, a fallback looks for
loss metrics by their words (``train/nll_loss``; ``val/box_loss`` + ``val/cls_loss``),
in an Ultralytics ``results.csv`` every ``train/…`` and ``val/…`` column;
several parts of one split are analyzed as their sum, named ``a+b+c``. The LR of an
Ultralytics run is its parameter group 1 (the weights; group 0, the biases, warms up
from 0.1 down).
A user override (``--train-loss NAME`` …) always wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from .model import Run

ROLES: tuple[str, ...] = ("train_loss", "val_loss", "lr")

TRAIN_LOSS_NAMES: tuple[str, ...] = (
    "loss",
    "train_loss",
    "train/loss",
    "training_loss",
    "train_loss_step",
    "train_loss_epoch",
    "loss/train",
    "train/epoch_loss",
    "epoch_loss",
)
VAL_LOSS_NAMES: tuple[str, ...] = (
    "val_loss",
    "eval_loss",
    "validation_loss",
    "valid_loss",
    "val/loss",
    "loss/val",
    "loss/validation",
    "validation/epoch_loss",
    "val_loss_epoch",
    "eval/loss",
)
VAL_LAST_RESORT: tuple[str, ...] = ("test_loss", "test/loss", "loss/test")
LR_NAMES: tuple[str, ...] = (
    "lr",
    "learning_rate",
    "lr/pg1",  # Ultralytics: group 1 holds the weights, at the LR the user set
    "lr/pg0",  # … group 0 the biases, whose warm-up starts at 0.1 and falls
    "train/learning_rate",
    "optimizer/lr",
    "train_lr",
    "x/lr1",
    "x/lr0",
    "train/lr",
    "learning-rate",
)

_WORD = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_TRAIN_WORDS = {"train", "training", "tr"}
_VAL_WORDS = {"val", "valid", "validation", "eval", "evaluation", "dev"}
_TEST_WORDS = {"test"}
_NOT_LOSS_WORDS = {"acc", "accuracy", "runtime", "samples", "steps", "per", "second"}
_STAT_WORDS = {"min", "max", "std", "var", "stdev", "median"}
_MEAN_WORDS = {"avg", "mean", "average"}
_LOSS_SETTING_WORDS = {"scale", "scaler", "weight", "weights", "coef", "coeff"}


@dataclass(frozen=True)
class RoleMap:
    """Each role's metric name (a ``+``-joined sum for multi-part losses) or ``None``."""

    train_loss: str | None
    val_loss: str | None
    lr: str | None
    #: Loss parts with no finite value in any row, left out of their role's sum.
    left_out: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, str]:
        """The contract's ``metrics`` object: roles the run has, mapped to names."""
        return {r: getattr(self, r) for r in ROLES if getattr(self, r)}


def _words(name: str) -> list[str]:
    """Lower-case words of a metric name, camelCase split (``ValLoss`` → ``val``, ``loss``)."""
    return _WORD.findall(_CAMEL.sub(" ", name).lower())


def _pick_listed(
    names: list[str], counts: Mapping[str, int], listed: tuple[str, ...]
) -> str | None:
    lower = {n.lower(): n for n in names}
    hits = [lower[c] for c in listed if c in lower]
    if not hits:
        return None
    return max(hits, key=lambda n: (counts.get(n, 0), -hits.index(n)))


def _is_lr(name: str) -> bool:
    low = name.lower()
    return (
        low in LR_NAMES or low.startswith("lr-") or low.startswith("lr/") or low.startswith("x/lr")
    )


def _loss_parts(names: list[str], split_words: set[str]) -> list[str]:
    parts = []
    for n in names:
        w = _words(n)
        if not any("loss" in t for t in w) or _NOT_LOSS_WORDS & set(w):
            continue
        if split_words & set(w):
            parts.append(n)
    return parts


def _bare_loss(name: str) -> bool:
    """A loss named with no split word: it starts or ends with a loss word
    (``loss``, ``total_loss``, ``loss_attribute_extraction``, ``nll_loss``), is no
    val/test loss and no loss setting (``loss_scale`` of mixed precision, a
    ``loss_weight``)."""
    w = _words(name)
    return (
        bool(w)
        and ("loss" in w[-1] or "loss" in w[0])
        and not ({*_VAL_WORDS, *_TEST_WORDS, *_NOT_LOSS_WORDS, *_LOSS_SETTING_WORDS} & set(w))
    )


def _prefixed(names: list[str], prefix: str) -> list[str]:
    """An Ultralytics ``results.csv``'s loss parts of one split: every ``train/…`` or
    ``val/…`` column (metrics are ``metrics/…``, LRs ``lr/…``), whatever the loss is called
    (YOLOv10's ``train/box_om`` … ``train/dfl_oo``: one-to-many and one-to-one heads)."""
    return [n for n in names if n.lower().startswith(prefix)]


def _central(parts: list[str]) -> list[str]:
    """``parts`` without the spread statistics of a loss logged with its mean
    (``avg_loss``, ``min_loss``, ``max_loss`` → ``avg_loss``): they are one loss, not
    parts of a sum."""
    spread = [p for p in parts if _STAT_WORDS & set(_words(p))]
    means = [p for p in parts if _MEAN_WORDS & set(_words(p))]
    return [p for p in parts if p not in spread] if spread and means else parts


def _pick_parts(
    parts: list[str],
    counts: Mapping[str, int],
    run: Run | None = None,
    left_out: list[str] | None = None,
) -> str | None:
    """The parts to sum (``a+b``): the granularity with most points; a part with no finite
    value at all (e.g. a YOLO ``val/cls_loss`` logged as ``inf`` in every row) is left
    out of a sum of several — it never was a loss value, and would make the sum ``inf`` —
    and named in ``left_out`` (the analysis warns of it); spread statistics beside a mean
    are left out too (:func:`_central`)."""
    parts = _central(parts)
    if run is not None and len(parts) > 1:
        finite = [p for p in parts if np.isfinite(run.series(p)["value"].to_numpy()).any()]
        if finite and left_out is not None:
            left_out += [p for p in parts if p not in finite]
        parts = finite or parts
    if not parts:
        return None
    # Prefer the granularity with most points (e.g. *_step over *_epoch), then sum parts.
    top = max(counts.get(p, 0) for p in parts)
    best = [p for p in parts if counts.get(p, 0) * 2 >= top]
    steps = [p for p in best if not p.lower().endswith("_epoch")]
    best = steps or best
    return "+".join(best)


def resolve_roles(
    run: Run,
    train_loss: str | None = None,
    val_loss: str | None = None,
    lr: str | None = None,
) -> RoleMap:
    """Find the train loss, validation loss and LR metrics of ``run``.

    Explicit names win; they must exist in the run (``ValueError`` otherwise).
    """
    names = run.metric_names
    counts = run.metric_counts()
    for role, given in (("train_loss", train_loss), ("val_loss", val_loss), ("lr", lr)):
        if given is not None:
            for part in given.split("+"):
                if part not in counts:
                    raise ValueError(
                        f"--{role.replace('_', '-')} {given!r}: no metric {part!r} in run"
                    )

    left_out: list[str] = []
    yolo = run.meta.tags.get("csv_dialect") == "ultralytics"
    t = train_loss or _pick_listed(names, counts, TRAIN_LOSS_NAMES)
    if t is None and yolo:
        t = _pick_parts(_prefixed(names, "train/"), counts, run, left_out)
    if t is None:
        t = _pick_parts(_loss_parts(names, _TRAIN_WORDS), counts, run, left_out)
    if t is None:
        t = _pick_parts([n for n in names if _bare_loss(n)], counts, run, left_out)

    v = val_loss or _pick_listed(names, counts, VAL_LOSS_NAMES)
    if v is None and yolo:
        v = _pick_parts(_prefixed(names, "val/"), counts, run, left_out)
    if v is None:
        v = _pick_parts(_loss_parts(names, _VAL_WORDS), counts, run, left_out)
    if v is None:
        v = _pick_listed(names, counts, VAL_LAST_RESORT) or _pick_parts(
            _loss_parts(names, _TEST_WORDS), counts
        )

    r = lr
    if r is None:
        r = _pick_listed(names, counts, LR_NAMES)
    if r is None:
        cands = [n for n in names if _is_lr(n)]
        r = cands[0] if cands else None
    return RoleMap(train_loss=t, val_loss=v, lr=r, left_out=tuple(left_out))


def role_series(run: Run, name: str | None) -> pd.DataFrame | None:
    """The points of a role (``step, value, wall_time``); sums ``a+b`` parts on common steps."""
    if not name:
        return None
    parts = name.split("+")
    if len(parts) == 1:
        return run.series(name)
    frames = [run.series(p).set_index("step") for p in parts]
    common = frames[0].index
    for f in frames[1:]:
        common = common.intersection(f.index)
    value = np.sum([f.loc[common, "value"].to_numpy() for f in frames], axis=0)
    wall = frames[0].loc[common, "wall_time"].to_numpy()
    return pd.DataFrame(
        {"step": common.to_numpy(dtype=np.int64), "value": value, "wall_time": wall}
    )


def role_arrays(run: Run, name: str | None) -> tuple[np.ndarray, np.ndarray] | None:
    """``(steps, values)`` of a role as new float64 arrays, ``None`` for no role or no points:
    the numbers of :func:`role_series` without building a frame (a small run's analysis
    asks for them several times)."""
    if not name:
        return None
    if "+" in name:
        frame = role_series(run, name)
        if frame is None or not len(frame):
            return None
        return frame["step"].to_numpy(dtype=np.float64), frame["value"].to_numpy(dtype=np.float64)
    got = run.arrays(name)
    if got is None or not len(got[0]):
        return None
    return got[0].astype(np.float64), got[1]  # new arrays (Run.arrays), float64 values
