"""Wide scan: ``lrtempo analyze FOLDER`` over many small CSV logs (issue 14 row 8).

The folder holds ``files`` plain CSVs of ``steps`` rows (``step,loss,lr``; seeded; every
tenth one oscillates, so the detectors do work). Ours is the command line as a user runs
it (a scan of 200 files or more is read and analyzed on one process per core, see
:func:`analyzer.cli.auto_executor`); the peer, measured in the same run, is the same
command reading the files one after another in one process (as before). Each runs in a
fresh interpreter; the two JSON documents must be identical.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from .common import Result, Sizes, data_dir, ratio

REPO = Path(__file__).resolve().parents[2]
#: Rows per file: a small log (a short fine-tune, an epoch-level log).
STEPS = 40


def write_folder(n_files: int, n_steps: int = STEPS, root: Path | None = None) -> Path:
    """A folder of ``n_files`` small CSV runs in sub-folders of 1,000 (cached)."""
    root = (root or data_dir()) / f"wide_{n_files}x{n_steps}"
    done = root / ".complete"
    if done.exists():
        return root
    s = np.arange(n_steps)
    for i in range(n_files):
        sub = root / f"part_{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(i)
        loss = 2.0 * np.exp(-s / (n_steps / 4)) + 0.3 + 0.02 * rng.standard_normal(n_steps)
        if i % 10 == 1:
            loss = loss + 0.3 * np.sin(s * 2.5) * (s > n_steps // 3)
        lines = "".join(f"{a},{b:.5f},0.001\n" for a, b in zip(s.tolist(), loss.tolist()))
        (sub / f"run_{i:06d}.csv").write_text("step,loss,lr\n" + lines)
    done.touch()
    return root


_CHILD = r"""
import json, os, sys, time, warnings
warnings.simplefilter("ignore")
mode, folder, out = sys.argv[1:4]
import analyzer.cli
if mode == "sequential":
    analyzer.cli.PARALLEL_MIN_FILES = 10**12  # the CLI before: one file after another
from lrtempo.cli import main
c0 = os.times()
t0 = time.perf_counter()
code = main(["analyze", folder, "--format", "json", "--out", out, "-q"])
dt = time.perf_counter() - t0
c1 = os.times()
cpu = sum(c1[:4]) - sum(c0[:4])
print(json.dumps({"seconds": dt, "code": code, "cpu_s": cpu}))
"""


def run_child(mode: str, folder: Path, out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(folder), str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"wide-scan child failed:\n{proc.stderr[-2000:]}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    if got["code"] != 0:
        raise RuntimeError(f"lrtempo analyze exited {got['code']}:\n{proc.stderr[-2000:]}")
    return got


def bench(sizes: Sizes) -> Result:
    folder = write_folder(sizes.wide_files)
    ours_out, peer_out = folder.parent / "wide_ours.json", folder.parent / "wide_peer.json"
    ours = run_child("parallel", folder, ours_out)
    peer = run_child("sequential", folder, peer_out)
    doc, peer_doc = (json.loads(p.read_text()) for p in (ours_out, peer_out))
    if doc != peer_doc:
        raise AssertionError("the parallel scan and the sequential one disagree")
    if len(doc["runs"]) != sizes.wide_files:
        raise AssertionError(f"{len(doc['runs'])} of {sizes.wide_files} runs analyzed")
    per_file_ms = 1000 * ours["seconds"] / sizes.wide_files
    full = sizes.wide_files >= 50_000
    return Result(
        "wide_scan",
        ours["seconds"],
        "the same CLI, files read one after another",
        peer["seconds"],
        ratio(peer["seconds"], ours["seconds"]),
        target="<= 60 s for 50,000 small CSVs on 2 cores",
        met=ours["seconds"] <= 60 if full else None,
        size=f"{sizes.wide_files:,} CSV files x {STEPS} rows (lrtempo analyze FOLDER)",
        notes=(
            f"{per_file_ms:.2f} ms a file; CPU {ours['cpu_s']:.1f} s (peer "
            f"{peer['cpu_s']:.1f} s); 50,000 files at this rate: "
            f"{per_file_ms * 50:.0f} s"
        ),
        extra={
            "files": sizes.wide_files,
            "cpu_s": ours["cpu_s"],
            "peer_cpu_s": peer["cpu_s"],
            "ms_per_file": per_file_ms,
        },
    )
