"""The CSV reader family's shared table → runs: steps from a column (rounded, skipped or
replaced by the row order, with warnings), wall time (numbers or ISO dates), metric
frames and runs. Parsing a file into a :class:`Table` is :mod:`.csv_parse`; its names are
re-exported here for the dialect readers.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import ReaderError
from ..model import MAX_STEP, Run, RunMeta, StepAxis, empty_frame, finalize_columns
from ._io import file_mtime, run_id_for, run_name_for
from ._records import shuffled_order, step_too_large
from .csv_parse import (
    DELIMITERS,
    EPOCH_NAMES,
    STEP_NAMES,
    WALL_NAMES,
    Table,
    detect_delimiter,
    looks_like_header,
    norm,
    parse_table,
)

# --- steps, wall time, runs ---------------------------------------------------------------


def steps_of(table: Table, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Integer steps from ``column`` and the mask of rows that have a usable one.

    Rows without a step are skipped (warned when they hold values). Fractional steps
    are rounded to the nearest integer; if rounding would merge distinct steps (e.g.
    fractional epochs 0.25, 0.5…), the row order is the step instead. Negative steps
    are kept. Every such case is warned about.
    """
    if column not in table.values:
        text = table.text.get(column)
        nums = (
            pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
            if text is not None
            else np.array([])
        )
        huge = np.flatnonzero(np.isfinite(nums) & (np.abs(nums) >= MAX_STEP))
        if huge.size and text is not None:  # integers beyond 2^64 are read as text
            first = int(huge[0])
            raise ReaderError(
                str(table.path),
                step_too_large(column, str(text.iloc[first]).strip()),
                f"line {table.row_lines[first]}",
            )
        raise ReaderError(
            str(table.path), f"the {column!r} column holds no numbers", f"line {table.header_line}"
        )
    raw = table.values[column]
    filled = table.filled[column]
    huge = filled & np.isfinite(raw) & (np.abs(raw) >= MAX_STEP)
    ok = filled & np.isfinite(raw) & ~huge
    if huge.any() and not ok.any():
        first = int(np.flatnonzero(huge)[0])
        raise ReaderError(
            str(table.path),
            step_too_large(column, _exact(table, column, first)),
            f"line {table.row_lines[first]}",
        )
    if huge.any():
        table.warn_rows(huge, f"{column!r} of 2^53 or more (too large for a step), row skipped")
    others = [m for c, m in table.filled.items() if c != column]
    lost = ~ok & ~huge & (np.logical_or.reduce(others) if others else np.zeros(len(raw), bool))
    if lost.any():
        table.warn_rows(lost, f"no usable {column!r} value, row skipped")
    steps = np.zeros(len(raw), dtype=np.int64)
    rounded = np.floor(raw[ok] + 0.5)  # half up
    frac = ok.copy()
    frac[ok] = rounded != raw[ok]
    if frac.any() and len(np.unique(rounded)) < len(np.unique(raw[ok])):
        steps[ok] = np.arange(int(ok.sum()), dtype=np.int64)
        table.warn(f"fractional {column!r} values; the row order is used as the step")
    else:
        steps[ok] = rounded.astype(np.int64)
        if frac.any():
            table.warn_rows(frac, f"fractional {column!r} rounded to the nearest integer")
    negative = ok & (steps < 0)
    if negative.any():
        table.warn_rows(negative, f"negative {column!r} kept as is")
    return steps, ok


def _exact(table: Table, column: str, row: int) -> str:
    """The cell as written (a float would show 2^63 + 1 as 9223372036854775808)."""
    lines = table.body.split("\n")
    index = table.row_lines[row] - table.header_line  # the body starts with the header
    try:
        sep = detect_delimiter(lines[0], lines[index])
        cells = next(csv.reader([lines[index]], delimiter=sep))
        return cells[table.names.index(column)].strip()
    except (IndexError, ValueError, csv.Error, AttributeError, StopIteration):
        return f"{table.values[column][row]:.0f}"


