"""What the Sweeps page, the Review grid's sweep column and the Run page's range-test
card show, as plain functions (run inside a request, like :mod:`dashboard.views`).

Sweeps are found among the runs the Review shows for the same filters (window,
experiment, user, tag; never the status filter, which would drop a sweep's unstable
runs) with :func:`analyzer.sweeps.find_sweeps`; each run's sweep point is cached while
its analysis stays the same. Per-run suggestions shown with a sweep are reconciled with
it (:func:`analyzer.sweeps.reconcile`), as ``lrtempo analyze`` does.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from analyzer.lrtext import format_lr, lr_change
from analyzer.model import Run
from analyzer.report import range_test_line
from analyzer.sweeps import Sweep, SweepPoint, find_sweeps, reconcile, sweep_point

from .health import mlflow_problems
from .layout import error_list, mlflow_alert, run_href, status_badge
from .store import ANALYSIS_CACHE_SIZE, current_store
from .sweep_figures import range_test_figure, sweep_figure
from .views import ReviewData, ReviewFilters, analyze_safely, review_data

log = logging.getLogger(__name__)

_points: OrderedDict[tuple[Any, ...], tuple[Any, SweepPoint]] = OrderedDict()
_points_lock = threading.Lock()


def cached_point(run: Run, analysis: Any, group_by: str | None = None) -> SweepPoint:
    """:func:`analyzer.sweeps.sweep_point`, cached while the run and its analysis stay
    the same (keyed like the Review rows: run id, last step, rows; and ``group_by``)."""
    steps = run.frame["step"]
    key = (run.meta.id, int(steps.max()) if len(steps) else -1, len(run.frame), group_by)
    with _points_lock:
        hit = _points.get(key)
        if hit is not None and hit[0] is analysis:
            _points.move_to_end(key)
            return hit[1]
    point = sweep_point(run, analysis, group_by)
    with _points_lock:
        _points[key] = (analysis, point)
        while len(_points) > ANALYSIS_CACHE_SIZE:
            _points.popitem(last=False)
    return point


#: Sweeps found lately, by the identity of their points (cached points stay the same
#: objects while their runs do): a re-render of the same runs does not fit them again.
_found_cache: OrderedDict[tuple[int, ...], tuple[list[SweepPoint], list[Sweep]]] = OrderedDict()
FOUND_CACHE_SIZE = 16


def _found(points: list[SweepPoint]) -> list[Sweep]:
    """:func:`analyzer.sweeps.find_sweeps`, cached by the points' identity."""
    key = tuple(id(p) for p in points)
    with _points_lock:
        hit = _found_cache.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], points)):
            _found_cache.move_to_end(key)
            return hit[1]
    sweeps = find_sweeps(points)
    with _points_lock:
        _found_cache[key] = (points, sweeps)
        while len(_found_cache) > FOUND_CACHE_SIZE:
            _found_cache.popitem(last=False)
    return sweeps


def sweeps_of_data(data: ReviewData, group_by: str | None = None) -> list[Sweep]:
    """The sweeps among a review's runs (``[]`` if finding them failed: logged); with
    ``group_by``, runs that have that parameter are grouped by its value (as
    ``lrtempo analyze --group-by``)."""
    try:
        by_id = {r.meta.id: r for r in data.runs}
        points = [
            cached_point(by_id[a.meta.id], a, group_by)
            for a in data.analyses
            if hasattr(a, "meta") and a.meta.id in by_id
        ]
        return _found(points)
    except Exception:  # a sweep is extra: the review must still show
        log.warning("finding sweeps failed", exc_info=True)
        return []


def review_sweeps(
    filters: ReviewFilters, data: ReviewData | None = None, group_by: str | None = None
) -> tuple[ReviewData, list[Sweep]]:
    """The review data of ``filters`` without its status filter, and its sweeps."""
    if data is None or filters.status:
        data = review_data(replace(filters, status=None))
    return data, sweeps_of_data(data, group_by)


def sweep_label(sweep: Sweep) -> str:
    """The sweep's advice in a few words (``LR 1e-3``, ``try larger than 3e-2``)."""
    if sweep.recommended_lr is None:
        return f"all unstable: try below {format_lr(min(sweep.lrs))}" if sweep.lrs else "—"
    if sweep.at_edge == "high":
        return f"LR {format_lr(sweep.recommended_lr)}, try larger"
    if sweep.at_edge == "low":
        return f"LR {format_lr(sweep.recommended_lr)}, try smaller"
    return f"LR {format_lr(sweep.recommended_lr)}"


def sweep_short(sweep: Sweep) -> str:
    """The sweep's LR for a grid cell: ``1e-3``, ``3e-2 ↑`` (try larger), ``1e-4 ↓``."""
    if sweep.recommended_lr is None:
        return f"< {format_lr(min(sweep.lrs))}" if sweep.lrs else "—"
    arrow = {"high": " ↑", "low": " ↓"}.get(sweep.at_edge or "", "")
    return f"{format_lr(sweep.recommended_lr)}{arrow}"


