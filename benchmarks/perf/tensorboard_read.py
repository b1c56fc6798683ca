"""TensorBoard read: LR Tempo's reader vs tbparse on one run of ``n`` scalar events.

The run is one event file written like PyTorch's ``SummaryWriter`` (``simple_value``
scalars): ``train/loss`` and ``lr`` at every step, ``val/loss`` every 100 steps, framed
as TFRecords with real masked CRC32Cs. Both readers verify every CRC (LR Tempo in C
through ``crc32c``; tbparse through TensorBoard's ``EventAccumulator``, whose reader
without TensorFlow checks them in pure Python). Both must return the same points.
"""

from __future__ import annotations

import struct
from pathlib import Path

import crc32c
import numpy as np

from analyzer.readers import tensorboard as tb_reader

from .common import Result, Sizes, best_of, data_dir, ratio

WALL0 = 1_700_000_000.0
VAL_EVERY = 100


def _masked(data: bytes) -> int:
    crc = crc32c.crc32c(data)
    return ((crc >> 15 | crc << 17) + 0xA282EAD8) & 0xFFFFFFFF


def steps_for(n_events: int) -> int:
    """Steps so that two tags per step plus ``val/loss`` every 100 steps make ~``n_events``."""
    return max(1, n_events * VAL_EVERY // (2 * VAL_EVERY + 1))


def write_run(n_events: int, root: Path | None = None) -> Path:
    """A run folder with one event file of ~``n_events`` scalar events (cached)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    root = root or data_dir()
    run_dir = root / f"tb_{n_events}"
    done = run_dir / ".complete"
    if done.exists():
        return run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    n = steps_for(n_events)
    rng = np.random.default_rng(0)
    s = np.arange(n)
    loss = (2.5 * np.exp(-s / (n / 5)) + 0.5 + 0.05 * rng.standard_normal(n)).tolist()
    lr = (3e-4 * np.minimum(1.0, (s + 1) / 1000)).tolist()
    path = run_dir / f"events.out.tfevents.{int(WALL0)}.bench"
    Event, Summary = event_pb2.Event, summary_pb2.Summary
    pack = struct.Struct("<Q").pack
    u32 = struct.Struct("<I").pack
    with open(path, "wb") as fh:

        def write(ev: object) -> None:
            data = ev.SerializeToString()  # type: ignore[attr-defined]
            header = pack(len(data))
            fh.write(header + u32(_masked(header)) + data + u32(_masked(data)))

        write(Event(wall_time=WALL0, file_version="brain.Event:2"))
        for i in range(n):
            wall = WALL0 + 0.1 * i
            write(
                Event(
                    wall_time=wall,
                    step=i,
                    summary=Summary(value=[Summary.Value(tag="train/loss", simple_value=loss[i])]),
                )
            )
            write(
                Event(
                    wall_time=wall,
                    step=i,
                    summary=Summary(value=[Summary.Value(tag="lr", simple_value=lr[i])]),
                )
            )
            if i % VAL_EVERY == 0:
                write(
                    Event(
                        wall_time=wall,
                        step=i,
                        summary=Summary(
                            value=[Summary.Value(tag="val/loss", simple_value=loss[i] + 0.05)]
                        ),
                    )
                )
    done.touch()
    return run_dir


def read_ours(run_dir: Path) -> int:
    files = sorted(p for p in run_dir.iterdir() if tb_reader.is_event_file(p))
    return len(tb_reader.read_run(run_dir, files).frame)


def read_tbparse(run_dir: Path) -> int:
    from tbparse import SummaryReader

    return len(SummaryReader(str(run_dir)).scalars)


def bench(sizes: Sizes) -> Result:
    run_dir = write_run(sizes.tb_events)
    events = 2 * steps_for(sizes.tb_events) + -(-steps_for(sizes.tb_events) // VAL_EVERY)
    ours = best_of(lambda: read_ours(run_dir), sizes.repeats)
    peer = best_of(lambda: read_tbparse(run_dir), sizes.repeats, sizes.peer_budget_s)
    if ours.value != peer.value:
        raise AssertionError(f"points differ: LR Tempo {ours.value}, tbparse {peer.value}")
    r = ratio(peer.best, ours.best)
    return Result(
        "tensorboard_read",
        ours.best,
        "tbparse",
        peer.best,
        r,
        target=">= 8x tbparse",
        met=r is not None and r >= 8,
        size=f"{events:,} events",
        notes=(
            f"ours {ours.label}, tbparse {peer.label}; both CRC-checked; {ours.value:,} points; "
            f"CPU {min(ours.cpu):.2f} s vs {min(peer.cpu):.2f} s "
            f"({ratio(min(peer.cpu), min(ours.cpu)) or 0:.1f}x)"
        ),
        extra={
            "events": events,
            "points": ours.value,
            "ours_times": list(ours.times),
            "peer_times": list(peer.times),
            "ours_cpu_s": min(ours.cpu),
            "peer_cpu_s": min(peer.cpu),
            "cpu_ratio": ratio(min(peer.cpu), min(ours.cpu)),
            "mb": sum(p.stat().st_size for p in run_dir.iterdir()) / 1e6,
        },
    )
