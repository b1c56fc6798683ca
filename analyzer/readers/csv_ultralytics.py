"""Ultralytics ``results.csv`` (YOLOv5 and YOLOv8+).

Signature: an ``epoch`` column, ``train/…_loss`` columns and ``metrics/…``, ``lr/pg0…``
(YOLOv8) or ``x/lr0…`` (YOLOv5) columns; older files pad header names and values with
spaces. YOLOv8: ``epoch, [time,] train/box_loss, train/cls_loss, train/dfl_loss,
metrics/precision(B)…, val/box_loss…, lr/pg0, lr/pg1, lr/pg2``; YOLOv5 has
``train/obj_loss`` and ``x/lr0..2``; YOLOv10 names its losses by head,
``train/box_om … train/dfl_oo`` (one-to-many, one-to-one). The epoch is the step (``step_axis="epoch"``);
``time`` (seconds since the start of each training) is the wall time; trainings appended
to one file are one run each. Names are kept as written, stripped.
"""

from __future__ import annotations

from ..model import Run
from .csv_table import EPOCH_NAMES, Table, single_run

EXTRA_PREFIXES = ("metrics/", "lr/pg", "x/lr")


def matches(table: Table) -> bool:
    """``epoch`` + a ``train/…`` column + a ``metrics/``/``lr/pg``/``x/lr`` column."""
    low = [n.lower() for n in table.names]
    return (
        table.find(EPOCH_NAMES) is not None
        and any(n.startswith("train/") for n in low)
        and any(n.startswith(EXTRA_PREFIXES) for n in low)
    )


def runs(table: Table) -> list[Run]:
    """One run per training, epoch as the step, ``time`` as the wall time. Ultralytics
    appends to ``results.csv``: a new training in the same folder (``exist_ok=True``)
    starts again at the first epoch — its own run —, while ``resume=True`` goes on from
    the saved epoch (the same run)."""
    epoch_col = table.find(EPOCH_NAMES, numeric=False)
    assert epoch_col is not None  # matches() holds
    return single_run(
        table,
        epoch_col,
        dialect="ultralytics",
        step_axis="epoch",
        wall_names=("time",),
        appended=True,
    )
