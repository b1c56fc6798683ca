"""The sweep and range-test figure builders and the sweep view helpers, as plain functions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analyzer.range_test import read_range_test
from analyzer.sweeps import SweepPoint, find_sweeps
from dashboard.sweep_figures import range_test_figure, sweep_figure
from dashboard.sweep_views import sweep_label, sweep_short, sweeps_href, with_sweep_columns
from dashboard.theme import STATUS_COLORS
from dashboard.views import ReviewFilters

XSS = "<img src=x onerror=alert(1)>"


def _pt(i: int, lr: float, value: float, status: str, seed: int = 0, name: str = "") -> SweepPoint:
    return SweepPoint(
        id=f"r{i}",
        name=name or f"run-lr{lr:g}-s{seed}",
        group="runs/exp",
        lr=lr,
        lr_from="param",
        metric="val_loss",
        value=value,
        status=status,
        metrics_key=("loss", "val_loss", None),
        params={"lr": str(lr), "seed": str(seed)},
    )


@pytest.fixture
def sweep():
    """A sweep bracketing its minimum (two seeds at 1e-3), oscillating at 1e-2, blown up at 3e-2."""
    pts = [
        _pt(0, 1e-4, 0.90, "stagnation"),
        _pt(1, 3e-4, 0.62, "healthy", name=XSS),
        _pt(2, 1e-3, 0.45, "healthy"),
        _pt(7, 1e-3, 0.47, "healthy", seed=1),
        _pt(3, 3e-3, 0.50, "healthy"),
        _pt(4, 1e-2, 0.70, "oscillation"),
        _pt(5, 3e-2, math.inf, "divergence"),
    ]
    (s,) = find_sweeps(pts)
    return s


def by_meta(fig):
    return {t.meta: t for t in fig.data}


def test_sweep_figure_plots_each_run_by_status_with_the_marked_lrs(sweep) -> None:
    fig = sweep_figure(sweep, {"r2": "keep LR 1e-3"})
    t = by_meta(fig)
    assert fig.layout.xaxis.type == "log"
    # every run is a point at its LR, in a trace of its status, in the status colour
    ids = {
        i[0]: (st, x)
        for m, tr in t.items()
        if m.startswith("points:")
        for i, x, st in zip(tr.customdata, tr.x, [m.split(":")[1]] * len(tr.x))
    }
    assert ids == {p.id: (p.status, p.lr) for p in sweep.points}
    for m, tr in t.items():
        if m.startswith("points:"):
            assert tr.marker.color == STATUS_COLORS[m.split(":")[1]]
    # the non-finite run sits at the top of the plot as an ✕, inside the y range
    div = t["points:divergence"]
    assert list(div.marker.symbol) == ["x"]
    finite = [p.value for p in sweep.points if math.isfinite(p.value)]
    assert div.y[0] >= max(finite)
    lo, hi = fig.layout.yaxis.range
    if fig.layout.yaxis.type == "log":
        lo, hi = 10**lo, 10**hi
    assert lo < min(finite) and div.y[0] < hi
    # the recommendation and the edge are vertical lines at their LRs across the y range
    assert list(t["recommended"].x) == [sweep.recommended_lr] * 2
    assert list(t["edge"].x) == [sweep.stability_edge_lr] * 2
    assert sweep.recommended_lr < sweep.stability_edge_lr
    assert list(t["recommended"].y) == pytest.approx([lo, hi])
    # the fitted curve and its band (upper then lower, in one closed shape)
    fit, band = t["fit"], t["band"]
    assert len(band.x) == 2 * len(fit.x)
    assert fit.x[0] == pytest.approx(10 ** sweep.curve["log10_lr"][0])
    assert fit.hoverinfo == "skip"  # the curve runs through the points: their hover wins
    rlo, rhi = sweep.recommended_range
    assert min(t["range"].x) == rlo and max(t["range"].x) == rhi
    # hover: name (escaped), status and suggestion
    healthy = t["points:healthy"]
    texts = dict(zip([c[0] for c in healthy.customdata], healthy.text))
    assert "keep LR 1e-3" in texts["r2"] and "status healthy" in texts["r2"]
    assert "suggestion: —" in texts["r3"]
    assert XSS not in texts["r1"] and "&lt;img src=x onerror=alert(1)&gt;" in texts["r1"]


def test_sweep_without_edge_or_fit_has_no_such_lines() -> None:
    pts = [
        _pt(0, 1e-3, 0.9, "healthy"),
        _pt(1, 1e-2, 0.7, "healthy"),
        _pt(2, 1e-2, 0.72, "healthy"),
    ]
    (s,) = find_sweeps(pts)
    assert s.stability_edge_lr is None and s.at_edge == "high"
    t = by_meta(sweep_figure(s))
    assert "edge" not in t and "recommended" in t
    assert sweep_label(s) == "LR 0.01, try larger" and sweep_short(s) == "0.01 ↑"


def test_sweep_label_and_review_columns(sweep) -> None:
    assert sweep_label(sweep) == "LR 1e-3"
    rows = [{"id": "r2", "run": "a"}, {"id": "other", "run": "b"}]
    f = ReviewFilters(window="7d", experiment="exp a")
    out = with_sweep_columns(rows, [sweep], f)
    assert out[0]["sweep"] == sweep.id and out[0]["sweep_text"] == "1e-3"
    assert out[0]["sweep_tip"] == "sweep of 7 runs at 6 LRs: LR 1e-3"
    assert out[0]["sweep_href"] == f"/sweeps?window=7d&experiment=exp+a&id={sweep.id}"
    assert out[1] is rows[1] and "sweep" not in rows[0]  # cached rows are not modified
    assert sweeps_href(ReviewFilters(window="all")) == "/sweeps?window=all"


def _lr_find_csv_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """torch-lr-finder's loop on digits (tests.test_range_test), as step frames."""
    pytest.importorskip("torch")
    from tests.test_range_test import lr_find

    lrs, losses = lr_find()
    steps = np.arange(len(lrs))
    return (
        pd.DataFrame({"step": steps, "value": lrs}),
        pd.DataFrame({"step": steps, "value": losses}),
    )


