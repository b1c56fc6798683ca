"""Corpus 2: the cached real PyTorch runs, their labels, the family split, the retrain API.

The cache tests need only numpy (skipped when the cache is absent); the training tests
need torch (``pip install -e '.[corpus]'``) and are skipped without it.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.corpus.verify import KINDS
from benchmarks.corpus2 import (
    FAMILIES,
    HELDOUT,
    OPTIMIZERS,
    SCHEDULES,
    SETUPS,
    TUNE,
    load_corpus2,
    store,
)
from benchmarks.corpus2.build import decide, final_val, verify_curves
from benchmarks.corpus2.plan import constructed
from benchmarks.corpus2.train import Spec, lr_factors

ROOT = Path(__file__).resolve().parents[1]

needs_cache = pytest.mark.skipif(not store.exists(), reason="corpus 2 cache not generated")


@pytest.fixture(scope="module")
def cached():
    results, manifest = store.load()
    return results, manifest


@pytest.fixture(scope="module")
def corpus():
    return load_corpus2(regenerate=False)


# ---------------------------------------------------------------------------
# the split, written in code
# ---------------------------------------------------------------------------


def test_the_family_split_is_fixed_disjoint_and_covers_every_family() -> None:
    assert TUNE and HELDOUT
    assert not set(TUNE) & set(HELDOUT)
    assert set(TUNE) | set(HELDOUT) == set(FAMILIES)
    assert {s.family for s in SETUPS} == set(FAMILIES)
    assert {s.optimizer for s in SETUPS} == set(OPTIMIZERS)
    assert {s.schedule for s in SETUPS} == set(SCHEDULES)


def test_schedules_start_at_the_base_lr_or_warm_up_to_it() -> None:
    for name in SCHEDULES:
        f = lr_factors(name, 400)
        assert f.shape == (400,) and np.all(f >= 0) and f.max() == pytest.approx(1.0)
        if name.startswith("warmup"):
            assert f[0] < 0.1 and np.argmax(f) == 19  # 5 % of 400 steps
        elif name == "one_cycle":  # PyTorch OneCycleLR: from 1/25 up over 30 %, then down
            assert f[0] == pytest.approx(0.04) and abs(int(np.argmax(f)) - 120) <= 1
            assert f[-1] < 1e-3
        else:
            assert f[0] == 1.0
    with pytest.raises(ValueError, match="schedule 'cyclic'"):
        Spec("logreg", "sgd", "cyclic", 0.1, 10)


# ---------------------------------------------------------------------------
# the cache (numpy only)
# ---------------------------------------------------------------------------


@needs_cache
def test_cached_corpus_size_families_and_split(corpus, cached) -> None:
    _, manifest = cached
    assert len(corpus) >= 400
    fams = {r.run.meta.tags["family"] for r in corpus}
    assert len(fams) >= 8
    assert manifest["split"] == {"tune": list(TUNE), "heldout": list(HELDOUT)}
    sides = {
        side: {r.id for r in corpus if r.run.meta.tags["split"] == side}
        for side in ("tune", "heldout")
    }
    assert sides["tune"] and sides["heldout"] and not sides["tune"] & sides["heldout"]
    for r in corpus:
        fam = r.run.meta.tags["family"]
        assert (fam in TUNE) == (r.run.meta.tags["split"] == "tune")
    with pytest.raises(ValueError, match="split must be"):
        load_corpus2("train", regenerate=False)


@needs_cache
def test_every_label_optimizer_and_schedule_is_represented(corpus) -> None:
    counts = {k: sum(k in r.labels for r in corpus) for k in KINDS}
    counts["healthy"] = sum(not r.labels for r in corpus)
    assert counts["healthy"] >= 60, counts
    assert all(counts[k] >= 40 for k in KINDS), counts
    assert {r.params.optimizer for r in corpus} == set(OPTIMIZERS)
    assert {r.params.schedule for r in corpus} == set(SCHEDULES)
    for side in ("tune", "heldout"):
        sub = [r for r in corpus if r.run.meta.tags["split"] == side]
        assert any(not r.labels for r in sub)
        assert all(any(k in r.labels for r in sub) for k in KINDS), side


@needs_cache
def test_labels_agree_with_verification_recomputed_from_the_stored_curves(cached) -> None:
    results, manifest = cached
    floors: dict[tuple, float] = {}
    for res in results:
        v = res.val_loss[np.isfinite(res.val_loss)]
        if len(v):
            k = (res.spec.family, res.spec.setup, res.spec.n_train)
            floors[k] = min(floors.get(k, math.inf), float(v.min()))
    kept = 0
    for res, m in zip(results, manifest["runs"]):
        floor = floors[(res.spec.family, res.spec.setup, res.spec.n_train)]
        assert floor == pytest.approx(m["floor"], rel=1e-6)
        small = res.spec.n_train is not None
        built = constructed(m["j"], small)
        assert sorted(built) == m["constructed"]
        labels, note = decide(built, verify_curves(res, floor), m["j"], small)
        assert (labels is not None) == m["kept"], m["id"]
        assert note == m["note"], m["id"]
        if labels is not None:
            kept += 1
            assert sorted(labels) == m["labels"], m["id"]
    assert kept == manifest["report"]["kept"]


def _verdict(kinds: frozenset[str], level: float, floor: float, start: float):
    from benchmarks.corpus.verify import Verdict

    stats = {"level_end": level, "floor": floor, "initial_val": start, "impr_tail": 0.5}
    return Verdict(kinds, frozenset(), stats)


@pytest.mark.parametrize(
    ("level", "floor", "want"),
    [
        (3.0, 0.2, {"stagnation"}),  # ends at 0.6 of a way 1.0 -> 0.2: half of it to go
        (3.0, 0.01, set()),  # 3x a floor near 0, but 98 % of the way there: healthy
        (1.13, 0.85, {"stagnation"}),  # a hard task's floor near its start: 73 % to go
        (1.3, 0.5, {"stagnation"}),  # outside the good range, 30 % of the way to go
        (1.5, 0.3, None),  # 1.5x the floor, 21 % to go: ambiguous, dropped
        (1.08, 0.9, set()),  # inside the good range (10 %): healthy however far to go
        (1.1, 0.5, set()),  # near the floor: healthy
    ],
)
def test_a_run_below_the_good_lr_that_reads_healthy_but_ends_far_short_is_too_slow(
    level: float, floor: float, want: set[str] | None
) -> None:
    labels, note = decide(frozenset(), _verdict(frozenset(), level, floor, 1.0), -2, False)
    assert (None if labels is None else set(labels)) == want, note
    # above the good LR the same curve says nothing about a too-small LR
    above, _ = decide(frozenset(), _verdict(frozenset(), level, floor, 1.0), 1, False)
    assert above == frozenset()


def test_a_bouncing_run_at_or_below_the_good_lr_is_not_labelled_oscillation() -> None:
    osc = frozenset({"oscillation"})
    for j in (0, -1):
        labels, note = decide(frozenset(), _verdict(osc, 1.0, 0.5, 1.0), j, False)
        assert labels is None and "at or below the good LR" in note
    labels, _ = decide(frozenset(), _verdict(osc, 1.0, 0.5, 1.0), 1, False)
    assert labels == osc


def test_a_settled_run_at_or_above_the_good_lr_is_not_labelled_stagnation() -> None:
    stag = frozenset({"stagnation"})
    for j in (0, 1):
        labels, note = decide(frozenset(), _verdict(stag, 1.0, 0.5, 1.0), j, False)
        assert labels is None and "at or above the good LR" in note
    labels, _ = decide(frozenset({"stagnation"}), _verdict(stag, 1.0, 0.5, 1.0), -1, False)
    assert labels == stag


@needs_cache
def test_each_setup_records_its_good_lr_range_and_final_val(cached) -> None:
    results, manifest = cached
    by_id = {m["id"]: (r, m) for r, m in zip(results, manifest["runs"])}
    assert len(manifest["setups"]) == len(SETUPS)
    for key, s in manifest["setups"].items():
        lo, hi = s["good_range"]
        assert lo <= s["good_lr"] <= hi
        fam, setup = key.split("/")
        res, m = by_id[f"c2-{fam}-{setup}-j+0-s0"]
        assert res.spec.lr == s["good_lr"] and m["multiplier"] == 1.0
        assert final_val(res) == pytest.approx(s["good_final_val"])
        finite = [v for _, v in s["sweep"] if v is not None]
        assert min(finite) == pytest.approx(s["good_final_val"])


@needs_cache
def test_runs_carry_what_the_closed_loop_needs(corpus) -> None:
    r = corpus[0]
    assert r.part == "corpus2" and r.scenario.count("/") == 2
    p = r.run.meta.params
    for k in ("learning_rate", "optimizer", "schedule", "batch_size", "family"):
        assert k in p
    assert float(p["learning_rate"]) == r.params.lr == r.lr
    metrics = set(r.run.frame["metric"].unique())
    assert {"train_loss", "val_loss", "lr"} <= metrics
    assert math.isfinite(r.stats["floor"])


@needs_cache
def test_the_cache_loads_one_split_without_torch(corpus) -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from benchmarks.corpus2 import load_corpus2\n"
        "print(len(load_corpus2('heldout')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) == sum(r.run.meta.tags["split"] == "heldout" for r in corpus)


def test_a_detection_part_name_that_does_not_exist_is_a_clear_error(capsys) -> None:
    from benchmarks import detection

    with pytest.raises(SystemExit):
        detection.main(["--parts", "corpus3"])
    assert "unknown part(s) ['corpus3']" in capsys.readouterr().err


@needs_cache
def test_detection_rows_for_both_sides_of_the_split(tmp_path, capsys, corpus, monkeypatch) -> None:
    import json

    import benchmarks.corpus2 as c2
    from benchmarks import detection

    monkeypatch.setattr(c2, "load_corpus2", lambda **kw: corpus)  # loaded once per module

    out_json = tmp_path / "c2.json"
    assert (
        detection.main(
            [
                "--parts",
                "corpus2",
                "--limit",
                "2",
                "--workers",
                "1",
                "--no-closed-loop",
                "--json",
                str(out_json),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    for row in ("corpus2 tune", "corpus2 held-out"):
        for method in detection.METHODS:
            assert any(line.startswith(f"{row:<16} {method}") for line in text.splitlines())
    data = json.loads(out_json.read_text())
    assert [r["split"] for r in data["runs"]] == ["tune", "tune", "heldout", "heldout"]
    assert all(set(r["predictions"]) == set(detection.METHODS) for r in data["runs"])


@needs_cache
def test_the_team_sweep_of_the_closed_loop_never_holds_the_good_lr_run(corpus) -> None:
    """The ``+ sweep`` retrain's evidence: each run with its setup's decade sweep, offset
    half a decade from the good LR (the good-LR run is never in it); a too-large run's
    suggestion stays a decrease and a too-small run's an increase or keep."""
    from benchmarks.corpus2_loop import TEAM_SWEEP, team_sweep_suggestions

    assert 0 not in TEAM_SWEEP and all(j % 2 for j in TEAM_SWEEP)
    runs = [r for r in corpus if r.direction in ("increase", "decrease")][::40]
    got = team_sweep_suggestions(runs)
    assert set(got) == {r.id for r in runs}
    assert not any(isinstance(s, Exception) for s in got.values())
    for r in runs:
        s = got[r.id]
        if s is None or s.suggested_lr is None or s.current_lr is None:
            continue
        if r.direction == "decrease" and s.action == "decrease_lr":
            assert s.suggested_lr < s.current_lr
        if s.action == "increase_lr":
            assert s.suggested_lr > s.current_lr
    assert any("sweep" in (got[r.id].extra if got[r.id] else {}) for r in runs)


