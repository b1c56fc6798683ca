"""Write the sample runs: one small, seeded log per supported format, each a clear case.

    python -m sample_runs.generate        # rewrites the files beside this script

The curves are simulated (exponential/power-law descent + AR(1) minibatch noise, with
a pathology switched on where the name says); the labelled benchmark corpus of real
training runs lives in ``benchmarks/corpus``. ``EXPECTED`` states each file's intended
status; ``tests/test_sample_runs.py`` holds the analyzer to it. The LR sweep in
``lr_sweep/`` is trained, not simulated: :mod:`sample_runs.generate_sweep` writes it.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WALL0 = 1_764_000_000.0  # fixed wall clock so files are reproducible

#: Relative path → the status the analyzer should give it.
EXPECTED: dict[str, str] = {
    "plain_csv/resnet18_cifar_cosine.csv": "healthy",
    "lightning/vit_lr3e-2_oscillating/metrics.csv": "oscillation",
    "keras/cnn_overfit.log": "overfitting",
    "ultralytics/yolov8n_helmets/results.csv": "healthy",
    "wandb/sweep_export.csv#tiny-lr-1e-6": "stagnation",
    "wandb/sweep_export.csv#good-lr-3e-4": "healthy",
    "hf/bert_base_overfit/trainer_state.json": "overfitting",
    "jsonl/qwen_lora_sft/trainer_log.jsonl": "healthy",
    "jsonl/mae_probe_lr_too_small/log.txt": "stagnation",
    "tensorboard/gpt_small_lr_0.5_diverged": "divergence",
    "keras/two_runs_appended.csv#1": "healthy",
    "keras/two_runs_appended.csv#2": "overfitting",
}


def _with_sweep(expected: dict[str, str]) -> dict[str, str]:
    """Plus the trained LR sweep of ``lr_sweep/`` (see :mod:`sample_runs.generate_sweep`)."""
    from .generate_sweep import EXPECTED as SWEEP

    return {**expected, **{f"lr_sweep/{name}": status for name, status in SWEEP.items()}}


EXPECTED = _with_sweep(EXPECTED)


def ar1(rng: np.random.Generator, n: int, phi: float = 0.5) -> np.ndarray:
    """Unit-variance AR(1) noise."""
    e = rng.standard_normal(n)
    out = np.empty(n)
    out[0] = e[0]
    for i in range(1, n):
        out[i] = phi * out[i - 1] + math.sqrt(1 - phi**2) * e[i]
    return out


def descent(n: int, start: float, floor: float, rate: float) -> np.ndarray:
    """A smooth exponential descent from ``start`` towards ``floor``."""
    t = np.arange(n)
    return floor + (start - floor) * np.exp(-rate * t / n)


def cosine_lr(n: int, peak: float, warmup: int = 0) -> np.ndarray:
    t = np.arange(n)
    lr = 0.5 * peak * (1 + np.cos(np.pi * np.clip((t - warmup) / max(n - warmup, 1), 0, 1)))
    if warmup:
        lr[:warmup] = peak * (t[:warmup] + 1) / warmup
    return lr


def write_csv(path: Path, header: list[str], rows: list[list[object]], pad: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        if pad:
            fh.write(",".join(h.rjust(pad) for h in header) + "\n")
            for r in rows:
                fh.write(
                    ",".join(
                        f"{v:.5g}".rjust(pad) if isinstance(v, float) else str(v).rjust(pad)
                        for v in r
                    )
                    + "\n"
                )
            return
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _f(v: float) -> str:
    return "" if v is None else f"{v:.6g}"


def plain_csv(rng: np.random.Generator) -> None:
    n = 600
    lr = cosine_lr(n, 1e-3, warmup=30)
    train = descent(n, 2.3, 0.35, 4.0) * (1 + 0.04 * ar1(rng, n))
    val_steps = np.arange(49, n, 50)
    val = descent(n, 2.2, 0.45, 4.0)[val_steps] * (1 + 0.01 * rng.standard_normal(len(val_steps)))
    rows = []
    for s in range(n):
        v = val[list(val_steps).index(s)] if s in val_steps else None
        rows.append([s, _f(train[s]), _f(v), _f(lr[s]), _f(WALL0 + 2.0 * s)])
    write_csv(
        HERE / "plain_csv/resnet18_cifar_cosine.csv",
        ["step", "train_loss", "val_loss", "lr", "wall_time"],
        rows,
    )


def lightning_oscillating(rng: np.random.Generator) -> None:
    n = 800
    warm = 200
    lr = np.where(np.arange(n) < warm, 3e-2 * (np.arange(n) + 1) / warm, 3e-2)
    base = descent(n, 2.0, 0.6, 3.0)
    swing = np.where(lr > 1e-2, 0.35 * (lr / 3e-2), 0.0)
    flip = np.where((np.arange(n) // 10) % 2 == 0, 1.0, -1.0)  # alternates between logged steps
    train = base * (1 + 0.03 * ar1(rng, n)) + swing * flip * (0.6 + 0.4 * rng.random(n))
    rows = []
    for s in range(9, n, 10):
        rows.append(["", _f(lr[s]), s, "", ""])
        rows.append([s // 100, "", s, _f(train[s]), ""])
        if (s + 1) % 100 == 0:
            rows.append([s // 100, "", s, "", _f(base[s] + 0.3 + 0.2 * rng.random())])
    write_csv(
        HERE / "lightning/vit_lr3e-2_oscillating/metrics.csv",
        ["epoch", "lr-AdamW", "step", "train_loss", "val_loss"],
        rows,
    )


def keras_overfit(rng: np.random.Generator) -> None:
    n = 40
    t = np.arange(n)
    train = descent(n, 1.6, 0.05, 5.0) * (1 + 0.02 * rng.standard_normal(n))
    val = (
        0.55 + 0.9 * np.exp(-t / 4) + 0.012 * np.maximum(t - 12, 0) + 0.01 * rng.standard_normal(n)
    )
    rows = [
        [
            int(e),
            _f(0.5 + 0.5 * (1 - train[e] / 1.6)),
            _f(train[e]),
            _f(0.6 + 0.02 * e / n),
            _f(val[e]),
            _f(1e-3),
        ]
        for e in t
    ]
    write_csv(
        HERE / "keras/cnn_overfit.log",
        ["epoch", "accuracy", "loss", "val_accuracy", "val_loss", "lr"],
        rows,
    )


def keras_appended(rng: np.random.Generator) -> None:
    rows = []
    for run, (n, overfit) in enumerate([(15, False), (30, True)]):
        t = np.arange(n)
        train = descent(n, 1.2, 0.1 if overfit else 0.3, 4.0) * (1 + 0.02 * rng.standard_normal(n))
        val = (
            0.4
            + 0.8 * np.exp(-t / 3)
            + (0.02 * np.maximum(t - 8, 0) if overfit else 0)
            + 0.01 * rng.standard_normal(n)
        )
        rows += [[int(e), _f(train[e]), _f(val[e]), _f(1e-3 if run == 0 else 3e-3)] for e in t]
    write_csv(
        HERE / "keras/two_runs_appended.csv", ["epoch", "loss", "val_loss", "learning_rate"], rows
    )


def ultralytics(rng: np.random.Generator) -> None:
    n = 60
    t = np.arange(n)
    lr = np.where(t < 3, 0.01 * (t + 1) / 3, 0.01 * (1 - 0.99 * t / n))
    comp = {
        k: descent(n, a, b, 3.0) * (1 + 0.015 * rng.standard_normal(n))
        for k, (a, b) in {"box": (1.6, 0.9), "cls": (2.8, 0.7), "dfl": (1.5, 1.05)}.items()
    }
    val = {
        k: descent(n, a * 1.05, b * 1.1, 3.0) * (1 + 0.01 * rng.standard_normal(n))
        for k, (a, b) in {"box": (1.6, 0.9), "cls": (2.8, 0.7), "dfl": (1.5, 1.05)}.items()
    }
    header = [
        "epoch",
        "train/box_loss",
        "train/cls_loss",
        "train/dfl_loss",
        "metrics/precision(B)",
        "metrics/recall(B)",
        "metrics/mAP50(B)",
        "metrics/mAP50-95(B)",
        "val/box_loss",
        "val/cls_loss",
        "val/dfl_loss",
        "lr/pg0",
        "lr/pg1",
        "lr/pg2",
    ]
    rows = []
    for e in t:
        m = 1 - math.exp(-e / 15)
        rows.append(
            [
                int(e),
                comp["box"][e],
                comp["cls"][e],
                comp["dfl"][e],
                0.8 * m,
                0.7 * m,
                0.75 * m,
                0.5 * m,
                val["box"][e],
                val["cls"][e],
                val["dfl"][e],
                lr[e],
                lr[e],
                lr[e],
            ]
        )
    write_csv(HERE / "ultralytics/yolov8n_helmets/results.csv", header, rows, pad=22)


def wandb_export(rng: np.random.Generator) -> None:
    n = 400
    runs = {
        "tiny-lr-1e-6": 2.30 - 0.02 * np.arange(n) / n + 0.03 * ar1(rng, n),
        "good-lr-3e-4": descent(n, 2.3, 0.4, 4.0) * (1 + 0.03 * ar1(rng, n)),
    }
    header = ["Step"]
    for name in runs:
        header += [f"{name} - train/loss", f"{name} - train/loss__MIN", f"{name} - train/loss__MAX"]
    rows = []
    for s in range(n):
        row: list[object] = [s * 10]
        for y in runs.values():
            row += [_f(y[s]), _f(y[s] - 0.05), _f(y[s] + 0.05)]
        rows.append(row)
    write_csv(HERE / "wandb/sweep_export.csv", header, rows)


def hf_overfit(rng: np.random.Generator) -> None:
    total, log_every, eval_every = 3000, 25, 250
    history = []
    steps = np.arange(log_every, total + 1, log_every)
    lr = 5e-5 * (1 - steps / total)
    train = descent(len(steps), 0.7, 0.02, 5.0) * (1 + 0.05 * ar1(rng, len(steps)))
    for i, s in enumerate(steps):
        history.append(
            {
                "epoch": round(s / 1000, 4),
                "grad_norm": float(2 + rng.random()),
                "learning_rate": float(lr[i]),
                "loss": round(float(train[i]), 4),
                "step": int(s),
            }
        )
        if s % eval_every == 0:
            k = s // eval_every
            ev = (
                0.30
                + 0.25 * math.exp(-k / 1.5)
                + 0.018 * max(k - 4, 0)
                + 0.004 * rng.standard_normal()
            )
            history.append(
                {
                    "epoch": round(s / 1000, 4),
                    "eval_loss": float(ev),
                    "eval_runtime": 12.5,
                    "eval_samples_per_second": 80.0,
                    "step": int(s),
                }
            )
    history.append(
        {
            "epoch": 3.0,
            "step": total,
            "total_flos": 1.2e15,
            "train_loss": 0.12,
            "train_runtime": 1900.0,
            "train_samples_per_second": 50.5,
        }
    )
    state = {
        "best_metric": None,
        "epoch": 3.0,
        "global_step": total,
        "log_history": history,
        "logging_steps": log_every,
        "max_steps": total,
        "num_train_epochs": 3,
        "train_batch_size": 16,
    }
    path = HERE / "hf/bert_base_overfit/trainer_state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2))


def jsonl_runs(rng: np.random.Generator) -> None:
    total = 1200
    steps = np.arange(10, total + 1, 10)
    lr = cosine_lr(total + 1, 1e-4, warmup=100)[steps]
    train = descent(len(steps), 1.9, 0.9, 3.0) * (1 + 0.03 * ar1(rng, len(steps)))
    lines = []
    for i, s in enumerate(steps):
        lines.append(
            {
                "current_steps": int(s),
                "total_steps": total,
                "loss": round(float(train[i]), 4),
                "lr": float(lr[i]),
                "epoch": round(float(s) / 400, 4),
                "percentage": round(100 * s / total, 2),
                "elapsed_time": f"0:{s // 60:02d}:00",
                "remaining_time": "0:10:00",
            }
        )
        if s % 200 == 0:
            lines.append(
                {
                    "current_steps": int(s),
                    "total_steps": total,
                    "eval_loss": float(
                        1.6 - 0.4 * (1 - math.exp(-s / 400)) + 0.005 * rng.standard_normal()
                    ),
                }
            )
    lines.append({"current_steps": total, "total_steps": total, "epoch": 3.0, "percentage": 100.0})
    path = HERE / "jsonl/qwen_lora_sft/trainer_log.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))

    n = 40
    train = 4.6 - 0.004 * np.arange(n) + 0.01 * rng.standard_normal(n)
    test = 4.2 - 0.003 * np.arange(n) + 0.008 * rng.standard_normal(n)
    path = HERE / "jsonl/mae_probe_lr_too_small/log.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(
            json.dumps(
                {
                    "train_lr": 1e-7,
                    "train_loss": float(train[e]),
                    "test_loss": float(test[e]),
                    "test_acc1": 10.0 + 0.01 * e,
                    "epoch": e,
                    "n_parameters": 1025000,
                }
            )
            + "\n"
            for e in range(n)
        )
    )


def tensorboard_diverged(rng: np.random.Generator) -> None:
    from tensorboardX import SummaryWriter

    out = HERE / "tensorboard/gpt_small_lr_0.5_diverged"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    n = 700
    base = descent(n, 10.8, 3.5, 3.0) * (1 + 0.02 * ar1(rng, n))
    blow = np.where(np.arange(n) > 450, np.exp((np.arange(n) - 450) / 30.0), 1.0)
    loss = base * blow
    loss[620:] = np.nan
    writer = SummaryWriter(logdir=str(out), flush_secs=3600)
    for s in range(n):
        writer.add_scalar("train/loss", float(loss[s]), s, walltime=WALL0 + s)
        writer.add_scalar("train/learning_rate", 0.5, s, walltime=WALL0 + s)
    writer.close()
    for f in out.glob("events.out.tfevents.*"):
        f.rename(out / "events.out.tfevents.1764000000.lrtempo-sample")


def main() -> None:
    rng = np.random.default_rng(20261125)
    for make in (
        plain_csv,
        lightning_oscillating,
        keras_overfit,
        keras_appended,
        ultralytics,
        wandb_export,
        hf_overfit,
        jsonl_runs,
        tensorboard_diverged,
    ):
        make(rng)


if __name__ == "__main__":
    main()
