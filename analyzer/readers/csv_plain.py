"""Plain CSV logs: a step column (or an epoch column) plus one column per metric.

Signature: a column named ``step``, ``global_step``, ``iteration``, ``iter``, ``_step``
(any case) or ``epoch``. With only ``epoch`` the epoch number is the step
(``step_axis="epoch"``). ``wall_time``/``timestamp``/``time``/``Wall time`` gives the
points' time (epoch seconds or ISO dates). A TensorBoard "Download CSV" file
(``Wall time, Step, Value``) names its metric after the tag in the file name.

Without any step or epoch column, a file whose columns include a loss is read with the
row number as the step (and a warning); anything else is not a training log.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import ReaderError
from ..model import Run
from .csv_table import (
    EPOCH_NAMES,
    STEP_NAMES,
    Table,
    make_run,
    metric_frame,
    norm,
    require_points,
    single_run,
    wall_of,
)

#: TensorBoard's CSV download: ``run-<run>-tag-<tag with / as _>.csv``.
_TB_EXPORT = re.compile(
    r"^run[-_](?P<run>.*)[-_]tag[-_](?P<tag>.+?)(?:\.csv)?(?:\.gz)?$", re.IGNORECASE
)


def matches(table: Table) -> bool:
    """The fallback dialect: always applies."""
    return True


def _tb_export_name(table: Table) -> dict[str, str]:
    """``Value`` → the tag, for TensorBoard's CSV download; else no renaming."""
    if [norm(c) for c in table.columns] != ["wall time", "step", "value"]:
        return {}
    found = _TB_EXPORT.match(table.path.name)
    return {table.find(("value",)) or "Value": found.group("tag") if found else "value"}


def _row_number_run(table: Table) -> list[Run]:
    if not any("loss" in norm(c) for c in table.columns):
        raise ReaderError(
            str(table.path),
            "no step or epoch column (expected one of step, global_step, iteration, epoch)",
            f"line {table.header_line}",
        )
    table.warn("no step or epoch column; the row number is the step")
    steps = np.arange(table.n_rows, dtype=np.int64)
    wall, wall_col = wall_of(table)
    metrics = [(c, c) for c in table.columns if c != wall_col]
    frame = metric_frame(table, metrics, steps, np.ones(table.n_rows, dtype=bool), wall)
    return require_points(table, [make_run(table, frame, dialect="plain", step_axis="step")])


def runs(table: Table) -> list[Run]:
    """One run with the step (or epoch) column as the step."""
    step_col = table.find(STEP_NAMES, numeric=False)
    if step_col is not None:
        return single_run(
            table, step_col, dialect="plain", step_axis="step", rename=_tb_export_name(table)
        )
    epoch_col = table.find(EPOCH_NAMES, numeric=False)
    if epoch_col is not None:
        return single_run(table, epoch_col, dialect="plain", step_axis="epoch")
    return _row_number_run(table)
