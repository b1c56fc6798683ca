"""Placeholder: replaced by the real reader."""
from __future__ import annotations
from pathlib import Path
from ..model import Run


def is_event_file(path: Path) -> bool:
    return "tfevents" in path.name


def read_run(run_dir: Path, event_files: list[Path]) -> Run:
    raise NotImplementedError
