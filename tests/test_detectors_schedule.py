"""Rules that read the loss together with the LR schedule or the optimizer's usual range:
oscillation at the peak LR that a step cut hid (``detect_peak_phase``), an LR far below
its usual range (``detect_below_range``), a noise floor whose LR was already cut, and a
val loss first evaluated after a minibatch loss that only bounced."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.analysis import analyze_run
from analyzer.detectors import detect_below_range, detect_peak_phase, detect_stagnation
from analyzer.detectors.peak_phase import peak_phase_end
from analyzer.model import Run, RunMeta, frame_from_columns

N = 600


def step_lr(peak: float, cut_at: int, n: int = N, gamma: float = 0.1) -> np.ndarray:
    return np.where(np.arange(n) < cut_at, peak, peak * gamma)


def cosine_lr(peak: float, n: int = N) -> np.ndarray:
    return peak * 0.5 * (1 + np.cos(np.pi * np.arange(n) / n))


def bouncing_then_rescued(seed: int, cut_at: int = 360) -> tuple[np.ndarray, np.ndarray]:
    """Train loss that falls, then bounces period-2 with growing swings at the peak LR,
    then falls smoothly after the cut."""
    rng = np.random.default_rng(seed)
    x = np.arange(N, dtype=float)
    y = 0.4 + 1.0 * np.exp(-x / 40)
    grow = np.clip((x - 100) / 100, 0, 1) * (x < cut_at)
    y = y + 0.25 * grow * (-1.0) ** np.arange(N) + 0.15 * grow
    after = x >= cut_at
    y[after] = 0.15 + 0.25 * np.exp(-(x[after] - cut_at) / 30)
    return x, y * np.exp(rng.normal(0, 0.01, N))


def smooth_staircase(seed: int, cut_at: int = 360) -> tuple[np.ndarray, np.ndarray]:
    """Healthy step-schedule loss: fast fall to a noise floor, a further drop at the cut."""
    rng = np.random.default_rng(seed)
    x = np.arange(N, dtype=float)
    y = 0.3 + 1.1 * np.exp(-x / 40)
    after = x >= cut_at
    y[after] = 0.2 + 0.1 * np.exp(-(x[after] - cut_at) / 20)
    return x, y * np.exp(rng.normal(0, 0.01, N))


# --- peak phase ----------------------------------------------------------------------


def test_peak_phase_end_is_the_step_cut_not_a_smooth_decay() -> None:
    x = np.arange(N, dtype=float)
    assert peak_phase_end((x, step_lr(0.1, 360))) == 360.0
    assert peak_phase_end((x, cosine_lr(0.1))) is None  # passes half the peak smoothly
    assert peak_phase_end((x, np.full(N, 0.1))) is None  # never cut
    warm = np.minimum(1.0, (x + 1) / 30) * step_lr(0.1, 360)  # a warm-up, then the step
    assert peak_phase_end((x, warm)) == 360.0


@pytest.mark.parametrize("seed", range(5))
def test_oscillation_at_the_peak_lr_hidden_by_the_cut_is_found(seed: int) -> None:
    x, y = bouncing_then_rescued(seed)
    lr = (x, step_lr(0.3, 360))
    [f] = detect_peak_phase((x, y), None, lr)
    assert f.kind == "oscillation" and f.severity == "warning"
    assert f.evidence["path"] == "peak_phase" and f.evidence["peak_phase_end"] == 360.0
    assert f.end_step < 360 and f.evidence["lr_at_onset"] == pytest.approx(0.3)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_minibatch_noise_growing_at_the_peak_beside_a_smooth_val_is_no_oscillation(
    seed: int,
) -> None:
    """A minibatch loss gets noisier as the easy examples are learnt while a val pass over
    a fixed set falls smoothly: the weights are not bouncing. The full-run train path
    already set such "growth" aside (``_minibatch_noise``); the peak-phase path did not
    (two healthy runs and two too-small ones read as oscillating in corpus 2)."""
    from analyzer.analysis import analyze_series

    rng = np.random.default_rng(seed)
    t = np.arange(1, N + 1, dtype=float)
    lr = (t, np.where(t <= 360, 1e-3, 1e-4))
    sd = 0.005 + 0.08 * (1 - np.exp(-t / 100))
    train = (t, 0.5 + 0.17 * np.exp(-t / 120) + sd * rng.standard_normal(N))
    vx = np.arange(15, N + 1, 15, dtype=float)
    val = (vx, 0.54 + 0.11 * np.exp(-vx / 100))
    [f] = detect_peak_phase(train, val, lr)  # the detector alone sees growth …
    assert f.evidence["phase_path"] == "growth"
    findings, _ = analyze_series(train, val, lr)  # … the analysis knows it for noise
    assert not [g for g in findings if g.kind == "oscillation"]


@pytest.mark.parametrize("seed", range(5))
def test_a_healthy_staircase_is_not_flagged(seed: int) -> None:
    x, y = smooth_staircase(seed)
    assert detect_peak_phase((x, y), None, (x, step_lr(0.1, 360))) == []


def test_peak_phase_needs_a_cut_after_a_third_of_the_run() -> None:
    x, y = bouncing_then_rescued(0, cut_at=120)
    assert detect_peak_phase((x, y), None, (x, step_lr(0.3, 120))) == []


# --- far below the usual range -------------------------------------------------------


def crawl(gain: float, n: int = N) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(n, dtype=float)
    return x, 2.0 * (1 - gain * x / (n - 1))


def test_an_lr_far_below_its_range_whose_loss_barely_moved_is_too_small() -> None:
    [f] = detect_below_range(None, crawl(0.05), 1e-6, (1e-4, "adam"))
    assert f.kind == "stagnation" and f.severity == "warning"
    assert f.evidence["diagnosis"] == "too_slow" and f.evidence["path"] == "below_range"
    assert f.evidence["below_usual"] == pytest.approx(100.0)
    assert f.metric == "val_loss"
    [g] = detect_below_range(crawl(0.05), None, 1e-6, (1e-4, "adam"))  # no val: the train loss
    assert g.metric == "train_loss"


def bend(gain: float, n: int = N) -> tuple[np.ndarray, np.ndarray]:
    """A loss that gains ``gain`` and has bent towards its floor by the first quarter."""
    x = np.arange(n, dtype=float)
    return x, 2.0 * (1 - gain * (1 - np.exp(-x / (n / 12))))


@pytest.mark.parametrize(
    ("lr", "loss"),
    [
        (1e-6, bend(0.5)),  # far below, but the loss halved and bent: it trains
        (1e-5, bend(0.05)),  # only 10× below and bent towards a floor: converged
        (3e-5, crawl(0.05)),  # a line, but only 3× below: the prior is not evidence
    ],
)
def test_below_range_needs_both_the_prior_and_the_curve(
    lr: float, loss: tuple[np.ndarray, np.ndarray]
) -> None:
    assert detect_below_range(None, loss, lr, (1e-4, "adam")) == []


def test_far_below_its_range_a_small_gain_is_enough_bent_or_not() -> None:
    assert detect_below_range(None, bend(0.05), 3e-6, (1e-4, "adam"))


def test_a_decade_below_its_range_a_loss_still_falling_in_a_line_is_too_slow() -> None:
    # 10× below Adam's range (logged as float32) and a descent that does not bend
    lr32 = float(np.float32(1e-5))
    [f] = detect_below_range(None, crawl(0.4), lr32, (1e-4, "adam"))
    assert f.evidence["path"] == "below_range" and f.evidence["below_usual"] == pytest.approx(10.0)
    assert detect_below_range(None, bend(0.4), lr32, (1e-4, "adam")) == []


def speed_up(gain: float, n: int = N) -> tuple[np.ndarray, np.ndarray]:
    """A loss that gains ``gain``, most of it in its second half (it speeds up)."""
    x = np.arange(n, dtype=float)
    return x, 2.0 * (1 - gain * (x / (n - 1)) ** 3)


def test_a_decade_below_its_range_a_loss_that_speeds_up_has_not_bent_either() -> None:
    # the second half gains ~7x the first: no floor in sight (the shape test's upper
    # bound, which tells a slow start from a crawl, does not apply far below the range)
    [f] = detect_below_range(None, speed_up(0.4), 1e-5, (1e-4, "adam"))
    assert f.evidence["diagnosis"] == "too_slow" and f.evidence["path"] == "below_range"
    assert detect_below_range(None, speed_up(0.4), 1e-4, (1e-4, "adam")) == []  # in range


def test_below_range_without_a_usual_range_says_nothing() -> None:
    assert detect_below_range(None, crawl(0.01), 1e-9, None) == []


def run_of(series: dict[str, np.ndarray], params: dict[str, str], name: str = "r") -> Run:
    metric, step, value = [], [], []
    for m, v in series.items():
        metric += [m] * len(v)
        step += list(range(len(v)))
        value += list(v)
    meta = RunMeta(id=name, name=name, source="csv", location=name, params=params)
    return Run(meta=meta, frame=frame_from_columns(metric, step, value))


def test_analyze_run_raises_an_lr_far_below_its_optimizers_range() -> None:
    x = np.arange(N, dtype=float)
    lr = cosine_lr(3e-5)  # momentum SGD: usual 1e-2 … 1e-1
    noise = np.exp(np.random.default_rng(0).normal(0, 0.01, N))
    loss = 1.5 * (1 - 0.15 * (1 - np.exp(-x / 80))) * noise  # bends early, gains 15 %
    run = run_of({"train_loss": loss, "lr": lr}, {"optimizer": "momentum"})
    a = analyze_run(run)
    assert a.status == "stagnation"
    assert a.suggestion is not None and a.suggestion.action == "increase_lr"
    assert a.suggestion.suggested_lr is not None and a.suggestion.suggested_lr > 3e-5
    assert [f.evidence.get("path") for f in a.findings if f.severity != "info"] == ["below_range"]
    # the same curve with an optimizer whose range the LR is in: not this reading
    same = run_of({"train_loss": loss, "lr": lr * 10}, {"optimizer": "adam"})
    assert all(f.evidence.get("path") != "below_range" for f in analyze_run(same).findings)


# --- stagnation read with the schedule ---------------------------------------------


def test_a_plateau_through_which_the_lr_was_cut_is_the_schedule_not_a_noise_floor() -> None:
    rng = np.random.default_rng(3)
    x = np.arange(800, dtype=float)
    y = (0.01 + 0.25 * np.exp(-x / 40)) * np.exp(rng.normal(0, 0.02, 800))
    cut_inside = np.where(x < 320, 0.01, np.where(x < 560, 3e-3, 1e-3))
    constant = np.full(800, 0.01)
    [f] = detect_stagnation(x, y, lr=(x, constant))
    assert f.evidence["diagnosis"] == "noise_floor" and f.severity == "warning"
    [g] = detect_stagnation(x, y, lr=(x, cut_inside))
    assert g.evidence["diagnosis"] == "schedule_end" and g.severity == "info"


def test_a_minibatch_loss_that_only_bounced_before_the_first_evaluation_learnt_nothing() -> None:
    rng = np.random.default_rng(5)
    x = np.arange(800, dtype=float)
    train = 0.9 * np.exp(rng.normal(0, 0.08, 800))  # noise, no trend
    vx = np.arange(20, 820, 20, dtype=float)
    val = 0.893 - 0.004 * (vx / 800)  # 0.4 % over the run
    [f] = detect_stagnation(vx, val, metric="val_loss", reference=(x, train))
    assert f.evidence["diagnosis"] == "stuck" and f.severity == "warning"
    learnt = np.where(x < 20, 1.8 - 0.045 * x, 0.9) * np.exp(rng.normal(0, 0.01, 800))
    [g] = detect_stagnation(vx, val, metric="val_loss", reference=(x, learnt))
    assert g.evidence["diagnosis"] != "stuck"