def test_range_test_figure_marks_the_suggested_lr() -> None:
    lr, loss = _lr_find_csv_frames()
    test = read_range_test(
        (lr["step"].to_numpy(float), lr["value"].to_numpy(float)),
        (loss["step"].to_numpy(float), loss["value"].to_numpy(float)),
    )
    assert test is not None
    fig = range_test_figure(lr, loss, test)
    t = by_meta(fig)
    assert fig.layout.xaxis.type == "log"
    # the loss is plotted against the LR of its step
    assert list(t["loss"].x) == pytest.approx(lr["value"].tolist())
    assert list(t["loss"].y) == pytest.approx(loss["value"].tolist())
    assert list(t["suggested"].x) == [test.suggested_lr]
    assert list(t["suggested_line"].x) == [test.suggested_lr] * 2
    assert list(t["min_loss"].x) == [test.min_loss_lr] * 2
    assert t["suggested"].marker.symbol == "star"
    # the star sits on the smoothed curve, and the y range shows the descent
    sm = t["smoothed"]
    y_at = np.interp(np.log10(test.suggested_lr), np.log10(np.array(sm.x)), np.array(sm.y))
    assert t["suggested"].y[0] == pytest.approx(y_at)
    lo, hi = fig.layout.yaxis.range
    assert lo < min(sm.y) and hi > sm.y[0]


def test_range_test_figure_of_too_few_points_is_empty(tmp_path: Path) -> None:
    from analyzer.range_test import RangeTest

    t = RangeTest(1e-3, None, 1e-2, None, "min_loss/10", 0.2, "exponential")
    one = pd.DataFrame({"step": [0], "value": [1.0]})
    assert range_test_figure(one, one, t).data == ()


