"""The CSV reader family: each dialect, parsing edge cases, bad input, and the real logs."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.errors import ReaderError
from analyzer.model import Run
from analyzer.readers import csvlogs, read_file
from analyzer.readers._io import head_bytes, run_id_for
from analyzer.roles import resolve_roles


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def points(run: Run, metric: str) -> list[tuple[int, float]]:
    s = run.series(metric)
    return list(zip(s["step"].tolist(), s["value"].tolist()))


def read_one(path: Path) -> Run:
    [run] = csvlogs.read(path)
    return run


# --- sniffing -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a.csv", "a.CSV", "a.tsv", "a.csv.gz"])
def test_sniff_takes_csv_extensions(name: str) -> None:
    assert csvlogs.sniff(Path(name), b"anything")


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("training.log", b"epoch,accuracy,loss,val_loss\n0,0.5,1.2,1.3\n", True),
        ("log.txt", b"\xef\xbb\xbfstep;loss\r\n1;2\r\n", True),
        ("log.txt", b'{"epoch": 1, "loss": 2}\n', False),
        ("train.log", b"Epoch 1/10 - loss: 0.5\n", False),
        ("notes.txt", b"a,b,c\n1,2,3\n", False),
        ("model.json", b"step,loss\n", False),
    ],
)
def test_sniff_log_and_txt_need_a_step_header(name: str, head: bytes, expected: bool) -> None:
    assert csvlogs.sniff(Path(name), head) is expected


# --- dialects -----------------------------------------------------------------------------


def test_plain_step_columns_and_wall_time(tmp_path: Path) -> None:
    f = write(
        tmp_path / "run1.csv",
        "step,train_loss,val_loss,lr,wall_time\n"
        "0,2.0,,0.1,1700000000\n10,1.5,1.8,0.1,1700000010\n20,1.0,,0.05,1700000020\n",
    )
    run = read_one(f)
    assert run.metric_names == ["train_loss", "val_loss", "lr"]
    assert points(run, "train_loss") == [(0, 2.0), (10, 1.5), (20, 1.0)]
    assert points(run, "val_loss") == [(10, 1.8)]
    assert run.series("lr")["wall_time"].tolist() == [1.7e9, 1.7e9 + 10, 1.7e9 + 20]
    meta = run.meta
    assert (meta.source, meta.name, meta.location, meta.step_axis) == (
        "csv",
        "run1",
        str(f),
        "step",
    )
    assert meta.id == run_id_for(f) and meta.start_time == 1.7e9
    assert meta.end_time == pytest.approx(f.stat().st_mtime)
    assert run.warnings == []


@pytest.mark.parametrize("step_name", ["global_step", "iteration", "iter", "Step", "_step"])
def test_plain_step_aliases(tmp_path: Path, step_name: str) -> None:
    run = read_one(write(tmp_path / "x.csv", f"{step_name},loss\n5,1.0\n6,0.5\n"))
    assert run.metric_names == ["loss"] and points(run, "loss") == [(5, 1.0), (6, 0.5)]


def test_a_run_label_column_splits_the_file_into_blocks(tmp_path: Path) -> None:
    rows = ["model,epoch,train_loss,val_loss,lr"]
    rows += [f"base,{e},{1 / e:.4f},{1.1 / e:.4f},0.001" for e in range(1, 6)]
    rows += [f"ours,{e},{0.8 / e:.4f},{0.9 / e:.4f},0.001" for e in range(1, 5)]
    rows += [f"base,{e},{1 / e:.4f},{1.1 / e:.4f},0.001" for e in range(1, 4)]  # run again
    runs = csvlogs.read(write(tmp_path / "compare.csv", "\n".join(rows) + "\n"))
    assert [r.meta.name for r in runs] == ["compare base", "compare ours", "compare base #2"]
    assert len({r.meta.id for r in runs}) == 3
    assert [len(points(r, "train_loss")) for r in runs] == [5, 4, 3]
    assert points(runs[1], "val_loss")[0] == (1, 0.9)
    assert "model" not in runs[0].metric_names
    assert [len(r.warnings) for r in runs] == [1, 0, 0]  # said once, with the first run
    assert "3 runs in one file" in runs[0].warnings[0]
    # one label only: one run, as before
    one = [rows[0], *rows[1:6]]
    [run] = csvlogs.read(write(tmp_path / "one.csv", "\n".join(one) + "\n"))
    assert run.meta.name == "one" and not run.warnings


def test_spread_statistics_beside_a_mean_loss_are_not_summed(tmp_path: Path) -> None:
    run = read_one(
        write(
            tmp_path / "log.csv",
            "epoch,avg_loss,min_loss,max_loss\n1,0.146,0.019,0.313\n2,0.134,0.022,0.321\n",
        )
    )
    assert resolve_roles(run).train_loss == "avg_loss"


def test_plain_epoch_only_is_epoch_axis(tmp_path: Path) -> None:
    run = read_one(write(tmp_path / "x.csv", "loss,epoch,val_loss\n1.0,1,1.1\n0.8,2,1.0\n"))
    assert run.meta.step_axis == "epoch"
    assert run.metric_names == ["loss", "val_loss"]
    assert points(run, "val_loss") == [(1, 1.1), (2, 1.0)]


def test_plain_iso_timestamps_are_wall_time(tmp_path: Path) -> None:
    run = read_one(
        write(
            tmp_path / "x.csv",
            "timestamp,step,loss\n2024-01-01T00:00:00Z,0,1\n2024-01-01T00:01:00Z,1,0.5\n",
        )
    )
    assert run.metric_names == ["loss"]
    assert run.series("loss")["wall_time"].tolist() == [1704067200.0, 1704067260.0]


def test_tensorboard_csv_download_names_the_metric_after_the_tag(tmp_path: Path) -> None:
    f = write(
        tmp_path / "run-abc-tag-train_loss.csv",
        "Wall time,Step,Value\n1700000000.5,0,1.0\n1700000001.5,1,0.8\n",
    )
    run = read_one(f)
    assert run.metric_names == ["train_loss"] and points(run, "train_loss") == [(0, 1.0), (1, 0.8)]


def test_lightning_interleaved_rows_keep_filled_cells(tmp_path: Path) -> None:
    (tmp_path / "version_0").mkdir()
    f = write(
        tmp_path / "version_0" / "metrics.csv",
        "epoch,lr-Adam,step,train_loss,val_loss\n"
        ",0.001,0,,\n"
        "0,,9,1.5,\n"
        "0,,9,,1.7\n"
        ",0.002,19,,\n"
        "1,,19,1.2,\n"
        "1,,19,,1.4\n",
    )
    run = read_one(f)
    assert run.meta.tags["csv_dialect"] == "lightning" and run.meta.step_axis == "step"
    assert run.meta.name == "version_0"  # metrics.csv is too generic a name
    assert run.metric_names == ["epoch", "lr-Adam", "train_loss", "val_loss"]
    assert points(run, "lr-Adam") == [(0, 0.001), (19, 0.002)]
    assert points(run, "train_loss") == [(9, 1.5), (19, 1.2)]
    assert points(run, "val_loss") == [(9, 1.7), (19, 1.4)]
    assert points(run, "epoch") == [(9, 0.0), (19, 1.0)]
    assert resolve_roles(run).as_dict() == {
        "train_loss": "train_loss",
        "val_loss": "val_loss",
        "lr": "lr-Adam",
    }


def test_duplicate_and_rewinding_steps_later_values_win(tmp_path: Path) -> None:
    run = read_one(write(tmp_path / "x.csv", "step,loss\n0,1\n1,2\n2,3\n1,20\n2,30\n2,31\n"))
    assert points(run, "loss") == [(0, 1.0), (1, 20.0), (2, 31.0)]


def test_shuffled_rows_are_sorted_not_read_as_restarts(tmp_path: Path) -> None:
    order = [5, 2, 8, 0, 9, 3, 7, 1, 6, 4]
    f = write(tmp_path / "x.csv", "step,loss\n" + "".join(f"{s},{s / 10}\n" for s in order))
    run = read_one(f)
    assert points(run, "loss") == [(s, s / 10) for s in range(10)]  # as restarts: 3 points
    warning = f"{f}: steps out of order from line 3 on (5 step decreases); rows sorted by step"
    assert run.warnings == [warning]
    resumed = "".join(f"{s},{s}\n" for s in [*range(6), *range(3, 8)])  # one restart at 3
    run = read_one(write(tmp_path / "r.csv", "step,loss\n" + resumed))
    assert run.warnings == [] and points(run, "loss") == [(s, float(s)) for s in range(8)]


def test_a_header_of_too_many_columns_is_refused(tmp_path: Path) -> None:
    f = write(tmp_path / "wide.csv", "step," + ",".join(f"c{i}" for i in range(30_000)) + "\n0\n")
    with pytest.raises(ReaderError) as info:
        read_file(f)
    assert info.value.where == "line 1" and "30,001 columns in the header" in info.value.reason


def test_keras_single_run(tmp_path: Path) -> None:
    f = write(
        tmp_path / "history.csv",
        "epoch,acc,loss,lr,val_acc,val_loss\n0,0.5,1.2,0.001,0.4,1.3\n1,0.6,1.0,0.001,0.5,1.1\n",
    )
    run = read_one(f)
    assert run.meta.tags["csv_dialect"] == "keras" and run.meta.step_axis == "epoch"
    assert run.metric_names == ["acc", "loss", "lr", "val_acc", "val_loss"]
    assert points(run, "loss") == [(0, 1.2), (1, 1.0)]
    assert run.meta.name == tmp_path.name  # "history" is generic


def test_keras_appended_runs_are_split(tmp_path: Path) -> None:
    f = write(
        tmp_path / "cnn_log.csv",
        "epoch,loss,val_loss\n"
        "0,1.0,1.1\n1,0.9,1.0\n2,0.8,0.9\n"
        "0,2.0,2.1\n1,1.9,2.0\n3,1.8,1.9\n"
        "2,0.7,0.8\n4,0.6,0.7\n",
    )  # goes back to 2, not 0: still a new run
    runs = csvlogs.read(f)
    assert [r.meta.name for r in runs] == ["cnn_log #1", "cnn_log #2", "cnn_log #3"]
    assert [r.meta.id for r in runs] == [run_id_for(f, segment=i) for i in range(3)]
    assert points(runs[0], "loss") == [(0, 1.0), (1, 0.9), (2, 0.8)]
    assert points(runs[1], "val_loss") == [(0, 2.1), (1, 2.0), (3, 1.9)]
    assert points(runs[2], "loss") == [(2, 0.7), (4, 0.6)]
    assert len({r.meta.id for r in runs}) == 3


def test_keras_epochs_that_count_down_are_one_run_not_one_per_row(tmp_path: Path) -> None:
    # every row a "restart" is no appended training: 40 one-row runs said nothing useful
    f = write(
        tmp_path / "cnn_log.csv",
        "epoch,loss,val_loss\n"
        + "".join(f"{e},{1 + e / 10},{1.1 + e / 10}\n" for e in range(5, -1, -1)),
    )
    [run] = csvlogs.read(f)
    assert points(run, "loss") == [(e, 1 + e / 10) for e in range(6)]
    assert any("count down over all 6 rows" in w for w in run.warnings)


def test_keras_log_file_is_read_through_the_registry(tmp_path: Path) -> None:
    f = write(
        tmp_path / "training.log",
        "epoch,accuracy,loss,val_accuracy,val_loss\r\n0,0.3,1.8,0.2,1.9\r\n1,0.4,1.5,0.3,1.5\r\n",
    )
    [run] = read_file(f)
    assert run.meta.source == "csv" and run.meta.tags["csv_dialect"] == "keras"
    assert run.meta.name == tmp_path.name  # "training" is generic
    assert points(run, "loss") == [(0, 1.8), (1, 1.5)]


YOLOV8 = (
    "                  epoch,         train/box_loss,         train/cls_loss,         train/dfl_loss,"
    "   metrics/precision(B),           val/box_loss,                 lr/pg0,                 lr/pg1\n"
    "                      0,                 1.6878,                 3.3859,                  2.143,"
    "                 0.1762,                  2.335,                   0.07,              0.0032727\n"
    "                      1,                 1.5,                    3.1,                     2.0,"
    "                 0.2,                     2.2,                     0.05,              0.0063445\n"
)


def test_ultralytics_v8_padded(tmp_path: Path) -> None:
    run = read_one(write(tmp_path / "results.csv", YOLOV8))
    assert run.meta.tags["csv_dialect"] == "ultralytics" and run.meta.step_axis == "epoch"
    assert run.metric_names == [
        "train/box_loss",
        "train/cls_loss",
        "train/dfl_loss",
        "metrics/precision(B)",
        "val/box_loss",
        "lr/pg0",
        "lr/pg1",
    ]
    assert points(run, "train/box_loss") == [(0, 1.6878), (1, 1.5)]
    assert points(run, "lr/pg1") == [(0, 0.0032727), (1, 0.0063445)]
    roles = resolve_roles(run)
    assert roles.train_loss == "train/box_loss+train/cls_loss+train/dfl_loss"
    assert roles.lr == "lr/pg1"  # the weights' group; group 0 (biases) warms up from 0.1


def test_ultralytics_v10_losses_named_by_head_are_read(tmp_path: Path) -> None:
    f = write(
        tmp_path / "results.csv",
        "epoch, train/box_om, train/cls_om, train/box_oo, train/cls_oo, metrics/mAP50(B),"
        " val/box_om, val/cls_om, val/box_oo, val/cls_oo, lr/pg0, lr/pg1\n"
        "1, 1.16, 2.94, 1.02, 5.99, 0.31, 0.51, 2.93, 0.39, 8.83, 0.07, 4e-05\n"
        "2, 0.95, 2.77, 0.82, 5.55, 0.53, 0.33, 2.88, 0.28, 8.72, 0.04, 9.9e-05\n",
    )
    run = read_one(f)
    assert run.meta.tags["csv_dialect"] == "ultralytics"
    roles = resolve_roles(run)
    assert roles.train_loss == "train/box_om+train/cls_om+train/box_oo+train/cls_oo"
    assert roles.val_loss == "val/box_om+val/cls_om+val/box_oo+val/cls_oo"
    assert roles.lr == "lr/pg1"


def test_ultralytics_v8_time_column_is_wall_time(tmp_path: Path) -> None:
    run = read_one(
        write(
            tmp_path / "results.csv",
            "epoch,time,train/box_loss,metrics/mAP50(B),lr/pg0\n"
            "1,34.6,1.72,0.19,0.07\n2,67.0,1.65,0.45,0.04\n",
        )
    )
    assert "time" not in run.metric_names
    assert run.series("train/box_loss")["wall_time"].tolist() == [34.6, 67.0]
    assert run.meta.start_time is None  # elapsed seconds, not a date


def test_ultralytics_trainings_appended_to_one_results_csv_are_one_run_each(
    tmp_path: Path,
) -> None:
    """Ultralytics appends to results.csv: a new training in the same folder starts at the
    first epoch again (its own run), a resume goes back only to the saved epoch (the same
    run, later values kept). Read as one run, the last training's first epoch was all
    that was left ("insufficient data")."""
    rows = [(1, 1.9), (2, 1.7), (3, 1.6), (2, 1.65), (3, 1.55), (4, 1.5)]  # resumed at 2
    rows += [(1, 2.5), (2, 2.4), (3, 2.3), (1, 3.0)]  # two new trainings
    f = write(
        tmp_path / "results.csv",
        "epoch,time,train/box_loss,metrics/mAP50(B),lr/pg0\n"
        + "".join(f"{e},{10 * e},{v},0.1,0.01\n" for e, v in rows),
    )
    runs = read_file(f)
    assert [r.meta.name for r in runs] == [f"{tmp_path.name} #{i}" for i in (1, 2, 3)]
    assert points(runs[0], "train/box_loss") == [(1, 1.9), (2, 1.65), (3, 1.55), (4, 1.5)]
    assert points(runs[1], "train/box_loss") == [(1, 2.5), (2, 2.4), (3, 2.3)]
    assert points(runs[2], "train/box_loss") == [(1, 3.0)]
    assert runs[1].series("train/box_loss")["wall_time"].tolist() == [10.0, 20.0, 30.0]
    assert "3 trainings appended" in " ".join(runs[0].warnings)
    assert not runs[1].warnings  # said once, on the first


def test_an_ultralytics_row_without_an_epoch_is_warned_about_once(tmp_path: Path) -> None:
    f = write(
        tmp_path / "results.csv",
        "epoch,train/box_loss,metrics/mAP50(B),lr/pg0\n"
        "1,1.9,0.1,0.01\n,1.8,0.1,0.01\n2,1.7,0.1,0.01\n3,1.6,0.2,0.01\n",
    )
    [run] = read_file(f)
    assert sum("line 3" in w for w in run.warnings) == 1


def test_ultralytics_v5(tmp_path: Path) -> None:
    f = write(
        tmp_path / "results.csv",
        "               epoch,      train/box_loss,      train/obj_loss,      train/cls_loss,"
        "   metrics/precision,        val/box_loss,               x/lr0,               x/lr1\n"
        "                   0,             0.12278,            0.023659,                   0,"
        "           0.0013889,             0.11717,              0.0937,              0.0007\n"
        "                   1,             0.1,                0.02,                       0,"
        "           0.01,                  0.1,                  0.08,                0.0014\n",
    )
    run = read_one(f)
    assert run.meta.tags["csv_dialect"] == "ultralytics"
    assert run.metric_names == [
        "train/box_loss",
        "train/obj_loss",
        "train/cls_loss",
        "metrics/precision",
        "val/box_loss",
        "x/lr0",
        "x/lr1",
    ]
    assert points(run, "x/lr0") == [(0, 0.0937), (1, 0.08)]
    assert resolve_roles(run).lr == "x/lr1"


def test_wandb_export_one_run_per_name_and_bands_are_not_metrics(tmp_path: Path) -> None:
    f = write(
        tmp_path / "export.csv",
        'Step,"run-a - train/loss","run-a - train/loss__MIN","run-a - train/loss__MAX",'
        '"run b - train/loss","run b - train/loss__MIN","run b - train/loss__MAX",'
        '"run b - lr"\n'
        "0,2.0,1.9,2.1,3.0,2.9,3.1,0.1\n"
        "10,1.5,1.4,1.6,,,,0.1\n"
        "20,,,,2.0,1.9,2.1,0.05\n",
    )
    runs = csvlogs.read(f)
    assert [r.meta.name for r in runs] == ["run-a", "run b"]
    assert [r.meta.id for r in runs] == [
        run_id_for(f, segment="run-a"),
        run_id_for(f, segment="run b"),
    ]
    a, b = runs
    assert a.metric_names == ["train/loss"] and b.metric_names == ["train/loss", "lr"]
    assert not any("__MIN" in m or "__MAX" in m for r in runs for m in r.metric_names)
    assert points(a, "train/loss") == [(0, 2.0), (10, 1.5)]
    assert points(b, "train/loss") == [(0, 3.0), (20, 2.0)]
    assert all(r.meta.tags["csv_dialect"] == "wandb" and r.meta.location == str(f) for r in runs)


# --- parsing ------------------------------------------------------------------------------


def test_semicolon_delimiter(tmp_path: Path) -> None:
    run = read_one(write(tmp_path / "x.csv", "step;loss;val_loss\n0;1.5;\n1;1.25;1.0\n"))
    assert points(run, "loss") == [(0, 1.5), (1, 1.25)] and points(run, "val_loss") == [(1, 1.0)]


def test_semicolon_with_decimal_commas(tmp_path: Path) -> None:
    run = read_one(write(tmp_path / "x.csv", "step;loss\n0;1,5\n1;1,25\n"))
    assert points(run, "loss") == [(0, 1.5), (1, 1.25)]


def test_tab_and_pipe_delimiters(tmp_path: Path) -> None:
    tsv = read_one(write(tmp_path / "x.tsv", "step\tloss\n0\t1\n\n1\t2\n"))
    assert points(tsv, "loss") == [(0, 1.0), (1, 2.0)]
    piped = read_one(write(tmp_path / "y.csv", "step | loss\n0 | 1\n1 | 2\n"))
    assert points(piped, "loss") == [(0, 1.0), (1, 2.0)]


def test_bom_crlf_and_padded_header(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_bytes(b"\xef\xbb\xbf step , loss , val_loss \r\n0, 1.0 ,\r\n1,0.5, 0.7\r\n")
    run = read_one(f)
    assert run.metric_names == ["loss", "val_loss"]
    assert points(run, "loss") == [(0, 1.0), (1, 0.5)] and points(run, "val_loss") == [(1, 0.7)]


def test_windows_double_cr_line_ends(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_bytes(b"epoch,loss\r\r\n0,1.0\r\r\n1,oops\r\r\n2,0.5\r\r\n")
    run = read_one(f)
    assert points(run, "loss") == [(0, 1.0), (2, 0.5)]
    assert run.warnings == [f"{f}: line 3: text in numeric column 'loss', cells ignored"]


def test_gzip_is_read_transparently(tmp_path: Path) -> None:
    f = tmp_path / "run.csv.gz"
    f.write_bytes(gzip.compress(b"step,loss\n0,1.0\n1,0.5\n"))
    run = read_one(f)
    assert run.meta.name == "run" and points(run, "loss") == [(0, 1.0), (1, 0.5)]
    assert csvlogs.sniff(f, head_bytes(f))


def test_text_cells_warn_with_line_numbers(tmp_path: Path) -> None:
    f = write(
        tmp_path / "x.csv", "step,loss,lr\n0,1.0,0.1\n1,oops,0.1\n2,0.5,bad\n3,0.4,0.1\n4,n/a,0.1\n"
    )
    run = read_one(f)
    assert points(run, "loss") == [(0, 1.0), (2, 0.5), (3, 0.4)]  # bad cells are not points
    assert points(run, "lr") == [(0, 0.1), (1, 0.1), (3, 0.1), (4, 0.1)]
    assert run.warnings == [
        f"{f}: line 3: text in numeric column 'loss', cells ignored",
        f"{f}: line 4: text in numeric column 'lr', cells ignored",
    ]


def test_many_bad_cells_name_the_first_lines(tmp_path: Path) -> None:
    rows = "".join(f"{i},{'x' if i % 3 == 0 else i}\n" for i in range(30))
    run = read_one(write(tmp_path / "x.csv", "step,loss\n" + rows))
    [warning] = run.warnings
    assert "lines 2, 5, 8, 11, 14 and 5 more: text in numeric column 'loss'" in warning


def test_whole_text_column_is_dropped_silently(tmp_path: Path) -> None:
    run = read_one(
        write(
            tmp_path / "x.csv",
            "step,loss,checkpoint,flag\n0,1.0,ckpt-0.pt,True\n1,0.5,ckpt-1.pt,False\n",
        )
    )
    assert run.metric_names == ["loss"] and run.warnings == []


def test_unnamed_columns_are_ignored(tmp_path: Path) -> None:
    run = read_one(write(tmp_path / "x.csv", ",step,loss,\n0,0,1.0,\n1,5,0.5,\n"))
    assert run.metric_names == ["loss"] and points(run, "loss") == [(0, 1.0), (5, 0.5)]


def test_nan_and_inf_values_are_kept(tmp_path: Path) -> None:
    run = read_one(write(tmp_path / "x.csv", "step,loss\n0,1.0\n1,nan\n2,inf\n3,-Infinity\n4,\n"))
    s = run.series("loss")
    assert s["step"].tolist() == [0, 1, 2, 3]
    assert math.isnan(s["value"][1]) and s["value"][2] == np.inf and s["value"][3] == -np.inf
    assert run.warnings == []


def test_float_steps(tmp_path: Path) -> None:
    whole = read_one(write(tmp_path / "a.csv", "step,loss\n1.0,1\n2.0,2\n"))
    assert points(whole, "loss") == [(1, 1.0), (2, 2.0)] and whole.warnings == []
    rounded = read_one(write(tmp_path / "b.csv", "step,loss\n0,1\n10.4,2\n20,3\n"))
    assert points(rounded, "loss") == [(0, 1.0), (10, 2.0), (20, 3.0)]
    assert "line 3: fractional 'step' rounded" in rounded.warnings[0]
    # Fractional epochs would collide when rounded: the row order becomes the step.
    frac = read_one(write(tmp_path / "c.csv", "epoch,loss\n0.25,1\n0.5,2\n0.75,3\n1.0,4\n"))
    assert points(frac, "loss") == [(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0)]
    assert "row order is used as the step" in frac.warnings[0]


def test_negative_steps_are_kept_with_a_warning(tmp_path: Path) -> None:
    run = read_one(write(tmp_path / "x.csv", "step,loss\n-1,1\n0,2\n"))
    assert points(run, "loss") == [(-1, 1.0), (0, 2.0)]
    assert "line 2: negative 'step'" in run.warnings[0]


def test_rows_without_a_step_are_skipped_with_a_warning(tmp_path: Path) -> None:
    run = read_one(write(tmp_path / "x.csv", "step,loss\n0,1\n,2\n2,3\n"))
    assert points(run, "loss") == [(0, 1.0), (2, 3.0)]
    assert "line 3: no usable 'step' value" in run.warnings[0]


def test_lines_with_too_many_fields_are_skipped(tmp_path: Path) -> None:
    f = write(tmp_path / "x.csv", "step,loss\n0,1\n1,2,3\n2,3\n")
    run = read_one(f)
    assert points(run, "loss") == [(0, 1.0), (2, 3.0)]
    assert run.warnings == [f"{f}: line 3: more fields than the header, line skipped"]


def test_no_step_column_but_a_loss_uses_the_row_number(tmp_path: Path) -> None:
    run = read_one(write(tmp_path / "x.csv", "loss,val_loss\n1,2\n0.5,1\n"))
    assert points(run, "val_loss") == [(0, 2.0), (1, 1.0)]
    assert "row number is the step" in run.warnings[0]


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "needle", "where"),
    [
        (b"", "empty file", None),
        (b"\n\n  \n", "empty file", None),
        (b"step,loss\n", "no data rows", "line 2"),
        (b"step,loss\r\n\r\n", "no data rows", "line 2"),
        (b"\x00\x01\x02 this is not a training log \xff\xfe", "binary", "byte 0"),
        (b"\x01\x02\x03,\x04\n1,2\n", "binary", "line 1"),
        (b"name,size\nresnet,11\nvit,86\n", "no step or epoch column", "line 1"),
        (b"step,comment\n0,hello\n1,world\n", "no numeric metric values", "line 1"),
        (b"step,loss\nabc,1\ndef,2\n", "'step' column holds no numbers", "line 1"),
    ],
)
def test_bad_input_names_the_file_and_place(
    tmp_path: Path, content: bytes, needle: str, where: str | None
) -> None:
    f = tmp_path / "broken_log.csv"
    f.write_bytes(content)
    with pytest.raises(ReaderError) as info:
        csvlogs.read(f)
    assert info.value.location == str(f) and str(f) in str(info.value)
    assert needle in info.value.reason and info.value.where == where


TOKENS = st.sampled_from(
    [
        "step",
        "epoch",
        "loss",
        "Step",
        "run - loss",
        "run - loss__MIN",
        "time",
        "lr/pg0",
        "train/box_loss",
        ",",
        ";",
        "\t",
        "|",
        "\n",
        "\r\n",
        "\r",
        " ",
        '"',
        "0",
        "1",
        "-1",
        "1.5",
        "1e400",
        "nan",
        "inf",
        "x",
        "True",
        "1,5",
        "2024-01-01",
        "-1-01-01",
        "\ufeff",
        "\x0c",
    ]
)
HEADERS = st.sampled_from(
    [
        "",
        "step,loss\n",
        "epoch,loss,val_loss\n",
        "time,step,loss\n",
        "Step,run - loss,run - loss__MIN\n",
        "epoch,train/box_loss,lr/pg0\n",
    ]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(header=HEADERS, body=st.lists(TOKENS, max_size=60).map("".join))
def test_any_text_gives_runs_or_a_reader_error(tmp_path: Path, header: str, body: str) -> None:
    f = tmp_path / "fuzz.csv"
    f.write_text(header + body, encoding="utf-8")
    try:
        runs = csvlogs.read(f)
    except ReaderError as exc:
        assert exc.location == str(f)
        return
    for run in runs:
        assert run.frame["step"].dtype == np.int64 and run.frame["value"].dtype == np.float64
        assert not run.frame.empty


def test_reader_never_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import warnings

    f = write(tmp_path / "x.csv", "step,loss\n0,1,9\n1,2\n")  # pandas would warn here
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        csvlogs.read(f)
    assert capsys.readouterr() == ("", "")


# --- size limits: refused with a clear limit, never read into memory ------------------


def _huge_sparse(path: Path, size: int = 5 * 2**30) -> Path:
    """A file of ``size`` bytes that takes no disk space (a hole)."""
    with open(path, "wb") as fh:
        fh.write(b"step,loss\n")
        fh.truncate(size)
    return path


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        (2**40, "5.0 GiB is more than the 2.0 GiB limit (set LRTEMPO_MAX_FILE_MB to raise it)"),
        (
            2**30,
            (
                "5.0 GiB is more than the 27.4 MiB that fit in memory now (reading needs about "
                "28x the file's size; 1.0 GiB is available)"
            ),
        ),
    ],
    ids=["cap", "memory"],
)
def test_a_file_over_the_limit_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, available: int, expected: str
) -> None:
    from analyzer.readers import _io

    monkeypatch.delenv("LRTEMPO_MAX_FILE_MB", raising=False)
    monkeypatch.setattr(_io, "available_memory", lambda: available)
    f = _huge_sparse(tmp_path / "huge run.csv")
    error, peak = _refusal_and_peak(f)
    assert str(error) == f"{f}: {expected}"
    assert peak < 2**20  # not a byte of the 5 GB was read


def _refusal_and_peak(path: Path) -> tuple[ReaderError, int]:
    """The ReaderError that reading ``path`` raises, and the peak traced memory meanwhile."""
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ReaderError) as info:
            read_file(path)
        return info.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_cap_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = write(
        tmp_path / "m.csv", "step,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(60_000))
    )
    monkeypatch.setenv("LRTEMPO_MAX_FILE_MB", "0.5")
    with pytest.raises(ReaderError, match=r"MiB is more than the 512 KiB limit \(set LRTEMPO_MAX"):
        read_file(f)
    monkeypatch.setenv("LRTEMPO_MAX_FILE_MB", "5")
    assert len(read_one(f).series("loss")) == 60_000
    monkeypatch.setenv("LRTEMPO_MAX_FILE_MB", "lots")
    with pytest.raises(ReaderError, match="LRTEMPO_MAX_FILE_MB must be a number of MB above 0"):
        read_file(f)


def test_available_memory_is_known_here() -> None:
    from analyzer.readers._io import available_memory

    avail = available_memory()
    assert avail is not None and 0 < avail < 2**50


def test_gzip_bomb_is_stopped_at_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = tmp_path / "bomb.csv.gz"
    with gzip.open(bomb, "wb") as gz:  # 256 MB of a CSV-looking stream, ~250 KB on disk
        gz.write(b"step,loss\n")
        zeros = b"0" * 2**20
        for _ in range(256):
            gz.write(zeros)
    assert bomb.stat().st_size < 2**20
    monkeypatch.setenv("LRTEMPO_MAX_FILE_MB", "8")
    error, peak = _refusal_and_peak(bomb)
    assert (
        error.reason
        == "decompresses to more than the 8.0 MiB limit (set LRTEMPO_MAX_FILE_MB to raise it)"
    )
    assert peak < 24 * 2**20  # stopped at 8 MB, not 256 MB


def test_truncated_gzip_names_the_place(tmp_path: Path) -> None:
    data = gzip.compress(
        b"step,loss\n" + b"".join(b"%d,%f\n" % (i, 1 / (i + 1)) for i in range(20_000))
    )
    f = tmp_path / "cut.csv.gz"
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReaderError) as info:
        read_file(f)
    assert (
        info.value.reason.startswith("truncated gzip data")
        and info.value.where == f"byte {len(data) // 2}"
    )


def test_a_fifo_named_csv_is_refused_without_blocking(tmp_path: Path) -> None:
    import os
    import threading

    fifo = tmp_path / "x.csv"
    os.mkfifo(fifo)
    got: list[BaseException] = []
    t = threading.Thread(
        target=lambda: got.append(pytest.raises(ReaderError, read_file, fifo).value)
    )
    t.start()
    t.join(timeout=10)
    if t.is_alive():  # unblock the reader so the test run can end, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert "not a regular file" in str(got[0])


def test_large_file_is_read_whole(tmp_path: Path) -> None:
    """200k rows come back complete and in order (speed is measured in benchmarks/)."""
    n = 200_000
    rows = np.column_stack([np.arange(n), np.linspace(3, 1, n), np.full(n, 1e-3)])
    f = tmp_path / "metrics.csv"
    np.savetxt(f, rows, delimiter=",", header="step,train_loss,lr-Adam", comments="", fmt="%.6g")
    run = read_one(f)
    s = run.series("train_loss")
    assert len(s) == n and s["step"].is_monotonic_increasing
    assert s["value"].iloc[-1] == pytest.approx(1.0)
    assert run.series("lr-Adam")["value"].eq(1e-3).all()


# --- real logs ----------------------------------------------------------------------------

REAL_DIRS = ("keras_csvlogger", "lightning_csv", "yolo_results_csv")


def real_csv_files(root: Path) -> list[Path]:
    return sorted(
        p for d in REAL_DIRS for p in (root / d).iterdir() if p.suffix in (".csv", ".log")
    )


def test_every_real_csv_log_reads_with_a_train_loss(real_logs: Path) -> None:
    files = real_csv_files(real_logs)
    assert len(files) == 19
    for f in files:
        assert csvlogs.sniff(f, head_bytes(f)), f
        runs = read_file(f)
        assert runs, f
        for run in runs:
            assert run.meta.source == "csv" and run.meta.location == str(f)
            assert resolve_roles(run).train_loss, (f.name, run.metric_names)
            assert run.frame["step"].dtype == np.int64


def test_real_keras_appended_files(real_logs: Path) -> None:
    keras = real_logs / "keras_csvlogger"
    tumor = read_file(keras / "brain_tumor_cnn_four_runs_appended.csv")
    assert [r.meta.name for r in tumor] == [
        f"brain_tumor_cnn_four_runs_appended #{i}" for i in range(1, 5)
    ]
    assert [len(r.series("loss")) for r in tumor] == [5, 4, 10, 5]
    apnea = read_file(keras / "sleep_apnea_cnn_two_runs_appended.csv")
    assert [len(r.series("val_loss")) for r in apnea] == [50, 50]
    assert all(r.series("loss")["step"].tolist() == list(range(50)) for r in apnea)


def test_real_keras_single_runs_are_one_run(real_logs: Path) -> None:
    keras = real_logs / "keras_csvlogger"
    [mnist] = read_file(keras / "mnist_cnn_reduce_lr_on_plateau.csv")  # \r\r\n line ends
    assert len(mnist.series("loss")) == 30 and mnist.warnings == []
    [voice] = read_file(keras / "voice_id_speaker250_overfit.log")
    assert voice.metric_names == ["acc", "loss", "val_acc", "val_loss"]


def test_real_lightning_opal(real_logs: Path) -> None:
    [run] = read_file(real_logs / "lightning_csv/opal_v2_onecycle_lr.csv")
    assert len(run.series("lr-Adam")) == 108 and len(run.series("train/nll_loss")) == 108
    assert len(run.series("val/rmse_loss")) == 8
    roles = resolve_roles(run)
    assert (roles.train_loss, roles.lr) == ("train/nll_loss", "lr-Adam")


def test_real_lightning_resumed_steps(real_logs: Path) -> None:
    [run] = read_file(real_logs / "lightning_csv/slm_training_v5_resumed.csv")
    assert run.series("train_loss_step")["step"].iloc[0] == 140749
    assert len(run.series("train_loss_step")) == 1126 and len(run.series("val_loss")) == 4


def test_real_ultralytics_padded_names(real_logs: Path) -> None:
    [run] = read_file(real_logs / "yolo_results_csv/fire_smoke_yolov8_padded_cols.csv")
    assert "train/box_loss" in run.metric_names and "lr/pg0" in run.metric_names
    assert all(m == m.strip() for m in run.metric_names)
    assert len(run.series("train/box_loss")) == 25 and run.series("lr/pg0")["step"].iloc[0] == 0
    [v5] = read_file(real_logs / "yolo_results_csv/helmet_yolov5_exp2.csv")
    assert len(v5.series("x/lr0")) == 150


def test_a_time_column_of_booleans_is_no_wall_time(tmp_path: Path) -> None:
    # found by the property test: pandas turned "True" into a naive date → TypeError
    f = write(
        tmp_path / "t.csv",
        "time,step,loss\n" + "".join(f"True,{i},{1 / (i + 1)}\n" for i in range(5)),
    )
    run = read_one(f)
    assert len(run.series("loss")) == 5
