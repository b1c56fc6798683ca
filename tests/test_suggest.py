"""The suggestion step: one action with numbers, never a change for a healthy run."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.analysis import analyze_series
from analyzer.findings import Finding
from analyzer.lr_priors import lr_prior, param_lr
from analyzer.suggest import DEFAULT_PARAMS, OSCILLATION_FACTOR, suggest
from benchmarks import curves as S


def _f(kind, severity="warning", start=100, end=200, metric="train_loss", **ev) -> Finding:
    return Finding(
        kind=kind,
        metric=metric,
        start_step=start,
        end_step=end,
        severity=severity,
        confidence=0.9,
        evidence=ev,
        message="m",
    )


def test_healthy_keeps_lr() -> None:
    steps = np.arange(100.0)
    s = suggest([], lr=(steps, np.full(100, 3e-4)))
    assert s.action == "keep_lr" and s.current_lr == s.suggested_lr == pytest.approx(3e-4)
    assert s.factor is None


def test_info_findings_keep_lr() -> None:
    s = suggest(
        [_f("stagnation", "info", diagnosis="schedule_end")], params={"learning_rate": "1e-3"}
    )
    assert s.action == "keep_lr" and s.current_lr == 1e-3


def test_keep_lr_without_any_lr_is_null() -> None:
    s = suggest([])
    assert s.action == "keep_lr" and s.current_lr is None and s.suggested_lr is None


def test_oscillation_cuts_lr_at_onset_by_a_decade() -> None:
    steps = np.arange(1000.0)
    lr = 1e-2 * (steps + 1) / 1000
    f = _f(
        "oscillation",
        start=500,
        end=999,
        onset_step=500.0,
        lr_at_onset=float(lr[500]),
        sign_flip_rate=0.9,
        scale_ratio=4.0,
    )
    s = suggest([f], lr=(steps, lr))
    assert s.action == "decrease_lr"
    assert s.current_lr == pytest.approx(lr[999])
    assert s.suggested_lr == pytest.approx(float(f"{lr[500] * OSCILLATION_FACTOR:.2g}"))
    assert 0 < s.factor < 0.5
    assert "0.90" in s.rationale


def test_oscillation_during_warmup_adds_warmup() -> None:
    steps = np.arange(1000.0)
    lr = S.lr_schedule(1000, "cosine", 1e-3, warmup=100)
    f = _f(
        "oscillation",
        start=60,
        end=999,
        onset_step=60.0,
        lr_at_onset=float(lr[60]),
        sign_flip_rate=0.8,
        scale_ratio=3.0,
    )
    s = suggest([f], lr=(steps, lr))
    assert s.action == "add_warmup" and s.extra["warmup_steps"] >= 150
    assert s.suggested_lr == pytest.approx(float(f"{lr[60] * OSCILLATION_FACTOR:.2g}"))


def test_swings_first_seen_low_in_a_warm_up_are_driven_by_the_peak_not_fixed_by_a_warm_up() -> None:
    """An onset at 5 % of the peak LR is where the swings were first seen, not what drove
    them: the run already warms up, so the advice is a lower peak, not "warm up to 0.1×
    the LR at onset" quoting the peak (a YOLO run warming up over 100 epochs whose val
    jumped at the peak)."""
    steps = np.arange(1000.0)
    lr = S.lr_schedule(1000, "cosine", 1e-3, warmup=150)
    f = _f("oscillation", start=8, end=999, onset_step=8.0, lr_at_onset=float(lr[8]))
    s = suggest([f], lr=(steps, lr))
    assert s.action == "decrease_lr" and s.suggested_lr == pytest.approx(1e-4)


def test_oscillation_at_start_that_settles_adds_warmup() -> None:
    steps = np.arange(1000.0)
    lr = np.full(1000, 1e-3)
    f = _f("oscillation", start=20, end=400, onset_step=20.0, lr_at_onset=1e-3)
    s = suggest([f], lr=(steps, lr))
    assert s.action == "add_warmup" and s.extra["warmup_steps"] >= 49


def test_oscillation_from_start_to_end_decreases_lr() -> None:
    steps = np.arange(1000.0)
    lr = np.full(1000, 1e-3)
    f = _f("oscillation", start=20, end=999, onset_step=20.0, lr_at_onset=1e-3)
    s = suggest([f], lr=(steps, lr))
    assert s.action == "decrease_lr" and s.suggested_lr == pytest.approx(1e-3 * OSCILLATION_FACTOR)


def test_divergence_uses_largest_lr_before_trouble_and_lora_prior() -> None:
    steps = np.arange(10.0)
    f = _f("divergence", "critical", start=5, end=9, collapse_value=10.3735)
    s = suggest([f], lr=(steps, np.full(10, 5.0)))
    assert s.action == "decrease_lr" and s.suggested_lr == pytest.approx(0.5)
    assert s.factor == pytest.approx(0.1)
    s = suggest([f], lr=(steps, np.full(10, 5.0)), params={"lora_r": "8"})
    assert s.suggested_lr == pytest.approx(1e-4)
    s = suggest([f], lr=(steps, np.full(10, 5.0)), name="qlora_llama7b_lr5")
    assert s.suggested_lr == pytest.approx(1e-4)


def test_divergence_without_any_lr_still_gives_a_factor() -> None:
    f = _f("divergence", "warning", start=5, end=9)
    s = suggest([f])
    assert s.action == "decrease_lr" and s.suggested_lr is None and s.current_lr is None
    assert s.factor == pytest.approx(0.1)


def test_degenerate_zero_checks_data() -> None:
    f = _f("divergence", "critical", degenerate_zero=1.0, zero_points=99)
    assert suggest([f]).action == "check_data"


def test_overfitting_early_stop() -> None:
    f = _f("overfitting", metric="val_loss", best_val_step=1000.0, best_val=0.32, rise_pct=31.0)
    s = suggest([f], params={"lr": "1e-5"})
    assert s.action == "early_stop" and s.early_stop_step == 1000 and s.current_lr == 1e-5
    assert "31.0%" in s.rationale


def test_an_increase_with_no_lr_known_goes_a_decade_at_a_time() -> None:
    s = suggest([_f("stagnation", diagnosis="stuck", rel_improvement=0.0346, plateau_frac=1.0)])
    assert s.action == "increase_lr" and s.current_lr is None
    assert s.factor == DEFAULT_PARAMS.unknown_lr_cap == 10.0  # 10 / 3.46 % would be ×290
    assert "not logged" in s.rationale


def test_an_increase_with_no_optimizer_known_goes_a_decade_at_a_time() -> None:
    """With neither the optimizer nor the setting known nothing says how far a good LR
    is (a YOLO fine-tune at 1e-4 whose loss was flat was told ×761, to 0.076): a decade
    at a time, or up to the bottom of Adam's usual range when the LR sits further below."""
    steps = np.arange(100.0)
    f = _f("stagnation", diagnosis="stuck", rel_improvement=0.013, plateau_frac=1.0)
    s = suggest([f], lr=(steps, np.full(100, 1e-4)))
    assert s.action == "increase_lr" and s.suggested_lr == pytest.approx(1e-3)
    assert "not logged" in s.rationale
    flat = _f("stagnation", diagnosis="stuck", rel_improvement=0.001, plateau_frac=1.0)
    s = suggest([flat], lr=(steps, np.full(100, 1e-7)))
    assert s.suggested_lr == pytest.approx(1e-4)
    s = suggest([f], lr=(steps, np.full(100, 1e-4)), params={"optimizer": "sgd"})
    assert s.suggested_lr > 1e-2  # the optimizer known: its range decides