# ------------------------------------------------------------------ views (in an app)


def _walk(component):
    """Every component inside ``component`` (lists and children included)."""
    if isinstance(component, (list, tuple)):
        for c in component:
            yield from _walk(c)
        return
    if component is None or isinstance(component, (str, int, float)):
        return
    yield component
    yield from _walk(getattr(component, "children", None))


def _ids(component) -> dict:
    return {c.id: c for c in _walk(component) if isinstance(getattr(c, "id", None), str)}


def test_sweeps_view_of_the_sample_sweep_folder() -> None:
    from dashboard.app import create_app
    from dashboard.sweep_views import range_test_view, review_sweeps, sweeps_view
    from tests.conftest import SAMPLE_RUNS

    app = create_app([str(SAMPLE_RUNS / "lr_sweep")], since_hours=0)
    with app.server.app_context():
        data, sweeps = review_sweeps(ReviewFilters("all"))
        assert len(sweeps) == 1 and len(sweeps[0].points) == 4
        s = sweeps[0]
        # the status filter of the Review does not cut the sweep to its unstable runs
        _, only = review_sweeps(ReviewFilters("all", status="oscillation"))
        assert [x.id for x in only] == [s.id] and len(only[0].points) == 4
        ids = _ids(sweeps_view(ReviewFilters("all")))
        assert f"sweep-card-{s.id}" in ids and ids["sweeps-count"].children == "1 sweep"
        text = " ".join(
            str(c.children)
            for c in _walk(ids[f"sweep-card-{s.id}"])
            if isinstance(getattr(c, "children", None), str)
        )
        assert s.rationale in text and "learning_rate" not in text  # CSV runs: no params
        missing = _ids(sweeps_view(ReviewFilters("all"), chosen="sweep-00000000"))
        assert f"sweep-card-{s.id}" in missing  # an unknown sweep: all are shown, and said so
        assert "sweep-00000000" in str(sweeps_view(ReviewFilters("all"), chosen="sweep-00000000"))
        # a group-by parameter these runs do not have leaves their folder as the group
        _, same = review_sweeps(ReviewFilters("all"), group_by="optimizer")
        assert [x.id for x in same] == [s.id]
        assert range_test_view(data.runs[0].meta.id) is None  # a training run, not a range test
        assert range_test_view("no-such-run") is None


def test_sweeps_page_layout_and_callback_in_an_app() -> None:
    """The page's layout (from the URL's query) and its content callback, as Dash calls them."""
    import sys

    import dash

    from dashboard.app import create_app
    from tests.conftest import SAMPLE_RUNS

    app = create_app([str(SAMPLE_RUNS / "lr_sweep")], since_hours=0)
    page = dash.page_registry["pages.sweeps"]
    assert page["path"] == "/sweeps"
    with app.server.test_request_context("/sweeps"):
        ids = _ids(page["layout"](window="all", group_by="optimizer", id="sweep-x"))
        assert ids["sweeps-window"].value == "all" and ids["sweeps-group-by"].value == "optimizer"
        assert ids["sweeps-filters"].data["id"] == "sweep-x" and "sweeps-all" in ids
        module = sys.modules[page["module"]]
        content = module.update_sweeps("all", "", None, {"id": None})
        assert any(i.startswith("sweep-card-") for i in _ids(content))


def test_sweeps_view_without_a_sweep_says_so(tmp_path: Path) -> None:
    from dashboard.app import create_app
    from dashboard.sweep_views import sweeps_view

    (tmp_path / "one.csv").write_text(
        "step,loss,lr\n" + "".join(f"{i},{2 * math.exp(-i / 30) + 0.1},0.001\n" for i in range(100))
    )
    app = create_app([str(tmp_path)], since_hours=0)
    with app.server.app_context():
        assert "sweeps-none" in _ids(sweeps_view(ReviewFilters("all")))


