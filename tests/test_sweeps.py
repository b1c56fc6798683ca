"""LR sweeps from really trained runs (corpus 1's numpy trainer) and a real MLflow server."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analyzer.analysis import analyze_run
from lrtempo.cli import main
from analyzer.findings import Suggestion
from analyzer.model import Run, RunMeta, finalize_frame, frame_from_columns
from analyzer.readers import read_sources
from analyzer.sweeps import (
    SweepPoint,
    batch_scaling,
    find_sweeps,
    name_lr,
    reconcile,
    sweep_point,
    sweeps_of,
)
from benchmarks.corpus.train import TrainParams, TrainResult, train

STEPS = 300


@cache
def trained(lr: float, batch_size: int = 32, seed: int = 0, optimizer: str = "adam") -> TrainResult:
    """One real run on digits (MLP), cached across tests."""
    return train(
        TrainParams(
            dataset="digits",
            model="mlp",
            optimizer=optimizer,
            lr=lr,
            steps=STEPS,
            batch_size=batch_size,
            seed=seed,
        )
    )


def write_csv(res: TrainResult, path: Path) -> None:
    tr = pd.DataFrame({"step": res.train_step, "train_loss": res.train_loss, "lr": res.lr})
    va = pd.DataFrame({"step": res.val_step, "val_loss": res.val_loss})
    tr.merge(va, on="step", how="left").to_csv(path, index=False, float_format="%.9g")


def as_run(res: TrainResult, name: str, params: dict[str, str], log_lr: bool = True) -> Run:
    """A canonical Run of a training result, with run parameters (as MLflow would give)."""
    parts = [
        ("train_loss", res.train_step, res.train_loss),
        ("val_loss", res.val_step, res.val_loss),
    ]
    if log_lr:
        parts.append(("lr", res.train_step, res.lr))
    frame = finalize_frame(
        frame_from_columns(
            np.concatenate([np.full(len(s), m, dtype=object) for m, s, _ in parts]),
            np.concatenate([s for _, s, _ in parts]),
            np.concatenate([v for _, _, v in parts]),
        )
    )
    meta = RunMeta(
        id=name,
        name=name,
        source="mlflow",
        location=f"sqlite:///x.db#{name}",
        params=params,
        experiment="sweep-exp",
    )
    return Run(meta=meta, frame=frame)


def folder_sweep(tmp_path: Path, lrs: list[float]):
    for lr in lrs:
        write_csv(trained(lr), tmp_path / f"run_lr{lr:g}.csv")
    result = read_sources([str(tmp_path)])
    analyses = [analyze_run(r) for r in result.runs]
    return result.runs, analyses, sweeps_of(result.runs, analyses)


def test_folder_of_csv_runs_is_one_sweep_with_a_sensible_recommendation(tmp_path: Path) -> None:
    lrs = [1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 1.0]
    _runs, _analyses, sweeps = folder_sweep(tmp_path, lrs)
    assert len(sweeps) == 1
    s = sweeps[0]
    assert s.group == str(tmp_path) and s.lrs == lrs and len(s.points) == 6
    assert s.metric == "final val_loss"
    best = {p.lr: p.value for p in s.points}
    good = [lr for lr, v in best.items() if v <= 1.2 * min(best.values())]
    assert s.recommended_lr is not None and min(good) <= s.recommended_lr <= max(good)
    lo, hi = s.recommended_range
    assert lo <= s.recommended_lr <= hi
    if s.stability_edge_lr is not None:
        assert s.recommended_lr <= s.stability_edge_lr / 2
        assert hi < s.stability_edge_lr
    best_run = next(p for p in s.points if p.id == s.best_run)
    assert best_run.value == min(best.values())
    assert f"{best_run.lr:.2g}" in s.rationale and f"{s.recommended_lr:.2g}" in s.rationale
    doc = s.to_dict()
    for key in (
        "id",
        "group",
        "runs",
        "lrs",
        "metric",
        "varied",
        "best_run",
        "recommended_lr",
        "recommended_range",
        "stability_edge_lr",
        "confidence",
        "rationale",
    ):
        assert key in doc
    json.dumps(doc, allow_nan=False)


def test_reconciled_suggestions_never_reach_the_unstable_lrs(tmp_path: Path) -> None:
    _runs, analyses, sweeps = folder_sweep(tmp_path, [1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    edge = sweeps[0].stability_edge_lr
    assert edge is not None  # 1.0 with Adam bounces on digits
    for a in reconcile(analyses, sweeps):
        s = a.suggestion
        assert s is not None
        if s.action in ("increase_lr", "decrease_lr"):
            assert s.suggested_lr is not None and s.suggested_lr < edge
            assert s.factor is not None and (s.factor > 1) == (s.action == "increase_lr")
            assert s.suggested_lr == pytest.approx(s.current_lr * s.factor, rel=0.05)


def test_an_increase_past_the_edge_is_cut_to_the_recommendation() -> None:
    runs = [
        as_run(trained(lr), f"r{i}", {"lr": str(lr)})
        for i, lr in enumerate([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    ]
    analyses = [analyze_run(r) for r in runs]
    sweeps = sweeps_of(runs, analyses)
    edge = sweeps[0].stability_edge_lr
    assert edge is not None
    # a per-run rule that asked for ×100 from the smallest LR would cross the edge
    small = analyses[0]
    wild = Suggestion(
        "increase_lr",
        current_lr=1e-4,
        suggested_lr=edge * 3,
        factor=edge * 3 / 1e-4,
        rationale="stuck",
    )
    from dataclasses import replace

    fixed = reconcile([replace(small, suggestion=wild)], sweeps)[0].suggestion
    assert fixed is not None and fixed.action == "increase_lr"
    assert fixed.suggested_lr == pytest.approx(sweeps[0].recommended_lr, rel=0.05)
    assert fixed.factor > 1 and sweeps[0].id in fixed.rationale


def test_best_lr_at_the_largest_tried_says_try_larger(tmp_path: Path) -> None:
    lrs = [1e-5, 3e-5, 1e-4]  # all far too small for Adam on digits in 300 steps
    _, _, sweeps = folder_sweep(tmp_path, lrs)
    s = sweeps[0]
    assert s.at_edge == "high"
    assert s.recommended_lr == pytest.approx(1e-4)  # never a number outside what was tried
    assert s.recommended_range[1] <= 1e-4
    assert all(v > 1e-4 for v in s.next_lrs)
    assert "try larger" in s.rationale and s.confidence <= 0.5


def test_batch_size_and_lr_group_is_split_and_scaling_reported() -> None:
    runs = []
    for bs in (16, 128):
        for lr in (3e-4, 1e-3, 3e-3, 1e-2, 3e-2):
            runs.append(
                as_run(
                    trained(lr, batch_size=bs),
                    f"bs{bs}_lr{lr:g}",
                    {"learning_rate": str(lr), "batch_size": str(bs), "optimizer": "adam"},
                    log_lr=False,
                )
            )
    analyses = [analyze_run(r) for r in runs]
    sweeps = sweeps_of(runs, analyses)
    assert sorted(s.split["batch_size"] for s in sweeps) == ["128", "16"]
    for s in sweeps:
        assert len(s.points) == 5 and "batch_size" not in s.varied
        assert s.batch_scaling is not None
        assert set(s.batch_scaling["best_lr_by_batch_size"]) == {"16", "128"}
        assert s.batch_scaling["rule"] in ("linear", "square-root")
        assert s.to_dict()["batch_scaling"]["param"] == "batch_size"


def test_seeds_do_not_split_a_sweep_and_give_the_noise() -> None:
    runs = [
        as_run(
            trained(lr, seed=seed),
            f"lr{lr:g}_s{seed}",
            {"lr": str(lr), "seed": str(seed), "out_dir": f"/ck/lr{lr:g}_s{seed}"},
        )
        for lr in (1e-3, 3e-3, 1e-2)
        for seed in (0, 1)
    ]
    analyses = [analyze_run(r) for r in runs]
    sweeps = sweeps_of(runs, analyses)
    assert len(sweeps) == 1
    assert set(sweeps[0].varied) == {"lr", "seed", "out_dir"} and not sweeps[0].split
    assert sweeps[0].curve and len(sweeps[0].curve["band"]) == len(sweeps[0].curve["fit"])


def test_lr_from_name_when_neither_param_nor_series() -> None:
    assert name_lr("resnet_lr3e-4_bs64") == pytest.approx(3e-4)
    assert name_lr("run-lr_0.001") == pytest.approx(1e-3)
    assert name_lr("lr=1e-3") == pytest.approx(1e-3)
    assert name_lr("clr-plain") is None and name_lr("baseline") is None
    # a file-name-safe exponent (pets UNet sweep folders UNet_lr7e_5 … UNet_lr2e_3)
    assert name_lr("UNet_lr7e_5") == pytest.approx(7e-5)
    assert name_lr("UNet_lr2e_3") == pytest.approx(2e-3)
    runs = [as_run(trained(lr), f"exp_lr{lr:g}", {}, log_lr=False) for lr in (1e-3, 1e-2, 1e-1)]
    pts = [sweep_point(r, analyze_run(r)) for r in runs]
    assert [p.lr_from for p in pts] == ["name"] * 3
    assert len(find_sweeps(pts)) == 1


def test_too_few_runs_or_one_lr_is_no_sweep() -> None:
    runs = [
        as_run(trained(1e-3, seed=s), f"s{s}", {"lr": "0.001", "seed": str(s)}) for s in range(3)
    ]
    assert sweeps_of(runs, [analyze_run(r) for r in runs]) == []
    two = runs[:1] + [as_run(trained(1e-2), "b", {"lr": "0.01"})]
    assert sweeps_of(two, [analyze_run(r) for r in two]) == []


def test_batch_scaling_exponent() -> None:
    lin = batch_scaling([(32, 1e-3), (64, 2e-3), (128, 4e-3)])
    assert lin["rule"] == "linear" and lin["exponent"] == pytest.approx(1.0)
    sq = batch_scaling([(32, 1e-3), (128, 2e-3)])
    assert sq["rule"] == "square-root" and sq["exponent"] == pytest.approx(0.5)


@pytest.mark.mlflow_server
def test_mlflow_experiment_sweep_in_the_json(mlflow_server) -> None:
    from tests.fixtures_mlflow import log_run

    client = mlflow_server.client()
    exp = client.create_experiment("lr-sweep-issue11")
    ids = {}
    for lr in (1e-4, 1e-3, 1e-2, 1e-1, 1.0):
        res = trained(lr)
        ids[lr] = log_run(
            client,
            exp,
            f"adam-{lr:g}",
            {"train_loss": res.train_loss, "lr": res.lr},
            steps=[int(s) for s in res.train_step],
            params={"learning_rate": str(lr), "optimizer": "adam", "seed": "0"},
        )
        for s, v in zip(res.val_step, res.val_loss):
            client.log_metric(ids[lr], "val_loss", float(v), step=int(s))
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            ["analyze", mlflow_server.url, "--experiment", "lr-sweep-issue11", "--format", "json"]
        )
    assert code == 0
    doc = json.loads(out.getvalue())
    assert len(doc["sweeps"]) == 1
    s = doc["sweeps"][0]
    assert sorted(s["runs"]) == sorted(ids.values())
    assert s["lrs"] == [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    assert "lr-sweep-issue11" in s["group"] and s["best_run"] in ids.values()
    assert 1e-4 < s["recommended_lr"] < 1.0 and math.isfinite(s["confidence"])
    assert s["stability_edge_lr"] is None or s["recommended_lr"] < s["stability_edge_lr"]
    # --group-by a parameter: the group is that parameter's value
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert (
            main(
                [
                    "analyze",
                    mlflow_server.url,
                    "--experiment",
                    "lr-sweep-issue11",
                    "--format",
                    "json",
                    "--group-by",
                    "optimizer",
                ]
            )
            == 0
        )
    by = json.loads(out.getvalue())["sweeps"]
    assert [x["group"] for x in by] == ["optimizer=adam"] and by[0]["runs"] == s["runs"]


def test_review_through_the_fleet_has_the_same_sweeps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for lr in (1e-4, 1e-3, 1e-2, 1e-1, 1.0):
        write_csv(trained(lr), tmp_path / f"run_lr{lr:g}.csv")
    docs = []
    for extra in ([], ["--executor", "processes:2"]):
        assert main(["review", str(tmp_path), "--since", "3650d", "--format", "json", *extra]) == 0
        docs.append(json.loads(capsys.readouterr().out))
    assert docs[0]["sweeps"] == docs[1]["sweeps"] and len(docs[0]["sweeps"]) == 1
    sugs = [
        [r["suggestion"] for r in sorted(d["runs"], key=lambda r: r["run"]["id"])] for d in docs
    ]
    assert sugs[0] == sugs[1]
    assert main(["review", str(tmp_path), "--since", "3650d", "--format", "markdown"]) == 0
    assert "## Sweeps" in capsys.readouterr().out
    assert main(["analyze", str(tmp_path), "--group-by", "optimzer", "--format", "json"]) == 0
    out = capsys.readouterr()
    assert "--group-by optimzer: no run has this parameter" in out.err
    assert len(json.loads(out.out)["sweeps"]) == 1  # still grouped by the folder
    assert main(["review", str(tmp_path), "--since", "3650d", "--format", "html"]) == 0
    page = capsys.readouterr().out
    sweeps_part = page[page.index("<h2>Sweeps</h2>") :]
    finite = [p for p in docs[0]["sweeps"][0]["points"] if p["value"] is not None]
    assert sweeps_part.count("<circle") == len(finite)  # one dot per run with a loss
    assert 'stroke="#27ae60"' in sweeps_part  # the recommended LR's line


def test_benchmark_scoring_and_designs() -> None:
    from benchmarks.sweeps import SPAN, SetupRuns, designs, ema, fastai_min10, score

    assert score(1e-3, (1e-3, 3e-3)) == (True, True)
    assert score(5e-4, (1e-3, 3e-3)) == (False, True)
    assert score(1e-4, (1e-3, 3e-3)) == (False, False) and score(None, (1, 2)) == (False, False)
    flat = ema(np.full(50, 2.0), 0.98, bias_correct=True)
    assert np.allclose(flat, 2.0)  # bias correction: no pull towards 0 at the start
    lrs = np.logspace(-6, 1, 71)
    loss = 2.0 - np.exp(-((np.log10(lrs) + 2) ** 2))  # minimum at 1e-2
    # min/10 of a lagging EMA: at or after the true minimum's tenth, never before it
    assert 1e-3 <= fastai_min10(lrs, loss) <= 1e-1
    runs = {
        j: {0: (f"r{j}", None)} | ({1: (f"r{j}s1", None)} if j in (0, 2) else {})
        for j in range(-8, 7)
    }
    st = SetupRuns("f/s", "tune", 1e-3, (1e-3, 3e-3), runs)  # type: ignore[arg-type]
    for d in designs(st, 20, np.random.default_rng(0)):
        js = sorted({j for j, _ in d})
        assert js[0] == SPAN[0] and js[-1] == SPAN[-1] and 5 <= len(js) <= 9
        assert all((j, 1) in d for j in js if j in (0, 2))


def test_benchmark_range_test_cache_holds_one_ramp_per_seed(tmp_path: Path) -> None:
    from benchmarks.sweeps import SetupRuns, range_tests, ramp_key, score_range_tests

    assert ramp_key("f/s", 0) == "f/s" and ramp_key("f/s", 2) == "f/s@seed2"
    lrs = np.logspace(-6, 1, 71).tolist()
    fall = (2.0 - 1.5 / (1 + np.exp(-3 * (np.log10(lrs) + 3)))).tolist()  # floor from 1e-2
    cache = tmp_path / "ramps.json"
    seed1 = [lrs[:61], fall[:60] + [None]]  # ended on a non-finite loss
    cache.write_text(json.dumps({"f/s": [lrs, fall], "f/s@seed1": seed1}))
    st = SetupRuns("f/s", "tune", 1e-2, (3e-3, 3e-2), {})
    ramps = range_tests([st], cache, seeds=(0, 1, 2), train=False)  # nothing trained
    assert set(ramps) == {"f/s", "f/s@seed1"} and math.isnan(ramps["f/s@seed1"][1][-1])
    rows = score_range_tests([st], ramps, seeds=(0, 1, 2))
    assert [r["seed"] for r in rows] == [0, 1, "median"]  # + one combined row per setup
    rule = "LR Tempo suggested (90% of the fall, centred smoothing)"
    assert all(r["ok"][rule]["seed0"] == (True, True) for r in rows[:2])  # 90 % by ~5e-3
    median = rows[2]["lrs"]["LR Tempo suggested, median of the setup's 3 ramps (one per setup)"]
    assert median == pytest.approx(np.median([r["lrs"][rule] for r in rows[:2]]))


def test_benchmark_interpolated_good_range_reads_between_the_grid_points() -> None:
    from benchmarks.sweeps import SetupRuns, interpolated_range, scores

    # best 1.0 at 1e-2; 1.2 at 1e-3 and 1.4 at 1e-1: within 10 % half-way below (1.1),
    # a quarter of the way above (1.1 of 1.0 → 1.4)
    lo, hi = interpolated_range([[1e-3, 1.2], [1e-2, 1.0], [1e-1, 1.4], [1.0, None]])
    assert math.log10(lo) == pytest.approx(-2.5) and math.log10(hi) == pytest.approx(-1.75)
    # a good neighbour widens it to that neighbour and on; a non-finite one stops it there
    lo, hi = interpolated_range([[1e-3, 1.05], [1e-2, 1.0], [1e-1, None]])
    assert lo == pytest.approx(1e-3) and hi == pytest.approx(1e-2)
    assert interpolated_range([[1e-3, None], [1e-2, None]]) is None
    st = SetupRuns("f/s", "tune", 1e-2, (1e-2, 1e-2), {}, None, (10**-2.5, 10**-1.75))
    got = scores(3e-2, st)  # a ×3 step from a one-point lattice range: out there, in here
    assert got == {"seed0": (False, False), "seeds": (False, False), "interp": (False, True)}
    assert scores(1.5e-2, st)["interp"] == (True, True) and scores(1.5e-2, st)["seed0"][0] is False


def test_a_run_that_blew_up_before_its_first_evaluation_joins_the_sweep() -> None:
    runs = []
    for lr in (0.003, 0.03, 0.3, 30.0):  # SGD on diabetes (MSE): 30 overflows by step ~60
        res = train(
            TrainParams(
                dataset="diabetes", model="mlp", optimizer="sgd", lr=lr, steps=300, eval_every=100
            )
        )
        runs.append(as_run(res, f"sgd-{lr:g}", {"lr": str(lr)}))
    assert len(runs[-1].series("val_loss")) == 0  # no evaluation before the blow-up
    analyses = [analyze_run(r) for r in runs]
    sweeps = sweeps_of(runs, analyses)
    assert len(sweeps) == 1 and len(sweeps[0].points) == 4
    s = sweeps[0]
    assert s.stability_edge_lr is not None and s.stability_edge_lr <= 30.0
    assert s.recommended_lr is not None and s.recommended_lr <= 0.3
    assert "30 diverged" in s.rationale


def _pt(lr: float, value: float, status: str = "healthy") -> SweepPoint:
    return SweepPoint(
        id=f"r{lr:g}",
        name=f"r{lr:g}",
        group="g",
        lr=lr,
        lr_from="param",
        metric="val_loss",
        value=value,
        status=status,
        metrics_key=("loss", "val_loss"),
        params={"lr": str(lr)},
    )


def test_a_gap_below_the_edge_is_named_and_a_bounce_that_cost_nothing_is_no_edge() -> None:
    base = [_pt(1e-5, 1.0), _pt(3e-5, 0.9), _pt(1e-4, 0.8), _pt(1e-1, math.inf, "divergence")]
    better = find_sweeps([*base, _pt(1e-2, 0.3, "oscillation")])[0]
    assert better.stability_edge_lr == pytest.approx(1e-1)  # 1e-2 bounced, ended lowest
    assert better.recommended_lr == pytest.approx(1e-2)
    assert "0.01 oscillated" in better.rationale and "bounced but still ended lowest" in (
        better.rationale
    )
    assert [round(v, 6) for v in better.next_lrs] == [0.003333]
    worse = find_sweeps([*base, _pt(1e-2, 2.0, "oscillation")])[0]
    assert worse.recommended_lr == pytest.approx(1e-4)  # the best stable run
    assert [round(v, 6) for v in worse.next_lrs] == [0.001, 0.003333]
    assert "Nothing between 0.0001 and 0.01 was tried" in worse.rationale


def test_benchmark_runs_on_the_cached_corpus2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from benchmarks.corpus2.families import SETUPS
    from benchmarks.corpus2.store import DATA_DIR, exists
    from benchmarks.sweeps import main as bench

    if not exists(DATA_DIR):
        pytest.skip("no corpus 2 cache")
    assert bench(["--designs", "1", "--no-range-tests", "--json", str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    assert f"| sweep: LR Tempo recommended | all | {len(SETUPS)} |" in out
    rows = json.loads((tmp_path / "b.json").read_text())["sweeps"]
    assert len(rows) == len(SETUPS) and all(r["sweeps_found"] == 1 for r in rows)
    assert all(5 <= len(r["js"]) <= 9 and r["js"][0] == -6 and r["js"][-1] == 4 for r in rows)


def test_unrelated_logs_in_one_folder_are_no_sweep() -> None:
    # sample_runs/keras: a CNN log (LR logged as `lr`) beside two appended trainings of
    # another script (`learning_rate`) at 1e-3 and 3e-3: three runs, two LRs, one folder
    result = read_sources([str(Path(__file__).parents[1] / "sample_runs" / "keras")])
    analyses = [analyze_run(r) for r in result.runs]
    assert len(analyses) == 3
    assert sweeps_of(result.runs, analyses) == []


def test_an_untried_gap_the_losses_bend_toward_gets_a_x3_step() -> None:
    """The best tried LR (1e-3) with a 2-decade untried gap above it: the parabola of log
    loss through 1e-4, 1e-3 and 1e-1 has its minimum above 1e-3, so the advice is the ×3
    step into the gap, said to be untried; a curve centred on the best, or no gap beside
    it, keeps the tried LR."""
    diverged = _pt(1.0, math.inf, "divergence")
    bends = find_sweeps([_pt(1e-5, 2.0), _pt(1e-4, 1.0), _pt(1e-3, 0.6), _pt(1e-1, 1.5), diverged])[
        0
    ]
    assert bends.recommended_lr == pytest.approx(10**-2.5, rel=0.05)
    assert bends.stability_edge_lr == pytest.approx(1.0)
    assert "0.0032 itself was not tried" in bends.rationale
    lo, hi = bends.recommended_range
    assert lo == pytest.approx(1e-3) and hi == pytest.approx(10**-2.5, rel=0.05)  # not 0.1
    centred = find_sweeps([_pt(1e-5, 1.0), _pt(1e-3, 0.6), _pt(1e-1, 1.0), diverged])[0]
    assert centred.recommended_lr == pytest.approx(1e-3)
    assert "not tried" not in centred.rationale
    dense = find_sweeps([_pt(1e-4, 1.0), _pt(3e-4, 0.7), _pt(1e-3, 0.6), _pt(3e-3, 0.7), diverged])[
        0
    ]
    assert dense.recommended_lr == pytest.approx(1e-3)


def test_a_best_lr_whose_tried_neighbours_are_all_worse_gets_a_range_not_a_point() -> None:
    """Neighbours a decade away, both clearly worse: the good range is not the one LR
    tried but the span up to the midpoints (in log LR) towards them."""
    [s] = find_sweeps([_pt(1e-3, 2.0), _pt(1e-2, 0.5), _pt(1e-1, 2.0)])
    assert s.recommended_lr == pytest.approx(1e-2)
    lo, hi = s.recommended_range
    assert lo == pytest.approx(10**-2.5, rel=0.02) and hi == pytest.approx(10**-1.5, rel=0.02)


def _analysis_with(run_id: str, suggestion: Suggestion):
    """An analysis of a small run named ``run_id`` whose suggestion is ``suggestion``."""
    from dataclasses import replace

    meta = RunMeta(id=run_id, name=run_id, source="csv", location=run_id)
    x = np.arange(50)
    frame = frame_from_columns(["loss"] * 50, x, 1.0 / (1.0 + x))
    return replace(analyze_run(Run(meta=meta, frame=finalize_frame(frame))), suggestion=suggestion)


def test_a_run_in_a_sweep_gets_its_lr_change_sized_by_the_sweep() -> None:
    """One run shows which way to move (×10 up); its sweep measured how far: the best LR
    tried, inside the range, is the new LR. Not when the sweep's best is at its edge, and
    never against the run's own direction."""
    pts = [_pt(1e-5, 2.0), _pt(1e-4, 1.5), _pt(1e-3, 0.6), _pt(1e-2, 0.9), _pt(1e-1, 1.8)]
    [s] = find_sweeps(pts)
    assert s.at_edge is None and s.recommended_lr == pytest.approx(1e-3)
    up = Suggestion("increase_lr", current_lr=1e-5, suggested_lr=1e-4, factor=10.0)
    [a] = reconcile([_analysis_with("r1e-05", up)], [s])
    assert a.suggestion.action == "increase_lr" and a.suggestion.suggested_lr == pytest.approx(1e-3)
    assert a.suggestion.factor == pytest.approx(100.0) and s.id in a.suggestion.rationale
    # the sweep's best is above the run's LR: a decrease keeps its own size
    down = Suggestion("decrease_lr", current_lr=1e-5, suggested_lr=1e-6, factor=0.1)
    [b] = reconcile([_analysis_with("r1e-05", down)], [s])
    assert b.suggestion == down
    # a sweep whose best is its largest LR (at the edge) does not size anything
    [edge] = find_sweeps([_pt(1e-5, 2.0), _pt(1e-4, 1.5), _pt(1e-3, 0.6)])
    assert edge.at_edge == "high"
    [c] = reconcile([_analysis_with("r1e-05", up)], [edge])
    assert c.suggestion == up