# ---------------------------------------------------------------------------
# real training (torch)
# ---------------------------------------------------------------------------


def test_one_short_real_run_per_family() -> None:
    pytest.importorskip("torch")
    from benchmarks.corpus2 import retrain, train

    seen = set()
    for s in SETUPS:
        if s.family in seen:
            continue
        seen.add(s.family)
        spec = Spec(s.family, s.optimizer, s.schedule, 1e-3, 8)
        res = train(spec)
        assert len(res.train_loss) == 8 and np.all(np.isfinite(res.train_loss)), s
        assert list(res.val_step) == list(range(1, 9))  # steps // 40 = 0: every step
        assert res.lr == pytest.approx(1e-3 * lr_factors(s.schedule, 8), rel=1e-6)
        assert math.isfinite(res.initial_val_loss)
    spec = Spec("logreg", "sgd", "constant", 0.1, 16, seed=3)
    a, b = train(spec), retrain(spec)
    assert np.array_equal(a.train_loss, b.train_loss) and np.array_equal(a.val_loss, b.val_loss)
    c = retrain(spec, lr=0.01, stop_step=10)
    assert len(c.train_loss) == 10 and c.lr[0] == pytest.approx(0.01)


def test_a_non_finite_loss_ends_the_run() -> None:
    pytest.importorskip("torch")
    from benchmarks.corpus2 import train

    res = train(Spec("silu_reg", "sgd", "constant", 1e4, 200))
    assert len(res.train_loss) < 200
    assert not np.isfinite(res.train_loss[-1]) or not np.isfinite(res.val_loss[-1])
    assert final_val(res) == math.inf
