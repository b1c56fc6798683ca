"""The Compare figure: several runs' losses and learning rates overlaid, aligned by step,
epoch or hours since each run's start (data in, ``plotly.graph_objects.Figure`` out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .figures import add_line, loss_lr_layout
from .series import MAX_POINTS, StepClock, downsample, ema, positive, step_values
from .theme import RUN_PALETTE, lr_labels, plain


@dataclass(frozen=True)
class CompareRun:
    """One run of the compare view: a label, its status and its role series."""

    label: str
    status: str
    train: pd.DataFrame | None
    val: pd.DataFrame | None
    lr: pd.DataFrame | None
    epoch: pd.DataFrame | None = None  # a logged epoch metric (for the epoch axis)


#: The Compare page's x axes: step, epoch (from a logged ``epoch`` metric) or wall time.
COMPARE_X_TITLES: Mapping[str, str] = {
    "step": "step",
    "epoch": "epoch",
    "time": "hours since start",
}


def _compare_clocks(runs: Sequence[CompareRun], x_mode: str) -> tuple[list[StepClock | None], str]:
    """Each run's step → x map and the axis title. When a run lacks what ``x_mode`` needs
    (no epoch metric, no wall times), every run is drawn by step and the title says why."""
    if x_mode not in ("epoch", "time"):
        return [None] * len(runs), "step"
    if x_mode == "time":
        clocks = [StepClock.from_series(r.train, r.val, r.lr) for r in runs]
    else:
        clocks = [StepClock.from_epochs(r.epoch) for r in runs]
    if runs and all(c is not None for c in clocks):
        return clocks, COMPARE_X_TITLES[x_mode]
    missing = "an epoch metric" if x_mode == "epoch" else "wall times"
    return [None] * len(runs), f"step (not every run has {missing})"


def compare_figure(
    runs: Sequence[CompareRun],
    *,
    smoothing: float = 0.6,
    log_y: bool = False,
    x_mode: str = "step",
    n_out: int = MAX_POINTS,
) -> go.Figure:
    """Several runs' losses (train EMA-smoothed by ``smoothing``, solid; val dashed) and
    LRs, aligned by step, epoch or hours since each run's start (``x_mode``). Without any
    LR logged there is no LR panel."""
    has_lr = any(r.lr is not None and not positive(r.lr).empty for r in runs)
    clocks, x_title = _compare_clocks(runs, x_mode)
    if has_lr:
        fig = make_subplots(
            rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.05
        )
    else:
        fig = make_subplots(rows=1, cols=1)
    for i, (r, clock) in enumerate(zip(runs, clocks, strict=True)):
        _add_run(fig, i, r, clock, smoothing=smoothing, with_lr=has_lr, n_out=n_out)
    lr_values = None
    if has_lr:
        all_lr = [
            np.asarray(t.y, dtype=np.float64) for t in fig.data if str(t.meta).endswith(":lr")
        ]
        lr_values = np.concatenate(all_lr) if all_lr else np.array([])
    loss_lr_layout(fig, log_y=log_y, lr=lr_values, x_title=x_title, hovermode="x")
    return fig


def _add_run(
    fig: go.Figure,
    i: int,
    run: CompareRun,
    clock: StepClock | None,
    *,
    smoothing: float,
    with_lr: bool,
    n_out: int,
) -> None:
    """Add run ``i``'s lines in its colour and legend group: the train loss (EMA-smoothed),
    the val loss (dashed) and, ``with_lr``, its positive LR in row 2."""
    color = RUN_PALETTE[i % len(RUN_PALETTE)]
    label = f"{plain(run.label)} [{plain(run.status)}]"
    group = f"run{i}"
    if run.train is not None and not run.train.empty:
        steps, values = step_values(run.train)
        y = ema(values, smoothing) if smoothing > 0 else values
        tx, ty = downsample(steps, y, n_out)
        train = {"color": color, "width": 2}
        add_line(
            fig,
            tx,
            ty,
            clock,
            name=f"{label} train",
            line=train,
            meta=f"{group}:train",
            legendgroup=group,
        )
    if run.val is not None and not run.val.empty:
        vx, vy = downsample(*step_values(run.val), n_out)
        val = {"color": color, "width": 2, "dash": "dash"}
        add_line(
            fig,
            vx,
            vy,
            clock,
            name=f"{label} val",
            line=val,
            meta=f"{group}:val",
            legendgroup=group,
            marker_size=4,
        )
    pos = positive(run.lr) if with_lr and run.lr is not None else None
    if pos is not None and not pos.empty:
        lx, ly = downsample(*step_values(pos), n_out)
        lr = {"color": color, "width": 1.5}
        add_line(
            fig,
            lx,
            ly,
            clock,
            name=f"{label} LR",
            line=lr,
            meta=f"{group}:lr",
            row=2,
            legendgroup=group,
            showlegend=False,
            text=lr_labels(ly),
            hovertemplate="LR %{text}",
        )
