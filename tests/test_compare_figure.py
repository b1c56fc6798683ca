"""The Compare figure as data: smoothing, x by step / epoch / wall time, no empty LR panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import compare_figure as C


def series(steps, values, seconds_per_step: float = 2.0) -> pd.DataFrame:
    steps = np.asarray(steps, dtype=np.int64)
    return pd.DataFrame(
        {
            "step": steps,
            "value": np.asarray(values, dtype=float),
            "wall_time": 1.7e9 + steps.astype(float) * seconds_per_step,
        }
    )


def _run(
    label: str, lr: bool = True, epoch: pd.DataFrame | None = None, sps: float = 2.0, n: int = 400
) -> C.CompareRun:
    steps = np.arange(n)
    rng = np.random.default_rng(len(label))
    train = series(steps, 2 * np.exp(-steps / 100) + 0.3 + 0.1 * rng.standard_normal(n), sps)
    val = series(steps[::50], 2 * np.exp(-steps[::50] / 100) + 0.4, sps)
    return C.CompareRun(
        label, "healthy", train, val, series(steps, np.full(n, 1e-3), sps) if lr else None, epoch
    )


def _trace(fig, suffix: str, i: int = 0):
    return next(t for t in fig.data if t.meta == f"run{i}:{suffix}")


def test_no_lr_logged_draws_no_lr_panel() -> None:
    fig = C.compare_figure([_run("a", lr=False), _run("b", lr=False)])
    assert "yaxis2" not in fig.layout.to_plotly_json()
    assert fig.layout.xaxis.title.text == "step" and fig.layout.yaxis.title.text == "loss"
    fig = C.compare_figure([_run("a", lr=False), _run("b")])  # one LR: the panel is back
    assert fig.layout.yaxis2.title.text == "LR" and fig.layout.xaxis2.title.text == "step"


def test_smoothing_zero_is_the_raw_loss_and_more_smoothing_is_smoother() -> None:
    runs = [_run("a")]
    raw = np.asarray(_trace(C.compare_figure(runs, smoothing=0.0), "train").y)
    np.testing.assert_allclose(raw, runs[0].train["value"].to_numpy())
    rough = [
        np.abs(np.diff(np.asarray(_trace(C.compare_figure(runs, smoothing=s), "train").y))).sum()
        for s in (0.0, 0.6, 0.95)
    ]
    assert rough[0] > rough[1] > rough[2]


def test_wall_time_axis_is_hours_since_each_runs_start() -> None:
    fig = C.compare_figure([_run("a", sps=2.0), _run("b", sps=18.0)], x_mode="time")
    assert fig.layout.xaxis2.title.text == "hours since start"
    a, b = _trace(fig, "train", 0), _trace(fig, "train", 1)
    assert a.x[0] == pytest.approx(0) and b.x[0] == pytest.approx(0)
    assert a.x[-1] == pytest.approx(399 * 2 / 3600) and b.x[-1] == pytest.approx(399 * 18 / 3600)


def test_epoch_axis_of_per_step_whole_epochs_is_fractional() -> None:
    n = 400  # 100 steps an epoch, the epoch logged at every step as 0, 0, …, 1, 1, …
    epoch = series(np.arange(n), np.arange(n) // 100)
    fig = C.compare_figure([_run("a", epoch=epoch)], x_mode="epoch", smoothing=0.0)
    assert fig.layout.xaxis2.title.text == "epoch"
    x = np.asarray(_trace(fig, "train").x)
    assert np.all(np.diff(x) > 0)  # no vertical bars, no sawtooth
    np.testing.assert_allclose(x, np.arange(n) / 100)
    lr_x = np.asarray(_trace(fig, "lr").x)
    np.testing.assert_allclose(lr_x, np.arange(n) / 100)


def test_epoch_axis_falls_back_to_steps_when_a_run_has_no_epoch() -> None:
    epoch = series(np.arange(400), np.arange(400) // 100)
    fig = C.compare_figure([_run("a", epoch=epoch), _run("b")], x_mode="epoch")
    assert fig.layout.xaxis2.title.text == "step (not every run has an epoch metric)"
    assert _trace(fig, "train", 0).x[-1] == 399
