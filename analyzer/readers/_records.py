"""Turn JSON-style records (dicts of numbers) into canonical points.

Shared by the Hugging Face ``trainer_state.json`` and JSON-lines readers: both hold
one dict per logging event with a step key and metric values.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, SupportsFloat

import numpy as np

from ..model import MAX_STEP

#: Keys that count steps, in order of preference.
STEP_KEYS: tuple[str, ...] = (
    "step",
    "global_step",
    "current_steps",
    "iteration",
    "iter",
    "_step",
    "it",
)
#: Keys that give the time of a record in epoch seconds (W&B, own loggers).
WALL_KEYS: tuple[str, ...] = ("wall_time", "_timestamp", "timestamp", "time")
#: Progress bookkeeping, not metrics.
BOOKKEEPING: frozenset[str] = frozenset(
    {
        "total_steps",
        "percentage",
        "elapsed_time",
        "remaining_time",
        "throughput",
        "total_tokens",
        "n_parameters",
        "total_flos",
        "num_input_tokens_seen",
        "_runtime",
    }
)
BOOKKEEPING_SUFFIXES: tuple[str, ...] = ("_runtime", "_samples_per_second", "_steps_per_second")


def as_number(value: Any) -> float | None:
    """A float for JSON numbers and numeric strings; ``None`` for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def names_a_metric(name: str) -> bool:
    """Whether a key or column name says loss or LR (a text field of run names, dates or
    notes is no metric and goes by without a word)."""
    low = name.lower()
    return (
        "loss" in low
        or low.rsplit("/", 1)[-1] in ("lr", "learning_rate")
        or low.startswith(("lr-", "lr/"))
    )


def flatten(record: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``{"train": {"loss": 1}}`` → ``("train/loss", 1)``."""
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten(value, f"{name}/")
        else:
            yield name, value


def is_metric_key(key: str) -> bool:
    """False for step, time and progress bookkeeping keys."""
    low = key.lower()
    return not (
        low in STEP_KEYS
        or low in WALL_KEYS
        or low in BOOKKEEPING
        or low.endswith(BOOKKEEPING_SUFFIXES)
    )


def step_key_of(records: list[Mapping[str, Any]]) -> str | None:
    """The step key most records carry, or ``None`` (then the epoch is the step)."""
    for key in STEP_KEYS:
        if any(key in r for r in records[:1000]):
            return key
    return None


@dataclass
class PointBuffer:
    """Collects ``(metric, step, value, wall_time)`` columns from records."""

    metric: list[str] = field(default_factory=list)
    step: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    #: Loss/LR keys whose value was not a number: key → (where first, the value, count).
    not_numbers: dict[str, tuple[str, str, int]] = field(default_factory=dict)

    def add_record(
        self,
        record: Mapping[str, Any],
        step: int,
        skip: frozenset[str] = frozenset(),
        where: str = "",
    ) -> int:
        """Add every numeric metric of ``record`` at ``step``; returns how many were added.
        A loss or LR value that is no number (text, a list, true/false; ``null`` is a
        missing value) is counted in :attr:`not_numbers` under ``where`` (the record)."""
        wall = math.nan
        for key in WALL_KEYS:
            t = as_number(record.get(key))
            if t is not None and t > 1e8:
                wall = t
                break
        added = 0
        for key, raw in flatten(record):
            if key in skip or not is_metric_key(key):
                continue
            val = as_number(raw)
            if val is None:
                if raw is not None and names_a_metric(key):
                    first, text, n = self.not_numbers.get(key, (where, repr(raw)[:40], 0))
                    self.not_numbers[key] = (first, text, n + 1)
                continue
            self.metric.append(key)
            self.step.append(step)
            self.value.append(val)
            self.wall.append(wall)
            added += 1
        return added

    def __len__(self) -> int:
        return len(self.metric)

    def not_number_warnings(self, path: object) -> list[str]:
        """One warning per loss/LR key that held a value that is no number."""
        return [
            f"{path}: {where}: {key!r} is not a number ({text})"
            + (f", and {n - 1} more like it" if n > 1 else "")
            + ", ignored"
            for key, (where, text, n) in self.not_numbers.items()
        ]

    def sort_if_shuffled(self) -> int:
        """Sort the points by step (stably) when they were logged out of order (see
        :func:`shuffled_order`); returns the number of step decreases found, else 0."""
        order, back = shuffled_order(np.asarray(self.step, dtype=np.int64))
        if order is None:
            return 0
        for name in ("metric", "step", "value", "wall"):
            column = getattr(self, name)
            setattr(self, name, [column[i] for i in order.tolist()])
        return back


def shuffled_order(steps: np.ndarray) -> tuple[np.ndarray | None, int]:
    """A stable by-step order for points written out of order, and the step decreases.

    A few decreases are restarts (a resumed run), which
    :func:`~analyzer.model.finalize_frame` resolves, so the order is ``None`` then; when
    over a tenth of the step changes go back (and more than 3), the rows are shuffled,
    and reading them as restarts would throw most points away.
    """
    moves = np.diff(steps)
    back = int((moves < 0).sum())
    if back > 3 and back * 10 > int((moves != 0).sum()):
        return np.argsort(steps, kind="stable"), back
    return None, back


def step_too_large(name: str, raw: str | SupportsFloat) -> str:
    """The message for a step beyond what a step can be (``MAX_STEP``, 2^53)."""
    shown = str(raw) if isinstance(raw, (int, str)) else f"{float(raw):.0f}"
    return (
        f"{name!r} {shown[:40]} is too large: a step must be below 2^53 "
        f"(9,007,199,254,740,992); is this column really the step?"
    )


def check_step(record: Mapping[str, Any], key: str | None, location: str, where: str) -> None:
    """:class:`~analyzer.errors.ReaderError` at ``where`` when the record's step (``key``,
    else ``epoch``) is a number too large to be one (2^53 or more, e.g. 2^63)."""
    from ..errors import ReaderError

    raw = record.get(key or "epoch")
    v = as_number(raw)
    if raw is not None and v is not None and math.isfinite(v) and abs(v) >= MAX_STEP:
        raise ReaderError(location, step_too_large(key or "epoch", raw), where)


def step_of(record: Mapping[str, Any], key: str | None, last: int) -> tuple[int, bool]:
    """The record's step (``key``, or ``epoch`` when the log has no step key), else ``last``.

    Also says whether the record had one.
    """
    v = as_number(record.get(key or "epoch"))
    if v is not None and math.isfinite(v) and abs(v) < MAX_STEP:
        return round(v), True
    return last, False
