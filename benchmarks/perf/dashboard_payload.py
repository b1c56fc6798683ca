"""Dashboard: figure data sent for a big run, and the zoom re-sample time.

The run page's figure comes from the dashboard's pure builder
(:func:`dashboard.figures.run_figure`, called as :func:`dashboard.views.run_graph`
calls it: the role series, the analysis' findings and suggestion, EMA 0.6). The
payload is the figure's JSON as Dash sends it (``plotly.io.to_json``), in bytes.
A zoom re-sample is the same call with ``x_range`` set to a window (10% of the run,
in the middle), as the Run page's zoom callback does; when the builder has no
``x_range`` yet, the series are cut to the window first (same points, same code).
The analysis is made before the clock starts (the dashboard caches it per run); the
zoom takes the role series from the dashboard's per-run cache
(:meth:`dashboard.store.DataStore.role_series`, filled by the page's first draw) as
``run_graph`` does; picking them from the run afresh (``role_series``) is reported too.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np

from .common import Result, Sizes, best_of


def _prepared(n: int):
    from analyzer.analysis import analyze_run

    from .analysis import make_run

    run = make_run(n)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        analysis = analyze_run(run)
    return run, analysis


def _series(run, analysis):
    from analyzer.roles import role_series

    roles = analysis.roles
    return tuple(role_series(run, name) for name in (roles.train_loss, roles.val_loss, roles.lr))


def _window(frame, lo: float, hi: float):
    if frame is None:
        return None
    steps = frame["step"].to_numpy()
    a = max(int(np.searchsorted(steps, lo, side="left")) - 1, 0)
    b = min(int(np.searchsorted(steps, hi, side="right")) + 1, len(steps))
    return frame.iloc[a:b]


def bench(sizes: Sizes) -> list[Result]:
    import plotly.io as pio

    from dashboard import figures, series

    n = sizes.dash_points
    run, analysis = _prepared(n)
    train, val, lr = _series(run, analysis)
    kwargs = {
        "findings": analysis.findings,
        "suggestion": analysis.suggestion,
        "smoothing": 0.6,
        "log_y": False,
        "x_mode": "step",
        "step_label": "step",
    }

    def page():
        fig = figures.run_figure(train, val, lr, **kwargs)
        return len(pio.to_json(fig, validate=False).encode("utf-8"))

    full = best_of(page, sizes.repeats)
    lo, hi = 0.45 * n, 0.55 * n
    has_range = "x_range" in inspect.signature(figures.run_figure).parameters

    from dashboard.store import DataStore

    store = DataStore(sources=[])
    store.role_series(run, analysis.roles)  # the page's first draw fills the cache

    def zoom():
        train, val, lr = store.role_series(run, analysis.roles)
        if has_range:
            fig = figures.run_figure(train, val, lr, x_range=(lo, hi), **kwargs)
        else:
            fig = figures.run_figure(
                _window(train, lo, hi), _window(val, lo, hi), _window(lr, lo, hi), **kwargs
            )
        return len(pio.to_json(fig, validate=False).encode("utf-8"))

    zoomed = best_of(zoom, sizes.repeats)
    series_t = best_of(lambda: _series(run, analysis), 1)
    ema_t = best_of(lambda: series.ema(train["value"].to_numpy(), 0.6), 1)
    how = "run_figure(x_range=…)" if has_range else "series cut to the window + run_figure"
    mb = full.value / 1e6
    return [
        Result(
            "dashboard_payload",
            full.best,
            None,
            None,
            None,
            target="< 1 MB of figure data",
            met=mb < 1.0,
            size=f"{n:,} points",
            notes=f"{full.value:,} bytes of figure JSON; build+serialize {full.label}",
            extra={"bytes": full.value, "mb": mb, "points": n},
        ),
        Result(
            "dashboard_zoom",
            zoomed.best,
            None,
            None,
            None,
            target="< 300 ms",
            met=zoomed.best < 0.3 if n >= 10_000_000 else None,
            size=f"10% window of {n:,}",
            notes=f"{how}, {zoomed.label}; {zoomed.value:,} bytes; series.ema over the "
            f"whole train series alone takes {ema_t.best:.2f} s, role_series "
            f"{series_t.best:.2f} s",
            extra={
                "bytes": zoomed.value,
                "x_range": has_range,
                "ema_s": ema_t.best,
                "role_series_s": series_t.best,
            },
        ),
    ]
