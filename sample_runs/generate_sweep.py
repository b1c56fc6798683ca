"""Write ``sample_runs/lr_sweep/``: a real LR sweep, 4 trainings that differ only in LR.

    python -m sample_runs.generate_sweep      # rewrites the CSVs beside this script

Unlike the simulated samples of :mod:`sample_runs.generate`, these runs are trained:
corpus 1's numpy trainer (:mod:`benchmarks.corpus.train`), a 32-unit MLP on scikit-learn's
digits, Adam, 300 steps of batch 32, seed 0, at LRs 1e-4, 1e-3, 1e-2 and 1e-1. Each run
is a CSV (``step,train_loss,val_loss,lr``), as a training script's logger writes it; the
folder is one group, so ``lrtempo analyze sample_runs/lr_sweep`` reads one sweep and the
dashboard's Sweeps page plots it. ``EXPECTED`` holds the status each run should get.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent / "lr_sweep"
LRS = (1e-4, 1e-3, 1e-2, 1e-1)
STEPS = 300

#: File name → the status the analyzer should give it (tests/test_sample_runs.py).
EXPECTED: dict[str, str] = {
    "digits_mlp_adam_lr1e-4.csv": "stagnation",
    "digits_mlp_adam_lr1e-3.csv": "healthy",
    "digits_mlp_adam_lr1e-2.csv": "healthy",
    "digits_mlp_adam_lr1e-1.csv": "oscillation",
}


def file_name(lr: float) -> str:
    return f"digits_mlp_adam_lr{lr:.0e}.csv".replace("e-0", "e-")


def main() -> None:
    from benchmarks.corpus.train import TrainParams, train

    HERE.mkdir(exist_ok=True)
    for lr in LRS:
        res = train(
            TrainParams(
                dataset="digits",
                model="mlp",
                optimizer="adam",
                lr=lr,
                steps=STEPS,
                batch_size=32,
                seed=0,
            )
        )
        tr = pd.DataFrame({"step": res.train_step, "train_loss": res.train_loss, "lr": res.lr})
        va = pd.DataFrame({"step": res.val_step, "val_loss": res.val_loss})
        out = tr.merge(va, on="step", how="left")[["step", "train_loss", "val_loss", "lr"]]
        out.to_csv(HERE / file_name(lr), index=False, float_format="%.6g")


if __name__ == "__main__":
    main()
