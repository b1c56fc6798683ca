"""Hugging Face trainer_state.json and JSON-lines readers: real logs and edge cases."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from analyzer import ReaderError, read_file, read_sources
from analyzer.readers import discover
from analyzer.roles import resolve_roles


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def state(history: list[object], **extra: object) -> str:
    return json.dumps({"log_history": history, "global_step": 30, "max_steps": 30, **extra})


# --- trainer_state.json ------------------------------------------------------------


def test_hf_train_eval_and_summary(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "out/trainer_state.json",
        state(
            [
                {"epoch": 0.1, "loss": 2.0, "learning_rate": 5e-5, "step": 10},
                {"epoch": 0.2, "loss": 1.5, "learning_rate": 4e-5, "step": 20},
                {"epoch": 0.2, "eval_loss": 1.7, "eval_runtime": 3.0, "step": 20},
                {
                    "epoch": 0.3,
                    "step": 30,
                    "train_loss": 1.6,
                    "train_runtime": 99.0,
                    "total_flos": 1e12,
                },
            ]
        ),
    )
    [run] = read_file(path)
    assert run.meta.source == "hf" and run.meta.name == "out"
    assert run.series("loss")["value"].tolist() == [2.0, 1.5]
    assert run.series("eval_loss")["step"].tolist() == [20]
    assert "eval_runtime" not in run.metric_names and "train_runtime" not in run.metric_names
    assert "train_loss" not in run.metric_names  # summary record is metadata
    assert run.meta.params["train_runtime"] == "99.0" and run.meta.params["max_steps"] == "30"
    assert resolve_roles(run).as_dict() == {
        "train_loss": "loss",
        "val_loss": "eval_loss",
        "lr": "learning_rate",
    }


def test_hf_records_without_step_and_numbers_as_strings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "trainer_state.json",
        state(
            [
                {"loss": "2.5", "step": 5},
                {"predict_loss": 1.1, "epoch": 1.0},
                "junk",
            ]
        ),
    )
    [run] = read_file(path)
    assert run.series("loss")["value"].tolist() == [2.5]
    assert run.series("predict_loss")["step"].tolist() == [5]
    assert any("record 2" in w for w in run.warnings)


def test_hf_eval_groups_are_summed_as_val_loss(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "trainer_state.json",
        state(
            [
                {"loss": 1.0, "step": 1},
                {"eval_a_loss": 1.0, "eval_b_loss": 2.0, "step": 1},
            ]
        ),
    )
    [run] = read_file(path)
    assert resolve_roles(run).val_loss == "eval_a_loss+eval_b_loss"


def test_hf_nan_values_are_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "trainer_state.json",
        '{"log_history": [{"loss": NaN, "step": 1}, {"loss": 1.0, "step": 2}]}',
    )
    [run] = read_file(path)
    assert math.isnan(run.series("loss")["value"][0])


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty file"),
        ('{"log_history": [{"loss": 1.0, "step": 1}', "line 1"),
        ("[1, 2]", "found a list"),
        ('{"log_history": {"a": 1}}', "not a list"),
        ('{"log_history": [{"note": "x"}]}', "no numeric values"),
    ],
)
def test_hf_bad_files_name_the_file_and_place(tmp_path: Path, text: str, needle: str) -> None:
    path = write(tmp_path, "trainer_state.json", text)
    with pytest.raises(ReaderError) as info:
        read_file(path)
    assert str(path) in str(info.value) and needle in str(info.value)


def test_hf_gzip(tmp_path: Path) -> None:
    path = tmp_path / "trainer_state.json.gz"
    path.write_bytes(
        gzip.compress(state([{"loss": 1.0, "step": 1}, {"loss": 0.5, "step": 2}]).encode())
    )
    [run] = read_file(path)
    assert run.series("loss")["value"].tolist() == [1.0, 0.5]


# --- JSON lines ---------------------------------------------------------------------


def test_jsonl_llamafactory_steps_and_progress_lines(tmp_path: Path) -> None:
    lines = [
        {
            "current_steps": 10,
            "total_steps": 30,
            "loss": 2.0,
            "lr": 1e-4,
            "epoch": 0.1,
            "percentage": 33.3,
            "elapsed_time": "0:00:10",
        },
        {"current_steps": 20, "total_steps": 30, "eval_loss": 1.9},
        {"current_steps": 30, "total_steps": 30, "loss": 1.5, "lr": 5e-5, "epoch": 0.3},
        {"current_steps": 30, "total_steps": 30, "percentage": 100.0},
    ]
    path = write(tmp_path, "run/trainer_log.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    [run] = read_file(path)
    assert run.meta.name == "run" and run.meta.step_axis == "step"
    assert run.series("loss")["step"].tolist() == [10, 30]
    assert "percentage" not in run.metric_names and "total_steps" not in run.metric_names
    assert resolve_roles(run).as_dict() == {
        "train_loss": "loss",
        "val_loss": "eval_loss",
        "lr": "lr",
    }


def test_jsonl_epoch_only_log_txt(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "log.txt",
        "".join(
            json.dumps(
                {
                    "train_lr": 5e-4,
                    "train_loss": 4 - e / 10,
                    "test_loss": 4.1 - e / 10,
                    "epoch": e,
                    "n_parameters": 10,
                }
            )
            + "\n"
            for e in range(5)
        ),
    )
    [run] = read_file(path)
    assert run.meta.step_axis == "epoch"
    assert run.series("train_loss")["step"].tolist() == [0, 1, 2, 3, 4]
    assert "n_parameters" not in run.metric_names and "epoch" not in run.metric_names


def test_jsonl_broken_line_is_reported_with_its_number_and_rest_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.jsonl",
        '{"step": 1, "loss": 3}\n{"step": 2, "loss": \n{"step": 3, "loss": 1}\n',
    )
    [run] = read_file(path)
    assert run.series("loss")["step"].tolist() == [1, 3]
    assert any("line 2" in w and str(path) in w for w in run.warnings)


def test_shuffled_records_are_sorted_by_step(tmp_path: Path) -> None:
    order = [5, 2, 8, 0, 9, 3, 7, 1, 6, 4]
    text = "".join(f'{{"step": {s}, "loss": {s / 10}, "lr": 0.1}}\n' for s in order)
    [run] = read_file(write(tmp_path, "s.jsonl", text))
    assert run.series("loss")["step"].tolist() == list(range(10))
    assert run.series("lr")["step"].tolist() == list(range(10))
    warning = f"{tmp_path / 's.jsonl'}: steps out of order (5 step decreases); sorted by step"
    assert run.warnings == [warning]
    state = {"log_history": [{"step": s, "loss": s / 10} for s in order]}
    [run] = read_file(write(tmp_path, "trainer_state.json", json.dumps(state)))
    assert run.series("loss")["value"].tolist() == [s / 10 for s in range(10)]


def test_jsonl_nested_and_long_form(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "b.jsonl",
        '{"step": 1, "train": {"loss": 2.0}}\n{"metric": "val_loss", "step": 1, "value": 2.5}\n',
    )
    [run] = read_file(path)
    assert run.series("train/loss")["value"].tolist() == [2.0]
    assert run.series("val_loss")["value"].tolist() == [2.5]


def test_jsonl_wall_time_from_timestamp(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", '{"_step": 0, "_timestamp": 1764000000.5, "loss": 1}\n')
    [run] = read_file(path)
    assert run.series("loss")["wall_time"].tolist() == [1764000000.5]
    assert run.meta.start_time == 1764000000.5


@pytest.mark.parametrize("text", ["not json\n{also not}\n", "[1,2]\n"])
def test_jsonl_without_any_object_is_an_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "d.jsonl", text)
    with pytest.raises(ReaderError, match="d.jsonl"):
        read_file(path)


def test_plain_text_is_not_taken_for_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.txt", "hello\nworld\n")
    with pytest.raises(ReaderError, match="not a training log"):
        read_file(path)


# --- DETR / Deformable-DETR log.txt ----------------------------------------------------


def detr_line(epoch: int, loss: float, lr: float = 1e-4, aux: int = 8) -> str:
    """One epoch as DETR's main.py writes it: every loss of every decoder layer, scaled
    and unscaled, then the COCO numbers (a 4–12 KB line for 6 layers)."""
    rec: dict[str, object] = {"train_lr": lr, "train_class_error": 50.0, "train_loss": loss}
    for split in ("train", "test"):
        for i in range(aux):
            for part in ("ce", "bbox", "giou"):
                rec[f"{split}_loss_{part}_{i}"] = (loss + i) / 7
                rec[f"{split}_loss_{part}_{i}_unscaled"] = (loss + i) / 13
            rec[f"{split}_cardinality_error_{i}_unscaled"] = 1.3636363636363635
    rec.update(
        {
            "test_class_error": 40.0,
            "test_loss": loss * 1.1,
            "test_coco_eval_bbox": [0.1] * 12,
            "epoch": epoch,
            "n_parameters": 41279238,
        }
    )
    return json.dumps(rec) + "\n"


def test_detr_log_txt_with_a_first_line_longer_than_the_sniffed_head(tmp_path: Path) -> None:
    text = "".join(detr_line(e, 8 - e, 1e-4 if e < 3 else 1e-5) for e in range(5))
    assert len(text.split("\n", 1)[0]) > 4096
    path = write(tmp_path, "outputs/log.txt", text)
    [source] = discover(tmp_path)
    assert source.location == str(path)
    [run] = read_file(path)
    assert run.meta.name == "outputs" and run.meta.step_axis == "epoch"
    assert resolve_roles(run).as_dict() == {
        "train_loss": "train_loss",
        "val_loss": "test_loss",
        "lr": "train_lr",
    }
    assert run.series("train_loss")["step"].tolist() == [0, 1, 2, 3, 4]
    assert run.series("train_lr")["value"].tolist() == [1e-4] * 3 + [1e-5] * 2
    assert "epoch" not in run.metric_names and "n_parameters" not in run.metric_names


def test_a_gzipped_detr_log_txt_is_read_like_the_plain_one(tmp_path: Path) -> None:
    """``log.txt.gz`` (a DETR/MAE log compressed to save space) was refused as "not a
    training log" although a folder scan lists it as a maybe-log."""
    text = "".join(detr_line(e, 8 - e) for e in range(5))
    path = tmp_path / "outputs" / "log.txt.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(text.encode()))
    [source] = discover(tmp_path)
    assert source.location == str(path)
    [run] = read_file(path)
    assert run.series("train_loss")["value"].tolist() == [8.0, 7.0, 6.0, 5.0, 4.0]


