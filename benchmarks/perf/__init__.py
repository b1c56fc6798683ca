"""Performance suite: LR Tempo against its peers, measured side by side in one run.

    python -m benchmarks [--quick] [--json FILE] [--only NAME,...] [--plot FILE]

Benchmarks (names in the JSON ``results``):

- ``tensorboard_read`` — one run of 1M scalar events: our reader vs tbparse, both
  CRC-checked, same points (:mod:`.tensorboard_read`);
- ``mlflow_fetch`` — 100 runs x 3 metrics x 10k steps on a real local ``mlflow
  server``: ``read_mlflow`` vs the naive ``MlflowClient.get_metric_history`` loop
  (:mod:`.mlflow_fetch`), each review from an empty history cache (the first review);
- ``mlflow_refresh`` — the second review of that fleet after 5 % of the runs (RUNNING)
  got 5 % more steps: ``read_mlflow`` with its history cache vs the same naive loop
  (:mod:`.mlflow_refresh`);
- ``analyze_run`` — a run with a 10M-point train loss, and ``analyze_vs_trainspotter``,
  the same run model at a size trainspotter finishes (:mod:`.analysis`), plus the
  scaling curve 1k..10M (PNG with matplotlib);
- ``fleet_review`` — 1,000 runs x 10k steps from a folder on 2 worker processes, with
  peak memory (:mod:`.fleet_review`);
- ``wide_scan`` — ``lrtempo analyze`` on a folder of 50,000 small CSVs, read on every
  core, against the same command reading them one after another (:mod:`.wide_scan`);
- ``dashboard_payload`` / ``dashboard_zoom`` — figure JSON size of a 10M-point run
  page, and the zoom re-sample time (:mod:`.dashboard_payload`); ``dashboard_review`` —
  the Review grid of the fleet through the real Dash callback (:mod:`.dashboard_review`).

Every time is the best of ``repeats`` (3) calls for our side; a slow peer is repeated
only while it stays within a time budget (the table says how many runs each got).
``ratio`` is ``peer_s / ours_s``. ``--quick`` scales every size down (the table says
so); the targets are stated for the full sizes.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .common import FULL, PRESETS, QUICK, SCHEMA, TINY, Result, Sizes, machine

__all__ = [
    "BENCHMARKS",
    "FULL",
    "QUICK",
    "SCHEMA",
    "TINY",
    "Result",
    "Sizes",
    "document",
    "format_table",
    "run_suite",
]

DEFAULT_PLOT = Path(__file__).resolve().parents[2] / "docs" / "bench" / "analyze_scaling.png"


def _tb(sizes: Sizes, plot: Path | None) -> list[Result]:
    from . import tensorboard_read

    return [tensorboard_read.bench(sizes)]


def _mlflow(sizes: Sizes, plot: Path | None) -> list[Result]:
    from . import mlflow_fetch

    return [mlflow_fetch.bench(sizes)]


def _mlflow_refresh(sizes: Sizes, plot: Path | None) -> list[Result]:
    from . import mlflow_refresh

    return [mlflow_refresh.bench(sizes)]


def _analysis(sizes: Sizes, plot: Path | None) -> list[Result]:
    from . import analysis

    results, curve = analysis.bench(sizes, plot)
    results[0].extra["scaling"] = curve
    return results


def _fleet(sizes: Sizes, plot: Path | None) -> list[Result]:
    from . import fleet_review

    return [fleet_review.bench(sizes)]


def _wide(sizes: Sizes, plot: Path | None) -> list[Result]:
    from . import wide_scan

    return [wide_scan.bench(sizes)]


def _dashboard(sizes: Sizes, plot: Path | None) -> list[Result]:
    from . import dashboard_payload, dashboard_review

    return [*dashboard_payload.bench(sizes), dashboard_review.bench(sizes)]


BENCHMARKS: dict[str, Callable[[Sizes, Path | None], list[Result]]] = {
    "tensorboard_read": _tb,
    "mlflow_fetch": _mlflow,
    "mlflow_refresh": _mlflow_refresh,
    "analyze_run": _analysis,
    "fleet_review": _fleet,
    "wide_scan": _wide,
    "dashboard_payload": _dashboard,
}


def run_suite(
    sizes: Sizes,
    only: Sequence[str] | None = None,
    plot: Path | None = None,
    log: Callable[[str], None] = print,
) -> list[Result]:
    """Run the selected benchmarks; a benchmark that fails is a result with its error."""
    names = list(only) if only else list(BENCHMARKS)
    bad = [n for n in names if n not in BENCHMARKS]
    if bad:
        raise ValueError(
            f"unknown benchmark(s) {', '.join(bad)}; choose from {', '.join(BENCHMARKS)}"
        )
    results: list[Result] = []
    for name in names:
        log(f"[{time.strftime('%H:%M:%S')}] {name} ({sizes.mode}) ...")
        t0 = time.perf_counter()
        try:
            got = BENCHMARKS[name](sizes, plot)
        except Exception as exc:  # noqa: BLE001 - one failing benchmark must not hide the others
            log(traceback.format_exc())
            got = [
                Result(
                    name, None, target="", met=False, notes=f"FAILED: {type(exc).__name__}: {exc}"
                )
            ]
        for r in got:
            log(
                f"    {r.name}: ours {_fmt_s(r.ours_s)}, peer {_fmt_s(r.peer_s)}, "
                f"ratio {_fmt_ratio(r.ratio)} ({time.perf_counter() - t0:.0f} s)"
            )
        results.extend(got)
    return results


def _fmt_s(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def _fmt_ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}x"


def _met(r: Result) -> str:
    return {True: "yes", False: "NO", None: "n/a"}[r.met]


def format_table(results: Sequence[Result], sizes: Sizes) -> str:
    """The results as a Markdown table (ours, peer, ratio, target, met)."""
    head = ["benchmark", "size", "ours", "peer", "peer time", "ratio", "target", "met"]
    rows = [
        [
            r.name,
            r.size,
            _fmt_s(r.ours_s),
            r.peer or "-",
            _fmt_s(r.peer_s),
            _fmt_ratio(r.ratio),
            r.target,
            _met(r),
        ]
        for r in results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    notes = [f"- {r.name}: {r.notes}" for r in results if r.notes]
    mode = (
        f"{sizes.mode.upper()} mode: sizes scaled down from the targets' (met = n/a where a target "
        "only applies at full size)"
        if sizes.mode != "full"
        else "full sizes"
    )
    return "\n".join(out + ["", mode] + notes)


def document(results: Sequence[Result], sizes: Sizes, started: float) -> dict[str, Any]:
    """The ``lrtempo.bench/1`` JSON document."""
    return {
        "schema": SCHEMA,
        "mode": sizes.mode,
        "date": _dt.datetime.fromtimestamp(started, _dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "sizes": {k: v for k, v in vars(sizes).items()},
        "results": [r.as_json() for r in results],
    }


def write_json(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(doc, indent=2, allow_nan=False, default=str) + "\n", encoding="utf-8"
    )