def test_stagnation_actions() -> None:
    steps = np.arange(100.0)
    s = suggest(
        [_f("stagnation", diagnosis="stuck", rel_improvement=0.001, plateau_frac=1.0)],
        lr=(steps, np.full(100, 1e-6)),
        params={"optimizer": "adam"},
    )
    target, top = DEFAULT_PARAMS.stuck_target_gain, DEFAULT_PARAMS.stuck_multiplier[1]
    assert s.action == "increase_lr" and s.factor == pytest.approx(min(target / 0.001, top))
    s = suggest(
        [_f("stagnation", diagnosis="stuck", rel_improvement=0.0, plateau_frac=1.0)],
        lr=(steps, np.full(100, 1e-6)),
        params={"optimizer": "adam"},
    )
    assert s.factor == pytest.approx(top)  # no gain at all: the largest step
    s = suggest(
        [_f("stagnation", diagnosis="stuck", rel_improvement=0.025, plateau_frac=1.0)],
        lr=(steps, np.full(100, 1e-6)),
        params={"optimizer": "adam"},
    )
    assert s.factor == pytest.approx(target / 0.025, rel=0.02)  # 2.5 % gained in a line
    s = suggest(
        [_f("stagnation", diagnosis="stuck", rel_improvement=0.9, plateau_frac=1.0)],
        lr=(steps, np.full(100, 1e-6)),
        params={"optimizer": "adam"},
    )
    assert s.factor == pytest.approx(max(target / 0.9, 3.0), rel=0.02)
    s = suggest(
        [_f("stagnation", diagnosis="stuck")],
        lr=(steps, np.full(100, 5e-5)),
        params={"peft": "lora"},
    )
    assert s.action == "increase_lr" and s.suggested_lr == pytest.approx(1e-4)
    s = suggest(
        [_f("stagnation", diagnosis="noise_floor", plateau_frac=0.6)],
        lr=(steps, np.full(100, 3e-3)),
    )
    assert s.action == "decay_lr" and s.extra["schedule"] == "cosine" and s.suggested_lr < 3e-3
    lr = np.where(steps < 40, 1e-3, 1e-8)
    s = suggest(
        [_f("stagnation", diagnosis="lr_collapsed", peak_lr=1e-3, collapse_step=40)], lr=(steps, lr)
    )
    assert s.action == "restore_lr" and s.suggested_lr == pytest.approx(1e-3)
    s = suggest([_f("stagnation", metric="val_loss", start=30, diagnosis="val_plateau")])
    assert s.action == "early_stop" and s.early_stop_step == 30
    s = suggest(
        [_f("stagnation", metric="val_loss", start=30, diagnosis="val_plateau", best_step=55.0)]
    )
    assert s.action == "early_stop" and s.early_stop_step == 55