def test_review_rows_of_a_sweep_get_the_reconciled_lr(sweep) -> None:
    """A run of the sweep told to raise its LR to 1e-2, which the sweep saw oscillate, is
    shown with the sweep's LR instead (the Review agrees with the Sweeps page and the JSON);
    a run outside the sweep keeps its row."""
    from analyzer.analysis import RunAnalysis
    from analyzer.findings import Suggestion
    from analyzer.lrtext import lr_change
    from analyzer.model import RunMeta
    from analyzer.roles import RoleMap

    def analysis(run_id: str, sug: Suggestion) -> RunAnalysis:
        meta = RunMeta(id=run_id, name=run_id, source="csv", location="x")
        roles = RoleMap(train_loss="loss", val_loss="val_loss", lr=None)
        return RunAnalysis(meta=meta, roles=roles, status="stagnation", suggestion=sug)

    up = Suggestion("increase_lr", current_lr=1e-4, suggested_lr=1e-2, factor=100.0)
    rows = [
        {"id": "r0", "run": "a", "lr": lr_change(up).text, "action": "increase_lr"},
        {"id": "other", "run": "b", "lr": lr_change(up).text, "action": "increase_lr"},
    ]
    assert sweep.stability_edge_lr is not None and sweep.stability_edge_lr <= 1e-2
    out = with_sweep_columns(
        rows, [sweep], ReviewFilters(), [analysis("r0", up), analysis("other", up)]
    )
    assert out[0]["lr_suggested"] is not None and out[0]["lr_suggested"] < sweep.stability_edge_lr
    assert out[0]["lr"] != rows[0]["lr"] and out[0]["action"] == "increase_lr"
    assert out[1] is rows[1]  # not in the sweep: as analysed


def test_run_page_and_grid_show_the_same_reconciled_lr(tmp_path: Path) -> None:
    """A folder sweep of four runs (stuck at 1e-3, healthy at 3e-3, oscillating at 1e-2,
    blown up at 3e-2): the stuck run's own advice (raise ×10 — no optimizer is logged: a
    decade at a time —, to 1e-2) reaches the edge the sweep saw at 1e-2, so the Review
    grid and the Run page (card and figure, one reconciled analysis) both show the
    sweep's 3e-3 instead."""
    from analyzer.lrtext import lr_change
    from benchmarks import curves as S
    from dashboard.app import create_app
    from dashboard.sweep_views import review_sweeps
    from dashboard.views import analyze_safely, run_view

    runs = {
        "1e-3": S.stagnation(seed=1),
        "3e-3": S.healthy(seed=1),
        "1e-2": S.oscillation(seed=1, scale=2.5),  # ends above 3e-3: the bounce cost loss
        "3e-2": S.divergence(seed=1, variant="explosion"),
    }
    for lr, s in runs.items():
        pd.DataFrame({"step": s.steps, "loss": s.values, "lr": float(lr)}).to_csv(
            tmp_path / f"mlp_lr{lr}.csv", index=False
        )
    app = create_app([str(tmp_path)], since_hours=0)
    with app.server.app_context():
        f = ReviewFilters("all")
        data, sweeps = review_sweeps(f)
        (sweep,) = sweeps
        stuck = next(r for r in data.runs if r.meta.name == "mlp_lr1e-3")
        own = analyze_safely(stuck).suggestion
        assert own.action == "increase_lr" and own.suggested_lr >= sweep.stability_edge_lr
        row = next(
            r
            for r in with_sweep_columns(data.rows, sweeps, f, data.analyses)
            if r["id"] == stuck.meta.id
        )
        assert row["lr_suggested"] is not None and row["lr_suggested"] < sweep.stability_edge_lr
        _, side, _ = run_view(stuck.meta.id)
        card = str(side).lower()  # the card starts its line with a capital
        assert row["lr"].lower() in card and lr_change(own).text.lower() not in card
