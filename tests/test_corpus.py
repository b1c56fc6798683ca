"""The benchmark corpus, its label verification, the baselines and the benchmark harness.

Scores of LR Tempo are not asserted here (the detectors evolve); what is tested is that
the corpus is deterministic, that every label is supported by its curve, and that the
harness produces its table end to end.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from benchmarks import baselines, detection
from benchmarks.corpus import (
    KINDS,
    LabeledRun,
    TrainParams,
    build_real,
    build_synthetic,
    build_synthetic_indep,
    result_to_run,
    save_corpus,
    train,
)
from benchmarks.corpus.verify import curve_stats, reconcile, verify

# Families with every pathology between them, all quick to train.
FAMILIES = ("clf-linear-sgd", "reg-linear-momentum", "clf-mlp-small")


@pytest.fixture(scope="module")
def real() -> list[LabeledRun]:
    return build_real(quick=True, workers=1, families=FAMILIES)


# ---------------------------------------------------------------------------
# determinism
# ---------------------------------------------------------------------------


def test_training_is_deterministic() -> None:
    p = TrainParams(dataset="digits", model="mlp", optimizer="adam", lr=3e-3, steps=120, seed=3)
    a, b = train(p), train(p)
    np.testing.assert_array_equal(a.train_loss, b.train_loss)
    np.testing.assert_array_equal(a.val_loss, b.val_loss)
    np.testing.assert_array_equal(a.lr, b.lr)
    c = train(p.with_(seed=4))
    assert not np.array_equal(a.train_loss, c.train_loss)


def test_real_corpus_is_deterministic(real: list[LabeledRun]) -> None:
    again = build_real(quick=True, workers=1, families=FAMILIES[:1])
    first = [r for r in real if r.scenario.startswith(FAMILIES[0] + "/")]
    assert [r.id for r in again] == [r.id for r in first]
    for x, y in zip(again, first):
        assert x.labels == y.labels
        assert x.run.frame.equals(y.run.frame)


@pytest.mark.parametrize("builder", [build_synthetic, build_synthetic_indep])
def test_synthetic_corpus_is_deterministic(builder) -> None:
    a, b = builder(quick=True, limit=26), builder(quick=True, limit=26)
    assert [r.id for r in a] == [r.id for r in b]
    for x, y in zip(a, b):
        assert x.labels == y.labels
        assert x.run.frame.equals(y.run.frame)
        assert x.direction in ("decrease", "increase", "none")
    kinds = set().union(*(r.labels for r in a))
    assert kinds == set(KINDS)
    assert any(not r.labels for r in a)


def test_params_validate() -> None:
    with pytest.raises(ValueError, match="dataset"):
        TrainParams(dataset="mnist", lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        TrainParams(dataset="digits", lr=-1.0)


# ---------------------------------------------------------------------------
# labels are supported by the curves (checked on the raw series, not the verifier)
# ---------------------------------------------------------------------------


def _smooth(x: np.ndarray, w: int) -> np.ndarray:
    return np.array([np.median(x[max(0, i - w + 1) : i + 1]) for i in range(len(x))])


def test_corpus_has_every_kind_and_healthy(real: list[LabeledRun]) -> None:
    kinds = set().union(*(r.labels for r in real))
    assert kinds == set(KINDS)
    assert sum(1 for r in real if r.healthy) >= 5
    for r in real:
        assert r.labels <= set(KINDS)
        assert r.direction in ("decrease", "increase", "none")
        assert r.params is not None and r.lr == r.params.lr
        if r.labels != r.constructed:
            assert r.note.startswith("relabeled"), r.id


def test_overfitting_labels_are_verified(real: list[LabeledRun]) -> None:
    runs = [r for r in real if "overfitting" in r.labels]
    assert runs
    for r in runs:
        v, vs = r.result.val_loss, r.result.val_step
        start = 0 if "oscillation" not in r.labels else int(0.3 * len(v))
        i = start + int(np.argmin(v[start:]))
        assert vs[i] <= 0.85 * r.params.steps, r.id  # minimum well before the end
        assert (v[-1] - v[i]) / v[i] >= 0.10, r.id  # clear rise
        t = _smooth(r.result.train_loss, 20)
        assert t[-1] < t[min(len(t) - 1, vs[i] - 1)], r.id  # train still falling


def test_divergence_labels_are_verified(real: list[LabeledRun]) -> None:
    runs = [r for r in real if "divergence" in r.labels]
    assert runs
    for r in runs:
        t = r.result.train_loss
        nonfinite = not np.all(np.isfinite(t)) or not np.all(np.isfinite(r.result.val_loss))
        tf = t[np.isfinite(t)]
        explode = np.median(tf[-max(5, len(tf) // 10) :]) > 3 * np.median(
            tf[: max(5, len(tf) // 50)]
        )
        val_explode = r.result.val_loss[-1] > 3 * r.result.initial_val_loss
        assert nonfinite or explode or val_explode, r.id


def test_stagnation_and_healthy_labels_are_verified(real: list[LabeledRun]) -> None:
    for r in real:
        v = r.result.val_loss
        if r.labels == {"stagnation"}:
            j = int(0.4 * len(v))
            assert (v[j] - v[-1]) / v[j] < 0.05, r.id  # barely moves over the tail
            assert v[-1] >= 1.25 * r.stats["floor"], r.id  # far above what is reachable
        if not r.labels:
            assert np.all(np.isfinite(v))
            assert (v[-1] - v.min()) / v.min() < 0.04, r.id  # val does not rise materially
            assert v[-1] < 0.9 * r.result.initial_val_loss, r.id  # it learned


def test_oscillation_labels_are_verified(real: list[LabeledRun]) -> None:
    runs = [r for r in real if "oscillation" in r.labels]
    assert runs
    for r in runs:
        logv = np.log(r.result.val_loss)
        d = np.diff(logv)
        # the val loss goes up a lot and comes back down: undone ascent per eval
        n = len(logv)
        parts = [logv[: max(3, int(0.3 * n))], logv[n // 2 :]]
        undone = [
            (np.maximum(np.diff(p), 0).sum() - max(p[-1] - p[0], 0)) / (len(p) - 1) for p in parts
        ]
        assert max(undone) >= 0.04, r.id
        assert (d > 0).mean() > 0.2, r.id


def test_reconcile_rules() -> None:
    from benchmarks.corpus.verify import Verdict

    same = Verdict(frozenset({"overfitting"}), frozenset())
    assert reconcile(frozenset({"overfitting"}), same) == (frozenset({"overfitting"}), "")
    amb = Verdict(frozenset(), frozenset({"stagnation"}))
    assert reconcile(frozenset({"stagnation"}), amb)[0] is None
    more = Verdict(frozenset({"oscillation", "overfitting"}), frozenset())
    labels, note = reconcile(frozenset({"oscillation"}), more)
    assert labels == {"oscillation", "overfitting"} and note.startswith("relabeled")


def test_verifier_on_textbook_curves() -> None:
    steps = np.arange(10, 1001, 10)
    t = np.linspace(0, 1, 1000)
    healthy_train = 2.0 * np.exp(-5 * t) + 0.1
    healthy_val = healthy_train[steps - 1] * 1.1
    s = curve_stats(healthy_train, steps, healthy_val, 2.3, 0.11, 1000)
    assert verify(s).kinds == frozenset()
    u = healthy_val.copy()
    u[40:] = u[40] * (1 + np.linspace(0, 0.5, 60))
    s = curve_stats(healthy_train, steps, u, 2.3, 0.11, 1000)
    assert verify(s).kinds == {"overfitting"}
    nan = healthy_train.copy()
    nan[-1] = math.nan
    assert verify(curve_stats(nan, steps, healthy_val, 2.3, 0.11, 1000)).kinds == {"divergence"}


# ---------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------


def _has_trainspotter() -> bool:
    try:
        import trainspotter  # noqa: F401
    except ImportError:  # it is in the [bench] extra, not [test]
        return False
    return True


def test_baselines_run_on_real_runs(real: list[LabeledRun]) -> None:
    sample = real[:: max(1, len(real) // 8)]
    for r in sample:
        for name, fn in baselines.BASELINES.items():
            if name == "trainspotter" and not _has_trainspotter():
                continue
            d = fn(r.run)
            assert d.kinds <= set(KINDS), name
            assert d.kinds <= baselines.COVERS[name], name
            assert d.direction in ("decrease", "increase", "none")


def test_baselines_on_known_curves() -> None:
    syn = build_synthetic_indep(quick=True, limit=10)
    by = {r.scenario: r for r in syn}
    nan_run = by["synthetic/nan-divergence"].run
    if _has_trainspotter():
        assert "divergence" in baselines.trainspotter_baseline(nan_run).kinds
    flat = by["synthetic/stagnation"].run
    d = baselines.reduce_lr_on_plateau(flat)
    assert d.kinds == {"stagnation"} and d.direction == "decrease"
    ovf = by["synthetic/overfitting"].run
    e = baselines.early_stopping(ovf)
    assert e.kinds == {"overfitting"} and e.action_step is not None


def test_early_stopping_keras_semantics() -> None:
    from analyzer.model import Run, RunMeta, finalize_frame, frame_from_columns

    def run_of(vals: list[float]) -> Run:
        n = len(vals)
        frame = finalize_frame(frame_from_columns(["val_loss"] * n, list(range(1, n + 1)), vals))
        return Run(RunMeta(id="x", name="x", source="csv", location="x"), frame)

    # best at index 2, then 5 non-improving epochs with one more after -> stops early
    assert baselines.early_stopping(run_of([3, 2, 1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6])).kinds == {
        "overfitting"
    }
    # patience reached exactly at the last point: training ended anyway -> no stop
    assert baselines.early_stopping(run_of([3, 2, 1, 1.1, 1.2, 1.3, 1.4, 1.5])).kinds == set()
    # ReduceLROnPlateau: min_delta 1e-4 absolute; 10 tiny improvements are a plateau
    vals = [1.0 - 1e-5 * i for i in range(12)]
    assert baselines.reduce_lr_on_plateau(run_of(vals)).kinds == {"stagnation"}


# ---------------------------------------------------------------------------
# the harness, end to end (tiny)
# ---------------------------------------------------------------------------


def test_detection_end_to_end_tiny(tmp_path, capsys) -> None:
    out_json = tmp_path / "bench.json"
    assert detection.main(["--limit", "3", "--workers", "1", "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    assert "LR Tempo detection benchmark" in text and "CPUs" in text
    for part in ("real", "synthetic", "combined"):
        for method in detection.METHODS:
            assert any(line.startswith(f"{part:<11} {method}") for line in text.splitlines())
    assert "Closed loop" in text
    data = json.loads(out_json.read_text())
    assert {"real", "synthetic", "combined"} <= set(data["results"])
    for part in data["results"].values():
        assert set(part) == set(detection.METHODS)
        for s in part.values():
            assert set(s["per_kind"]) == set(KINDS)
            assert 0.0 <= s["macro_f1"] <= 1.0
    assert set(data["closed_loop"]) == {"LR Tempo", "reference"}
    assert data["closed_loop"]["LR Tempo"]["summary"]["all"]["runs"] >= 0
    assert data["runs"] and "predictions" in data["runs"][0]


def test_apply_suggestion_rules() -> None:
    from analyzer.findings import Suggestion

    p = TrainParams(dataset="digits", lr=1.0, schedule="step")
    lr = LabeledRun(
        run=None,
        labels=frozenset({"oscillation"}),
        direction="decrease",
        lr=1.0,  # type: ignore[arg-type]
        part="real",
        scenario="x",
        params=p,
    )
    q = detection.apply_suggestion(lr, Suggestion("decrease_lr", current_lr=0.1, suggested_lr=0.03))
    assert q.lr == pytest.approx(0.3) and q.schedule == "step"
    q = detection.apply_suggestion(lr, Suggestion("early_stop", early_stop_step=200))
    assert q.stop_step == 200
    assert detection.apply_suggestion(lr, Suggestion("keep_lr")) is None
    assert detection.apply_suggestion(lr, None) is None
    # a warm-up: warmup+cosine, with the peak it lowers, if it lowers one
    q = detection.apply_suggestion(lr, Suggestion("add_warmup", current_lr=1.0, suggested_lr=1.0))
    assert q.schedule == "warmup_cosine" and q.lr == pytest.approx(1.0)
    lowered = Suggestion("add_warmup", current_lr=1.0, suggested_lr=0.1, factor=0.1)
    q = detection.apply_suggestion(lr, lowered)
    assert q.schedule == "warmup_cosine" and q.lr == pytest.approx(0.1)


def test_save_corpus(tmp_path) -> None:
    syn = build_synthetic_indep(quick=True, limit=3)
    save_corpus(syn, tmp_path)
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert [x["id"] for x in labels] == [r.id for r in syn]
    assert all((tmp_path / f"{r.id}.csv").exists() for r in syn)
    # the saved CSV reads back through LR Tempo's own readers
    from analyzer import read_file

    runs = read_file(tmp_path / f"{syn[0].id}.csv")
    assert runs and "train_loss" in runs[0].metric_names


def test_result_to_run_is_canonical() -> None:
    res = train(TrainParams(dataset="wine", lr=0.01, steps=50, eval_every=10))
    run = result_to_run(res, "w")
    assert set(run.metric_names) == {"train_loss", "val_loss", "lr"}
    assert str(run.frame["step"].dtype) == "int64"
    assert run.meta.params["learning_rate"] == "0.01"