def test_most_severe_finding_decides() -> None:
    fs = [
        _f("stagnation", "warning", diagnosis="noise_floor"),
        _f("divergence", "critical", start=150),
    ]
    assert suggest(fs, params={"lr": "0.1"}).action == "decrease_lr"


def test_params_and_priors() -> None:
    assert param_lr({"learning_rate": "3e-4"}) == 3e-4
    assert param_lr({"optimizer.lr": "0.01"}) == 0.01
    assert param_lr({"learning-rate": "x"}) is None
    assert lr_prior({"lora_r": "16"}, None)[0] == 1e-4
    assert lr_prior({"finetuning_type": "full"}, {"task": "sft"})[0] == 5e-6
    assert lr_prior(None, {"stage": "finetune"})[0] == 5e-5
    assert lr_prior({"epochs": "3"}, None) is None
    assert lr_prior(None, None, name="qlora-guanaco-7b")[0] == 1e-4
    assert lr_prior(None, None, name="exploration-run-3") is None  # "lora" inside a word
    assert lr_prior(None, None, name="llama-sft-v2")[0] == 5e-5


@pytest.mark.parametrize("seed", range(10))
def test_never_a_change_for_healthy_synthetic(seed: int) -> None:
    s = S.healthy(n=800, seed=seed, schedule="cosine", warmup=40, eval_every=40)
    fs, _ = analyze_series(
        (s.steps, s.values), (s.truth["val_steps"], s.truth["val_values"]), (s.steps, s.lr)
    )
    sug = suggest(fs, lr=(s.steps, s.lr))
    assert sug.action == "keep_lr" and sug.suggested_lr == sug.current_lr


def test_overfitting_with_bouncing_val_also_lowers_lr() -> None:
    steps = np.arange(2000.0)
    lr = np.full(2000, 1e-3)
    calm = _f(
        "overfitting",
        metric="val_loss",
        best_val_step=800.0,
        best_val=0.3,
        rise_pct=20.0,
        val_bounce=0.004,
        val_erratic=0.0,
    )
    assert suggest([calm], lr=(steps, lr)).action == "early_stop"
    erratic = _f(
        "overfitting",
        metric="val_loss",
        best_val_step=800.0,
        best_val=0.3,
        rise_pct=20.0,
        val_bounce=0.05,
        val_erratic=1.0,
    )
    s = suggest([erratic], lr=(steps, lr))
    assert s.action == "decrease_lr" and s.early_stop_step == 800
    assert s.suggested_lr == pytest.approx(1e-3 * OSCILLATION_FACTOR) and "5%" in s.rationale
    to_end = _f(
        "overfitting",
        metric="val_loss",
        start=800,
        end=1999,
        best_val_step=800.0,
        best_val=0.3,
        rise_pct=20.0,
        val_bounce=0.05,
        val_erratic=1.0,
    )
    decayed = suggest([to_end], lr=(steps, np.linspace(1e-3, 0.0, 2000)))
    assert decayed.action == "early_stop" and decayed.early_stop_step == 800


