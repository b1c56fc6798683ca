"""Each detector against synthetic ground truth, silence on healthy runs, and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.analysis import analyze_run
from analyzer.detectors import (
    detect_divergence,
    detect_oscillation,
    detect_overfitting,
    detect_stagnation,
    detect_val_oscillation,
)
from analyzer.schedule import recognise
from analyzer.stats import (
    equivalence_test,
    reduce_blocks,
    tau_vs_order,
    trend_test,
    turning_point_test,
)
from analyzer.suggest import OSCILLATION_FACTOR
from benchmarks import curves as S

SEEDS = range(5)


def kinds(findings, severity_at_least="warning"):
    rank = {"info": 0, "warning": 1, "critical": 2}
    return [f.kind for f in findings if rank[f.severity] >= rank[severity_at_least]]


# --- oscillation ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("onset_frac", [0.0, 0.3, 0.6])
def test_val_oscillation_found_after_its_onset(seed: int, onset_frac: float) -> None:
    s = S.val_oscillation(seed=seed, onset_frac=onset_frac)
    vx, vy = s.truth["val_steps"], s.truth["val_values"]
    [f] = detect_val_oscillation(vx, vy, train=(s.steps, s.values), lr=(s.steps, s.lr))
    assert f.kind == "oscillation" and f.metric == "val_loss"
    assert f.evidence["path"] == "validation" and f.evidence["lr_at_onset"] == pytest.approx(0.3)
    assert f.start_step >= s.truth["onset_step"] - 0.1 * len(s.steps)
    # the train loss alone is just noisy: the train detector does not see it
    assert detect_oscillation(s.steps, s.values) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_val_oscillation_is_scale_free(seed: int) -> None:
    s = S.val_oscillation(seed=seed)
    a = detect_val_oscillation(
        s.truth["val_steps"], s.truth["val_values"], train=(s.steps, s.values)
    )
    b = detect_val_oscillation(
        s.truth["val_steps"], 1e-4 * s.truth["val_values"], train=(s.steps, 1e-4 * s.values)
    )
    assert [(f.start_step, f.end_step) for f in a] == [(f.start_step, f.end_step) for f in b]
    assert len(a) == 1


@pytest.mark.parametrize("seed", SEEDS)
def test_val_oscillation_silent_on_healthy_overfitting_and_memorisation(seed: int) -> None:
    h = S.healthy(n=1000, seed=seed, noise=0.05, eval_every=10)
    assert (
        detect_val_oscillation(
            h.truth["val_steps"], h.truth["val_values"], train=(h.steps, h.values)
        )
        == []
    )
    o = S.overfitting(seed=seed, noise=0.1)
    assert (
        detect_val_oscillation(
            o.truth["val_steps"], o.truth["val_values"], train=(o.steps, o.values)
        )
        == []
    )
    # erratic val far above a train loss that went to ~0: a memorisation gap, not the LR
    s = S.val_oscillation(seed=seed)
    assert (
        detect_val_oscillation(
            s.truth["val_steps"], s.truth["val_values"], train=(s.steps, 0.01 * s.values)
        )
        == []
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_val_logged_every_step_on_random_batches_is_not_oscillation(seed: int) -> None:
    """Dense val points with sampling noise (a random val batch per step) average out."""
    rng = np.random.default_rng(seed)
    t = np.arange(10_000, dtype=float)
    train = 2.5 * np.exp(-t / 2000) + 0.5 + 0.05 * rng.standard_normal(len(t))
    val = train + 0.1 + 0.01 * rng.standard_normal(len(t))
    assert detect_val_oscillation(t, val, train=(t, train)) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_early_val_oscillation_that_settles_ends_where_the_lr_steps_down(seed: int) -> None:
    s = S.val_oscillation_settles(seed=seed)
    a = analyze_run(S.to_run(s))
    [f] = [f for f in a.findings if f.kind == "oscillation"]
    assert f.metric == "val_loss" and f.start_step <= 0.1 * len(s.steps)
    assert f.end_step < s.truth["drop_step"] <= f.evidence["lr_drop_step"]
    assert f.evidence["settled_bounce"] < 0.005
    sug = a.suggestion
    assert (sug.action, sug.current_lr, sug.factor) == (
        "decrease_lr",
        1.0,
        pytest.approx(OSCILLATION_FACTOR),
    )


def _steep_then_calm(early_bounce: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """40 evaluations: the val loss falls 8× over the first 16 while jumping up and back
    down by ``early_bounce`` (relative) every evaluation, then moves ±3 % around 0.5."""
    rng = np.random.default_rng(seed)
    vx = np.arange(15.0, 615.0, 15.0)
    early = np.exp(np.linspace(np.log(10.0), np.log(1.25), 16))
    early *= 1 + early_bounce * np.where(np.arange(16) % 2 == 0, 1.0, -1.0)
    late = 0.5 * (1 + 0.03 * rng.standard_normal(24))
    return vx, np.concatenate([early, late])


@pytest.mark.parametrize("seed", SEEDS)
def test_a_large_early_bounce_that_calms_down_is_an_lr_too_large_early(seed: int) -> None:
    """Swings of ±15 % while falling 8× (rises of ~7 % per evaluation: too steep a fall
    for the back-and-forth test), then ±3 % (over the absolute settling bar): the
    settling path by the relative contrast. With ±10 % swings (rises of ~3 %, under the
    bounce-alone bar) it is not."""
    t = np.arange(600.0)
    train = (t, 2.0 * np.exp(-t / 150) + 0.4)
    [f] = detect_val_oscillation(*_steep_then_calm(0.15, seed), train=train)
    assert 0.005 < f.evidence["settled_bounce"] < 0.5 * f.evidence["val_bounce"]
    assert f.end_step <= 0.45 * 600
    assert detect_val_oscillation(*_steep_then_calm(0.10, seed), train=train) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_early_oscillation_then_overfitting_reports_both_and_keeps_the_checkpoint(
    seed: int,
) -> None:
    s = S.val_oscillation_settles(seed=seed, overfit_frac=0.6)
    a = analyze_run(S.to_run(s))
    assert sorted(kinds(a.findings)) == ["oscillation", "overfitting"]
    assert a.suggestion.action == "decrease_lr"
    assert a.suggestion.early_stop_step == s.truth["best_step"]


@pytest.mark.parametrize("seed", SEEDS)
def test_val_bouncing_in_place_is_an_lr_too_large(seed: int) -> None:
    s = S.val_bouncing_in_place(seed=seed)
    a = analyze_run(S.to_run(s))
    assert a.status == "oscillation"
    assert a.suggestion.action == "decrease_lr" and a.suggestion.suggested_lr < 2.0


def _val_jumping_near_its_best() -> tuple[np.ndarray, np.ndarray]:
    """40 evaluations alternating ±6 % around a level that falls 10 %: near its best
    throughout (no level test passes), but jumping 5 % per evaluation."""
    k = np.arange(40)
    return 10.0 * k + 9, np.exp(np.log(0.8) - 0.1 * k / 39 + 0.06 * (-1.0) ** k)


@pytest.mark.parametrize("seed", SEEDS)
def test_val_jumping_with_the_weights_is_oscillation_when_the_train_loss_also_bounces(
    seed: int,
) -> None:
    vx, vy = _val_jumping_near_its_best()
    tx = np.arange(400, dtype=float)
    rng = np.random.default_rng(seed)
    jumps = 0.06 * (-1.0) ** (tx // 10)  # the weights jump between evaluations …
    noisy = 1.2 * np.exp(-tx / 400 + jumps + 0.05 * rng.standard_normal(400))  # … minibatches
    [f] = detect_val_oscillation(vx, vy, train=(tx, noisy))
    assert f.kind == "oscillation" and f.evidence["val_bounce"] >= 0.04
    # the same val loss beside a train loss that falls smoothly (an epoch mean): the
    # weights do not jump, the val set's own noise at a low loss does
    smooth = 1.2 * np.exp(-tx / 400)
    assert detect_val_oscillation(vx, vy, train=(tx, smooth)) == []
    # a train loss logged only as often as the val loss cannot tell weights from noise
    assert detect_val_oscillation(vx, vy, train=(vx, noisy[vx.astype(int)])) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_stuck_at_a_tiny_lr_with_a_smooth_val_is_not_oscillation(seed: int) -> None:
    s = S.stagnation(seed=seed, variant="stuck")
    rng = np.random.default_rng(seed)
    vs = np.arange(9, len(s.steps), 10)
    val = 2.4 - 0.002 * vs / len(s.steps) + 0.001 * rng.standard_normal(len(vs))
    assert detect_val_oscillation(vs, val, train=(s.steps, s.values), lr=(s.steps, s.lr)) == []


def test_val_oscillation_names_a_best_checkpoint_only_when_all_later_evals_are_worse() -> None:
    rng = np.random.default_rng(0)
    vs = np.arange(20) * 10
    bouncing = 1.0 * np.exp(0.15 * rng.uniform(-1, 1, 20))
    clear = bouncing.copy()
    clear[2] = 0.5  # far below everything after it
    [f] = detect_val_oscillation(vs, clear)
    assert f.evidence["best_val_step"] == 20
    lucky = bouncing.copy()
    lucky[2] = bouncing.min() * 0.99  # a dip the later bounces come back to
    assert all("best_val_step" not in g.evidence for g in detect_val_oscillation(vs, lucky))


def test_val_oscillation_pre_empts_a_lucky_best_checkpoint() -> None:
    s = S.val_oscillation(seed=1, onset_frac=0.2)
    run = S.to_run(s)
    a = analyze_run(run)
    assert a.status == "oscillation"
    assert not any(f.kind == "overfitting" for f in a.findings)
    assert a.suggestion.action == "decrease_lr" and a.suggestion.suggested_lr < 0.3


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("onset_frac", [0.3, 0.5, 0.7])
def test_oscillation_onset_and_lr(seed: int, onset_frac: float) -> None:
    s = S.oscillation(n=1000, seed=seed, onset_frac=onset_frac)
    f = detect_oscillation(s.steps, s.values, lr=(s.steps, s.lr))
    assert len(f) == 1 and f[0].kind == "oscillation"
    onset = s.truth["onset_step"]
    assert abs(f[0].start_step - onset) <= 0.1 * len(s.steps)
    lr_on = f[0].evidence["lr_at_onset"]
    assert lr_on == pytest.approx(s.lr[f[0].start_step])
    assert 0.5 * s.truth["lr_at_onset"] <= lr_on <= 1.5 * s.truth["lr_at_onset"]
    assert f[0].evidence["p_value"] < 0.01 and 0 < f[0].confidence <= 1


def test_oscillation_period_two_from_start() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(400)
    y = 1.0 + 0.01 * rng.standard_normal(400) + 0.2 * np.where(t % 2 == 0, 1, -1)
    f = detect_oscillation(t, y)
    assert len(f) == 1 and f[0].evidence["sign_flip_rate"] > 0.9


@pytest.mark.parametrize("seed", SEEDS)
def test_minibatch_noise_on_descent_is_not_oscillation(seed: int) -> None:
    s = S.healthy(n=2000, seed=seed, noise=0.1, ar=0.0)
    assert detect_oscillation(s.steps, s.values, lr=(s.steps, s.lr)) == []


# --- stagnation ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "variant,diagnosis,severity",
    [
        ("stuck", "stuck", "warning"),
        ("noise_floor", "noise_floor", "warning"),
        ("lr_collapse", "lr_collapsed", "warning"),
        ("schedule_end", "schedule_end", "info"),
    ],
)
def test_stagnation_variants(seed: int, variant: str, diagnosis: str, severity: str) -> None:
    s = S.stagnation(n=1000, seed=seed, variant=variant)
    f = detect_stagnation(s.steps, s.values, lr=(s.steps, s.lr))
    assert len(f) == 1
    assert f[0].evidence["diagnosis"] == diagnosis
    assert f[0].severity == severity
    assert abs(f[0].start_step - s.truth["plateau_step"]) <= 0.15 * len(s.steps)


@pytest.mark.parametrize("drift", [-0.01, 0.01])
def test_a_plateaus_message_gives_the_change_with_its_sign(drift: float) -> None:
    # a noisy floor that drifts 1 % down (or up) over the plateau: the message says
    # "-1…%" for a loss that fell, as the evidence and the suggestion do
    rng = np.random.default_rng(3)
    t = np.arange(600, dtype=float)
    y = (1 + 2 * np.exp(-t / 30)) * (1 + drift * t / 600) * np.exp(0.05 * rng.standard_normal(600))
    f = detect_stagnation(t, y, lr=(t, np.full(600, 1e-3)))
    assert len(f) == 1
    fell = f[0].evidence["rel_improvement"] > 0
    assert ("changed by -" in f[0].message) == fell
    assert ("changed by +" in f[0].message) == (not fell)


def _noisy_descent(
    n: int, seed: int, freeze: int | None, lr_after: float
) -> tuple[np.ndarray, ...]:
    """A minibatch loss with 15 % noise that falls while the LR is 1e-2 and stops
    falling once the LR drops to ``lr_after`` at ``freeze``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    stop = n if freeze is None else freeze
    y = (0.9 + 0.9 * np.exp(-np.minimum(t, stop) / 20)) * np.exp(0.15 * rng.standard_normal(n))
    lr = np.where(t < stop, 1e-2, lr_after)
    return t, y, lr


