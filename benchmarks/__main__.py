"""``python -m benchmarks``: the performance suite (see :mod:`benchmarks.perf`).

    python -m benchmarks [--quick] [--json FILE] [--only NAME,...] [--plot FILE]

The detection benchmark is ``python -m benchmarks.detection``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .perf import BENCHMARKS, DEFAULT_PLOT, PRESETS, document, format_table, run_suite, write_json
from .perf.common import data_dir


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="scaled-down sizes (a few minutes)")
    p.add_argument(
        "--size", choices=sorted(PRESETS), help="full, quick or tiny (overrides --quick)"
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="write the lrtempo.bench/1 document")
    p.add_argument(
        "--only", metavar="NAMES", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}"
    )
    p.add_argument(
        "--plot",
        type=Path,
        metavar="FILE",
        help="scaling-curve PNG (default: docs/bench/analyze_scaling.png in full "
        "mode, the data folder otherwise)",
    )
    args = p.parse_args(argv)
    mode = args.size or ("quick" if args.quick else "full")
    sizes = PRESETS[mode]
    plot = args.plot or (
        DEFAULT_PLOT if mode == "full" else data_dir() / f"analyze_scaling_{mode}.png"
    )
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    started = time.time()
    print(
        f"LR Tempo performance suite, {mode} sizes"
        + (" (scaled down: targets apply to full sizes)" if mode != "full" else "")
        + f"; data in {data_dir()}",
        flush=True,
    )
    try:
        results = run_suite(sizes, only, plot, log=lambda s: print(s, flush=True))
    except ValueError as exc:
        print(f"python -m benchmarks: {exc}", file=sys.stderr)
        return 2
    print()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, "
        f"{document(results, sizes, started)['machine']}"
    )
    print(format_table(results, sizes))
    if args.json:
        write_json(args.json, document(results, sizes, started))
        print(f"\nJSON: {args.json}")
    return 0 if all(r.ours_s is not None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
