"""Fleet review: ``analyzer.fleet.review`` over a folder of ``runs`` CSV logs.

Each run is a plain CSV (``step,train_loss,val_loss,lr``, ``steps`` rows; seeded; a
few runs oscillate, stagnate or diverge so every detector does work). The review runs
in a fresh interpreter so its peak memory (max RSS of the parent and of the largest
worker) is its own. The peer is the CLI's path before the fleet module: read every run
first (``read_sources``), then analyze them one by one in one process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from .common import Result, Sizes, data_dir, ratio

REPO = Path(__file__).resolve().parents[2]


def write_fleet(n_runs: int, n_steps: int, root: Path | None = None) -> Path:
    """A folder of ``n_runs`` CSV runs (cached)."""
    root = (root or data_dir()) / f"fleet_{n_runs}x{n_steps}"
    done = root / ".complete"
    if done.exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    s = np.arange(n_steps)
    for i in range(n_runs):
        rng = np.random.default_rng(i)
        loss = 2.5 * np.exp(-s / (n_steps / 5)) + 0.5 + 0.05 * rng.standard_normal(n_steps)
        kind = i % 10
        if kind == 1:  # oscillating
            loss = loss + 0.4 * np.sin(s / 3.0) * (s > n_steps // 3)
        elif kind == 2:  # diverging
            loss = np.where(s > 0.8 * n_steps, loss * np.exp((s - 0.8 * n_steps) / 200), loss)
        elif kind == 3:  # stagnating
            loss = 2.0 + 0.05 * rng.standard_normal(n_steps)
        val = loss + 0.1 + 0.01 * rng.standard_normal(n_steps)
        lr = 3e-4 * np.minimum(1.0, (s + 1) / 500)
        table = np.column_stack([s, loss, val, lr])
        np.savetxt(
            root / f"run_{i:04d}.csv",
            table,
            delimiter=",",
            fmt=["%d", "%.6g", "%.6g", "%.6g"],
            header="step,train_loss,val_loss,lr",
            comments="",
        )
    done.touch()
    return root


_CHILD = r"""
import json, os, resource, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
np.seterr(all="ignore")
mode, folder, executor = sys.argv[1:4]
def hwm_mb():  # this process' own peak RSS (ru_maxrss would include the parent's at fork)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
base_mb = hwm_mb()
c0 = os.times()
t0 = time.perf_counter()
if mode == "fleet":
    from analyzer.fleet import review
    out = review([folder], executor=executor)
    n, errors, statuses = len(out.analyses), out.errors, [a.status for a in out.analyses]
else:
    from analyzer.analysis import analyze_run
    from analyzer.readers import read_sources
    res = read_sources([folder])
    analyses = [analyze_run(r) for r in res.runs]
    n, errors, statuses = len(analyses), res.errors, [a.status for a in analyses]
dt = time.perf_counter() - t0
c1 = os.times()
cpu = (c1.user - c0.user) + (c1.system - c0.system)
cpu_kids = (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
me = hwm_mb()
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": dt, "runs": n, "errors": len(errors), "parent_mb": me,
                  "import_mb": base_mb, "worker_mb": kids, "cpu_s": cpu + cpu_kids,
                  "statuses": statuses}))
"""


def run_child(mode: str, folder: Path, executor: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(folder), executor],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"fleet child failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench(sizes: Sizes) -> Result:
    folder = write_fleet(sizes.fleet_runs, sizes.fleet_steps)
    executor = f"processes:{sizes.fleet_workers}"
    ours = [run_child("fleet", folder, executor) for _ in range(min(sizes.repeats, 2))]
    best = min(ours, key=lambda r: r["seconds"])
    peer = run_child("read-all", folder, "local")
    if best["statuses"] != peer["statuses"]:
        raise AssertionError("fleet review and read-then-analyze disagree")
    if best["runs"] != sizes.fleet_runs:
        raise AssertionError(f"{best['runs']} of {sizes.fleet_runs} runs analyzed")
    peak = best["parent_mb"] + sizes.fleet_workers * best["worker_mb"]
    idle = best["cpu_s"] / sizes.fleet_workers  # wall time if the 2 cores were ours alone
    counts = {s: best["statuses"].count(s) for s in sorted(set(best["statuses"]))}
    return Result(
        "fleet_review",
        best["seconds"],
        "read all, then analyze (1 process)",
        peer["seconds"],
        ratio(peer["seconds"], best["seconds"]),
        target="< 30 s for 1,000 x 10k on 2 cores",
        met=best["seconds"] < 30 if sizes.fleet_runs >= 1000 else None,
        size=f"{sizes.fleet_runs:,} runs x {sizes.fleet_steps:,} steps (CSV folder)",
        notes=(
            f"{executor}, best of {len(ours)}; CPU {best['cpu_s']:.1f} s (= {idle:.1f} s "
            f"on {sizes.fleet_workers} idle cores; peer CPU {peer['cpu_s']:.1f} s); "
            f"peak RSS parent {best['parent_mb']:.0f} MB + {sizes.fleet_workers} workers "
            f"<= {best['worker_mb']:.0f} MB each; peer (all frames held) "
            f"{peer['parent_mb']:.0f} MB"
        ),
        extra={
            "runs": best["runs"],
            "peak_rss_mb": peak,
            "parent_rss_mb": best["parent_mb"],
            "cpu_s": best["cpu_s"],
            "idle_wall_s": idle,
            "peer_cpu_s": peer["cpu_s"],
            "worker_rss_mb": best["worker_mb"],
            "peer_rss_mb": peer["parent_mb"],
            "statuses": counts,
            "ours_times": [r["seconds"] for r in ours],
        },
    )