@pytest.mark.parametrize("seed", SEEDS)
def test_an_lr_frozen_early_is_a_collapse_even_when_the_loss_is_too_noisy_for_a_plateau(
    seed: int,
) -> None:
    t, y, lr = _noisy_descent(1000, seed, freeze=60, lr_after=1e-7)
    [f] = detect_stagnation(t, y, lr=(t, lr))
    assert f.evidence["diagnosis"] == "lr_collapsed" and f.severity == "warning"
    assert f.start_step == 60 and f.evidence["path"] == "frozen_lr"


@pytest.mark.parametrize("seed", SEEDS)
def test_a_step_schedule_ending_at_one_percent_is_not_frozen(seed: int) -> None:
    t, y, _ = _noisy_descent(1000, seed, freeze=None, lr_after=0.0)
    lr = 1e-2 * np.where(t < 300, 1.0, np.where(t < 600, 0.1, 0.01))
    assert all(f.evidence.get("path") != "frozen_lr" for f in detect_stagnation(t, y, lr=(t, lr)))


@pytest.mark.parametrize("seed", SEEDS)
def test_a_reduce_on_plateau_staircase_is_planned_not_a_collapse(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(1000, dtype=float)
    # the LR halved, then quartered, … at uneven steps as the loss slowed down
    drops = ((100, 0.5), (150, 0.25), (230, 0.5), (260, 0.2), (400, 0.5))
    lr = np.full(1000, 1e-2)
    for at, k in drops:
        lr[at:] *= k
    done = np.cumsum(lr) / 1e-2  # the loss moves with the LR
    y = (0.9 + 0.9 * np.exp(-done / 80)) * np.exp(0.01 * rng.standard_normal(1000))
    found = detect_stagnation(t, y, lr=(t, lr))
    assert recognise(t, lr).name == "reduce_on_plateau"
    assert found and all(f.evidence["diagnosis"] != "lr_collapsed" for f in found)
    assert all(f.severity == "info" for f in found)


def test_no_significant_decrease_on_few_points_is_not_a_plateau() -> None:
    rng = np.random.default_rng(0)
    y = 1.0 + 0.2 * rng.standard_normal(10)  # too noisy to prove anything
    assert detect_stagnation(np.arange(10), y) == []


def test_val_plateau_while_train_improves() -> None:
    rng = np.random.default_rng(1)
    vs = np.arange(0, 100, 5)
    val = 0.8 + 0.005 * rng.standard_normal(len(vs))
    t = np.arange(100)
    train = 0.3 + 0.7 * np.exp(-t / 40)
    f = detect_stagnation(vs, val, metric="val_loss", reference=(t, train))
    assert len(f) == 1 and f[0].evidence["diagnosis"] == "val_plateau"
    inside = vs >= f[0].start_step
    assert f[0].evidence["best_step"] == vs[inside][np.argmin(val[inside])]


def test_val_flat_while_train_gains_little_is_not_a_val_plateau() -> None:
    """A converging run's train loss still gains a few % while val is flat: not a gap."""
    rng = np.random.default_rng(2)
    vs = np.arange(0, 100, 5)
    val = 0.8 + 0.005 * rng.standard_normal(len(vs))
    t = np.arange(100)
    train = 0.5 * (1 - 0.08 * t / 100)  # −8 % over the run
    f = detect_stagnation(vs, val, metric="val_loss", reference=(t, train))
    assert all(x.evidence["diagnosis"] != "val_plateau" for x in f)


def test_a_settled_val_after_the_train_set_is_learnt_is_no_val_plateau() -> None:
    """Train loss down to ≤ 5 % of its opening (the train set is learnt) and a val loss
    that no longer moves (bounce < 2 %/point): the run converged; the same val with a
    train loss still far from done is a val plateau (the run to stop early)."""
    vs = np.arange(25, 1000, 25)
    val = 0.45 + 0.5 * np.exp(-vs / 30.0)
    t = np.arange(1000)
    learnt = 2.3 * np.exp(-t / 60.0) + 1e-4
    still_learning = 0.3 + 2.0 * np.exp(-t / 300.0)
    done = detect_stagnation(vs, val, metric="val_loss", reference=(t, learnt))
    assert [(f.evidence["diagnosis"], f.severity) for f in done] == [("learnt", "info")]
    assert "training loss is down to under 5%" in done[0].message
    going = detect_stagnation(vs, val, metric="val_loss", reference=(t, still_learning))
    assert [f.evidence["diagnosis"] for f in going] == ["val_plateau"]
    assert going[0].severity == "warning"


# --- overfitting ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("best_frac", [0.2, 0.4, 0.6])
def test_overfitting_best_step(seed: int, best_frac: float) -> None:
    s = S.overfitting(seed=seed, best_frac=best_frac)
    f = detect_overfitting(s.truth["val_steps"], s.truth["val_values"], s.steps, s.values)
    assert len(f) == 1 and f[0].kind == "overfitting" and f[0].severity == "warning"
    assert abs(f[0].evidence["best_val_step"] - s.truth["best_step"]) <= 50  # one eval
    assert f[0].evidence["rise_pct"] > 5
    assert f[0].evidence["train_rising"] == 0.0


def test_single_val_spike_is_not_overfitting() -> None:
    vs = np.arange(20)
    v = 1.0 * np.exp(-vs / 8) + 0.5
    v[10] *= 3.0
    assert detect_overfitting(vs, v) == []


def test_noisy_flat_val_is_not_overfitting() -> None:
    rng = np.random.default_rng(5)
    hits = 0
    for _ in range(50):
        v = 1.0 + 0.05 * rng.standard_normal(30)
        hits += bool(detect_overfitting(np.arange(30), v))
    assert hits <= 3


def _noisy_val_after_a_fall(seed: int, later: float, n: int = 12) -> tuple[np.ndarray, ...]:
    """``n`` evaluations: a fall to 0.29 over the first quarter, then ±6 % noise around
    ``later`` × 0.30; train keeps falling 1.0 → 0.2 throughout."""
    rng = np.random.default_rng(seed)
    vx = np.arange(n, dtype=float) * 100
    q = n // 4
    level = np.where(np.arange(n) < q, 0.6 - 0.3 * np.arange(n) / q, 0.30 * later)
    vy = level * np.exp(0.06 * rng.standard_normal(n))
    vy[q : q + 2] = 0.29  # the best: two evaluations
    tx = np.arange(0.0, vx[-1] + 1, 10)
    ty = 1.0 - 0.8 * tx / tx[-1]
    return vx, vy, tx, ty


@pytest.mark.parametrize("seed", SEEDS)
def test_a_short_noisy_val_sustained_above_its_best_is_overfitting(seed: int) -> None:
    [f] = detect_overfitting(*_noisy_val_after_a_fall(seed, later=1.25))
    assert f.severity == "warning" and f.evidence["path"] in ("sustained", "significant")


@pytest.mark.parametrize("seed", SEEDS)
def test_a_short_noisy_val_that_stays_at_its_best_is_not_overfitting(seed: int) -> None:
    assert detect_overfitting(*_noisy_val_after_a_fall(seed, later=0.97)) == []  # at 0.29


def test_a_small_steady_climb_after_the_best_is_an_info_stop_soon() -> None:
    vx = np.arange(10, dtype=float) * 100
    # a fast fall, then +0.4 %, +1.1 %, +1.1 %, +1.3 %: the fall's curvature hides the climb
    vy = np.array([0.660, 0.555, 0.519, 0.494, 0.489, 0.4853, 0.4873, 0.4906, 0.4907, 0.4917])
    [f] = detect_overfitting(vx, vy)
    assert (f.severity, f.evidence["path"], f.evidence["best_val_step"]) == ("info", "steady", 500)
    bumpy = vy.copy()
    bumpy[8] = bumpy[7] * 0.999  # one step down: not steady
    assert all(g.evidence["path"] != "steady" for g in detect_overfitting(vx, bumpy))


def test_the_sustained_path_needs_the_train_loss_to_keep_improving() -> None:
    vx, vy, tx, _ = _noisy_val_after_a_fall(0, later=1.25)
    flat_train = np.full(len(tx), 0.5)
    found = detect_overfitting(vx, vy, tx, flat_train)
    assert all(f.evidence["path"] != "sustained" for f in found)


# --- divergence ----------------------------------------------------------------------


def analyze_run_status(steps: np.ndarray, train: np.ndarray) -> str:
    """The status of a run with this train loss only."""
    return analyze_run(S.to_run(S.Synthetic(steps, train, None, {}))).status


@pytest.mark.parametrize("variant", ["nan", "explosion", "drift", "collapse", "zero"])
def test_divergence_variants(variant: str) -> None:
    s = S.divergence(seed=1, variant=variant)
    f = detect_divergence(s.steps, s.values)
    assert len(f) == 1 and f[0].kind == "divergence"
    assert abs(f[0].start_step - s.truth["onset_step"]) <= 0.1 * len(s.steps) + 1
    if variant == "zero":
        assert f[0].evidence["degenerate_zero"] == 1.0
    if variant == "collapse":
        assert f[0].evidence["collapse_value"] == pytest.approx(np.log(32000))
        assert round(f[0].evidence["exp_collapse_value"]) == 32000
    if variant in ("nan", "collapse", "zero", "explosion"):
        assert f[0].severity == "critical"


@pytest.mark.parametrize("seed", SEEDS)
def test_non_finite_values_the_run_comes_back_from_are_info_not_divergence(seed: int) -> None:
    h = S.healthy(n=300, seed=seed)
    early = h.values.copy()
    early[:4] = [np.inf, np.nan, np.nan, np.inf]  # an evaluation before the model predicts
    one = h.values.copy()
    one[50] = np.inf  # a batch skipped under mixed precision
    for y, first in ((early, 0), (one, 50)):
        found = detect_divergence(h.steps, y)
        assert [(f.kind, f.severity, f.evidence["path"]) for f in found] == [
            ("divergence", "info", "recovered")
        ]
        assert found[0].start_step == first
        assert analyze_run_status(h.steps, y) == "healthy"
    # NaN that stays, or comes back far above where it was, is still a divergence
    stays = h.values.copy()
    stays[200:] = np.nan
    worse = h.values.copy()
    worse[100] = np.nan
    worse[101:] = 50 * worse[99]
    for y in (stays, worse):
        [f] = detect_divergence(h.steps, y)
        assert (f.kind, f.severity) == ("divergence", "critical")


@pytest.mark.parametrize("seed", SEEDS)
def test_an_explosion_the_run_recovers_from_is_a_spike_not_divergence(seed: int) -> None:
    h = S.healthy(n=1000, seed=seed)
    y = h.values.copy()
    y[400:420] *= 5.0  # a 20-step blow-up, then training carries on
    [f] = detect_divergence(h.steps, y)
    assert (f.kind, f.severity, f.evidence["path"]) == ("oscillation", "warning", "spike")
    assert (f.start_step, f.end_step) == (400, 419)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_blow_up_from_the_first_tenth_that_ends_far_above_the_start_is_divergence(
    seed: int,
) -> None:
    # a char transformer at 300x its good LR (one-cycle): 4.8 -> ~600 by step 40, a peak
    # near 9,000, then down to ~120 as the schedule decays: below the early maximum the
    # blow-up had already lifted, but 25x where it began: not a spike it recovered from
    rng = np.random.default_rng(seed)
    t = np.arange(400.0)
    y = 4.8 * np.exp(8.0 * np.sin(np.pi * np.minimum(t, 360) / 400) ** 0.5 - 0.02 * t / 40)
    y = np.maximum(y, 4.8) * np.exp(0.1 * rng.standard_normal(400))
    y[:3] = 4.8
    ends = np.median(y[-40:]) / 4.8
    assert ends > 10 and np.median(y[-40:]) < y[:40].max()  # the case the spike rule took
    [f] = detect_divergence(t, y)
    assert (f.kind, f.severity) == ("divergence", "critical")


def _thrown_out_classifier(seed: int, val_end: float) -> tuple:
    """A binary classifier at ~300x its good LR (one-cycle): the minibatch loss jumps from
    0.69 to ~1e3 within the first steps and, as the LR decays, comes back to the untrained
    0.69 (it predicts one class); the val loss, first evaluated after the blow-up, falls
    from ~1e3 to ``val_end``."""
    rng = np.random.default_rng(seed)
    t = np.arange(600.0)
    bump = 1e3 * np.exp(-(((t - 150) / 120) ** 2))
    y = (0.69 + bump) * np.exp(0.05 * rng.standard_normal(600))
    y[:2] = 0.69
    vt = np.arange(15.0, 601, 15)
    v = val_end + 1e3 * np.exp(-vt / 60) * np.exp(0.02 * rng.standard_normal(len(vt)))
    return (t, y), (vt, v)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_blow_up_the_train_loss_came_back_from_but_not_the_val_loss_is_divergence(
    seed: int,
) -> None:
    """The minibatch loss back at the untrained level is no recovery when the val loss
    ends 100x that level: the weights never came back (a real elu MLP at x300 its good
    LR was read as an oscillation spike)."""
    from analyzer.analysis import analyze_series

    train, val = _thrown_out_classifier(seed, val_end=70.0)
    findings, _ = analyze_series(train, val)
    [f] = [f for f in findings if f.severity != "info"]
    assert (f.kind, f.severity, f.metric) == ("divergence", "critical", "val_loss")
    assert f.evidence["val_end_ratio"] > 50 and f.evidence["train_path"] in ("spike", "excursion")
    # the same blow-up whose val loss came back near the untrained level: a spike
    findings, _ = analyze_series(*_thrown_out_classifier(seed, val_end=0.9))
    assert {f.kind for f in findings if f.severity != "info"} == {"oscillation"}


@pytest.mark.parametrize("seed", SEEDS)
def test_a_loss_blown_up_in_its_first_steps_is_divergence(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = np.concatenate([[1.4], 20.0 * np.exp(0.3 * rng.standard_normal(599))])
    [f] = detect_divergence(np.arange(600), y)
    assert (f.kind, f.severity) == ("divergence", "critical") and f.start_step <= 2
    assert f.evidence["start_ratio"] > 10


@pytest.mark.parametrize("seed", SEEDS)
def test_a_blown_up_loss_that_underflows_to_zero_on_some_batches_is_still_divergence(
    seed: int,
) -> None:
    # weights thrown out at step 1 give huge logits: a batch the model gets right then
    # has a cross-entropy of exactly 0.0 in float32 — a loss that is not signed
    rng = np.random.default_rng(seed)
    y = np.concatenate([[1.2], 1e4 * np.exp(-np.arange(599) / 150) * rng.uniform(0.5, 2, 599)])
    y[rng.choice(np.arange(100, 600), size=20, replace=False)] = 0.0
    [f] = detect_divergence(np.arange(600), y)
    assert (f.kind, f.severity) == ("divergence", "critical") and f.start_step <= 2
    neg = y - 0.5  # a signed objective still gets only the non-finite check
    assert detect_divergence(np.arange(600), neg) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_a_loss_blown_up_at_the_start_that_recovers_is_a_spike(seed: int) -> None:
    rng = np.random.default_rng(seed)
    high = 20.0 * np.exp(0.3 * rng.standard_normal(400))
    low = 1.0 * np.exp(0.05 * rng.standard_normal(199))
    y = np.concatenate([[1.4], high, low])  # blown up, then back (e.g. as the LR decayed)
    [f] = detect_divergence(np.arange(600), y)
    assert (f.kind, f.severity, f.evidence["path"]) == ("oscillation", "warning", "spike")
    assert f.start_step <= 2 and 390 <= f.end_step <= 400


def test_a_start_blow_up_exactly_at_the_limit_does_not_crash() -> None:
    # found by the 10k-example property run: the median equal to 2x the first value
    for y in (
        [5e307, 1e308, 1e308, 1.0],
        [5e307, 7.98e307, 1e308, 1e308, 1.0],
    ):  # the 2nd: median → inf
        f = detect_divergence(np.arange(len(y)), np.array(y))
        assert all(0.0 <= g.confidence <= 1.0 for g in f)


def test_a_loss_that_rises_a_little_during_warmup_is_not_blown_up() -> None:
    t = np.arange(1000.0)
    y = np.where(t < 50, 1.0 + 0.006 * t, 1.3 * np.exp(-(t - 50) / 300) + 0.4)
    assert detect_divergence(t, y) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_gan_losses_are_not_divergence(seed: int) -> None:
    s = S.gan(seed=seed)
    assert detect_divergence(s.steps, s.values) == []
    assert detect_stagnation(s.steps, s.values) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_healthy_runs_are_silent(seed: int) -> None:
    s = S.healthy(n=1000, seed=seed, eval_every=50, schedule="cosine", warmup=50)
    lr = (s.steps, s.lr)
    assert detect_divergence(s.steps, s.values) == []
    assert detect_oscillation(s.steps, s.values, lr=lr) == []
    assert kinds(detect_stagnation(s.steps, s.values, lr=lr)) == []
    assert detect_overfitting(s.truth["val_steps"], s.truth["val_values"], s.steps, s.values) == []


# --- scale invariance ----------------------------------------------------------------


def _signature(findings):
    return [(f.kind, f.metric, f.start_step, f.severity) for f in findings]


CASES = [
    ("osc", lambda: S.oscillation(seed=2)),
    ("stuck", lambda: S.stagnation(seed=2, variant="stuck")),
    ("floor", lambda: S.stagnation(seed=2, variant="noise_floor")),
    ("drift", lambda: S.divergence(seed=2, variant="drift")),
    ("ovf", lambda: S.overfitting(seed=2)),
    ("healthy", lambda: S.healthy(seed=2, eval_every=50)),
]


@pytest.mark.parametrize("name,make", CASES)
@pytest.mark.parametrize("c", [1e-4, 3.7, 1e3])
def test_scale_invariance(name, make, c: float) -> None:
    s = make()
    lr = (s.steps, s.lr)

    def run(k: float):
        out = []
        out += detect_divergence(s.steps, s.values * k)
        out += detect_oscillation(s.steps, s.values * k, lr=lr)
        out += detect_stagnation(s.steps, s.values * k, lr=lr)
        if "val_steps" in s.truth:
            out += detect_overfitting(
                s.truth["val_steps"], s.truth["val_values"] * k, s.steps, s.values * k
            )
        return _signature(out)

    assert run(c) == run(1.0)


# --- properties: any input → findings, never an exception ----------------------------

floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
arrays = st.lists(floats, min_size=0, max_size=80)
special = st.sampled_from(
    [
        [0.0] * 30,
        [1.0] * 30,
        [1e-300] * 30,
        [1e300, -1e300] * 15,
        [float("nan")] * 30,
        list(np.linspace(-5, 5, 40)),
        list(1e-4 * np.exp(-np.arange(50) / 10.0)),
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(arrays, special))
def test_detectors_never_raise(values) -> None:
    y = np.asarray(values, dtype=np.float64)
    x = np.arange(len(y))
    for f in (
        detect_divergence(x, y),
        detect_oscillation(x, y, lr=(x, np.abs(y))),
        detect_stagnation(x, y, lr=(x, y)),
        detect_overfitting(x, y, x, y),
    ):
        for g in f:
            assert 0.0 <= g.confidence <= 1.0
            g.to_dict()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6), min_size=0, max_size=40),
    st.lists(st.integers(-5, 1000), min_size=0, max_size=40),
)
def test_unsorted_and_rewound_steps(values, steps) -> None:
    n = min(len(values), len(steps))
    x, y = np.asarray(steps[:n], dtype=float), np.asarray(values[:n], dtype=float)
    detect_divergence(x, y)
    detect_oscillation(x, y)
    detect_stagnation(x, y)
    detect_overfitting(x, y)
    recognise(x, y)


