"""The canonical frame: columns, dtypes, rewinds and duplicates."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.model import (
    COLUMNS,
    empty_frame,
    finalize_frame,
    frame_from_columns,
    keep_latest_per_step,
)


def test_empty_frame_has_columns_and_dtypes() -> None:
    f = empty_frame()
    assert tuple(f.columns) == COLUMNS
    assert str(f["step"].dtype) == "int64" and str(f["value"].dtype) == "float64"
    assert finalize_frame(f).columns.tolist() == list(COLUMNS)


def test_rewind_replaces_rewound_range() -> None:
    # a run logged steps 0..5, crashed, resumed from the checkpoint at step 3
    steps = [0, 1, 2, 3, 4, 5, 3, 4, 5, 6]
    values = [10, 9, 8, 7, 6, 5, 70, 60, 50, 40]
    out = finalize_frame(frame_from_columns(["loss"] * 10, steps, values))
    assert out["step"].tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert out["value"].tolist() == [10, 9, 8, 70, 60, 50, 40]


def test_duplicate_step_later_wins_per_metric() -> None:
    out = finalize_frame(
        frame_from_columns(["a", "b", "a", "b"], [1, 1, 1, 2], [1.0, 2.0, 3.0, 4.0])
    )
    assert out[out.metric == "a"]["value"].tolist() == [3.0]
    assert out[out.metric == "b"]["value"].tolist() == [2.0, 4.0]


def test_metric_order_is_first_seen() -> None:
    out = finalize_frame(frame_from_columns(["z", "a", "z"], [0, 0, 1], [1, 2, 3]))
    assert list(dict.fromkeys(out["metric"])) == ["z", "a"]


def test_length_mismatch_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="lengths differ"):
        frame_from_columns(["a"], [1, 2], [1.0])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-5, max_value=30), max_size=60))
def test_keep_latest_matches_a_replay(steps: list[int]) -> None:
    """The vectorised rule equals replaying writes into a dict with rewind truncation."""
    replay: dict[int, int] = {}
    for i, s in enumerate(steps):
        for k in [k for k in replay if k >= s]:
            del replay[k]
        replay[s] = i
    mask = keep_latest_per_step(np.array(steps, dtype=np.int64))
    assert sorted(np.flatnonzero(mask).tolist()) == sorted(replay.values())
