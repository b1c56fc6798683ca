"""The cache of corpus 2 in the repository: ``runs.npz`` (curves) + ``manifest.json``.

``runs.npz`` holds every trained run's curves concatenated (float32 ``train_loss``,
``lr``, ``val_loss``; int32 ``val_step``; ``initial_val``) with offsets; the manifest
holds, in the same order, each run's spec, role, labels, verification statistics and
note, plus per setup the good LR, good range and the good-LR run's final val, the
family split and the build report. Reading needs numpy only (no torch).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .train import Result, Spec

DATA_DIR = Path(__file__).parent / "data"
QUICK_DIR = Path(__file__).parent / "data_quick"


def save(out_dir: Path, results: list[Result], manifest: dict[str, Any]) -> None:
    """Write ``runs.npz`` and ``manifest.json`` (``manifest["runs"]`` in ``results`` order)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if len(results) != len(manifest["runs"]):
        raise ValueError(f"{len(results)} results but {len(manifest['runs'])} manifest runs")
    t_off = np.cumsum([0] + [len(r.train_loss) for r in results]).astype(np.int64)
    v_off = np.cumsum([0] + [len(r.val_loss) for r in results]).astype(np.int64)

    def cat(name: str, dtype) -> np.ndarray:
        parts = [np.asarray(getattr(r, name), dtype=dtype) for r in results]
        return np.concatenate(parts) if parts else np.zeros(0, dtype)

    np.savez_compressed(
        out_dir / "runs.npz",
        train_loss=cat("train_loss", np.float32),
        lr=cat("lr", np.float32),
        val_loss=cat("val_loss", np.float32),
        val_step=cat("val_step", np.int32),
        train_off=t_off,
        val_off=v_off,
        initial_val=np.asarray([r.initial_val_loss for r in results], dtype=np.float32),
    )
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, allow_nan=False))


def exists(out_dir: Path = DATA_DIR) -> bool:
    return (out_dir / "runs.npz").is_file() and (out_dir / "manifest.json").is_file()


def load(out_dir: Path = DATA_DIR) -> tuple[list[Result], dict[str, Any]]:
    """Results (curves as float32) and the manifest."""
    manifest = json.loads((out_dir / "manifest.json").read_text())
    with np.load(out_dir / "runs.npz") as z:
        arr = {k: z[k] for k in z.files}
    out: list[Result] = []
    for i, m in enumerate(manifest["runs"]):
        a, b = arr["train_off"][i], arr["train_off"][i + 1]
        c, d = arr["val_off"][i], arr["val_off"][i + 1]
        out.append(
            Result(
                spec=Spec.from_dict(m["spec"]),
                train_loss=arr["train_loss"][a:b],
                lr=arr["lr"][a:b],
                val_step=arr["val_step"][c:d],
                val_loss=arr["val_loss"][c:d],
                initial_val_loss=float(arr["initial_val"][i]),
                seconds=float(m.get("seconds", 0.0)),
            )
        )
    return out, manifest
