"""JSON-lines logs: one JSON object per line.

Covers LLaMA-Factory ``trainer_log.jsonl`` (step in ``current_steps``; progress-only
lines carry no metric), MAE/DeiT ``log.txt`` (``epoch`` only: the epoch is the step),
W&B-style history lines (``_step``, ``_timestamp``) and plain ``{"step", "loss"…}``
lines. Nested objects are flattened with ``/``. The long form
``{"metric"|"tag": name, "step": s, "value": v}`` is read as such. A ``.json`` file that
is one object of equal-length number lists with ``lr`` and ``loss`` (an LR finder's
history, e.g. torch-lr-finder's ``lr_finder.history``) is read column-wise, the list
index being the step.

A broken line is reported as a warning with its line number and the rest is read;
a file where no line holds a metric is an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ReaderError
from ..model import Run, RunMeta, finalize_frame, frame_from_columns
from ._io import file_mtime, head_bytes, read_text, run_id_for, run_name_for
from ._records import PointBuffer, as_number, check_step, step_key_of, step_of

EXTENSIONS = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
#: Text logs whose first line may be followed past the sniffed head (see
#: :func:`_whole_first_line`); a ``.json`` is sniffed by its head alone.
TEXT_EXTENSIONS = (".txt", ".log", ".txt.gz", ".log.gz")
SNIFF_EXTENSIONS = (*TEXT_EXTENSIONS, ".json")
MAX_WARNINGS = 20
#: How far a first line is followed when it outruns the sniffed head: a DETR/Deformable-DETR
#: ``log.txt`` line (every auxiliary loss of every decoder layer) is 4–12 KB.
MAX_FIRST_LINE = 1 << 20


def _first_line(head: bytes) -> bytes:
    head = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return head.split(b"\n", 1)[0].strip()


def _whole_first_line(path: Path, head: bytes) -> bytes:
    """The first line; for a ``.txt``/``.log``, read further than ``head`` when ``head``
    ends inside it. Not for ``.json``: a minified one-line ``vocab.json`` or
    ``config.json`` in a run folder is no log."""
    first = _first_line(head)
    if (
        path.name.lower().endswith(TEXT_EXTENSIONS)
        and first.startswith(b"{")
        and b"\n" not in head.lstrip(b"\xef\xbb\xbf").lstrip()
    ):
        first = _first_line(head_bytes(path, MAX_FIRST_LINE))
    return first


def sniff(path: Path, head: bytes) -> bool:
    """``.jsonl``/``.ndjson``, or a ``.txt``/``.log``/``.json`` whose first line is one JSON
    object (DETR, Deformable-DETR, MAE and DeiT ``log.txt``; lines of any length)."""
    name = path.name.lower()
    if name.endswith(EXTENSIONS):
        return True
    if not name.endswith(SNIFF_EXTENSIONS):
        return False
    if name.endswith(".json") and _lr_finder_head(head):
        return True
    first = _whole_first_line(path, head)
    if not (first.startswith(b"{") and first.endswith(b"}")):
        return False
    try:
        return isinstance(json.loads(first), dict)
    except ValueError:
        return False


def _lr_finder_head(head: bytes) -> bool:
    """A JSON object that names ``lr`` and ``loss`` keys early (an LR finder's history)."""
    h = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return h.startswith(b"{") and b'"lr"' in h and b'"loss"' in h


def _columns(text: str) -> list[tuple[int, dict[str, Any]]] | None:
    """Rows of a whole-file object of equal-length number lists (``lr``, ``loss``, …)."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    cols = {k: v for k, v in doc.items() if isinstance(v, list) and len(v) >= 2}
    lengths = {len(v) for v in cols.values()}
    if not {"lr", "loss"} <= set(cols) or len(lengths) != 1:
        return None
    n = lengths.pop()
    return [(i + 1, {"step": i, **{k: v[i] for k, v in cols.items()}}) for i in range(n)]


def _parse_lines(path: Path, text: str, warnings: list[str]) -> list[tuple[int, dict[str, Any]]]:
    records: list[tuple[int, dict[str, Any]]] = []
    bad = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except (ValueError, RecursionError) as exc:
            bad += 1
            if bad <= MAX_WARNINGS:
                msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
                warnings.append(f"{path}: line {lineno}: broken JSON ({msg}), line skipped")
            continue
        if not isinstance(rec, dict):
            bad += 1
            if bad <= MAX_WARNINGS:
                warnings.append(f"{path}: line {lineno}: not a JSON object, line skipped")
            continue
        records.append((lineno, rec))
    if bad > MAX_WARNINGS:
        warnings.append(f"{path}: {bad} bad lines in all")
    return records


def _is_long_form(rec: dict[str, Any]) -> bool:
    return "value" in rec and isinstance(rec.get("metric", rec.get("tag")), str)


def _appended_runs(
    records: list[tuple[int, dict[str, Any]]],
) -> list[list[tuple[int, dict[str, Any]]]]:
    """Epoch-only logs split where the epoch goes back to the file's first epoch.

    DETR/MAE ``main.py`` appends to ``log.txt``: a new training in the same output folder
    starts again at epoch 0 (a new run), while ``--resume`` goes back only to the saved
    epoch (the same run; :func:`~analyzer.model.finalize_frame` keeps the later values).
    """
    first: int | None = None
    prev: int | None = None
    parts: list[list[tuple[int, dict[str, Any]]]] = [[]]
    for item in records:
        epoch, found = step_of(item[1], None, prev if prev is not None else 0)
        if found:
            if first is None:
                first = epoch
            elif prev is not None and epoch < prev and epoch <= first and parts[-1]:
                parts.append([])
            prev = epoch
        parts[-1].append(item)
    return parts


def _repeats_start_of(
    part: list[tuple[int, dict[str, Any]]], nxt: list[tuple[int, dict[str, Any]]]
) -> bool:
    """Whether ``part`` is the opening of ``nxt`` written twice: the same epochs with the
    same value of every loss key both hold (≥ 1) — a training restarted from scratch with
    the same seed after a crash repeats its first epochs exactly; evaluation metrics may
    differ by nondeterminism, losses of the same batches do not."""
    if not part or len(part) > len(nxt):
        return False
    compared = 0
    for (_, a), (_, b) in zip(part, nxt):
        if a.get("epoch") != b.get("epoch"):
            return False
        for k, v in a.items():
            if "loss" in k.lower() and isinstance(v, (int, float)) and k in b:
                if v != b[k]:
                    return False
                compared += 1
    return compared > 0


def _run_of(
    path: Path,
    records: list[tuple[int, dict[str, Any]]],
    key: str | None,
    warnings: list[str],
    segment: int | None,
) -> Run | None:
    buf = PointBuffer()
    last = 0
    for lineno, rec in records:
        check_step(rec, key, str(path), f"line {lineno}")
        last, _found = step_of(rec, key, last)
        if _is_long_form(rec):
            val = as_number(rec["value"])
            if val is not None:
                buf.add_record(
                    {
                        str(rec.get("metric", rec.get("tag"))): val,
                        **{k: rec[k] for k in ("wall_time", "timestamp") if k in rec},
                    },
                    last,
                )
            continue
        buf.add_record(
            rec,
            last,
            skip=frozenset({"epoch"}) if key is None else frozenset(),
            where=f"line {lineno}",
        )
    warnings += buf.not_number_warnings(path)
    if not len(buf):
        return None
    if back := buf.sort_if_shuffled():
        warnings.append(f"{path}: steps out of order ({back} step decreases); sorted by step")
    frame = finalize_frame(frame_from_columns(buf.metric, buf.step, buf.value, buf.wall))
    walls = frame["wall_time"].dropna()
    name = run_name_for(path)
    meta = RunMeta(
        id=run_id_for(path, segment),
        name=name if segment is None else f"{name} #{segment + 1}",
        source="jsonl",
        location=str(path),
        start_time=float(walls.min()) if len(walls) else None,
        end_time=float(walls.max()) if len(walls) else file_mtime(path),
        step_axis="step" if key else "epoch",
    )
    return Run(meta=meta, frame=frame, warnings=warnings)


def read(path: Path) -> list[Run]:
    """The run in one JSON-lines file (one per appended training in an epoch-only log)."""
    warnings: list[str] = []
    text = read_text(path)
    records = (_columns(text) if path.name.lower().endswith(".json") else None) or _parse_lines(
        path, text, warnings
    )
    if not records:
        where = None if not warnings else warnings[0].split(": ")[1]
        raise ReaderError(str(path), "no JSON object found", where)
    key = step_key_of([r for _, r in records])
    parts = _appended_runs(records) if key is None else [records]
    for i in range(len(parts) - 2, -1, -1):
        if _repeats_start_of(parts[i], parts[i + 1]):
            warnings.append(
                f"{path}: lines {parts[i][0][0]}–{parts[i][-1][0]} repeat the first "
                f"{len(parts[i])} epochs of the training after them (restarted from scratch): "
                "read once"
            )
            del parts[i]
    if len(parts) > 1:
        warnings.append(
            f"{path}: {len(parts)} trainings appended (the epoch restarts); read as one run each"
        )
    runs = [
        run
        for i, part in enumerate(parts)
        if (
            run := _run_of(
                path, part, key, warnings if i == 0 else [], i if len(parts) > 1 else None
            )
        )
        is not None
    ]
    if not runs:
        raise ReaderError(str(path), "no numeric metric in any line")
    return runs
