"""Placeholder: replaced by the real reader."""
from __future__ import annotations
from pathlib import Path
from ..model import Run


def sniff(path: Path, head: bytes) -> bool:
    return False


def read(path: Path) -> list[Run]:
    raise NotImplementedError
