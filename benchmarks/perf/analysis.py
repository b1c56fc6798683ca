"""Analysis: ``analyze_run`` time vs run size, and against trainspotter on the same run.

A run of ``n`` points has ``train_loss`` and ``lr`` at every step and ``val_loss`` every
100 steps (a healthy decaying loss with noise, warmup then constant LR; seeded). The
frame is built before the clock starts. trainspotter gets the same three series as its
own ``Run`` (``benchmarks.baselines.to_trainspotter``, built before its clock starts)
and runs ``trainspotter.run_all`` (all default detectors), in the same process.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from analyzer.analysis import analyze_run
from analyzer.model import Run, RunMeta, frame_from_columns

from .common import Result, Sizes, best_of, ratio

VAL_EVERY = 100


def make_run(n: int, seed: int = 0) -> Run:
    """The benchmark run with ``n`` train-loss points (see the module docstring)."""
    rng = np.random.default_rng(seed)
    s = np.arange(n)
    tau = max(n / 5, 1.0)
    loss = 2.5 * np.exp(-s / tau) + 0.5 + 0.05 * rng.standard_normal(n)
    lr = 3e-4 * np.minimum(1.0, (s + 1) / max(n / 100, 1))
    vs = s[::VAL_EVERY]
    val = 2.5 * np.exp(-vs / tau) + 0.55 + 0.01 * rng.standard_normal(len(vs))
    names = np.concatenate(
        [
            np.full(n, "train_loss", object),
            np.full(len(vs), "val_loss", object),
            np.full(n, "lr", object),
        ]
    )
    steps = np.concatenate([s, vs, s])
    values = np.concatenate([loss, val, lr])
    walls = 1.7e9 + 0.1 * steps.astype(np.float64)
    meta = RunMeta(id=f"bench-{n}", name=f"bench-{n}", source="csv", location=f"synthetic:{n}")
    return Run(meta=meta, frame=frame_from_columns(names, steps, values, walls))


def _analyze(run: Run):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return analyze_run(run)


def time_ours(n: int, repeats: int) -> tuple[float, tuple[float, ...], str]:
    run = make_run(n)
    t = best_of(lambda: _analyze(run), repeats)
    _CPU[("ours", n)] = min(t.cpu)
    return t.best, t.times, t.value.status


_CPU: dict[tuple[str, int], float] = {}  # best CPU seconds per (side, points)


def time_trainspotter(n: int, repeats: int, budget_s: float) -> tuple[float, tuple[float, ...]]:
    import trainspotter

    from benchmarks.baselines import to_trainspotter

    ts_run = to_trainspotter(make_run(n))
    t = best_of(lambda: trainspotter.run_all(ts_run), repeats, budget_s)
    _CPU[("trainspotter", n)] = min(t.cpu)
    return t.best, t.times


def plot_scaling(points: list[dict], path: Path) -> str:
    """The scaling curve as a PNG (matplotlib); returns the path, or why there is none."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: table only"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    xs = [p["points"] for p in points]
    ax.loglog(xs, [p["ours_s"] for p in points], "o-", label="LR Tempo analyze_run")
    peer = [(p["points"], p["trainspotter_s"]) for p in points if p.get("trainspotter_s")]
    if peer:
        ax.loglog(*zip(*peer), "s--", label="trainspotter run_all")
    lo, hi = min(xs), max(xs)
    ref = points[-1]["ours_s"]
    ax.loglog([lo, hi], [ref * lo / hi, ref], ":", color="grey", label="O(n) reference")
    ax.axhline(5.0, color="red", lw=0.8, ls="--", label="5 s target (10M points)")
    ax.set_xlabel("points in the train-loss series (run: train + LR every step, val every 100)")
    ax.set_ylabel("seconds (best of repeats)")
    ax.set_title("Analysis time vs run size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(path)


def bench(sizes: Sizes, plot_path: Path | None) -> tuple[list[Result], list[dict]]:
    """``analyze_run`` (target size), the trainspotter comparison and the scaling curve."""
    curve: list[dict] = []
    for n in sizes.scaling:
        best, times, status = time_ours(n, sizes.repeats)
        row = {
            "points": n,
            "ours_s": best,
            "ours_times": list(times),
            "status": status,
            "ours_cpu_s": _CPU[("ours", n)],
        }
        if n <= sizes.peer_points:
            row["trainspotter_s"] = time_trainspotter(n, sizes.repeats, sizes.peer_budget_s)[0]
            row["trainspotter_cpu_s"] = _CPU[("trainspotter", n)]
        curve.append(row)
    by_n = {row["points"]: row for row in curve}
    n = sizes.analyze_points
    if n in by_n:
        big_s, big_times = by_n[n]["ours_s"], by_n[n]["ours_times"]
    else:
        big_s, big_times, _ = time_ours(n, sizes.repeats)
    if sizes.peer_points in by_n and "trainspotter_s" in by_n[sizes.peer_points]:
        ours_p, peer_p = (
            by_n[sizes.peer_points]["ours_s"],
            by_n[sizes.peer_points]["trainspotter_s"],
        )
    else:
        ours_p = time_ours(sizes.peer_points, sizes.repeats)[0]
        peer_p = time_trainspotter(sizes.peer_points, sizes.repeats, sizes.peer_budget_s)[0]
    plot = plot_scaling(curve, plot_path) if plot_path is not None else "no plot requested"
    # slope of log(time) vs log(n) over the last decade: ~1 for O(n)
    slope = None
    if len(curve) >= 2 and curve[-2]["ours_s"] > 0:
        a, b = curve[-2], curve[-1]
        slope = float(np.log(b["ours_s"] / a["ours_s"]) / np.log(b["points"] / a["points"]))
    results = [
        Result(
            "analyze_run",
            big_s,
            None,
            None,
            None,
            target="< 5 s at 10M points",
            met=big_s < 5.0 if n >= 10_000_000 else None,
            size=f"{n:,} points",
            notes=f"best of {len(big_times)}; run = train+LR every step, val every 100"
            + ("" if n >= 10_000_000 else "; target is for 10M (full mode)"),
            extra={
                "points": n,
                "ours_times": big_times,
                "scaling_slope": slope,
                "ours_cpu_s": _CPU.get(("ours", n)),
                "plot": plot,
            },
        ),
        Result(
            "analyze_vs_trainspotter",
            ours_p,
            "trainspotter.run_all",
            peer_p,
            ratio(peer_p, ours_p),
            target=">= 20x trainspotter",
            met=(ratio(peer_p, ours_p) or 0) >= 20,
            size=f"{sizes.peer_points:,} points",
            notes="same run, in-process; each side's own run model built before timing",
            extra={
                "points": sizes.peer_points,
                "ours_cpu_s": _CPU.get(("ours", sizes.peer_points)),
                "peer_cpu_s": _CPU.get(("trainspotter", sizes.peer_points)),
            },
        ),
    ]
    return results, curve
