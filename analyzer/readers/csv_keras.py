"""Keras ``CSVLogger`` logs (``.csv`` or ``.log``).

Signature: ``epoch`` is the first column and there is no step column; the others are
``loss``, ``val_loss``, ``accuracy``/``acc``, ``lr``/``learning_rate``… The epoch is the
step (``step_axis="epoch"``).

``CSVLogger(append=True)`` appends each new training to the same file, so the epoch
counter goes back (usually to 0): every such segment is its own run, named
``"<name> #1"``, ``"<name> #2"``… when there are two or more.
"""

from __future__ import annotations

from ..model import Run
from . import csv_table as ct


def matches(table: ct.Table) -> bool:
    """``epoch`` first, no step column."""
    return (
        bool(table.names)
        and ct.norm(table.names[0]) in ct.EPOCH_NAMES
        and (table.find(ct.STEP_NAMES, numeric=False) is None)
    )


def runs(table: ct.Table) -> list[Run]:
    """One run per appended segment."""
    epoch_col = table.names[0]
    steps, ok = ct.steps_of(table, epoch_col)
    seg = ct.restart_segments(steps, ok, to_first=False)
    n_seg = int(seg.max()) + 1 if ok.any() else 1
    metrics = [(c, c) for c in table.columns if c != epoch_col]
    if n_seg > 2 and n_seg == int(ok.sum()):  # every row a "restart": the epochs count down
        table.warn(f"the epochs count down over all {n_seg} rows: read as one run, by epoch")
        n_seg = 1
    if n_seg == 1:
        frame = ct.metric_frame(table, metrics, steps, ok, None)
        return ct.require_points(
            table, [ct.make_run(table, frame, dialect="keras", step_axis="epoch")]
        )
    return ct.segment_runs(table, metrics, steps, seg, None, dialect="keras", step_axis="epoch")
