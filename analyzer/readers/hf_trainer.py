"""Hugging Face Trainer ``trainer_state.json``.

Signature: a JSON object with a ``log_history`` list. Each record is one logging
event: train records carry ``loss``, ``learning_rate``, ``grad_norm``; eval records
carry ``eval_loss`` (or ``eval_<group>_loss`` per eval set). The closing summary
record (``train_runtime``, ``train_loss``) is run metadata, not a point. Records
without ``step`` (``predict_*``) take the step of the record before them. Top-level
scalars (``max_steps``, ``num_train_epochs``, ``train_batch_size``…) become params.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ReaderError
from ..model import Run, RunMeta, finalize_frame, frame_from_columns
from ._io import file_mtime, read_text, run_id_for, run_name_for
from ._records import PointBuffer, as_number, check_step, step_of

SUMMARY_KEYS = ("train_runtime", "train_samples_per_second")
PARAM_KEYS = (
    "max_steps",
    "num_train_epochs",
    "train_batch_size",
    "logging_steps",
    "eval_steps",
    "save_steps",
    "global_step",
    "best_metric",
    "best_model_checkpoint",
    "epoch",
)
#: Sibling files whose presence says how the model was trained.
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")


def sniff(path: Path, head: bytes) -> bool:
    """``trainer_state*.json``, or a ``.json`` whose first bytes mention ``log_history``."""
    name = path.name.lower()
    if not name.endswith((".json", ".json.gz")):
        return False
    return name.startswith("trainer_state") or b'"log_history"' in head


def _load(path: Path) -> dict[str, Any]:
    text = read_text(path)
    if not text.strip():
        raise ReaderError(str(path), "empty file")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReaderError(
            str(path), f"broken JSON: {exc.msg}", f"line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise ReaderError(str(path), "JSON nested too deeply") from None
    if not isinstance(doc, dict):
        raise ReaderError(
            str(path), f"expected a JSON object with 'log_history', found a {type(doc).__name__}"
        )
    if not isinstance(doc.get("log_history"), list):
        raise ReaderError(str(path), "'log_history' is missing or not a list")
    return doc


def _params(doc: dict[str, Any], summary: dict[str, Any], path: Path) -> dict[str, str]:
    params = {k: str(doc[k]) for k in PARAM_KEYS if doc.get(k) is not None}
    params.update(
        {k: str(v) for k, v in summary.items() if k != "step" and as_number(v) is not None}
    )
    if any((path.parent / f).exists() for f in ADAPTER_FILES):
        params["peft"] = "lora"
    return params


def read(path: Path) -> list[Run]:
    """The run in one ``trainer_state.json``."""
    doc = _load(path)
    history = doc["log_history"]
    buf = PointBuffer()
    warnings: list[str] = []
    summary: dict[str, Any] = {}
    last = 0
    for i, rec in enumerate(history):
        if not isinstance(rec, dict):
            warnings.append(f"{path}: record {i}: not an object, skipped")
            continue
        if any(k in rec for k in SUMMARY_KEYS):
            summary = rec
            continue
        check_step(rec, "step", str(path), f"record {i}")
        last, _ = step_of(rec, "step", last)
        buf.add_record(rec, last, skip=frozenset({"epoch"}), where=f"record {i}")
        epoch = as_number(rec.get("epoch"))
        if epoch is not None:
            buf.metric.append("epoch")
            buf.step.append(last)
            buf.value.append(epoch)
            buf.wall.append(float("nan"))
    warnings += buf.not_number_warnings(path)
    if not len(buf):
        raise ReaderError(str(path), "log_history holds no numeric values")
    if back := buf.sort_if_shuffled():
        warnings.append(f"{path}: steps out of order ({back} step decreases); sorted by step")
    frame = finalize_frame(frame_from_columns(buf.metric, buf.step, buf.value, buf.wall))
    meta = RunMeta(
        id=run_id_for(path),
        name=run_name_for(path),
        source="hf",
        location=str(path),
        params=_params(doc, summary, path),
        end_time=file_mtime(path),
    )
    return [Run(meta=meta, frame=frame, warnings=warnings)]