def wall_of(
    table: Table, names: Sequence[str] = WALL_NAMES
) -> tuple[np.ndarray | None, str | None]:
    """Per-row time in seconds from the first wall-time column found (numeric or ISO dates)."""
    col = table.find(names, numeric=False)
    if col is None:
        return None, None
    if col in table.values:
        return table.values[col], col
    if col not in table.text:  # a column with no value at all
        return None, col
    try:
        dates = pd.to_datetime(table.text[col], errors="coerce", utc=True, format="ISO8601")
        seconds = (dates - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    except (ValueError, OverflowError, TypeError):  # OutOfBoundsDatetime is a ValueError;
        # a column of booleans converts to naive dates that cannot meet the aware epoch
        return None, col
    if seconds.notna().any():
        return seconds.to_numpy(dtype=np.float64, na_value=np.nan), col
    return None, col


def metric_frame(
    table: Table,
    metrics: Sequence[tuple[str, str]],
    steps: np.ndarray,
    rows: np.ndarray,
    wall: np.ndarray | None,
) -> pd.DataFrame:
    """The finalized long frame of ``(metric name, column)`` pairs over the rows in ``rows``.

    Rows written out of step order (shuffled, not a few restarts) are sorted by step.
    """
    picked = np.flatnonzero(rows)
    order, back = shuffled_order(steps[picked])
    if order is not None:
        first = picked[np.flatnonzero(np.diff(steps[picked]) < 0)[0] + 1]
        table.warn(
            f"steps out of order from line {table.row_lines[first]} on "
            f"({back} step decreases); rows sorted by step"
        )
        picked = picked[order]
    parts = [(name, col, picked[table.filled[col][picked]]) for name, col in metrics]
    parts = [(name, col, idx) for name, col, idx in parts if len(idx)]
    total = sum(len(idx) for _, _, idx in parts)
    if not total:
        return empty_frame()
    # the long columns filled in place (no per-metric copies to concatenate: a big log's
    # peak memory)
    names = np.empty(total, dtype=object)
    long_steps, values = np.empty(total, dtype=np.int64), np.empty(total, dtype=np.float64)
    walls = np.full(total, np.nan)
    at = 0
    for name, col, idx in parts:
        end = at + len(idx)
        names[at:end] = name
        np.take(steps, idx, out=long_steps[at:end])
        np.take(table.values[col], idx, out=values[at:end])
        if wall is not None:
            np.take(wall, idx, out=walls[at:end])
        at = end
    return finalize_columns(names, long_steps, values, walls)


def make_run(
    table: Table,
    frame: pd.DataFrame,
    *,
    dialect: str,
    step_axis: StepAxis,
    name: str | None = None,
    segment: int | str | None = None,
) -> Run:
    """A :class:`Run` of ``frame`` with the CSV family's metadata."""
    walls = frame["wall_time"].to_numpy()
    walls = walls[~np.isnan(walls)]
    start = float(walls.min()) if len(walls) and walls.min() > 1e8 else None  # epoch seconds
    meta = RunMeta(
        id=run_id_for(table.path, segment=segment),
        name=name or run_name_for(table.path),
        source="csv",
        location=str(table.path),
        tags={"csv_dialect": dialect},
        start_time=start,
        end_time=file_mtime(table.path),
        step_axis=step_axis,
    )
    return Run(meta=meta, frame=frame, warnings=list(table.warnings))


def require_points(table: Table, runs: list[Run]) -> list[Run]:
    """``runs`` without empty ones; an error when none is left."""
    kept = [r for r in runs if not r.frame.empty]
    if not kept:
        raise ReaderError(
            str(table.path), "no numeric metric values in any row", f"line {table.header_line}"
        )
    return kept


def metric_columns(table: Table, step_col: str, wall_col: str | None) -> list[str]:
    """The numeric columns that are metrics: not the step, the wall time or another step."""
    skip = {step_col, wall_col}
    return [c for c in table.columns if c not in skip and norm(c) not in STEP_NAMES]


def restart_segments(steps: np.ndarray, ok: np.ndarray, *, to_first: bool) -> np.ndarray:
    """Segment number per row (``-1`` where there is no step): a new segment where the
    step goes back — to the file's first step or below when ``to_first`` (a new training
    appended to the same file; going back less far is a resume, whose later values
    :func:`~analyzer.model.finalize_frame` keeps), anywhere otherwise."""
    seg = np.full(len(steps), -1, dtype=np.int64)
    s = steps[ok]
    if not len(s):
        return seg
    back = np.diff(s) < 0
    if to_first:
        back &= s[1:] <= s[0]
    seg[ok] = np.cumsum(np.concatenate([[0], back]))
    return seg


def segment_runs(
    table: Table,
    metrics: Sequence[tuple[str, str]],
    steps: np.ndarray,
    seg: np.ndarray,
    wall: np.ndarray | None,
    *,
    dialect: str,
    step_axis: StepAxis,
) -> list[Run]:
    """One run per segment of :func:`restart_segments`, named ``"<name> #1"``, ``"#2"``…
    The file's warnings (one says how many trainings it holds) go with the first run
    only: shown once, not once per training."""
    n_seg = int(seg.max()) + 1
    table.warn(f"{n_seg} trainings appended (the epoch restarts); read as one run each")
    base = run_name_for(table.path)
    runs = [
        make_run(
            table,
            metric_frame(table, metrics, steps, seg == i, wall),
            dialect=dialect,
            step_axis=step_axis,
            name=f"{base} #{i + 1}",
            segment=i,
        )
        for i in range(n_seg)
    ]
    for run in runs[1:]:
        run.warnings.clear()
    return require_points(table, runs)


def single_run(
    table: Table,
    step_col: str,
    *,
    dialect: str,
    step_axis: StepAxis,
    wall_names: Sequence[str] = WALL_NAMES,
    rename: dict[str, str] | None = None,
    appended: bool = False,
) -> list[Run]:
    """One run: every numeric column except the step, wall-time and other step columns —
    with ``appended``, one per training appended to the file (the step back to the first:
    :func:`restart_segments` ``to_first``)."""
    steps, ok = steps_of(table, step_col)
    wall, wall_col = wall_of(table, wall_names)
    rename = rename or {}
    metrics = [(rename.get(c, c), c) for c in metric_columns(table, step_col, wall_col)]
    if appended:
        seg = restart_segments(steps, ok, to_first=True)
        if seg.max() >= 1:
            return segment_runs(
                table, metrics, steps, seg, wall, dialect=dialect, step_axis=step_axis
            )
    frame = metric_frame(table, metrics, steps, ok, wall)
    return require_points(table, [make_run(table, frame, dialect=dialect, step_axis=step_axis)])


__all__ = [
    "DELIMITERS",
    "EPOCH_NAMES",
    "STEP_NAMES",
    "WALL_NAMES",
    "Table",
    "detect_delimiter",
    "looks_like_header",
    "make_run",
    "metric_columns",
    "metric_frame",
    "norm",
    "parse_table",
    "require_points",
    "restart_segments",
    "segment_runs",
    "single_run",
    "steps_of",
    "wall_of",
]