def test_a_warm_up_for_a_run_at_its_sweeps_unstable_lrs_becomes_a_decrease() -> None:
    """A warm-up calms the first steps, not an LR the team's runs show unstable: a run at
    or above its sweep's stability edge is sent to the recommended LR instead; below the
    edge the warm-up stands, and its own cut of the peak is sized by the sweep."""
    pts = [
        _pt(1e-4, 1.5),
        _pt(1e-3, 0.6),
        _pt(1e-2, 0.9),
        _pt(1e-1, 1.8, "oscillation"),
        _pt(1.0, math.inf, "divergence"),
    ]
    [s] = find_sweeps(pts)
    assert s.stability_edge_lr == pytest.approx(1e-1) and s.recommended_lr < 1e-1
    warm = Suggestion("add_warmup", current_lr=1e-1, suggested_lr=1e-1, extra={"warmup_steps": 20})
    [a] = reconcile([_analysis_with("r0.1", warm)], [s])
    assert a.suggestion.action == "decrease_lr"
    assert a.suggestion.suggested_lr == pytest.approx(s.recommended_lr, rel=0.01)
    assert "warm-up alone" in a.suggestion.rationale and s.id in a.suggestion.rationale
    calm = Suggestion("add_warmup", current_lr=1e-2, suggested_lr=1e-2)
    [b] = reconcile([_analysis_with("r0.01", calm)], [s])
    assert b.suggestion == calm
    assert "warmup_steps" not in a.suggestion.extra
    # a warm-up that also lowers the peak below the edge stays a warm-up, its peak the
    # sweep's recommended LR
    lowered = Suggestion(
        "add_warmup", current_lr=1e-1, suggested_lr=1e-4, factor=1e-3, extra={"warmup_steps": 20}
    )
    [c] = reconcile([_analysis_with("r0.1", lowered)], [s])
    assert c.suggestion.action == "add_warmup" and c.suggestion.extra["warmup_steps"] == 20
    assert c.suggestion.suggested_lr == pytest.approx(s.recommended_lr, rel=0.01)
    assert "Sized by the sweep" in c.suggestion.rationale


