"""Weights & Biases chart export ("Export panel → CSV").

Signature: the first column is ``Step`` (or ``step``/``_step``) and every other column is
``"<run name> - <metric>"``; ``"<run name> - <metric>__MIN"``/``__MAX`` columns are the
min/max band of a smoothed or grouped chart, not metrics. Several runs share one file:
one :class:`~analyzer.model.Run` per run name (in column order), named after the run.
Empty cells (a run without a point at that step) are skipped. W&B system columns
(``<run> - _step``, ``_runtime``…) are not metrics.
"""

from __future__ import annotations

from ..model import Run
from .csv_table import Table, make_run, metric_frame, norm, require_points, steps_of

X_NAMES = ("step", "_step")
SEPARATOR = " - "
BAND_SUFFIXES = ("__MIN", "__MAX")


def matches(table: Table) -> bool:
    """``Step`` first, then only ``"<run> - <metric>"`` columns."""
    names = table.names
    return len(names) > 1 and norm(names[0]) in X_NAMES and all(SEPARATOR in n for n in names[1:])


def split_column(name: str) -> tuple[str, str] | None:
    """``"run - train/loss"`` → ``("run", "train/loss")``; ``None`` for band and system columns."""
    run, _, metric = name.rpartition(SEPARATOR)
    if (
        not run.strip()
        or not metric.strip()
        or metric.endswith(BAND_SUFFIXES)
        or metric.startswith("_")
    ):
        return None
    return run.strip(), metric.strip()


def runs(table: Table) -> list[Run]:
    """One run per run name."""
    steps, ok = steps_of(table, table.names[0])
    by_run: dict[str, list[tuple[str, str]]] = {}
    for col in table.columns:
        parts = split_column(col)
        if parts is not None:
            by_run.setdefault(parts[0], []).append((parts[1], col))
    out = [
        make_run(
            table,
            metric_frame(table, metrics, steps, ok, None),
            dialect="wandb",
            step_axis="step",
            name=run,
            segment=run,
        )
        for run, metrics in by_run.items()
    ]
    return require_points(table, out)
