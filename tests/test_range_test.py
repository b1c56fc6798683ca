"""LR range tests: a real exponential LR ramp (PyTorch, digits) saved the way lr finders do."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from analyzer.analysis import analyze_run
from lrtempo.cli import main
from analyzer.range_test import FALL_SHARE, RULE, fall_lr, ramp_kind, read_range_test, smooth
from analyzer.readers import read_sources
from benchmarks.corpus.train import TrainParams, train

torch = pytest.importorskip("torch")


@cache
def lr_find(
    start: float = 1e-6, end: float = 10.0, steps: int = 150, linear: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """torch-lr-finder's loop on digits: SGD+momentum, LR × const each step (or + const:
    ``linear``), raw batch loss, stopped when the loss exceeds 20× its best."""
    from sklearn.datasets import load_digits

    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X = torch.tensor((X - X.mean(0)) / (X.std(0) + 1e-8), dtype=torch.float32)
    y = torch.tensor(y)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    opt = torch.optim.SGD(model.parameters(), lr=start, momentum=0.9)
    gamma = (end / start) ** (1 / (steps - 1))
    gen = torch.Generator().manual_seed(0)
    lrs, losses = [], []
    for i in range(steps):
        lr = start + (end - start) * i / (steps - 1) if linear else start * gamma**i
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, len(X), (64,), generator=gen)
        loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        lrs.append(lr)
        losses.append(float(loss.detach()))
        if not math.isfinite(losses[-1]) or losses[-1] > 20 * min(losses):
            break  # torch-lr-finder's diverge_th stop
    return np.array(lrs), np.array(losses)


def write_lr_find_csv(path: Path) -> None:
    lrs, losses = lr_find()
    rows = "\n".join(f"{a:.9g},{b:.9g}" for a, b in zip(lrs, losses))
    path.write_text("lr,loss\n" + rows + "\n")


def test_lr_finder_csv_is_read_as_a_range_test(tmp_path: Path) -> None:
    path = tmp_path / "lr_find.csv"
    write_lr_find_csv(path)
    run = read_sources([str(path)]).runs[0]
    a = analyze_run(run)
    assert a.roles.lr == "lr" and a.roles.train_loss == "loss"
    assert a.status == "healthy" and a.findings == ()
    t = a.lr_range_test
    assert t is not None and t.ramp == "exponential" and t.rule == RULE == "90% of the fall"
    assert t.min_loss_lr / 30 < t.suggested_lr < t.min_loss_lr
    assert t.steepest_lr is not None and t.steepest_lr <= t.min_loss_lr
    assert t.blowup_lr is not None and t.blowup_lr > t.min_loss_lr
    # SGD+momentum on standardized digits trains well around 1e-2..1e-1: the reading agrees
    assert 1e-3 <= t.suggested_lr <= 1e-1
    assert t.confidence >= 0.6
    # the loss it read is really lowest near min_loss_lr (raw data, not the smoothing's say)
    lrs, losses = lr_find()
    near = (lrs > t.min_loss_lr / 3) & (lrs < t.min_loss_lr * 3)
    assert np.median(losses[near]) < 0.5 * losses[0]
    # the suggestion is where the raw loss has made most of its fall, not far before it:
    # just above it the loss is near the floor, a decade below it far above the floor
    start, floor = float(np.median(losses[:10])), float(np.median(losses[near]))
    just_above = (lrs >= t.suggested_lr) & (lrs < t.suggested_lr * 1.5)
    decade_below = (lrs > t.suggested_lr / 15) & (lrs < t.suggested_lr / 7)
    assert np.median(losses[just_above]) < start - 0.7 * (start - floor)
    assert np.median(losses[decade_below]) > start - 0.5 * (start - floor)


def test_range_test_in_the_json_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_lr_find_csv(tmp_path / "lr_find.csv")
    assert main(["analyze", str(tmp_path / "lr_find.csv"), "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    rt = run["lr_range_test"]
    assert set(rt) >= {
        "suggested_lr",
        "steepest_lr",
        "min_loss_lr",
        "blowup_lr",
        "rule",
        "confidence",
    }
    assert run["status"] == "healthy" and run["findings"] == []
    assert main(["analyze", str(tmp_path / "lr_find.csv")]) == 0
    assert "LR range test: suggested" in capsys.readouterr().out


def test_training_runs_are_not_range_tests() -> None:
    # a constant-LR run and a warm-up+cosine run: no ramp
    for sched in ("constant", "warmup_cosine", "exp"):
        res = train(
            TrainParams(
                dataset="digits", model="mlp", optimizer="adam", lr=1e-3, steps=300, schedule=sched
            )
        )
        assert ramp_kind((res.train_step.astype(float), res.lr)) is None
    # a run stopped during a linear warm-up (1e-5 -> 3e-3, 2.5 decades): the loss falls,
    # nothing blows up: not a range test
    lrs, losses = lr_find(1e-5, 3e-3, 300, linear=True)
    steps = np.arange(len(lrs), dtype=float)
    assert ramp_kind((steps, lrs)) == "linear"
    assert read_range_test((steps, lrs), (steps, losses)) is None


def test_a_linear_range_test_that_blows_up_is_read() -> None:
    lrs, losses = lr_find(1e-4, 5.0, 200, linear=True)
    steps = np.arange(len(lrs), dtype=float)
    t = read_range_test((steps, lrs), (steps, losses))
    assert t is not None and t.ramp == "linear" and t.blowup_lr is not None


def test_a_range_test_that_never_blew_up_is_flagged_as_less_sure() -> None:
    lrs, losses = lr_find(1e-6, 1e-2, 120)  # stops below the good LRs
    steps = np.arange(len(lrs), dtype=float)
    t = read_range_test((steps, lrs), (steps, losses))
    assert t is not None and t.blowup_lr is None and t.confidence <= 0.6


def test_lr_finder_history_json_is_read_as_a_range_test(tmp_path: Path) -> None:
    lrs, losses = lr_find()
    path = tmp_path / "lr_finder_history.json"  # json.dump(lr_finder.history, f, indent=2)
    path.write_text(json.dumps({"lr": lrs.tolist(), "loss": losses.tolist()}, indent=2))
    result = read_sources([str(path)])
    assert not result.errors
    a = analyze_run(result.runs[0])
    assert a.lr_range_test is not None and a.status == "healthy"
    csv = tmp_path / "csv"
    csv.mkdir()
    write_lr_find_csv(csv / "lr_find.csv")
    b = analyze_run(read_sources([str(csv / "lr_find.csv")]).runs[0])
    assert a.lr_range_test.suggested_lr == pytest.approx(b.lr_range_test.suggested_lr, rel=1e-6)


def test_the_suggestion_is_where_the_smoothed_loss_made_90_percent_of_its_fall() -> None:
    # flat at 2.0, a linear fall to 0.2 over 44 steps (20..64), flat, then a blow-up
    s = np.concatenate(
        [np.full(20, 2.0), np.linspace(2.0, 0.2, 45), np.full(20, 0.2), np.linspace(0.2, 5.0, 20)]
    )
    at = np.logspace(-6, 1, len(s))
    i_min = int(np.argmin(s))
    # 90 % of the 1.8 fall = 39.6 steps of 1.8/44: reached 40 steps into the fall
    assert FALL_SHARE == 0.9 and fall_lr(at, s, i_min) == pytest.approx(at[60])
    assert fall_lr(at, s, i_min, share=0.6) == pytest.approx(at[47])  # 26.4 steps
    # never past the minimum, even when the loss only rises
    up = np.linspace(1.0, 3.0, 30)
    assert fall_lr(at[:30], up, 0) == at[0]
    # and read_range_test agrees on the same curve (smoothing keeps a linear fall linear)
    steps = np.arange(len(s), dtype=float)
    t = read_range_test((steps, at), (steps, s))
    assert t is not None and t.suggested_lr == pytest.approx(
        fall_lr(at, smooth(s), int(np.argmin(smooth(s))))
    )
    assert at[57] <= t.suggested_lr <= at[62] and t.blowup_lr is not None
