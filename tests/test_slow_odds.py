"""The too-slow odds (``detect_slow_odds``): a calibrated logistic reading of the LR's
place in its optimizer's range and the shape of both losses, for runs no threshold
called."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from analyzer.analysis import analyze_run
from analyzer.detectors import (
    DEFAULT_CONFIG,
    detect_slow_odds,
    odds_features,
    too_slow_odds,
)
from analyzer.model import Run, RunMeta, frame_from_columns

N = 600
EVERY = 20  # one evaluation per 20 steps


def gentle(gain: float, tau: float, n: int = N, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A loss that falls by about ``gain`` with time constant ``tau`` (steps), 1 % noise."""
    x = np.arange(n, dtype=float)
    y = 2.0 * (1 - gain * (1 - np.exp(-x / tau)) / (1 - np.exp(-n / tau)))
    return x, y * np.exp(np.random.default_rng(seed).normal(0, 0.01, n))


def smooth_val(gain: float, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """The val loss of :func:`gentle` without noise, every :data:`EVERY` steps."""
    x = np.arange(0, N, EVERY, dtype=float)
    return x, 2.1 * (1 - gain * (1 - np.exp(-x / tau)) / (1 - np.exp(-N / tau)))


def bouncy_val(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A val loss that falls fast and then bounces ±5 % around its floor."""
    x = np.arange(0, N, EVERY, dtype=float)
    y = 0.3 + 1.8 * np.exp(-x / 30)
    return x, y * np.exp(np.random.default_rng(seed).normal(0, 0.05, len(x)))


SLOW = (gentle(0.4, 2000.0), smooth_val(0.35, 2000.0))  # a crawl with no fast opening
FAST = (gentle(0.85, 30.0), bouncy_val())  # most of the fall in the first tenth


@pytest.mark.parametrize(
    ("name", "step"),
    [
        ("below_range", +0.5),  # further below the optimizer's range: more likely too slow
        ("val_bounce", -0.5),  # a val loss that bounces more: an LR that moves the weights
        ("train_gain", -0.2),  # …
        ("train_early", -0.2),  # a faster opening fall: less likely
        ("val_early", -0.2),
    ],
)
def test_each_statistic_moves_the_fitted_odds_the_way_its_physics_says(
    name: str, step: float
) -> None:
    base = dict(zip(DEFAULT_CONFIG.slow_odds.features, DEFAULT_CONFIG.slow_odds.mean, strict=True))
    moved = base | {name: base[name] + step}
    assert too_slow_odds(moved, DEFAULT_CONFIG.slow_odds) > too_slow_odds(
        base, DEFAULT_CONFIG.slow_odds
    )


def test_a_smooth_crawl_below_the_optimizers_range_is_too_slow() -> None:
    [f] = detect_slow_odds(*SLOW, 1e-5, (1e-4, "adam"))
    assert f.kind == "stagnation" and f.severity == "warning"
    assert f.evidence["diagnosis"] == "too_slow" and f.evidence["path"] == "odds"
    assert f.confidence == f.evidence["p_too_slow"] >= DEFAULT_CONFIG.slow_odds.threshold
    assert f.evidence["below_range"] == pytest.approx(1.0)
    assert "10.0× below the usual adam range" in f.message


@pytest.mark.parametrize(
    ("losses", "lr", "usual"),
    [
        (SLOW, 1e-3, (1e-4, "adam")),  # the same crawl at the top of Adam's range
        (FAST, 1e-5, (1e-4, "adam")),  # 10× below, but it fell fast and then bounced
        (SLOW, 1e-5, None),  # no optimizer known: no prior, no odds
        ((SLOW[0], None), 1e-5, (1e-4, "adam")),  # no val loss to read
    ],
)
def test_the_odds_need_the_prior_and_the_shape_together(
    losses: tuple, lr: float, usual: tuple[float, str] | None
) -> None:
    assert detect_slow_odds(*losses, lr, usual) == []


def test_the_threshold_is_the_models_cut_off() -> None:
    feats = odds_features(*SLOW, 1e-5, 1e-4)
    assert feats is not None
    p = too_slow_odds(feats, DEFAULT_CONFIG.slow_odds)
    above = dataclasses.replace(DEFAULT_CONFIG.slow_odds, threshold=min(1.0, p + 0.01))
    assert (
        detect_slow_odds(
            *SLOW, 1e-5, (1e-4, "adam"), dataclasses.replace(DEFAULT_CONFIG, slow_odds=above)
        )
        == []
    )


def run_of(params: dict[str, str], lr: float) -> Run:
    (tx, ty), (vx, vy) = SLOW
    metric = ["train_loss"] * N + ["val_loss"] * len(vx) + ["lr"] * N
    step = [*tx, *vx, *tx]
    value = [*ty, *vy, *([lr] * N)]
    meta = RunMeta(id="r", name="r", source="csv", location="r.csv", params=params)
    return Run(meta=meta, frame=frame_from_columns(metric, step, [float(v) for v in value]))


def test_analyze_run_raises_a_too_slow_lr_of_a_known_optimizer() -> None:
    # 3.3× below AdamW's range: too little for the below-range rule (≥ 10×) alone
    a = analyze_run(run_of({"optimizer": "AdamW"}, 3e-5))
    [f] = [f for f in a.findings if f.severity != "info"]
    assert f.evidence["path"] == "odds" and a.status == "stagnation"
    assert a.suggestion is not None and a.suggestion.action == "increase_lr"
    assert a.suggestion.suggested_lr is not None and a.suggestion.suggested_lr > 3e-5


@pytest.mark.parametrize(
    "params",
    [
        {},  # optimizer unknown
        {"optimizer": "AdamW", "task": "finetune"},  # a fine-tune setting
        {"optim": "adamw_torch", "_name_or_path": "bert-base-uncased"},  # a pretrained start
    ],
)
def test_analyze_run_leaves_the_odds_out_without_a_from_scratch_prior(
    params: dict[str, str],
) -> None:
    a = analyze_run(run_of(params, 3e-5))
    assert all(f.evidence.get("path") != "odds" for f in a.findings)