def test_a_long_one_line_json_file_in_a_run_folder_is_not_a_log(tmp_path: Path) -> None:
    """Only .txt/.log first lines are followed past the head: a minified vocab.json stays out."""
    write(tmp_path, "run/vocab.json", json.dumps({f"tok{i}": i for i in range(2000)}))
    detr = write(tmp_path, "run/log.txt", "".join(detr_line(e, 5 - e) for e in range(3)))
    assert [s.location for s in discover(tmp_path)] == [str(detr)]


def test_console_log_txt_is_skipped_in_scans_and_reported_when_named(tmp_path: Path) -> None:
    console = write(
        tmp_path,
        "cnn/log.txt",
        "Epoch 27/50\n----------\nTrain Loss: 0.3700 Acc: 0.8748\n"
        "Val Epoch 27/50:  19%|###       | 13/70 [00:05<00:26,  2.17it/s]\n",
    )
    detr = write(tmp_path, "detr/log.txt", "".join(detr_line(e, 5 - e, aux=1) for e in range(4)))
    assert [s.location for s in discover(tmp_path)] == [str(detr)]
    result = read_sources([str(tmp_path)])
    assert [r.meta.location for r in result.runs] == [str(detr)] and not result.errors
    named = read_sources([str(console)])
    assert not named.runs
    [err] = named.errors
    assert err["location"] == str(console) and "not a training log" in err["error"]


