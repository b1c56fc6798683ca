"""Shared pieces of the performance suite: sizes, timing, results."""

from __future__ import annotations

import gc
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "lrtempo.bench/1"


@dataclass(frozen=True)
class Sizes:
    """Problem sizes of one suite run (``full`` is what the targets are stated for)."""

    mode: str
    tb_events: int  # events in the TensorBoard run
    mlflow_runs: int
    mlflow_metrics: int
    mlflow_steps: int
    analyze_points: int  # points of the train-loss series analyzed against the target
    peer_points: int  # points of the run on which trainspotter and analyze_run are compared
    scaling: tuple[int, ...]  # points for the scaling curve
    fleet_runs: int
    fleet_steps: int
    fleet_workers: int
    dash_points: int
    wide_files: int = 50_000  # small CSVs of the wide folder scan
    repeats: int = 3  # best of N for our side
    peer_budget_s: float = 120.0  # a peer is repeated only while it stays under this


FULL = Sizes(
    mode="full",
    tb_events=1_000_000,
    mlflow_runs=100,
    mlflow_metrics=3,
    mlflow_steps=10_000,
    analyze_points=10_000_000,
    peer_points=100_000,
    scaling=(1_000, 10_000, 100_000, 1_000_000, 10_000_000),
    fleet_runs=1_000,
    fleet_steps=10_000,
    fleet_workers=2,
    dash_points=10_000_000,
)
QUICK = Sizes(
    mode="quick",
    tb_events=200_000,
    mlflow_runs=20,
    mlflow_metrics=3,
    mlflow_steps=2_000,
    analyze_points=1_000_000,
    peer_points=20_000,
    scaling=(1_000, 10_000, 100_000, 1_000_000),
    fleet_runs=100,
    fleet_steps=10_000,
    fleet_workers=2,
    dash_points=1_000_000,
    wide_files=5_000,
    peer_budget_s=30.0,
)
TINY = Sizes(  # for the smoke test: every code path, nothing measured seriously
    mode="tiny",
    tb_events=2_000,
    mlflow_runs=2,
    mlflow_metrics=3,
    mlflow_steps=200,
    analyze_points=5_000,
    peer_points=500,
    scaling=(500, 2_000),
    fleet_runs=4,
    fleet_steps=300,
    fleet_workers=2,
    dash_points=5_000,
    wide_files=40,
    repeats=1,
    peer_budget_s=5.0,
)
PRESETS = {"full": FULL, "quick": QUICK, "tiny": TINY}


@dataclass
class Result:
    """One benchmark line: our time, the peer's, their ratio and the target."""

    name: str
    ours_s: float | None
    peer: str | None = None
    peer_s: float | None = None
    ratio: float | None = None  # peer_s / ours_s (how many times faster we are)
    target: str = ""
    met: bool | None = None
    size: str = ""
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "ours_s": _round(self.ours_s),
            "peer": self.peer,
            "peer_s": _round(self.peer_s),
            "ratio": _round(self.ratio),
            "target": self.target,
            "met": self.met,
            "size": self.size,
            "notes": self.notes,
        }
        out.update({k: _round(v) if isinstance(v, float) else v for k, v in self.extra.items()})
        return out


def _round(v: float | None) -> float | None:
    return None if v is None else float(f"{v:.4g}")


@dataclass(frozen=True)
class Timing:
    """Best and all wall-clock times of repeated calls, and the last return value."""

    best: float
    times: tuple[float, ...]
    value: Any
    cpu: tuple[float, ...] = ()  # CPU seconds of this process (all threads) per call

    @property
    def label(self) -> str:
        return f"best of {len(self.times)}"


def best_of(fn: Callable[[], Any], repeats: int, budget_s: float | None = None) -> Timing:
    """Call ``fn`` up to ``repeats`` times (fewer once ``budget_s`` is used up); best time."""
    times: list[float] = []
    cpu: list[float] = []
    value = None
    spent = 0.0
    for _ in range(max(1, repeats)):
        gc.collect()
        c0 = time.process_time()
        t0 = time.perf_counter()
        value = fn()
        dt = time.perf_counter() - t0
        cpu.append(time.process_time() - c0)
        times.append(dt)
        spent += dt
        if budget_s is not None and spent + dt > budget_s:
            break
    return Timing(min(times), tuple(times), value, tuple(cpu))


def ratio(peer_s: float | None, ours_s: float | None) -> float | None:
    if peer_s is None or not ours_s:
        return None
    return peer_s / ours_s


def data_dir() -> Path:
    """Where generated inputs are cached (never in the repo): ``$LRTEMPO_BENCH_DIR``."""
    root = Path(
        os.environ.get("LRTEMPO_BENCH_DIR") or Path(tempfile.gettempdir()) / "lrtempo-bench"
    )
    root.mkdir(parents=True, exist_ok=True)
    return root


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }
