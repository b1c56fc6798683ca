"""An MLflow ``mlruns`` folder (``file:///path/mlruns``) read directly, read-only:
``<exp>/meta.yaml``, ``<exp>/<run>/meta.yaml``, ``metrics/<key>`` lines ``timestamp value
step``, ``params/<key>``, ``tags/<key>`` (keys with ``/`` are sub-folders); deleted
experiments and runs skipped. A missing folder is an error, never created."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import numpy as np
import pandas as pd

from ...errors import ReaderError, SourceError
from .._io import TEXT_MEMORY_PER_BYTE, read_regular
from .shared import _frame, _meta, _Query, _Record, _wanted

#: ``status`` numbers in a run's ``meta.yaml`` (MLflow's ``RunStatus``).
FILE_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}


def _file_root(uri: str) -> Path:
    """The folder a ``file:`` URI names (local only)."""
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise SourceError(
            uri, "file: URIs must name a local folder (file:///path/mlruns)", "bad_uri"
        )
    return Path(url2pathname(parts.path))


def _yaml(path: Path) -> dict[str, Any]:
    """A ``meta.yaml`` as a dict (empty when unreadable or not a mapping)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


class _FileStore:
    """An MLflow ``mlruns`` folder read directly, read-only."""

    def __init__(self, uri: str) -> None:
        self.location = uri
        self.root = _file_root(uri)
        if not self.root.is_dir():
            absent = not self.root.exists()
            raise SourceError(
                self.location,
                f"no such folder: {self.root}" if absent else f"not a folder: {self.root}",
                "unreachable" if absent else "bad_uri",
            )
        self._exp_dirs = self._scan_experiments()
        if not self._exp_dirs and not (self.root / ".trash").is_dir():
            raise SourceError(
                self.location,
                "not an MLflow file store (no experiment folder with a meta.yaml)",
                "not_mlflow",
            )

    def close(self) -> None:
        pass

    def _scan_experiments(self) -> dict[str, tuple[str, Path]]:
        out: dict[str, tuple[str, Path]] = {}
        for child in sorted(self.root.iterdir()):
            if child.name.startswith(".") or not (child / "meta.yaml").is_file():
                continue
            meta = _yaml(child / "meta.yaml")
            if "experiment_id" not in meta or meta.get("lifecycle_stage") == "deleted":
                continue
            out[str(meta["experiment_id"])] = (str(meta.get("name", "")), child)
        return out

    def describe(self) -> str:
        n_runs = len(self.search(self.experiments(), _Query()))
        return (
            f"MLflow file store {self.root}: {len(self._exp_dirs)} experiment(s), {n_runs} run(s)"
        )

    def experiments(self) -> dict[str, str]:
        return {i: name for i, (name, _) in self._exp_dirs.items()}

    def find_experiment(self, key: str) -> tuple[str, str] | None:
        for exp_id, (name, _) in self._exp_dirs.items():
            if name == key:
                return exp_id, name
        return (key, self._exp_dirs[key][0]) if key in self._exp_dirs else None

    def search(self, exps: dict[str, str], query: _Query) -> list[_Record]:
        wanted = set(query.run_ids) if query.run_ids is not None else None
        since_ms = query.since * 1000 if query.since is not None else None
        out: list[_Record] = []
        for exp_id, exp_name in exps.items():
            for run_dir in sorted(self._exp_dirs[exp_id][1].iterdir()):
                if wanted is not None and run_dir.name not in wanted:
                    continue
                rec = self._record(run_dir, exp_id, exp_name, since_ms)
                if rec is not None:
                    out.append(rec)
        return out

    def _record(
        self, run_dir: Path, exp_id: str, exp_name: str, since_ms: float | None
    ) -> _Record | None:
        if not (run_dir / "meta.yaml").is_file():
            return None
        meta = _yaml(run_dir / "meta.yaml")
        run_id = str(meta.get("run_id") or meta.get("run_uuid") or "")
        if not run_id or meta.get("lifecycle_stage") == "deleted":
            return None
        start = meta.get("start_time")
        if since_ms is not None and not (isinstance(start, (int, float)) and start > since_ms):
            return None
        status = meta.get("status")
        status = FILE_STATUS.get(status, str(status)) if isinstance(status, int) else status
        metric_dir = run_dir / "metrics"
        keys = tuple(_relative_files(metric_dir))
        return _Record(
            _meta(
                run_id=run_id,
                name=meta.get("run_name"),
                location=f"{self.location}#{run_id}",
                params=_read_values(run_dir / "params"),
                tags=_read_values(run_dir / "tags"),
                start_ms=start,
                end_ms=meta.get("end_time"),
                user_id=meta.get("user_id"),
                experiment=exp_name,
                status=status,
            ),
            exp_id,
            keys,
        )

    def histories(
        self, records: Sequence[_Record], metrics: Sequence[str] | None
    ) -> Iterator[tuple[_Record, pd.DataFrame | str]]:
        for rec in records:
            run_dir = self._exp_dirs[rec.experiment_id][1] / rec.meta.id / "metrics"
            try:
                parts = [
                    _metric_file(run_dir / key, key) for key in _wanted(rec.metric_keys, metrics)
                ]
            except (OSError, ValueError, ReaderError) as exc:
                yield rec, f"cannot read the metric history: {exc}"
                continue
            yield rec, _frame(parts)


def _relative_files(folder: Path) -> Iterator[str]:
    """Keys stored under ``folder`` (``a/b`` for the file ``folder/a/b``)."""
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield path.relative_to(folder).as_posix()


def _read_values(folder: Path) -> dict[str, str]:
    """``params/`` or ``tags/``: one file per key, the value its content."""
    out: dict[str, str] = {}
    for key in _relative_files(folder):
        try:
            out[key] = (folder / key).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return out


def _metric_file(path: Path, key: str) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """One ``metrics/<key>`` file (lines ``timestamp value [step]``), in MLflow's order."""
    steps: list[int] = []
    values: list[float] = []
    stamps: list[int] = []
    text = read_regular(path, TEXT_MEMORY_PER_BYTE).decode("utf-8")
    for n, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) not in (2, 3):
            raise ValueError(f"{key}: line {n}: expected 'timestamp value step'")
        stamps.append(int(fields[0]))
        values.append(float(fields[1]))
        steps.append(int(fields[2]) if len(fields) == 3 else 0)
    order: np.ndarray | list[int] = (
        np.lexsort((np.asarray(values), np.asarray(steps), np.asarray(stamps))) if stamps else []
    )
    return (
        key,
        np.asarray(steps, dtype=np.int64)[order],
        np.asarray(values, dtype=np.float64)[order],
        np.asarray(stamps, dtype=np.int64)[order],
    )