def test_appended_detr_trainings_are_runs_but_a_resume_is_not(tmp_path: Path) -> None:
    epochs = [0, 1, 2, 3, 0, 1, 2]
    path = write(
        tmp_path,
        "log.txt",
        "".join(detr_line(e, 6 - e + i / 100, aux=1) for i, e in enumerate(epochs)),
    )
    first, second = read_file(path)
    assert (first.meta.name, second.meta.name) == (f"{tmp_path.name} #1", f"{tmp_path.name} #2")
    assert first.series("train_loss")["step"].tolist() == [0, 1, 2, 3]
    assert second.series("train_loss")["step"].tolist() == [0, 1, 2]
    assert first.meta.id != second.meta.id
    assert any("2 trainings appended" in w for w in first.warnings)
    # --resume goes back to the saved epoch, not to the first one: the same run, later values win
    resumed = write(
        tmp_path,
        "r/log.txt",
        "".join(detr_line(e, 10 - i, aux=1) for i, e in enumerate([0, 1, 2, 3, 2, 3, 4])),
    )
    [run] = read_file(resumed)
    assert run.series("train_loss")["step"].tolist() == [0, 1, 2, 3, 4]
    assert run.series("train_loss")["value"].tolist() == [10, 9, 6, 5, 4]


# --- real logs ----------------------------------------------------------------------


