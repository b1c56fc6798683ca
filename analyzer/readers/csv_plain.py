"""Plain CSV logs: a step column (or an epoch column) plus one column per metric.

Signature: a column named ``step``, ``global_step``, ``iteration``, ``iter``, ``_step``
(any case) or ``epoch``. With only ``epoch`` the epoch number is the step
(``step_axis="epoch"``). ``wall_time``/``timestamp``/``time``/``Wall time`` gives the
points' time (epoch seconds or ISO dates). A TensorBoard "Download CSV" file
(``Wall time, Step, Value``) names its metric after the tag in the file name.

Without any step or epoch column, a file whose columns include a loss is read with the
row number as the step (and a warning); anything else is not a training log.

A text column naming each row's run (``run``, ``run_name``, ``model``, ``experiment``,
``trial``, … :data:`RUN_LABELS`) with two or more values splits the file: one run per
block of consecutive rows with one label (a label seen again later is a new run,
``#2``), with a warning.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import numpy as np

from ..errors import ReaderError
from ..model import Run, StepAxis
from ._io import run_name_for
from .csv_table import (
    EPOCH_NAMES,
    STEP_NAMES,
    Table,
    make_run,
    metric_columns,
    metric_frame,
    norm,
    require_points,
    single_run,
    steps_of,
    wall_of,
)

#: Text columns that name the run a row belongs to (one file, several trainings).
RUN_LABELS = (
    "run",
    "run_id",
    "run_name",
    "model",
    "model_name",
    "experiment",
    "experiment_name",
    "trial",
    "config",
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


def _run_labels(table: Table) -> tuple[str, np.ndarray] | None:
    """The column naming each row's run and its labels, when it holds ≥ 2 of them."""
    col = table.find(RUN_LABELS, numeric=False)
    if col is None or col in table.values or col not in table.text:
        return None
    labels = table.text[col].fillna("").astype(str).str.strip().to_numpy(dtype=object)
    return (col, labels) if len(set(labels) - {""}) >= 2 else None


def _labelled_runs(
    table: Table, step_col: str, step_axis: StepAxis, col: str, labels: np.ndarray
) -> list[Run]:
    """One run per block of consecutive rows with one label (see the module docstring)."""
    steps, ok = steps_of(table, step_col)
    wall, wall_col = wall_of(table)
    metrics = [(c, c) for c in metric_columns(table, step_col, wall_col)]
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[starts[1:], len(labels)]
    seen: Counter[str] = Counter()
    out = []
    for a, b in zip(starts, ends):
        seen[labels[a]] += 1
        tag = labels[a] if seen[labels[a]] == 1 else f"{labels[a]} #{seen[labels[a]]}"
        rows = ok.copy()
        rows[:a] = rows[b:] = False
        frame = metric_frame(table, metrics, steps, rows, wall)
        name = f"{run_name_for(table.path)} {tag}".strip()
        out.append(
            make_run(table, frame, dialect="plain", step_axis=step_axis, name=name, segment=tag)
        )
    out = require_points(table, out)
    note = f"{table.path}: {len(starts)} runs in one file, one per block of rows with one {col!r} value"
    return [replace(out[0], warnings=[*out[0].warnings, note]), *out[1:]]


def runs(table: Table) -> list[Run]:
    """One run with the step (or epoch) column as the step (one per run label, if any)."""
    step_col = table.find(STEP_NAMES, numeric=False)
    axis: StepAxis = "step"
    if step_col is None:
        step_col, axis = table.find(EPOCH_NAMES, numeric=False), "epoch"
    if step_col is None:
        return _row_number_run(table)
    labelled = _run_labels(table)
    if labelled is not None:
        return _labelled_runs(table, step_col, axis, *labelled)
    rename = _tb_export_name(table) if axis == "step" else None
    return single_run(table, step_col, dialect="plain", step_axis=axis, rename=rename)