def test_decrease_quotes_the_base_lr_and_scales_the_schedule() -> None:
    """Under a decaying schedule the LR quoted is the base (peak) one a person types; the
    factor puts the LR where the trouble began a decade lower, and the suggested LR is
    always current × factor, below the current one."""
    steps = np.arange(1000.0)
    lr = 3e-3 * np.linspace(1.0, 0.05, 1000)
    f = _f("oscillation", start=100, end=999, onset_step=100.0, lr_at_onset=float(lr[100]))
    s = suggest([f], lr=(steps, lr))
    assert s.action == "decrease_lr" and s.current_lr == pytest.approx(3e-3)
    assert s.suggested_lr < s.current_lr
    assert s.factor == pytest.approx(OSCILLATION_FACTOR * lr[100] / 3e-3, rel=0.02)
    assert s.suggested_lr == pytest.approx(s.current_lr * s.factor, rel=0.05)
    d = suggest([_f("divergence", "critical", start=100, end=999)], lr=(steps, lr))
    assert d.factor == pytest.approx(0.1, rel=0.02) and d.current_lr == pytest.approx(3e-3)


def test_oscillation_at_the_first_warmup_steps_scales_the_peak_not_the_first_lr() -> None:
    """An onset at the first steps of a warm-up (LR ~1e-6) is not what drove the swings:
    the decrease is a decade below the peak, not 1e-4 of it."""
    steps = np.arange(1000.0)
    lr = S.lr_schedule(1000, "cosine", 1e-3, warmup=100)
    f = _f("oscillation", start=0, end=999, onset_step=0.0, lr_at_onset=float(lr[0]))
    s = suggest([f], lr=(steps, lr))
    assert s.current_lr == pytest.approx(1e-3) and s.factor == pytest.approx(0.1)


@pytest.mark.parametrize("opt,base,lo", [("Adam", 1e-8, 1e-4), ("sgd", 1e-6, 1e-2)])
def test_far_too_small_lr_is_raised_towards_its_optimizers_range(
    opt: str, base: float, lo: float
) -> None:
    """Decades below the usual range: to ``range_reach`` below its bottom, more than the
    gain says."""
    steps = np.arange(100.0)
    f = _f("stagnation", diagnosis="stuck", rel_improvement=0.1, plateau_frac=1.0)
    s = suggest([f], lr=(steps, np.full(100, base)), params={"optimizer": opt})
    reach = DEFAULT_PARAMS.range_reach
    assert s.action == "increase_lr" and s.suggested_lr == pytest.approx(lo / reach, rel=0.05)
    assert s.factor > DEFAULT_PARAMS.stuck_target_gain / 0.1


def test_an_increase_stops_at_the_edge_a_decrease_is_pulled_to() -> None:
    """A stuck Adam run at 1e-3 (the top of its range) is raised by the gain's multiplier
    only up to ``range_reach`` × the top, never past it."""
    steps = np.arange(100.0)
    f = _f("stagnation", diagnosis="stuck", rel_improvement=0.001, plateau_frac=1.0)
    s = suggest([f], lr=(steps, np.full(100, 1e-3)), params={"optimizer": "adam"})
    assert s.action == "increase_lr"
    assert s.suggested_lr == pytest.approx(1e-3 * DEFAULT_PARAMS.range_reach, rel=0.05)


def test_a_capped_increase_says_what_the_cap_is() -> None:
    """The cap is named as what it is — a multiple of the top of the optimizer's usual
    range, with the range — not as "at most 1: above the usual adagrad range"."""
    steps = np.arange(100.0)
    f = _f("stagnation", diagnosis="too_slow", rel_improvement=0.1, plateau_frac=1.0)
    s = suggest([f], lr=(steps, np.full(100, 0.03)), params={"optimizer": "adagrad"})
    assert s.action == "increase_lr" and s.suggested_lr == pytest.approx(1.0, rel=0.05)
    assert "10× the top of the usual adagrad range 0.01–0.1" in s.rationale