# --- helpers -------------------------------------------------------------------------


def test_reduce_blocks_bounds_points() -> None:
    x = np.arange(100_003, dtype=float)
    r = reduce_blocks(x, np.sin(x), 512)
    assert len(r.values) <= 512 and r.size > 1


def test_trend_test_directions() -> None:
    x = np.arange(200.0)
    rng = np.random.default_rng(0)
    up = trend_test(x, x * 0.01 + rng.standard_normal(200) * 0.1)
    assert up.p_increase < 1e-6 and up.slope == pytest.approx(0.01, rel=0.2)
    assert trend_test(x, -x).p_decrease < 1e-6


@given(st.lists(st.integers(-3, 3), min_size=2, max_size=300))
@settings(max_examples=200, deadline=None)
def test_tau_vs_order_is_scipys_kendall_tau_b(ints: list[int]) -> None:
    from scipy import stats

    y = np.asarray(ints, dtype=np.float64) / 2.0  # few distinct values: many ties
    want = stats.kendalltau(np.arange(len(y)), y).statistic
    got = tau_vs_order(y)
    assert (np.isnan(want) and np.isnan(got)) or got == pytest.approx(want, abs=1e-12)


def test_equivalence_and_turning_points() -> None:
    rng = np.random.default_rng(0)
    x = np.arange(300.0)
    flat = 1 + 0.01 * rng.standard_normal(300)
    assert equivalence_test(x, flat, 0.02).p_value < 0.01
    assert equivalence_test(x, 1 - x / 300, 0.02).p_no_gain > 0.5
    tp = turning_point_test(np.where(np.arange(100) % 2 == 0, 1.0, -1.0))
    assert tp.flip_rate == 1.0 and tp.p_excess < 1e-6


