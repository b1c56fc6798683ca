"""Corpus 2: real PyTorch training runs with labels by construction, split by family.

Built independently of corpus 1 (:mod:`benchmarks.corpus`): 24 setup families
(:mod:`.families`, each with its description) — char-level GRU / LSTM / transformer
language models, 2-D and 1-D CNNs, RNN and transformer sequence classifiers, softmax,
logistic and linear regression, MLPs of several activations (one deep with dropout, one
with batch norm and residual blocks) and an autoencoder — trained on CPU with SGD,
momentum, Nesterov, SGD with weight decay, Adam, AdamW, RMSprop, NAdam, Adagrad, RAdam
and Adamax under constant, step, multistep, cosine, warmup+cosine, exponential,
warmup+linear, linear and one-cycle schedules (:mod:`.train`). Per setup an LR sweep finds the good LR, then runs at
multipliers 1e-4 ... 1e3 of it and small-subset runs are labeled by construction
(:mod:`.plan`) and verified on the curves with corpus 1's rules (:mod:`.build`).

**Family split (fixed; also in the manifest).** :data:`TUNE` families may be used to
tune detection thresholds; :data:`HELDOUT` families (``lstm_lm``, ``cnn_digits``,
``logreg``, ``reg_mlp``, ``silu_reg``) must never be used for tuning — not to fit a
threshold, not to choose between variants, not to look at misses. Their figures are the
ones reported as "families left out".

Generate (cached in the repository, ``data/runs.npz`` + ``data/manifest.json``)::

    python -m benchmarks.corpus2 [--quick] [--workers N] [--families F ...]

:func:`load_corpus2` reads the cache (numpy only) and, when torch is importable,
regenerates families missing from it. :func:`retrain` retrains a run's spec with
changes (LR, schedule, stop step, warm-up) for the closed loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from analyzer.model import Run, RunMeta, finalize_frame, frame_from_columns

from ..corpus import LabeledRun
from .families import FAMILIES, HELDOUT, SETUPS, SPLITS, TUNE, split_of
from .store import DATA_DIR, QUICK_DIR, exists, load
from .train import OPTIMIZERS, SCHEDULES, Result, Spec, retrain, train

__all__ = [
    "DATA_DIR",
    "FAMILIES",
    "HELDOUT",
    "OPTIMIZERS",
    "PART",
    "QUICK_DIR",
    "SCHEDULES",
    "SETUPS",
    "SPLITS",
    "TUNE",
    "Result",
    "Spec",
    "load_corpus2",
    "load_manifest",
    "result_to_run",
    "retrain",
    "split_of",
    "train",
]

PART = "corpus2"
_T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, fixed so frames are identical across loads


def result_to_run(res: Result, run_id: str, name: str | None = None) -> Run:
    """The canonical Run of a corpus-2 result (metrics ``train_loss``, ``val_loss``, ``lr``)."""
    sp = res.spec
    ts, vs = res.train_step, res.val_step.astype(np.int64)
    metric = np.concatenate(
        [
            np.full(len(ts), "train_loss", dtype=object),
            np.full(len(vs), "val_loss", dtype=object),
            np.full(len(ts), "lr", dtype=object),
        ]
    )
    step = np.concatenate([ts, vs, ts])
    value = np.concatenate([res.train_loss, res.val_loss, res.lr]).astype(np.float64)
    wall = _T0 + 0.05 * step.astype(np.float64)
    frame = finalize_frame(frame_from_columns(metric, step, value, wall))
    fam = FAMILIES[sp.family]
    params = {
        "learning_rate": repr(sp.lr),
        "optimizer": sp.optimizer,
        "schedule": sp.schedule,
        "batch_size": str(fam.batch_size),
        "family": sp.family,
        "model": fam.arch,
        "dataset": fam.data,
        "steps": str(sp.steps),
        "seed": str(sp.seed),
        "n_train": "all" if sp.n_train is None else str(sp.n_train),
    }
    if sp.warmup is not None:
        params["warmup"] = repr(sp.warmup)
    meta = RunMeta(
        id=run_id,
        name=name or run_id,
        source="csv",
        location=f"corpus2://{run_id}",
        params=params,
        tags={"corpus": PART, "family": sp.family, "split": split_of(sp.family)},
        start_time=_T0,
        end_time=float(wall.max()) if len(wall) else _T0,
    )
    return Run(meta=meta, frame=frame)


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def load_manifest(data_dir: Path = DATA_DIR) -> dict[str, Any]:
    return load(data_dir)[1]


def _ensure(data_dir: Path, families: tuple[str, ...], workers: int) -> None:
    """Generate the families missing from the cache (torch needed)."""
    from .build import generate, merge
    from .store import save

    old = load(data_dir) if exists(data_dir) else None
    have = set(old[1]["families"]) if old else set()
    missing = [f for f in families if f not in have]
    if not missing or not _torch_available():
        return
    new = generate(missing, quick=data_dir == QUICK_DIR, workers=workers)
    save(data_dir, *merge(old, new))


def load_corpus2(
    split: str | None = None,
    data_dir: Path = DATA_DIR,
    *,
    regenerate: bool = True,
    workers: int = 2,
    keep_dropped: bool = False,
    limit: int | None = None,
) -> list[LabeledRun]:
    """The kept runs of corpus 2 (``split``: None = all, ``"tune"`` or ``"heldout"``).

    ``limit`` keeps every k-th run so that at most ``limit`` runs per split side are
    loaded (smoke runs).

    Families missing from the cache are generated first when torch is importable and
    ``regenerate``; without torch only the cached runs are returned. ``params`` of each
    run is its :class:`Spec` (``retrain(params, lr=...)``); ``result`` its curves.
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be None, 'tune' or 'heldout', got {split!r}")
    fams = SPLITS[split] if split else tuple(FAMILIES)
    if regenerate:
        _ensure(Path(data_dir), fams, workers)
    if not exists(Path(data_dir)):
        return []
    results, manifest = load(Path(data_dir))
    chosen = [
        (res, m)
        for res, m in zip(results, manifest["runs"])
        if m["family"] in fams and (m["kept"] or keep_dropped)
    ]
    if limit is not None:
        chosen = [
            x
            for side in SPLITS
            for x in _every_kth([x for x in chosen if x[1]["split"] == side], limit)
        ]
    out: list[LabeledRun] = []
    for res, m in chosen:
        labels = frozenset(m["labels"] if m["kept"] else m["verified"])
        out.append(
            LabeledRun(
                run=result_to_run(res, m["id"]),
                labels=labels,
                direction=m["direction"] or "none",
                lr=res.spec.lr,
                part=PART,
                scenario=m["scenario"],
                constructed=frozenset(m["constructed"]),
                params=res.spec,  # type: ignore[arg-type]  # a corpus-2 Spec, same seam
                note=m["note"],
                stats=dict(m["stats"]) | {"floor": m["floor"]},
                result=res,  # type: ignore[arg-type]
            )
        )
    return out


def _every_kth(items: list, limit: int) -> list:
    if limit >= len(items):
        return items
    stride = len(items) / limit
    return [items[int(i * stride)] for i in range(limit)]


def setup_info(manifest: dict[str, Any], spec: Spec) -> dict[str, Any]:
    """The per-setup record (good LR, good range, good final val) of a spec."""
    return manifest["setups"][f"{spec.family}/{spec.setup}"]