@pytest.mark.parametrize(
    "base,params",
    [
        (0.0095, {"optimizer": "adam"}),  # just below the edge of Adam's range x range_reach
        (0.0099, {"optimizer": "rmsprop"}),  # a hair below it (float32 logs 0.0099999…)
        (9.5e-5, {"peft": "lora"}),  # just below the usual LoRA LR
    ],
)
def test_an_increase_capped_just_above_the_lr_still_moves_it(
    base: float, params: dict[str, str]
) -> None:
    """A cap a hair above the current LR gave "increase ×1.0"/"×1.1": an increase is a
    step a person can act on (the ×2 a run past the cap gets), and says why it is small."""
    steps = np.arange(100.0)
    f = _f("stagnation", diagnosis="too_slow", rel_improvement=0.16, plateau_frac=1.0)
    s = suggest([f], lr=(steps, np.full(100, base)), params=params)
    assert s.action == "increase_lr"
    assert s.factor >= 1.5 and s.suggested_lr >= 1.5 * base
    assert "small step" in s.rationale


def test_far_too_large_lr_is_cut_towards_its_optimizers_range() -> None:
    steps = np.arange(100.0)
    f = _f("divergence", "critical", start=5, end=99)
    s = suggest([f], lr=(steps, np.full(100, 0.5)), params={"optimizer": "adamw"})
    top = 1e-3 * DEFAULT_PARAMS.range_reach  # AdamW's usual top × the reach
    assert s.action == "decrease_lr" and s.suggested_lr == pytest.approx(top)
    s = suggest([f], lr=(steps, np.full(100, 0.5)), params={"optimizer": "sgd"})
    assert s.suggested_lr == pytest.approx(0.05)  # within 30x of SGD's range: a decade
    s = suggest([f], lr=(steps, np.full(100, 0.05)), params={"optimizer": "adamw"})
    assert s.suggested_lr == pytest.approx(0.005)  # not far enough above the range: a decade


def test_a_blow_up_at_once_cuts_two_decades() -> None:
    steps = np.arange(1000.0)
    s = suggest([_f("divergence", "critical", start=3, end=999)], lr=(steps, np.full(1000, 0.5)))
    assert s.action == "decrease_lr" and s.factor == pytest.approx(0.01)
    late = suggest(
        [_f("divergence", "critical", start=400, end=999)], lr=(steps, np.full(1000, 0.5))
    )
    assert late.factor == pytest.approx(0.1)


def _blow_up_log(rises_from_start: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A run logged until its loss became NaN (a trainer's NaN guard), constant LR 0.3."""
    if rises_from_start:  # ×50 a step from the first step: it never trained
        values = 1.5 * 50.0 ** np.arange(12)
    else:  # it trained for 40 steps, then blew up
        values = np.concatenate([1.5 * np.exp(-np.arange(40) / 10), 0.05 * 50.0 ** np.arange(12)])
    values = np.append(values, np.nan)
    steps = np.arange(1.0, len(values) + 1)
    return steps, values, np.full(len(values), 0.3)


@pytest.mark.parametrize(
    "rises, factor",
    [(True, DEFAULT_PARAMS.immediate_factor), (False, DEFAULT_PARAMS.divergence_factor)],
)
def test_a_loss_that_rose_from_its_first_step_to_nan_is_far_past_the_edge(
    rises: bool, factor: float
) -> None:
    """A log that ends at the NaN has no 'rest of the run' to place the onset in: a loss
    that never fell below its first value before the blow-up never trained at this LR, so
    the cut is the far-past-the-edge one; a loss that trained first gets the usual decade."""
    steps, values, lr = _blow_up_log(rises)
    fs, _ = analyze_series((steps, values), None, (steps, lr))
    main = next(f for f in fs if f.kind == "divergence")
    assert main.evidence["rose_from_start"] == (1.0 if rises else 0.0)
    sug = suggest(fs, lr=(steps, lr))
    assert sug.action == "decrease_lr" and sug.suggested_lr == pytest.approx(0.3 * factor)