def sweeps_href(filters: ReviewFilters, sweep_id: str | None = None) -> str:
    """The Sweeps page for the Review's filters (and one sweep)."""
    q = {
        "window": filters.window,
        "experiment": filters.experiment,
        "user": filters.user,
        "tag": filters.tag,
        "id": sweep_id,
    }
    return "/sweeps?" + urlencode({k: v for k, v in q.items() if v})


def default_sweeps() -> list[Sweep]:
    """The sweeps among the runs the Review shows by default (``[]``, logged, when they
    cannot be read: each run's own advice then stands)."""
    try:
        return review_sweeps(ReviewFilters(window=current_store().default_window))[1]
    except Exception:
        log.warning("lrtempo: sweeps unavailable", exc_info=True)
        return []


def with_sweep_advice(analysis: Any) -> Any:
    """``analysis`` with its suggestion reconciled with the sweep it belongs to among the
    runs the Review shows by default (:func:`reconcile`, as the grid, the Sweeps page,
    the reports, the MLflow tags and ``lrtempo analyze`` show it); unchanged outside a
    sweep or when the sweeps cannot be read."""
    return reconcile([analysis], default_sweeps())[0]


def with_sweep_columns(
    rows: list[dict[str, Any]],
    sweeps: Sequence[Sweep],
    filters: ReviewFilters,
    analyses: Sequence[Any] = (),
) -> list[dict[str, Any]]:
    """The Review rows, those of a sweep copied with ``sweep`` (its id), ``sweep_text``
    (its LR, :func:`sweep_short`), ``sweep_tip`` (its advice) and ``sweep_href`` (its
    page), and their LR columns reconciled with the sweep (:func:`reconcile`, as
    ``lrtempo analyze`` and the Sweeps page do: never an LR the sweep saw oscillating or
    diverging); the cached rows are not modified."""
    by_run = {p.id: s for s in sweeps for p in s.points}
    members = [a for a in analyses if a.meta.id in by_run]
    settled = {a.meta.id: a.suggestion for a in reconcile(members, sweeps)}
    out = []
    for row in rows:
        s = by_run.get(str(row.get("id")))
        if s is None:
            out.append(row)
            continue
        tip = f"sweep of {len(s.points)} runs at {len(s.lrs)} LRs: {sweep_label(s)}"
        extra: dict[str, Any] = {}
        sug = settled.get(str(row.get("id")))
        change = lr_change(sug) if sug is not None else None
        if sug is not None and change is not None and change.text != row.get("lr"):
            extra = {
                "lr": change.text,
                "lr_current": change.current_lr,
                "lr_suggested": change.suggested_lr,
                "lr_factor": change.factor,
                "action": sug.action,
            }
        out.append(
            {
                **row,
                **extra,
                "sweep": s.id,
                "sweep_text": sweep_short(s),
                "sweep_tip": tip,
                "sweep_href": sweeps_href(filters, s.id),
            }
        )
    return out


# ----------------------------------------------------------------------- Sweeps page


def _fact(label: str, value: Any) -> html.Div:
    return html.Div([html.Span(f"{label} ", className="text-muted"), html.Span(value)])


