"""Dashboard: the Review page's grid for a whole fleet, through the real Dash callback.

The app is the dashboard pointed at the fleet folder of :mod:`.fleet_review` (1,000
CSV runs × 10k steps at full size); the callback is POSTed to ``_dash-update-component``
with Flask's test client, as the browser sends it (bodies built from
``_dash-dependencies`` by :mod:`benchmarks.dash_protocol`), and every answer must hold one
grid row per run. Timed: the first render (every file read and analyzed, one process —
the "peer": no cache), a re-render (a filter change or a new visitor: the analyses are
cached per run and last step), and a Refresh click (every file read again; unchanged
runs keep their analysis).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from .common import Result, Sizes, best_of, ratio
from .fleet_review import write_fleet

VALUES = {"review-window.value": "all", "review-tag.value": "", "review-autorefresh.value": 0}


def bench(sizes: Sizes) -> Result:
    from benchmarks.dash_protocol import callback_body, callback_output, dash_config
    from dashboard.app import create_app

    folder = write_fleet(sizes.fleet_runs, sizes.fleet_steps)
    app = create_app([str(folder)], since_hours=0)
    client = app.server.test_client()
    end_id = dash_config(client.get("/").get_data(as_text=True)).get("end_id", "")
    deps = client.get("/_dash-dependencies").get_json()
    output = callback_output(deps, "review-grid.rowData")
    body = callback_body(deps, output, VALUES)
    refresh = {
        **callback_body(deps, output, {**VALUES, "review-refresh.n_clicks": 1}),
        "changedPropIds": ["review-refresh.n_clicks"],
    }

    def render(payload: dict = body) -> int:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            r = client.post(f"/_dash-update-component?endId={end_id}", json=payload)
        if r.status_code != 200:
            raise RuntimeError(
                f"review callback: HTTP {r.status_code}: {r.get_data(as_text=True)[:300]}"
            )
        rows = r.get_json()["response"]["review-grid"]["rowData"]
        if len(rows) != sizes.fleet_runs:
            raise AssertionError(f"{len(rows)} grid rows for {sizes.fleet_runs} runs")
        return len(r.get_data())

    t0 = time.perf_counter()
    render()
    cold = time.perf_counter() - t0
    warm = best_of(render, sizes.repeats)
    again = best_of(lambda: render(refresh), 1)
    return Result(
        "dashboard_review",
        warm.best,
        "first render (read + analyze every run)",
        cold,
        ratio(cold, warm.best),
        target="< 2 s for 1,000 runs",
        met=warm.best < 2.0 if sizes.fleet_runs >= 1000 else None,
        size=f"{sizes.fleet_runs:,} runs x {sizes.fleet_steps:,} steps",
        notes=(
            f"re-render (cached analyses) best of {len(warm.times)}, {warm.value:,} bytes; "
            f"Refresh click (every file read again, analyses reused) {again.best:.2f} s"
        ),
        extra={"bytes": warm.value, "cold_s": cold, "refresh_s": again.best},
    )
