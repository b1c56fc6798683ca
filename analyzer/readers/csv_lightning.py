"""PyTorch Lightning ``CSVLogger`` ``metrics.csv``.

Signature: both a ``step`` and an ``epoch`` column. Train-step, validation-epoch and
LR-monitor values sit in separate rows with blank cells (the ``epoch`` cell is blank on
LR rows); each metric keeps only its filled cells, at that row's step. ``lr-<Optimizer>``
columns are the LR. ``epoch`` is kept as a metric named ``epoch`` (an x-axis for
later). Resumed runs simply start at a later step.
"""

from __future__ import annotations

from ..model import Run
from .csv_table import EPOCH_NAMES, STEP_NAMES, Table, single_run


def matches(table: Table) -> bool:
    """A step column and an epoch column."""
    has_step = table.find(STEP_NAMES, numeric=False) is not None
    return has_step and table.find(EPOCH_NAMES) is not None


def runs(table: Table) -> list[Run]:
    """One run; ``epoch`` stays a metric."""
    step_col = table.find(STEP_NAMES, numeric=False)
    assert step_col is not None  # matches() holds
    return single_run(table, step_col, dialect="lightning", step_axis="step")
