"""Issue 14 row 8: a wide scan's fixed cost per small file.

50,000 small CSVs took 8 min 48 s because each file paid for dozens of small pandas
frames (the CSV table, an intermediate long frame, one sliced frame per series the
analysis and the sweep point asked for, pandas rolling medians): ~6,400 Python-level
pandas calls for one 40-row log. Timing tests are unreliable on a shared machine, so
this counts those calls: the same work must stay far below what it was. The wall-clock
figure is the ``wide_scan`` benchmark's (README, Performance).
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from analyzer.analysis import analyze_run
from analyzer.readers import read_file
from analyzer.sweeps import sweep_point

#: Python-level pandas calls allowed to read one small CSV (``pd.read_csv`` is most of
#: them) and to analyze it and take its sweep point; it was ~2,900 and ~3,500.
READ_CALLS, ANALYSIS_CALLS = 1_600, 600


def _small_log(path: Path, seed: int) -> Path:
    """A 40-row ``step,loss,lr`` log, bouncing in its last two thirds (the wide_scan file)."""
    s = np.arange(40)
    rng = np.random.default_rng(seed)
    loss = 2.0 * np.exp(-s / 10) + 0.3 + 0.02 * rng.standard_normal(40)
    loss += 0.3 * np.sin(s * 2.5) * (s > 13)
    path.write_text("step,loss,lr\n" + "".join(f"{a},{b:.5f},0.001\n" for a, b in zip(s, loss)))
    return path


def _pandas_calls(fn: Any) -> tuple[Any, int]:
    """``fn()`` and how many Python functions of pandas it called."""
    count = 0

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal count
        if event == "call" and "/pandas/" in frame.f_code.co_filename.replace("\\", "/"):
            count += 1

    sys.setprofile(profile)
    try:
        out = fn()
    finally:
        sys.setprofile(None)
    return out, count


def test_a_small_log_costs_few_pandas_calls(tmp_path: Path) -> None:
    warm = _small_log(tmp_path / "warm.csv", 0)
    run = read_file(warm)[0]
    sweep_point(run, analyze_run(run))  # imports and one-time caches are not per file
    path = _small_log(tmp_path / "run_000001.csv", 1)
    runs, read_calls = _pandas_calls(lambda: read_file(path))
    (analysis, point), rest = _pandas_calls(
        lambda: (a := analyze_run(runs[0]), sweep_point(runs[0], a))
    )
    assert analysis.suggestion is not None and point.metric == "train_loss"  # work was done
    assert read_calls < READ_CALLS, read_calls
    assert rest < ANALYSIS_CALLS, rest