def test_a_healthy_looking_run_clearly_behind_its_sweep_is_moved_to_its_lr() -> None:
    """No finding in the run (keep the LR), but the sweep ended 3× lower at an LR two
    decades up: the run is told to move there. Not a run inside the recommended range,
    not one whose loss is within 10 % of the best, not when the best is at the edge."""
    pts = [_pt(1e-5, 2.0), _pt(1e-4, 1.5), _pt(1e-3, 0.6), _pt(1e-2, 0.9), _pt(1e-1, 1.8)]
    [s] = find_sweeps(pts)
    keep = Suggestion("keep_lr", current_lr=1e-5, suggested_lr=1e-5, rationale="No problem found")
    [a] = reconcile([_analysis_with("r1e-05", keep)], [s])
    assert a.status == "healthy"
    assert a.suggestion.action == "increase_lr"
    assert a.suggestion.suggested_lr == pytest.approx(s.recommended_lr, rel=0.01)
    assert "reached 0.6 where this run ended at 2" in a.suggestion.rationale
    assert reconcile([a], [s])[0].suggestion == a.suggestion  # idempotent
    inside = Suggestion("keep_lr", current_lr=1e-3, suggested_lr=1e-3)
    assert reconcile([_analysis_with("r0.001", inside)], [s])[0].suggestion == inside
    [close] = find_sweeps([*pts[:4], _pt(1e-1, 0.63)])
    near = Suggestion("keep_lr", current_lr=1e-1, suggested_lr=1e-1)
    assert reconcile([_analysis_with("r0.1", near)], [close])[0].suggestion == near
    [edge] = find_sweeps([_pt(1e-5, 2.0), _pt(1e-4, 1.5), _pt(1e-3, 0.6)])
    assert reconcile([_analysis_with("r1e-05", keep)], [edge])[0].suggestion == keep
    # a negative loss (a log-likelihood objective) has no "10 % above the best"
    [neg] = find_sweeps([_pt(lr, v - 3.0) for lr, v in ((p.lr, p.value) for p in pts)])
    assert reconcile([_analysis_with("r1e-05", keep)], [neg])[0].suggestion == keep
