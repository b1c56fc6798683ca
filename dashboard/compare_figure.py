"""The Compare figure: several runs' losses and learning rates overlaid, aligned by step,
epoch or hours since each run's start (data in, ``plotly.graph_objects.Figure`` out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .figures import loss_lr_layout
from .series import MAX_POINTS, StepClock, downsample, ema, positive, x_values
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
        color = RUN_PALETTE[i % len(RUN_PALETTE)]
        label = f"{plain(r.label)} [{plain(r.status)}]"
        group = f"run{i}"
        if r.train is not None and not r.train.empty:
            steps = r.train["step"].to_numpy()
            values = r.train["value"].to_numpy(dtype=np.float64)
            y = ema(values, smoothing) if smoothing > 0 else values
            tx, ty = downsample(steps, y, n_out)
            fig.add_trace(
                go.Scattergl(
                    x=x_values(tx, clock),
                    y=ty,
                    mode="lines",
                    name=f"{label} train",
                    legendgroup=group,
                    line={"color": color, "width": 2},
                    meta=f"{group}:train",
                ),
                row=1,
                col=1,
            )
        if r.val is not None and not r.val.empty:
            vx, vy = downsample(
                r.val["step"].to_numpy(), r.val["value"].to_numpy(dtype=np.float64), n_out
            )
            fig.add_trace(
                go.Scattergl(
                    x=x_values(vx, clock),
                    y=vy,
                    mode="lines+markers" if len(vx) <= 200 else "lines",
                    name=f"{label} val",
                    legendgroup=group,
                    marker={"size": 4},
                    line={"color": color, "width": 2, "dash": "dash"},
                    meta=f"{group}:val",
                ),
                row=1,
                col=1,
            )
        if has_lr and r.lr is not None and not positive(r.lr).empty:
            pos = positive(r.lr)
            lx, ly = downsample(
                pos["step"].to_numpy(), pos["value"].to_numpy(dtype=np.float64), n_out
            )
            fig.add_trace(
                go.Scattergl(
                    x=x_values(lx, clock),
                    y=ly,
                    mode="lines",
                    name=f"{label} LR",
                    legendgroup=group,
                    showlegend=False,
                    line={"color": color, "width": 1.5},
                    meta=f"{group}:lr",
                    text=lr_labels(ly),
                    hovertemplate="LR %{text}",
                ),
                row=2,
                col=1,
            )
    lr_values = None
    if has_lr:
        all_lr = [
            np.asarray(t.y, dtype=np.float64) for t in fig.data if str(t.meta).endswith(":lr")
        ]
        lr_values = np.concatenate(all_lr) if all_lr else np.array([])
    loss_lr_layout(fig, log_y=log_y, lr=lr_values, x_title=x_title, hovermode="x")
    return fig
