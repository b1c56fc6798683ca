"""Role resolution follows CONTRACT.md's names, overrides and multi-part sums."""

from __future__ import annotations

import pytest

from analyzer.model import Run, RunMeta, finalize_frame, frame_from_columns
from analyzer.roles import resolve_roles, role_series


def make_run(metrics: dict[str, list[float]], steps: list[int] | None = None) -> Run:
    names, st, vals = [], [], []
    for name, values in metrics.items():
        s = steps or list(range(len(values)))
        names += [name] * len(values)
        st += s[: len(values)]
        vals += values
    frame = finalize_frame(frame_from_columns(names, st, vals))
    return Run(RunMeta(id="x", name="x", source="csv", location="x"), frame)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["loss", "val_loss", "lr"], ("loss", "val_loss", "lr")),
        (
            ["train/loss", "eval_loss", "learning_rate"],
            ("train/loss", "eval_loss", "learning_rate"),
        ),
        (
            ["Loss/train", "loss/validation", "lr-AdamW"],
            ("Loss/train", "loss/validation", "lr-AdamW"),
        ),
        (
            ["training_loss", "valid_loss", "optimizer/lr"],
            ("training_loss", "valid_loss", "optimizer/lr"),
        ),
        (["train_loss", "test_loss", "lr/pg0"], ("train_loss", "test_loss", "lr/pg0")),
        (
            ["train/learning_rate", "train/loss", "val/loss"],
            ("train/loss", "val/loss", "train/learning_rate"),
        ),
        (
            ["train/nll_loss", "val/rmse_loss", "lr-Adam"],
            ("train/nll_loss", "val/rmse_loss", "lr-Adam"),
        ),
    ],
)
def test_contract_names(names: list[str], expected: tuple[str, str, str]) -> None:
    roles = resolve_roles(make_run({n: [1.0, 2.0, 3.0] for n in names}))
    assert (roles.train_loss, roles.val_loss, roles.lr) == expected


def test_camel_case_names_split_into_their_words() -> None:
    # a plain CSV `Epoch,TrainLoss,ValLoss,ValSpearman,LR` (HEVisum): TrainLoss and
    # ValLoss were one word each and were summed as one "train" loss
    roles = resolve_roles(
        make_run({"TrainLoss": [3.0], "ValLoss": [2.0], "ValSpearman": [0.4], "LR": [1e-3]})
    )
    assert (roles.train_loss, roles.val_loss, roles.lr) == ("TrainLoss", "ValLoss", "LR")


@pytest.mark.parametrize(
    ("names", "train"),
    [
        (["loss_attribute_extraction", "dev_F1"], "loss_attribute_extraction"),  # Shinra2022
        (["nll_loss", "val_nll_loss"], "nll_loss"),
        (["loss_scale", "accuracy"], None),  # a mixed-precision setting, not a loss
        (["loss_weight", "val_loss"], None),
    ],
)
def test_a_loss_named_without_a_split_word_is_the_train_loss(
    names: list[str], train: str | None
) -> None:
    assert resolve_roles(make_run({n: [1.0, 2.0] for n in names})).train_loss == train


def test_names_are_case_insensitive_and_val_prefers_val_over_test() -> None:
    roles = resolve_roles(make_run({"LOSS": [1.0], "Test_Loss": [1.0], "VAL_LOSS": [1.0]}))
    assert (roles.train_loss, roles.val_loss) == ("LOSS", "VAL_LOSS")


def test_step_series_beats_a_one_point_epoch_summary() -> None:
    run = make_run({"train_loss_epoch": [1.0], "train_loss_step": [3.0, 2.0, 1.0]})
    assert resolve_roles(run).train_loss == "train_loss_step"


def test_multi_part_losses_are_summed_on_common_steps() -> None:
    run = make_run(
        {
            "train/box_loss": [1.0, 2.0],
            "train/cls_loss": [10.0, 20.0],
            "val/box_loss": [3.0, 4.0],
            "val/cls_loss": [30.0, 40.0],
            "x/lr0": [0.1, 0.2],
        }
    )
    roles = resolve_roles(run)
    assert roles.train_loss == "train/box_loss+train/cls_loss"
    assert roles.val_loss == "val/box_loss+val/cls_loss"
    assert roles.lr == "x/lr0"
    assert role_series(run, roles.train_loss)["value"].tolist() == [11.0, 22.0]


def test_overrides_win_and_unknown_override_is_an_error() -> None:
    run = make_run({"loss": [1.0], "my_loss": [2.0], "eta": [0.1]})
    roles = resolve_roles(run, train_loss="my_loss", lr="eta")
    assert roles.as_dict() == {"train_loss": "my_loss", "lr": "eta"}
    with pytest.raises(ValueError, match="nope"):
        resolve_roles(run, val_loss="nope")


def test_accuracy_is_never_a_loss() -> None:
    roles = resolve_roles(make_run({"train_acc": [1.0], "val_accuracy": [1.0]}))
    assert roles.as_dict() == {}


def test_a_loss_part_that_is_never_finite_is_left_out_of_the_sum() -> None:
    """YOLO logs with ``val/cls_loss`` = inf in every row: the sum of the parts would be
    inf everywhere (read as divergence at step 0); the part never was a loss value."""
    import numpy as np

    from analyzer.model import Run, RunMeta, finalize_frame, frame_from_columns
    from analyzer.roles import resolve_roles, role_series

    steps = np.arange(20)
    cols = {
        "train/box_loss": 2.0 - 0.05 * steps,
        "train/cls_loss": 1.0 - 0.02 * steps,
        "val/box_loss": 1.5 - 0.03 * steps,
        "val/cls_loss": np.full(20, np.inf),
    }
    metric = np.concatenate([np.full(20, k, dtype=object) for k in cols])
    frame = finalize_frame(
        frame_from_columns(
            metric, np.tile(steps, 4), np.concatenate(list(cols.values())), np.zeros(80)
        )
    )
    run = Run(meta=RunMeta(id="r", name="r", source="csv", location="x"), frame=frame)
    roles = resolve_roles(run)
    assert roles.val_loss == "val/box_loss"
    assert roles.train_loss == "train/box_loss+train/cls_loss"
    assert np.isfinite(role_series(run, roles.val_loss)["value"]).all()