def test_real_hf_logs_quirks(real_logs: Path) -> None:
    hf = real_logs / "hf_trainer_state"
    [multi] = read_file(hf / "multi_eval_groups_const_lr.json")
    assert resolve_roles(multi).val_loss.count("+") == 5
    assert len(multi.series("eval_g0_loss")) == 31
    [cpt] = read_file(hf / "cpt_summarization_10ep.json")
    assert len(cpt.series("predict_loss")) >= 1
    [t5] = read_file(hf / "t5_summarization_3ep.json")
    assert len(t5.series("loss")) == 430
    [zero] = read_file(hf / "qlora_loss_zero_degenerate.json")
    assert (zero.series("loss")["value"].to_numpy()[1:] == 0).all()


def test_real_jsonl_logs(real_logs: Path) -> None:
    [qwen] = read_file(real_logs / "jsonl/llamafactory_qwen2.5_7b_medical_lora.jsonl")
    assert len(qwen.series("loss")) == 675 and len(qwen.series("eval_loss")) == 13
    [mistral] = read_file(real_logs / "jsonl/llamafactory_mistral_translator.jsonl")
    assert len(mistral.series("loss")) == 866
    [mae] = read_file(real_logs / "jsonl/mae_linear_probe_imagenet_vitl16_log.txt")
    assert mae.meta.step_axis == "epoch" and len(mae.series("test_loss")) == 50
    assert resolve_roles(mae).as_dict() == {
        "train_loss": "train_loss",
        "val_loss": "test_loss",
        "lr": "train_lr",
    }


REAL_LOGS2 = Path(__file__).resolve().parent / "real_logs2"


def test_a_restart_that_repeats_the_opening_epochs_is_read_once(tmp_path: Path) -> None:
    """A training restarted from scratch with the same seed after a crash writes its first
    epochs again with the same losses (a real DeiT log.txt: epochs 0, 1, then 0, 1, 2 …):
    one training, not a 2-epoch one beside it; a restart whose losses differ is a new
    training."""
    rows = [detr_line(e, 6 - e, aux=1) for e in range(5)]
    path = write(tmp_path, "deit/log.txt", "".join(rows[:2] + rows))
    [run] = read_file(path)
    assert run.series("train_loss")["step"].tolist() == [0, 1, 2, 3, 4]
    assert any("repeat the first 2 epochs" in w for w in run.warnings)
    other = [detr_line(e, 7 - e, aux=1) for e in range(2)]
    assert len(read_file(write(tmp_path, "two/log.txt", "".join(other + rows)))) == 2


def test_real_detr_log_txt() -> None:
    """DETR's own format, from forks of facebookresearch/detr (Apache-2.0)."""
    detr = REAL_LOGS2 / "detr_log_txt"
    [run] = read_file(detr / "detr_46ep_const_lr/log.txt")
    assert run.meta.step_axis == "epoch" and run.meta.name == "detr_46ep_const_lr"
    assert resolve_roles(run).as_dict() == {
        "train_loss": "train_loss",
        "val_loss": "test_loss",
        "lr": "train_lr",
    }
    assert len(run.series("test_loss")) == 46
    assert run.series("train_lr")["value"].to_numpy() == pytest.approx(1e-4)
    big_path = detr / "detr_300ep_lr_drop_settles/log.txt"
    assert len(big_path.read_bytes().split(b"\n", 1)[0]) > 4096  # longer than the sniffed head
    [big] = read_file(big_path)
    lr = big.series("train_lr").set_index("step")["value"]
    assert len(lr) == 300 and lr[199] == pytest.approx(1e-4) and lr[200] == pytest.approx(1e-5)
    first, second = read_file(detr / "detr_5ep_then_2ep_appended/log.txt")
    assert len(first.series("train_loss")) == 5 and len(second.series("train_loss")) == 2
    assert {s.location for s in discover(detr)} == {str(p) for p in detr.rglob("log.txt")}
