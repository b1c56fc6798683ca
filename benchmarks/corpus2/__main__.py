"""Generate corpus 2 and save it in the repository.

    python -m benchmarks.corpus2 [--quick] [--workers N] [--families F ...] [--out DIR]
    python -m benchmarks.corpus2 --relabel [--out DIR]

``--relabel`` verifies the cached runs again with today's rules (no training, no torch).

``--families`` regenerates only those families and merges them into the existing cache.
``--quick`` (fewer LRs and seeds, half the steps) writes to ``data_quick/`` unless
``--out`` is given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .build import generate, main_log, merge, relabel
from .families import FAMILIES
from .store import DATA_DIR, QUICK_DIR, exists, load, save


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.corpus2", description="Generate corpus 2 (real PyTorch runs)."
    )
    ap.add_argument("--quick", action="store_true", help="fewer LRs/seeds, half the steps")
    ap.add_argument("--workers", type=int, default=2, help="training processes (default 2)")
    ap.add_argument(
        "--families",
        nargs="+",
        metavar="F",
        choices=sorted(FAMILIES),
        help="only these families (merged into the existing cache)",
    )
    ap.add_argument("--out", type=Path, default=None, help="cache directory")
    ap.add_argument(
        "--relabel", action="store_true", help="verify the cached runs again (no training)"
    )
    args = ap.parse_args(argv)
    out = args.out or (QUICK_DIR if args.quick else DATA_DIR)
    if args.relabel:
        results, manifest = load(out)
        manifest = relabel(results, manifest)
    else:
        new = generate(args.families, quick=args.quick, workers=args.workers, log=main_log)
        old = load(out) if args.families and exists(out) else None
        results, manifest = merge(old, new)
    save(out, results, manifest)
    rep = manifest["report"]
    print(
        json.dumps(
            {k: rep[k] for k in ("trained", "kept", "dropped", "relabeled", "drop_reasons")},
            indent=1,
        )
    )
    for where, c in rep["kept_by"].items():
        print(f"{where:<16} " + ", ".join(f"{k} {v}" for k, v in c.items()))
    print(f"saved {len(results)} runs to {out} in {manifest['build_seconds']}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