def test_lr_before_its_first_log_follows_a_sparse_warmup_from_zero() -> None:
    from analyzer.schedule import lr_at

    steps, warm = np.array([500.0, 1000.0, 1500.0]), np.array([1.5e-3, 3e-3, 2e-3])
    assert lr_at((steps, warm), 125.0) == pytest.approx(3.75e-4)  # a quarter of the way up
    assert lr_at((steps, warm), 700.0) == pytest.approx(1.5e-3)  # last logged value
    const = np.array([1e-3, 1e-3, 1e-3])
    assert lr_at((steps, const), 125.0) == pytest.approx(1e-3)  # not rising: the first value


@pytest.mark.parametrize(
    "kind,expected",
    [
        ("constant", "constant"),
        ("cosine", "cosine"),
        ("linear", "linear"),
    ],
)
def test_schedule_recognition(kind: str, expected: str) -> None:
    lr = S.lr_schedule(1000, kind, 1e-3, warmup=50 if kind != "constant" else 0)
    sch = recognise(np.arange(1000), lr)
    assert sch.name == expected
    if kind != "constant":
        assert 40 <= sch.warmup_steps <= 60 and sch.decays


def test_schedule_step_exponential_onecycle_plateau() -> None:
    t = np.arange(1000)
    assert recognise(t, 0.1 * 0.5 ** (t // 250)).name == "step"
    assert recognise(t, 1e-3 * np.exp(-t / 300)).name == "exponential"
    oc = np.where(t < 300, 1e-3 * (0.1 + 0.9 * t / 300), 1e-3 * (1 - (t - 300) / 700) + 1e-6)
    assert recognise(t, oc).name == "one_cycle"
    plateau = np.full(1000, 1e-3)
    for s, f in ((130, 0.5), (410, 0.5), (800, 0.5)):
        plateau[s:] *= f
    assert recognise(t, plateau).name == "reduce_on_plateau"


def _trained_run(**kw):
    from benchmarks.corpus import result_to_run
    from benchmarks.corpus.train import TrainParams, train

    return result_to_run(train(TrainParams(steps=1500, eval_every=25, **kw)), "t")


@pytest.mark.parametrize(
    "dataset,optimizer,good", [("digits", "adam", 1e-3), ("wine", "sgd", 1e-2)]
)
def test_a_straight_slow_descent_is_too_slow_and_a_bending_one_is_not(
    dataset: str, optimizer: str, good: float
) -> None:
    """Really trained: at 1/100 of a good LR the loss falls in a straight line (no bend)
    by a few percent — too slow, raise the LR; at the good LR it bends — healthy."""
    from analyzer.analysis import analyze_run

    slow = analyze_run(
        _trained_run(dataset=dataset, model="mlp", optimizer=optimizer, lr=good / 100)
    )
    assert slow.status == "stagnation"
    f = next(f for f in slow.findings if f.kind == "stagnation")
    assert f.evidence["diagnosis"] in ("too_slow", "stuck")
    assert slow.suggestion.action == "increase_lr" and slow.suggestion.factor > 1
    fine = analyze_run(_trained_run(dataset=dataset, model="mlp", optimizer=optimizer, lr=good))
    assert not any(f.evidence.get("diagnosis") == "too_slow" for f in fine.findings)


def test_slow_descent_stats_tell_a_line_from_a_curve() -> None:
    from analyzer.detectors.slow_descent import slow_descent_stats

    x = np.arange(1000.0)
    rng = np.random.default_rng(0)
    line = slow_descent_stats(x, 2.0 - 2e-4 * x + 0.01 * rng.standard_normal(1000))
    curve = slow_descent_stats(x, 0.2 + 1.8 * np.exp(-x / 100) + 0.01 * rng.standard_normal(1000))
    assert 0.08 < line["gain"] < 0.12 and 0.8 < line["deceleration"] < 1.25
    assert curve["gain"] > 0.8 and curve["deceleration"] < 0.1


@pytest.mark.parametrize("seed", SEEDS)
def test_a_descent_that_takes_off_after_a_slow_start_is_not_too_slow(seed: int) -> None:
    from analyzer.detectors.slow_descent import detect_slow_descent

    rng = np.random.default_rng(seed)
    x = np.arange(1000.0)
    noise = 0.004 * rng.standard_normal(1000)
    line = 1.4 - 2.4e-4 * x + noise  # the same 17 % gain in a straight line: too slow
    take_off = 1.4 - 0.02 * np.minimum(x, 500) / 500 - 0.22 * np.maximum(x - 500, 0) / 500 + noise
    assert [f.evidence["diagnosis"] for f in detect_slow_descent((x, line))] == ["too_slow"]
    assert detect_slow_descent((x, take_off)) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_a_train_loss_is_judged_from_the_first_evaluation_like_the_val_loss(seed: int) -> None:
    """A fast fall of the first steps (the output layer finding the mean) ends before the
    first evaluation; from there both losses fall in the same straight line: too slow.
    Judged from step 0, the train loss would look as if it bent."""
    from analyzer.detectors.slow_descent import detect_slow_descent

    rng = np.random.default_rng(seed)
    s = np.arange(400.0)
    start = np.where(s < 30, 1.0 + 2.0 * np.exp(-s / 6), 1.0)
    train = start * (1 - 0.2 * s / 400) * np.exp(0.02 * rng.standard_normal(400))
    vs = np.arange(40.0, 401.0, 20.0)
    [f] = detect_slow_descent((s, train), (vs, 1.02 * (1 - 0.2 * vs / 400)))
    assert f.evidence["diagnosis"] == "too_slow" and f.start_step >= 40


def _memorising_run(bounce: float, seed: int = 0) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """A train loss falling to ~0.01 over 600 steps and a val loss that drops to ~0.6 in
    three evaluations, then jumps up and back down by ``bounce`` (relative) every
    evaluation around that level; LR constant 0.5."""
    rng = np.random.default_rng(seed)
    steps = np.arange(600.0)
    train = 2.0 * np.exp(-steps / 80) + 0.01 * (1 + 0.1 * rng.standard_normal(600))
    vx = np.arange(15.0, 600.0, 15.0)
    level = 0.6 + 1.8 * np.exp(-np.arange(len(vx)) / 0.8)
    signs = np.where(np.arange(len(vx)) % 2 == 0, 1.0, -1.0)
    val = level * (1 + bounce * signs)
    return (steps, train), (vx, val), (steps, np.full(600, 0.5))


def test_a_val_plateau_that_bounces_is_oscillation_not_a_run_to_stop() -> None:
    """Flat but jumping ~4 % per evaluation beside a train loss gone to ~0: the weights
    bounce around a level they cannot get below → oscillation (plateau_bounce), and the
    suggestion lowers the LR instead of stopping early."""
    from analyzer.analysis import analyze_series
    from analyzer.suggest import suggest

    train, val, lr = _memorising_run(0.04)
    findings, _ = analyze_series(train, val, lr)
    osc = [f for f in findings if f.kind == "oscillation"]
    assert osc and osc[0].evidence.get("path") == "plateau_bounce", [
        (f.kind, dict(f.evidence)) for f in findings
    ]
    assert suggest(findings, lr=lr).action == "decrease_lr"
    calm, _ = analyze_series(*_memorising_run(0.0005)[:2], lr)  # the same plateau, smooth
    assert not any(f.kind == "oscillation" for f in calm)


def test_a_val_loss_bouncing_wildly_is_oscillation_despite_a_memorisation_gap() -> None:
    """Jumping ~15 % per evaluation: memorisation (overfitting) does not bounce so, so the
    gap to a train loss near 0 no longer makes it overfitting (``oscillation.val_wild``)."""
    from analyzer.analysis import analyze_series

    train, val, lr = _memorising_run(0.15)
    findings, _ = analyze_series(train, val, lr)
    kinds = {f.kind for f in findings if f.severity != "info"}
    assert "oscillation" in kinds and "overfitting" not in kinds, [
        (f.kind, f.evidence.get("path")) for f in findings
    ]


def _bouncing_then_rising(per_step_train: bool) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """A val loss that falls while jumping ±6 % every evaluation, is lowest at step 400,
    then climbs 50 % (jumping ±3 %) while the train loss goes on falling; the train loss
    jumps with it (per step, ``per_step_train``) or is an epoch mean (smooth, one point
    per evaluation)."""
    vx = np.arange(20.0, 1001.0, 20.0)
    k = np.arange(len(vx))
    signs = np.where(k % 2 == 0, 1.0, -1.0)
    val = np.where(vx <= 400, 1.0 - 0.5 * vx / 400, 0.5 + 0.25 * (vx - 400) / 600)
    val = val * (1 + np.where(vx <= 400, 0.06, 0.03) * signs)
    if per_step_train:
        tx = np.arange(1.0, 1001.0)
        jump = np.where(tx <= 400, np.repeat(signs, 20)[: len(tx)], 0.0)
        train = (1.0 - 0.0009 * tx) * (1 + 0.05 * jump)
    else:
        tx, train = vx, 1.0 - 0.0009 * vx
    return (tx, train), (vx, val), (tx, np.full(len(tx), 0.01))


def test_a_val_loss_that_bounced_on_its_way_down_is_oscillation_beside_overfitting() -> None:
    """Both losses jumping while the val loss still improved is the weights bouncing: an
    oscillation finding beside the overfitting one. The same val loss beside a smooth
    epoch-mean train loss may be the val set's own noise: overfitting alone."""
    from analyzer.analysis import analyze_series

    found, _ = analyze_series(*_bouncing_then_rising(per_step_train=True))
    kinds = {f.kind for f in found if f.severity != "info"}
    assert kinds == {"oscillation", "overfitting"}, [(f.kind, f.evidence) for f in found]
    calm, _ = analyze_series(*_bouncing_then_rising(per_step_train=False))
    assert {f.kind for f in calm if f.severity != "info"} == {"overfitting"}


# --- excursion: thrown out early, then a slow way back ---------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_a_loss_thrown_far_above_its_start_that_crawls_back_is_an_excursion(seed: int) -> None:
    # Blown to ~3x its first value within the first steps (so the first tenth holds the
    # blow-up itself), then decaying back to about where it began: the run learnt nothing.
    rng = np.random.default_rng(seed)
    t = np.arange(600.0)
    y = 1.4 * (1 + 2.0 * np.exp(-t / 150) * (t > 3)) * np.exp(rng.normal(0, 0.03, t.size))
    found = detect_divergence(t, y)
    assert [(f.kind, f.evidence["path"]) for f in found] == [("oscillation", "excursion")]
    assert found[0].evidence["excursion_ratio"] >= 2.0
    # ended where it began: the LR is too large, not a warm-up problem
    run = S.to_run(S.Synthetic(t, y, np.full(t.size, 0.3), {}))
    assert analyze_run(run).suggestion.action == "decrease_lr"


@pytest.mark.parametrize("seed", SEEDS)
def test_a_flat_noisy_loss_whose_first_value_is_low_is_no_excursion(seed: int) -> None:
    # A frozen run (tiny LR) with a noisy minibatch loss: the first sample can sit far
    # below the level, but the level never leaves its final value.
    rng = np.random.default_rng(seed)
    t = np.arange(800.0)
    y = 1.3 * np.exp(rng.normal(0, 0.25, t.size))
    y[0] = 0.67  # the level is 1.94x it (under the blown-up-at-start check), its peak more
    assert detect_divergence(t, y) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_a_fall_over_the_first_few_noisy_steps_before_the_first_eval_is_learning(
    seed: int,
) -> None:
    """Logistic regression at a good LR: the minibatch loss falls from 0.8 to ~0.55 over
    the first ten steps (time constant 4) under noise of sd 0.06, the val loss first
    evaluated at step 15 is flat. No trend *within* the 14 steps before (a trend test there finds none); the
    points before sit above those after, so the model learnt before it was evaluated. The
    same noise around a level that never fell is stuck."""
    rng = np.random.default_rng(seed)
    tx = np.arange(1.0, 601.0)
    learnt = 0.55 + 0.25 * np.exp(-(tx - 1) / 4) + 0.06 * rng.standard_normal(600)
    never = 0.72 + 0.03 * rng.standard_normal(600)
    vx = np.arange(15.0, 601.0, 15.0)
    vy = 0.54 * (1 + 0.004 * rng.standard_normal(vx.size))
    fast = detect_stagnation(vx, vy, metric="val_loss", reference=(tx, learnt))
    assert all(f.evidence["diagnosis"] != "stuck" for f in fast)
    stuck = detect_stagnation(vx, vy * 0.73 / 0.54, metric="val_loss", reference=(tx, never))
    assert [f.evidence["diagnosis"] for f in stuck] == ["stuck"]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_val_loss_first_evaluated_after_the_model_learnt_is_not_stuck(seed: int) -> None:
    """Training fell 70 % before the first evaluation (a fast converger evaluated every
    30 steps): the flat val loss after it is convergence, not an LR too small; with a
    training loss that never moved either, it is stuck."""
    rng = np.random.default_rng(seed)
    tx = np.arange(600.0)
    learnt = 0.5 + 1.5 * np.exp(-tx / 5) + 0.02 * rng.standard_normal(600)
    flat = 2.0 + 0.02 * rng.standard_normal(600)
    vx = np.arange(30.0, 601.0, 30.0)
    vy = 0.55 * (1 + 0.01 * rng.standard_normal(vx.size))
    after = detect_stagnation(vx, vy, metric="val_loss", reference=(tx, learnt))
    assert after and all(f.evidence["diagnosis"] != "stuck" for f in after)
    assert all(f.evidence["train_gain_before_first_eval"] > 0.5 for f in after)
    stuck = detect_stagnation(
        vx, 2.0 + 0.0 * vy + 0.02 * (vy - 0.55), metric="val_loss", reference=(tx, flat)
    )
    assert [f.evidence["diagnosis"] for f in stuck] == ["stuck"]


# --- loss spike after training got going ---------------------------------------------


def _spiky(n: int, spike: float, at: float = 0.5, width: int = 30, recover: bool = True):
    """A loss falling from 1 to 0.01 with a jump of ``spike``× in the middle."""
    x = np.arange(n, dtype=float)
    y = np.exp(np.log(0.01) * np.minimum(x / (0.3 * n), 1.0))
    i = int(at * n)
    bump = np.ones(n)
    bump[i : i + width] = spike
    if not recover:
        bump[i:] = spike
    return x, y * bump


@pytest.mark.parametrize("seed", SEEDS)
def test_a_loss_spike_in_both_losses_that_recovers_is_oscillation(seed: int) -> None:
    from analyzer.detectors import detect_loss_spike

    rng = np.random.default_rng(seed)
    tx, ty = _spiky(1000, 20.0)
    ty = ty * np.exp(0.1 * rng.standard_normal(len(ty)))
    vx, vy = _spiky(1000, 15.0)
    keep = np.arange(9, 1000, 25)
    [f] = detect_loss_spike((tx, ty), (vx[keep], vy[keep]))
    assert f.kind == "oscillation" and f.evidence["path"] == "relapse"
    assert 300 <= f.start_step <= 500 <= f.end_step <= 600  # from where it was last at its best
    # one series alone, or a jump that never comes back (divergence's case): not this
    assert detect_loss_spike((tx, ty), (vx[keep], _spiky(1000, 1.0)[1][keep])) == []
    never = _spiky(1000, 15.0, recover=False)
    assert detect_loss_spike((tx, ty), (never[0][keep], never[1][keep])) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_a_train_only_loss_spike_needs_two_decades(seed: int) -> None:
    from analyzer.detectors import detect_loss_spike

    rng = np.random.default_rng(seed)
    for spike, want in ((1e4, 1), (20.0, 0)):
        tx, ty = _spiky(1000, spike, width=30)
        ty = ty * np.exp(0.1 * rng.standard_normal(len(ty)))
        found = detect_loss_spike((tx, ty), None)
        assert len(found) == want
        if found:
            assert found[0].metric == "train_loss" and found[0].evidence["path"] == "relapse"
    # one block only (a single bad batch in a long run) is not enough
    tx, ty = _spiky(6400, 1e4, width=1)
    assert detect_loss_spike((tx, ty), None) == []


def test_a_loss_spike_is_found_by_analyze_run_with_a_decrease() -> None:
    tx, ty = _spiky(1000, 40.0)
    keep = np.arange(9, 1000, 25)
    truth = {"val_steps": tx[keep], "val_values": _spiky(1000, 30.0)[1][keep]}
    run = S.to_run(S.Synthetic(tx, ty, np.full(len(tx), 3e-3), truth))
    a = analyze_run(run)
    assert a.status == "oscillation"
    assert a.suggestion.action == "decrease_lr" and a.suggestion.suggested_lr < 3e-3


def _memorised(floor: float, seed: int = 0) -> np.ndarray:
    """A train loss that falls from 0.7 to ``floor`` within 20 steps, then creeps up to
    3.3× ``floor`` by step 1,200 (a small train set memorised, then drifting)."""
    rng = np.random.default_rng(seed)
    x = np.arange(1200, dtype=float)
    y = floor + (0.7 - floor) * np.exp(-x / 4) + 2.3 * floor * x / x[-1]
    return y * np.exp(0.05 * rng.standard_normal(len(x)))


@pytest.mark.parametrize("seed", range(3))
def test_a_drift_within_the_last_hundredth_of_the_fall_is_no_divergence(seed: int) -> None:
    # +170 % of 3e-4 on a loss that opened at 0.7: nothing is destabilising
    assert detect_divergence(np.arange(1200), _memorised(3e-4, seed)) == []
    # the same creep where the loss still stands at a tenth of its opening level is one
    [f] = detect_divergence(np.arange(1200), _memorised(0.07, seed))
    assert f.kind == "divergence" and f.evidence["path"] == "drift"


def _jump_then_ease(x: np.ndarray, seed: int) -> np.ndarray:
    """Falls to 0.45 by step 45, jumps to 0.9 by step 90, then eases to 0.8."""
    rng = np.random.default_rng(seed)
    y = np.where(x <= 45, 1.1 - 0.65 * x / 45, np.where(x <= 90, 0.45 + 0.45 * (x - 45) / 45, 0.9))
    y = y - 0.1 * np.clip((x - 90) / (x[-1] - 90), 0, 1)
    return y * np.exp(0.03 * rng.standard_normal(len(x)))


@pytest.mark.parametrize("seed", range(3))
def test_a_val_rise_the_train_loss_carried_is_not_overfitting(seed: int) -> None:
    # both losses jumped together at a too-large LR and stayed up; the train trend after
    # the best step falls (it eases), so only the size of its rise and the unchanged
    # val - train gap tell that training itself got worse
    tx = np.arange(600, dtype=float)
    vx = np.arange(15, 601, 15, dtype=float)
    val = _jump_then_ease(vx, seed + 100)
    [f] = detect_overfitting(vx, val, tx, _jump_then_ease(tx, seed))
    assert f.evidence["train_rising"] == 1.0
    # the same val curve over a train loss that kept falling is overfitting
    [g] = detect_overfitting(vx, val, tx, 1.1 * np.exp(-tx / 200))
    assert g.evidence["train_rising"] == 0.0


def test_one_overfitting_gets_one_oscillation_finding_beside_it() -> None:
    """A val loss that bounced on its way down beside a train loss that, once fitted,
    was thrown back up a millionfold: both say "LR too large" about the same overfitting,
    and the run carries one oscillation finding for it (the relapse), not two."""
    from analyzer.analysis import analyze_series

    (tx, train), val, lr = _bouncing_then_rising(per_step_train=True)
    after = tx > 400
    train = np.where(after, np.maximum(0.64 * np.exp(-(tx - 400) / 15), 1e-9), train)
    train[(tx >= 800) & (tx < 806)] = [0.8, 0.3, 0.05, 1e-3, 1e-6, 1e-9]
    found, _ = analyze_series((tx, train), val, lr)
    osc = [f for f in found if f.kind == "oscillation"]
    assert {f.kind for f in found if f.severity != "info"} == {"oscillation", "overfitting"}
    assert [f.evidence["path"] for f in osc] == ["relapse"], [f.evidence for f in osc]