def sweep_card(sweep: Sweep, suggestions: dict[str, str], names: dict[str, str]) -> dbc.Card:
    """One sweep: its plot, recommendation, rationale, varied parameters and runs."""
    rng = sweep.recommended_range
    split = ", ".join(f"{k}={v}" for k, v in sweep.split.items())
    facts = [
        html.Div(sweep_label(sweep), className="fs-5 fw-bold sweep-recommended"),
        _fact("recommended range", f"{format_lr(rng[0])} – {format_lr(rng[1])}" if rng else "—"),
        _fact("confidence", f"{sweep.confidence:.2f}"),
        _fact(
            "stability edge",
            format_lr(sweep.stability_edge_lr)
            if sweep.stability_edge_lr is not None
            else "none seen",
        ),
        _fact("metric", sweep.metric),
        _fact("LRs tried", ", ".join(format_lr(v) for v in sweep.lrs)),
    ]
    if sweep.next_lrs:
        facts.append(_fact("try next", ", ".join(format_lr(v) for v in sweep.next_lrs)))
    if sweep.fitted_min_lr is not None:
        facts.append(_fact("fitted minimum", format_lr(sweep.fitted_min_lr)))
    if split:
        facts.append(_fact("this sweep's setup", split))
    varied = dict(sweep.varied)
    if varied:
        facts.append(
            html.Div(
                [
                    html.Div("varied parameters", className="text-muted"),
                    html.Ul(
                        [html.Li(f"{k}: {', '.join(v)}") for k, v in varied.items()],
                        className="mb-0 ps-3",
                    ),
                ],
                className="sweep-varied",
            )
        )
    if sweep.batch_scaling:
        b = dict(sweep.batch_scaling)
        facts.append(_fact("batch scaling", f"{b.get('rule')} (exponent {b.get('exponent')})"))
    runs = dbc.Table(
        [
            html.Thead(
                html.Tr([html.Th(h) for h in ("run", "LR", "status", sweep.metric, "suggestion")])
            ),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(dcc.Link(names.get(p.id, p.name), href=run_href(p.id))),
                            html.Td(format_lr(p.lr)),
                            html.Td(status_badge(p.status)),
                            html.Td(f"{p.value:.4g}" if math.isfinite(p.value) else "non-finite"),
                            html.Td(suggestions.get(p.id, ""), className="small"),
                        ]
                    )
                    for p in sweep.points
                ]
            ),
        ],
        size="sm",
        className="mb-0 sweep-runs",
    )
    return dbc.Card(
        [
            dbc.CardHeader(
                [
                    html.Span(sweep.group, className="fw-bold"),
                    html.Span(f" [{split}]" if split else ""),
                    html.Span(
                        f" · {len(sweep.points)} runs at {len(sweep.lrs)} LRs",
                        className="text-muted",
                    ),
                ]
            ),
            dbc.CardBody(
                [
                    dbc.Row(
                        [
                            dbc.Col(
                                dcc.Graph(
                                    id={"type": "sweep-graph", "index": sweep.id},
                                    figure=sweep_figure(sweep, suggestions),
                                    config={"displaylogo": False},
                                ),
                                lg=8,
                            ),
                            dbc.Col(html.Div(facts, className="small"), lg=4),
                        ]
                    ),
                    html.P(sweep.rationale, className="mt-2 mb-2 sweep-rationale"),
                    runs,
                ]
            ),
        ],
        className="mb-3 sweep-card",
        id=f"sweep-card-{sweep.id}",
    )


def sweeps_view(
    filters: ReviewFilters, chosen: str | None = None, group_by: str | None = None
) -> list[Any]:
    """The Sweeps page's content: a card per sweep (only ``chosen`` when it is found),
    runs grouped by their ``group_by`` parameter when given."""
    data, sweeps = review_sweeps(filters, group_by=(group_by or "").strip() or None)
    problems, errors = mlflow_problems(
        current_store().mlflow_uris_for(filters.tracking_uri), data.errors
    )
    alerts = [mlflow_alert(problems), error_list(errors, id="sweeps-errors")]
    if not sweeps:
        return [
            *alerts,
            dbc.Alert(
                "No LR sweep among these runs: a sweep is 3 or more runs of one experiment (or "
                "folder) with the same metrics at 2 or more learning rates.",
                color="light",
                className="border",
                id="sweeps-none",
            ),
        ]
    shown = [s for s in sweeps if s.id == chosen] or sweeps
    note = None
    if chosen and shown is sweeps:
        note = dbc.Alert(
            f"Sweep {chosen} is not among these runs; all sweeps are shown.",
            color="warning",
            className="py-2",
        )
    members = {p.id for s in shown for p in s.points}
    analyses = [a for a in data.analyses if a.meta.id in members]
    suggestions = {
        a.meta.id: lr_change(a.suggestion).text
        for a in reconcile(analyses, shown)
        if a.suggestion is not None
    }
    names = {r.meta.id: r.meta.name for r in data.runs if r.meta.id in members}
    head = html.Div(
        f"{len(shown)} sweep{'s' if len(shown) != 1 else ''}",
        className="mb-2 fw-bold",
        id="sweeps-count",
    )
    return [*alerts, note, head, *[sweep_card(s, suggestions, names) for s in shown]]


# ----------------------------------------------------------------------- Run page


def range_test_view(run_id: str | None) -> Any:
    """The Run page's range-test card (loss against LR), ``None`` for other runs."""
    store = current_store()
    run = store.get(run_id) if run_id else None
    if run is None:
        return None
    analysis = analyze_safely(run)
    test = getattr(analysis, "lr_range_test", None)
    if test is None:
        return None
    train, _val, lr = store.role_series(run, analysis.roles)
    if train is None or lr is None:
        return None
    return dbc.Card(
        [
            dbc.CardHeader("LR range test: loss against the learning rate"),
            dbc.CardBody(
                [
                    dcc.Graph(
                        id="range-test-graph",
                        figure=range_test_figure(lr, train, test),
                        config={"displaylogo": False},
                    ),
                    html.P(range_test_line(analysis), className="small mb-0", id="range-test-text"),
                ]
            ),
        ],
        className="mt-3",
        id="range-test-card",
    )
