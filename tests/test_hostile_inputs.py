"""Hostile inputs, end to end: what a user sees for each bad source (docs/hostile_inputs.md).

Each case makes one hostile source in an empty folder and runs, in that folder,
``lrtempo analyze BAD good.csv --format json`` and then ``lrtempo analyze BAD`` alone.
The contract (CONTRACT.md) says: exit 0 when every source is read, 3 (a partial read)
when a source fails while another is analyzed, 2 when no run is readable; one ``lrtempo: <source>: …`` line per bad source on stderr, naming the place
(line, record, byte) where one applies, the same text under ``errors`` (control characters
in a name shown as escapes, so it stays one line); what a reader tolerated is a
``warning: <source>: …`` line and the run is still analyzed; files a folder scan leaves
out (not logs) are counted on a ``note: <folder>: …`` line; never a traceback. MLflow
servers that fail are run the same way (``SERVER_CASES``).

``python -m tests.test_hostile_inputs`` rewrites docs/hostile_inputs.md from the real
output; :func:`test_the_doc_is_current` fails when the table is stale.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import json
import os
import re
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from analyzer.errors import printable
from lrtempo.cli import main
from tests.tb_writers import event_name, record_offsets, simple_event, write_events

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "hostile_inputs.md"
GOOD = "good.csv"

Seen = Literal["error", "warning", "read"]


def _rows(n: int, start: int = 0) -> str:
    return "".join(f"{i},{2.0 / (i - start + 1) + 0.1:.6f}\n" for i in range(start, start + n))


LOG = "step,loss\n" + _rows(60)


@dataclass(frozen=True)
class Case:
    """One hostile source: how to make it, what the user must see, and where."""

    id: str
    what: str
    make: Callable[[Path], str]  # makes the source under the folder; returns the CLI argument
    seen: Seen
    place: str | None = None  # regex the source's stderr line must match (line, byte, record)
    env: dict[str, str] = field(default_factory=dict)
    as_nobody: bool = False  # run without root's rights (permissions)
    note: str | None = None  # regex of the folder scan's "note:" line (files skipped)


def _file(name: str, data: bytes | str) -> Callable[[Path], str]:
    def make(root: Path) -> str:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        return name.split("/")[0]

    return make


def _csv_rows(values: list[str], steps: list[str] | None = None) -> str:
    steps = steps or [str(i) for i in range(len(values))]
    return "step,loss\n" + "".join(f"{s},{v}\n" for s, v in zip(steps, values))


def _losses(n: int = 60) -> list[str]:
    return [f"{2.0 / (i + 1) + 0.1:.6f}" for i in range(n)]


def _with(values: list[str], at: dict[int, str]) -> list[str]:
    return [at.get(i, v) for i, v in enumerate(values)]


def _shuffled() -> Callable[[Path], str]:
    import random

    order = list(range(60))
    random.Random(3).shuffle(order)
    values = _losses()
    return _file("shuffled.csv", _csv_rows([values[i] for i in order], [str(i) for i in order]))


def _long_line(root: Path) -> str:
    with open(root / "long_line.csv", "w") as fh:
        fh.write("step,loss\n0,1.0\n1,")
        fh.write("x" * (50 * 2**20))  # one 50 MB cell of text
        fh.write("\n" + _rows(58, start=2))
    return "long_line.csv"


def _wide_header(root: Path) -> str:
    (root / "wide.csv").write_text(",".join(f"c{j}" for j in range(2_000_000)) + "\n1\n")
    return "wide.csv"


def _many_columns() -> Callable[[Path], str]:
    header = "step," + ",".join(f"metric_{j}" for j in range(500)) + ",loss\n"
    body = "".join(
        f"{i}," + ",".join("0.5" for _ in range(500)) + f",{v}\n" for i, v in enumerate(_losses())
    )
    return _file("many_columns.csv", header + body)


def _gzip(name: str, data: bytes, cut: bool = False) -> Callable[[Path], str]:
    packed = gzip.compress(data)
    return _file(name, packed[: len(packed) // 2] if cut else packed)


def _gzip_bomb(root: Path) -> str:
    with gzip.open(root / "bomb.csv.gz", "wb") as gz:  # 256 MB of text in ~250 KB
        gz.write(b"step,loss\n")
        for _ in range(256):
            gz.write(b"0" * 2**20)
    return "bomb.csv.gz"


def _sparse(root: Path) -> str:
    with open(root / "huge.csv", "wb") as fh:  # 5 GB of which no byte is on disk
        fh.write(b"step,loss\n")
        fh.truncate(5 * 2**30)
    return "huge.csv"


STATE = {
    "log_history": [
        {"step": s, "loss": 2.0 / (s + 1), "learning_rate": 1e-3} for s in range(1, 61)
    ],
    "max_steps": 60,
}
STATE_TEXT = json.dumps(STATE, indent=2)


def _events(root: Path, folder: str, damage: Callable[[Path], None] | None = None) -> str:
    path = write_events(
        root / folder / event_name(1700000000),
        [simple_event("loss", 2.0 / (s + 1), s) for s in range(60)],
    )
    if damage:
        damage(path)
    return folder


def _truncate_mid_record(path: Path) -> None:
    offsets = record_offsets(path)
    path.write_bytes(path.read_bytes()[: offsets[40] + 9])  # in record 40's header


def _flip_data_byte(path: Path) -> None:
    offset = record_offsets(path)[30]
    data = bytearray(path.read_bytes())
    data[offset + 20] ^= 0x40  # inside record 30's data: its CRC no longer matches
    path.write_bytes(bytes(data))


def _stray_files(root: Path) -> str:
    folder = root / "project"
    (folder / "logs").mkdir(parents=True)
    (folder / "README.md").write_text("# my project\n")
    (folder / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (folder / "dataset.csv").write_text("name,size\nresnet,11\nvit,86\n")
    (folder / "notes.txt").write_text("lr 3e-4 looked fine\n")
    (folder / "logs" / "metrics.csv").write_text(LOG)
    return "project"


def _in_folder(name: str, data: bytes) -> Callable[[Path], str]:
    """A folder holding only ``name`` (a log by its name that cannot be read)."""
    return _file(f"scan/{name}", data)


def _symlink_loop(root: Path) -> str:
    folder = root / "loop"
    folder.mkdir()
    (folder / "log.csv").write_text(LOG)
    (folder / "again").symlink_to(folder, target_is_directory=True)
    return "loop"


def _fifo_folder(root: Path) -> str:
    folder = root / "with_pipe"
    folder.mkdir()
    (folder / "metrics.csv").write_text(LOG)
    os.mkfifo(folder / "live.csv")
    return "with_pipe"


def _locked(root: Path) -> str:
    folder = root / "locked"
    folder.mkdir()
    (folder / "metrics.csv").write_text(LOG)
    folder.chmod(0)
    return "locked"


def _dir_named_csv(root: Path) -> str:
    (root / "x.csv").mkdir()
    return "x.csv"


def _fifo(root: Path) -> str:
    os.mkfifo(root / "x.csv")
    return "x.csv"


def _dev_zero(root: Path) -> str:
    (root / "zero.csv").symlink_to("/dev/zero")
    return "zero.csv"


CASES: list[Case] = [
    Case("empty", "empty file", _file("empty.csv", b""), "error"),
    Case(
        "header-only",
        "CSV header, no rows",
        _file("header.csv", "step,loss\n"),
        "error",
        r": line 2: ",
    ),
    Case(
        "binary",
        "binary junk named .csv",
        _file("junk.csv", bytes(range(256)) * 64),
        "error",
        r": byte \d+: ",
    ),
    Case(
        "text-column",
        "text in the whole loss column",
        _file("words.csv", _csv_rows(["high"] * 30)),
        "error",
        r": line 1: ",
    ),
    Case(
        "text-beside",
        "a whole column of text beside the loss (a note, set aside)",
        _file(
            "notes.csv",
            "step,loss,note\n" + "".join(f"{i},{v},run {i} ok\n" for i, v in enumerate(_losses())),
        ),
        "read",
    ),
    Case(
        "text-cells",
        "text in a few loss cells",
        _file("cells.csv", _csv_rows(_with(_losses(), {3: "oops", 7: "#DIV/0!"}))),
        "warning",
        r": lines 5, 9: ",
    ),
    Case(
        "text-loss-column",
        "a loss column of dashes only beside a val loss (dropped, and said so)",
        _file(
            "dashes.csv",
            "step,loss,val_loss\n" + "".join(f"{i},—,{v}\n" for i, v in enumerate(_losses())),
        ),
        "warning",
        r": column 'loss' holds no number in any row",
    ),
    Case(
        "cut-last-row",
        "a CSV cut off mid-row while written (no line end, fewer fields)",
        _file(
            "cut.csv",
            "step,loss,lr\n"
            + "".join(f"{i},{v},0.01\n" for i, v in enumerate(_losses()))
            + "60,2.",
        ),
        "warning",
        r": line 62: the file ends mid-row",
    ),
    Case(
        "yolo-nan-part",
        "an Ultralytics loss part that is NaN in every epoch",
        _file(
            "results.csv",
            "epoch,train/box_loss,train/cls_loss,train/dfl_loss,metrics/mAP50(B),"
            "val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2\n"
            + "".join(
                f"{i},nan,{v},{v},0.5,{v},{v},{v},0.01,0.01,0.01\n"
                for i, v in enumerate(_losses(40))
            ),
        ),
        "warning",
        r"train/box_loss: no finite value in any row",
    ),
    Case(
        "hf-text-loss",
        "a trainer_state.json whose loss is a string in some records",
        _file(
            "trainer_state.json",
            json.dumps(
                {
                    "log_history": [
                        {"step": i + 1, "loss": "n/a" if i % 10 == 3 else float(v)}
                        for i, v in enumerate(_losses())
                    ]
                }
            ),
        ),
        "warning",
        r": record 3: 'loss' is not a number \('n/a'\), and 5 more like it",
    ),
    Case(
        "empty-source",
        'an empty SOURCE (`lrtempo analyze "$UNSET"`): not the current folder',
        lambda root: "",
        "error",
        r"an empty source name",
    ),
    Case(
        "nan-inf",
        "NaN, Inf and -Inf losses",
        _file("nan_inf.csv", _csv_rows(_with(_losses(), {20: "nan", 30: "inf", 40: "-inf"}))),
        "read",
    ),
    Case(
        "huge-values",
        "losses of 1e308 and -1e308",
        _file("e308.csv", _csv_rows(_with(_losses(), {10: "1e308", 11: "-1e308"}))),
        "read",
    ),
    Case(
        "duplicate-steps",
        "every step logged twice (the later row wins)",
        _file(
            "dupes.csv",
            _csv_rows([v for v in _losses(30) for _ in (0, 1)], [str(i // 2) for i in range(60)]),
        ),
        "read",
    ),
    Case(
        "unsorted-steps",
        "rows in random step order",
        _shuffled(),
        "warning",
        r": steps out of order from line \d+ on",
    ),
    Case(
        "float-steps",
        "steps 0.5, 1.5, 2.5 …",
        _file("half.csv", _csv_rows(_losses(), [f"{i}.5" for i in range(60)])),
        "warning",
        r": lines 2, 3, 4, 5, 6 and 55 more: ",
    ),
    Case(
        "negative-steps",
        "steps from -30 to 29",
        _file("negative.csv", _csv_rows(_losses(), [str(i - 30) for i in range(60)])),
        "warning",
        r": lines 2, 3, 4, 5, 6 and 25 more: ",
    ),
    Case("single-row", "one data row", _file("one.csv", "step,loss\n0,1.0\n"), "read"),
    Case(
        "huge-steps",
        "steps from 2^63 on (beyond int64)",
        _file("huge_steps.csv", _csv_rows(_losses(), [str(2**63 + i) for i in range(60)])),
        "error",
        r": line 2: 'step' 9223372036854775808 is too large",
    ),
    Case(
        "repeated-column",
        "a header naming 'loss' twice",
        _file(
            "twice.csv",
            "step,loss,loss\n" + "".join(f"{i},{v},{v}\n" for i, v in enumerate(_losses())),
        ),
        "warning",
        r": line 1: column 'loss' appears 2 times",
    ),
    Case("long-line", "one 50 MB line (a single cell)", _long_line, "warning", r": line 3: "),
    Case(
        "wide-header",
        "a 17 MB header line of 2,000,000 columns",
        _wide_header,
        "error",
        r": line 1: ",
    ),
    Case("many-columns", "500 metric columns", _many_columns(), "read"),
    Case(
        "bom-crlf-semicolon",
        "UTF-8 BOM, CRLF line ends, ';' and decimal commas",
        _file(
            "excel.csv",
            (
                "\ufeffstep;loss\r\n"
                + "".join(f"{i};{v.replace('.', ',')}\r\n" for i, v in enumerate(_losses()))
            ),
        ),
        "read",
    ),
    Case(
        "latin-1",
        "Windows-1252 text (not UTF-8)",
        _file(
            "accents.csv",
            (
                "step,loss,r\u00e9sum\u00e9\n"
                + "".join(f"{i},{v},0\n" for i, v in enumerate(_losses()))
            ).encode("cp1252"),
        ),
        "read",
    ),
    Case("gzip", "a gzipped CSV", _gzip("run.csv.gz", LOG.encode()), "read"),
    Case(
        "gzip-truncated",
        "a gzipped CSV cut in half",
        _gzip("cut.csv.gz", ("step,loss\n" + _rows(20_000)).encode(), cut=True),
        "error",
        r": byte \d+: truncated gzip",
    ),
    Case(
        "gzip-bomb",
        "256 MB of zeros in 250 KB of gzip (LRTEMPO_MAX_FILE_MB=64)",
        _gzip_bomb,
        "error",
        None,
        {"LRTEMPO_MAX_FILE_MB": "64"},
    ),
    Case(
        "too-large",
        "a 5 GB CSV (sparse; LRTEMPO_MAX_FILE_MB=100)",
        _sparse,
        "error",
        None,
        {"LRTEMPO_MAX_FILE_MB": "100"},
    ),
    Case(
        "hf-truncated",
        "trainer_state.json cut in the middle",
        _file("hf_cut/trainer_state.json", STATE_TEXT[: len(STATE_TEXT) // 2]),
        "error",
        r": line \d+ column \d+: ",
    ),
    Case(
        "hf-not-a-list",
        "trainer_state.json whose log_history is an object",
        _file("hf_obj/trainer_state.json", json.dumps({"log_history": {"loss": 1}})),
        "error",
    ),
    Case(
        "hf-strings",
        "trainer_state.json with numbers stored as strings",
        _file(
            "hf_str/trainer_state.json",
            json.dumps(
                {"log_history": [{"step": str(s), "loss": f"{2.0 / s:.4f}"} for s in range(1, 61)]}
            ),
        ),
        "read",
    ),
    Case(
        "jsonl-broken-line",
        "a broken JSON line in the middle of a .jsonl",
        _file(
            "log.jsonl",
            "".join(
                (
                    '{"step": 3, "loss": 0.5\n'
                    if s == 3
                    else json.dumps({"step": s, "loss": float(v)}) + "\n"
                )
                for s, v in enumerate(_losses())
            ),
        ),
        "warning",
        r": line 4: ",
    ),
    Case(
        "tb-empty",
        "an empty TensorBoard event file",
        _file(f"tb_empty/{event_name(1700000000)}", b""),
        "error",
        r": byte 0: ",
    ),
    Case(
        "tb-junk",
        "an event file of junk bytes",
        _file(f"tb_junk/{event_name(1700000000)}", b"\xff" * 4096),
        "error",
        r": byte 0: ",
    ),
    Case(
        "tb-truncated",
        "an event file cut in the middle of a record",
        lambda root: _events(root, "tb_cut", _truncate_mid_record),
        "warning",
        r": truncated at byte \d+ .*kept the 40 records",
    ),
    Case(
        "tb-bad-crc",
        "an event file with a corrupted record (CRC mismatch)",
        lambda root: _events(root, "tb_crc", _flip_data_byte),
        "warning",
        r": byte \d+: CRC mismatch \(record data\) in 1 record\(s\), skipped; the records after read",
    ),
    Case(
        "stray-files",
        "a folder with a README, a PNG, notes and a data-set CSV beside a log",
        _stray_files,
        "read",
        note=r"2 files skipped, not training logs: dataset\.csv, "
        r"notes\.txt$",
    ),
    Case(
        "scan-empty-csv",
        "a folder scan meets an empty .csv",
        _in_folder("empty.csv", b""),
        "error",
        r"/empty\.csv: empty file",
    ),
    Case(
        "scan-binary-csv",
        "a folder scan meets binary junk named .csv (no NUL byte)",
        _in_folder("junk.csv", bytes(range(128, 256)) * 32),
        "error",
        r"/junk\.csv: ",
    ),
    Case(
        "scan-corrupt-jsonl",
        "a folder scan meets a .jsonl of binary junk",
        _in_folder("log.jsonl", bytes(range(256)) * 16),
        "error",
        r"/log\.jsonl: ",
    ),
    Case("symlink-loop", "a folder holding a symlink to itself", _symlink_loop, "read"),
    Case(
        "odd-names",
        "a file name with spaces and non-ASCII characters",
        _file("my run \u2013 \u00e9t\u00e9 \u65e5\u672c.csv", LOG),
        "read",
    ),
    Case(
        "control-chars",
        "an empty file whose name holds a newline and a terminal escape",
        _file("bad\nname\x1b[31m.csv", b""),
        "error",
    ),
    Case(
        "no-permission",
        "a folder without read permission",
        _locked,
        "error",
        r": cannot read this folder",
        as_nobody=True,
    ),
    Case("dir-named-csv", "a folder named x.csv (empty)", _dir_named_csv, "error"),
    Case("fifo", "a FIFO named x.csv (nothing ever written)", _fifo, "error"),
    Case(
        "fifo-in-folder", "a folder with a FIFO named live.csv beside a log", _fifo_folder, "read"
    ),
    Case("dev-zero", "zero.csv, a symlink to /dev/zero (endless input)", _dev_zero, "error"),
    Case("missing", "a path that does not exist", lambda root: "nowhere.csv", "error"),
]


# --------------------------------------------------------------------------- running a case


@dataclass
class Outcome:
    """What the CLI did with the bad source beside a good file, and alone."""

    code_with_good: int
    code_alone: int
    doc: dict  # the JSON document beside the good file
    lines: list[str]  # stderr lines about the bad source (beside the good file)
    stderr: str  # all of stderr, both runs
    stdout_alone: str


def _run(argv: list[str], as_nobody: bool = False) -> tuple[int, str, str]:
    """``main(argv)`` with its stdout and stderr; ``as_nobody`` drops root's rights first."""
    out, err = io.StringIO(), io.StringIO()
    if not as_nobody or os.geteuid() != 0:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        return code, out.getvalue(), err.getvalue()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: nobody's rights, then the same CLI call
        try:
            os.close(read_end)
            os.setgid(65534)
            os.setuid(65534)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
            os.write(write_end, json.dumps([code, out.getvalue(), err.getvalue()]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks, deadline = [], time.monotonic() + 60
    with os.fdopen(read_end, "rb") as fh:
        while select.select([fh], [], [], max(deadline - time.monotonic(), 0))[0]:
            if not (chunk := os.read(fh.fileno(), 1 << 16)):
                break
            chunks.append(chunk)
        else:  # the child hangs (e.g. a lock held by another thread at fork): end it
            os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    data = b"".join(chunks)
    code, stdout, stderr = json.loads(data) if data else (-1, "", "the child died or hung")
    return code, stdout, stderr


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _inside(folder: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def run_case(
    source: str, folder: Path, env: dict[str, str] | None = None, as_nobody: bool = False
) -> Outcome:
    """Run the CLI in ``folder`` on ``source`` beside a good CSV, then on ``source`` alone."""
    (folder / GOOD).write_text(LOG)
    if as_nobody:  # nobody can search this folder; modules the CLI imports lazily are loaded
        folder.chmod(0o755)
        (folder / GOOD).chmod(0o644)
        with _inside(folder):
            _run(["analyze", GOOD, "--format", "json", "-q"])
    with _inside(folder), _environment(env or {}):
        code, out, err = _run(["analyze", source, GOOD, "--format", "json", "-q"], as_nobody)
        alone, out_alone, err_alone = _run(["analyze", source, "--format", "json", "-q"], as_nobody)
    lines = [ln for ln in err.splitlines() if GOOD not in ln]
    return Outcome(code, alone, json.loads(out), lines, err + err_alone, out_alone)


def check(
    outcome: Outcome, source: str, seen: Seen, place: str | None, note: str | None = None
) -> None:
    """The contract for one bad source (see the module docstring)."""
    doc = outcome.doc
    notes = [ln for ln in outcome.lines if ln.startswith("note: ")]
    assert bool(notes) == (note is not None), notes
    if note is not None:
        assert len(notes) == 1 and notes[0].startswith(f"note: {printable(source)}: ")
        assert re.search(note, notes[0]), notes
    outcome = dataclasses.replace(outcome, lines=[ln for ln in outcome.lines if ln not in notes])
    assert "Traceback" not in outcome.stderr and "internal error" not in outcome.stderr
    assert outcome.code_with_good == (3 if seen == "error" else 0), outcome.stderr
    names = [r["run"]["name"] for r in doc["runs"]]
    assert "good" in names, outcome.stderr  # the rest goes on
    mine = [r for r in doc["runs"] if r["run"]["name"] != "good"]
    lines = outcome.lines
    if seen == "error":
        assert mine == [] and len(doc["errors"]) == 1, doc["errors"]
        [error] = doc["errors"]
        assert error["location"].startswith(source)  # JSON: the real name, escaped by JSON
        assert lines == [f"lrtempo: {printable(error['location'])}: {printable(error['error'])}"]
        assert outcome.code_alone == 2
        assert json.loads(outcome.stdout_alone)["errors"] == doc["errors"]
    else:
        assert mine and doc["errors"] == [], (doc["errors"], outcome.stderr)
        assert outcome.code_alone == 0
        assert all(ln.startswith(f"warning: {printable(source)}") for ln in lines), lines
        assert bool(lines) == (seen == "warning"), lines
    if place is not None:
        assert any(re.search(re.escape(printable(source)) + r".*" + place, ln) for ln in lines)


#: Doc rows of the cases run so far (so the doc test does not run them again).
_ROWS: dict[str, str] = {}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path) -> None:
    source = case.make(tmp_path)
    outcome = _guarded(lambda: run_case(source, tmp_path, case.env, case.as_nobody), tmp_path)
    _ROWS[case.id] = _row(case.id, case.what, outcome, tmp_path)
    check(outcome, source, case.seen, case.place, case.note)


def _guarded(call: Callable[[], Outcome], folder: Path, seconds: float = 120.0) -> Outcome:
    """``call()``, failing (not hanging) if it blocks, e.g. on a FIFO."""
    got: list[Outcome | BaseException] = []

    def target() -> None:
        try:
            got.append(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            got.append(exc)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        for fifo in folder.rglob("*"):  # unblock a reader stuck on a FIFO, then fail
            if fifo.is_fifo():
                with (
                    contextlib.suppress(OSError),
                    open(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "wb"),
                ):
                    pass
        pytest.fail(f"the CLI did not finish within {seconds:.0f} s")
    if isinstance(got[0], BaseException):
        raise got[0]
    return got[0]


# --------------------------------------------------------------------------- MLflow servers


@dataclass(frozen=True)
class ServerCase:
    """A failing tracking server (see tests/test_reader_mlflow.py for each one's own test)."""

    id: str
    what: str
    start: Callable[[contextlib.ExitStack, Path], str]  # returns the URI to analyze
    env: dict[str, str] = field(default_factory=dict)
    argv: tuple[str, ...] = ()


def _serve(behaviour: Callable) -> Callable[[contextlib.ExitStack, Path], str]:
    def start(stack: contextlib.ExitStack, folder: Path) -> str:
        from tests.test_reader_mlflow import serving

        return stack.enter_context(serving(behaviour)).url

    return start


def _status(status: int, ctype: str, text: str, extra: str = "") -> Callable:
    def behaviour(conn: socket.socket, req: object, stop: threading.Event) -> None:
        data = text.encode()
        conn.sendall(
            f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: "
            f"{len(data)}\r\nConnection: close\r\n{extra}\r\n".encode()
            + data
        )

    return behaviour


def _unreachable(stack: contextlib.ExitStack, folder: Path) -> str:
    from tests.fixtures_mlflow import free_port

    return f"http://127.0.0.1:{free_port()}"


def _file_store(stack: contextlib.ExitStack, folder: Path) -> str:
    from mlflow import MlflowClient

    with _environment({"MLFLOW_ALLOW_FILE_STORE": "true"}):
        client = MlflowClient(tracking_uri=(folder / "mlruns").as_uri())
        client.create_experiment("vision")
    return (folder / "mlruns").as_uri()


def _server_behaviours() -> dict[str, Callable]:
    from tests import test_reader_mlflow as t

    return {
        "never": t._never,
        "cut": lambda c, r, s: t._cut(c, r),
        "close": lambda c, r, s: None,
        "endless": t._endless,
    }


SLOW = {"LRTEMPO_MLFLOW_TIMEOUT": "0.5"}
JSON = "application/json"
SERVER_CASES: list[ServerCase] = [
    ServerCase("unreachable", "nothing listens on the port", _unreachable),
    ServerCase(
        "never-answers",
        "accepts, never answers (LRTEMPO_MLFLOW_TIMEOUT=0.5)",
        _serve(lambda c, r, s: _server_behaviours()["never"](c, r, s)),
        SLOW,
    ),
    ServerCase(
        "cut-off",
        "closes every answer after a third of its body",
        _serve(lambda c, r, s: _server_behaviours()["cut"](c, r, s)),
        SLOW,
    ),
    ServerCase(
        "closes",
        "closes the connection without answering",
        _serve(lambda c, r, s: _server_behaviours()["close"](c, r, s)),
        SLOW,
    ),
    ServerCase(
        "endless",
        "answers with an endless JSON body",
        _serve(lambda c, r, s: _server_behaviours()["endless"](c, r, s)),
        SLOW,
    ),
    ServerCase(
        "401",
        "wrong credentials (as a basic-auth mlflow server answers)",
        _serve(_status(401, "text/plain", "You are not authenticated.")),
    ),
    ServerCase(
        "429",
        "rate-limits every request (Retry-After: 1)",
        _serve(_status(429, JSON, '{"error_code": "RESOURCE_EXHAUSTED"}', "Retry-After: 1\r\n")),
    ),
    ServerCase(
        "503",
        "server error on every request",
        _serve(_status(503, "text/plain", "Service Unavailable")),
    ),
    ServerCase(
        "login-page",
        "an HTML login page instead of the API",
        _serve(_status(200, "text/html", "<html><form>login</form></html>")),
    ),
    ServerCase(
        "unknown-experiment",
        "--experiment names no experiment (a file store)",
        _file_store,
        argv=("--experiment", "nlp"),
    ),
    ServerCase(
        "pages-forever",
        "a new page token with every page of 1,000 runs, forever (LRTEMPO_MLFLOW_MAX_RUNS=3000)",
        _serve(lambda c, r, s: _pages_forever(c, r, s)),
        {"LRTEMPO_MLFLOW_MAX_RUNS": "3000"},
    ),
]


def _pages_forever(conn: socket.socket, req: object, stop: threading.Event) -> None:
    from tests.test_security_limits import pages_forever

    pages_forever(conn, req, stop)


def run_server_case(case: ServerCase, folder: Path) -> Outcome:
    with contextlib.ExitStack() as stack:
        uri = case.start(stack, folder)
        (folder / GOOD).write_text(LOG)
        with _inside(folder), _environment(case.env):
            code, out, err = _run(["analyze", uri, GOOD, *case.argv, "--format", "json", "-q"])
            alone, out_alone, err_alone = _run(
                ["analyze", uri, *case.argv, "--format", "json", "-q"]
            )
    lines = [ln for ln in err.splitlines() if GOOD not in ln]
    return Outcome(code, alone, json.loads(out), lines, err + err_alone, out_alone)


@pytest.mark.parametrize("case", SERVER_CASES, ids=[c.id for c in SERVER_CASES])
def test_failing_server(case: ServerCase, tmp_path: Path) -> None:
    outcome = run_server_case(case, tmp_path)
    _ROWS[f"server-{case.id}"] = _row(case.id, case.what, outcome, tmp_path)
    [error] = outcome.doc["errors"]
    check(outcome, error["location"], "error", None)


# --------------------------------------------------------------------------- the dashboard


@dataclass(frozen=True)
class AuthCase:
    """A hostile ``--auth-file`` for ``lrtempo dashboard`` (refused before serving)."""

    id: str
    what: str
    make: Callable[[Path], str]  # returns the path to pass


def _sparse_file(name: str, size: int) -> Callable[[Path], str]:
    def make(root: Path) -> str:
        with open(root / name, "wb") as fh:
            fh.truncate(size)
        return name

    return make


AUTH_CASES = [
    AuthCase("dev-zero", "/dev/zero (endless input)", lambda root: "/dev/zero"),
    AuthCase("huge", "a 3 GiB file (sparse)", _sparse_file("users", 3 << 30)),
    AuthCase("binary", "binary bytes after a good line", _file("users", b"ann:pw\n\x00\xff" * 9)),
    AuthCase("latin-1", "a Latin-1 user name (not UTF-8)", _file("users", b"jos\xe9:pw\n")),
    AuthCase(
        "no-colon",
        "a line without ':' (its text is a password: never shown)",
        _file("users", "ann:pw\nhunter2\n"),
    ),
    AuthCase("empty-password", "a writer without a password", _file("users", "ann::writer\n")),
    AuthCase("missing", "a path that does not exist", lambda root: "nowhere"),
]


def run_auth_case(case: AuthCase, folder: Path) -> tuple[int, list[str]]:
    """``lrtempo dashboard --auth-file FILE`` in ``folder``: exit code and stderr lines."""
    with _inside(folder):
        code, _, err = _run(["dashboard", "--auth-file", case.make(folder), "--port", "1"])
    return code, err.splitlines()


def _auth_row(case: AuthCase, code: int, lines: list[str], folder: Path) -> str:
    seen = "<br>".join(f"`` {_shown(ln, folder)} ``" for ln in lines).replace("|", "\\|")
    return f"| {case.id} | {case.what} | {seen} | {code} |"


@pytest.mark.parametrize("case", AUTH_CASES, ids=[c.id for c in AUTH_CASES])
def test_hostile_auth_file(case: AuthCase, tmp_path: Path) -> None:
    code, lines = run_auth_case(case, tmp_path)
    _ROWS[f"auth-{case.id}"] = _auth_row(case, code, lines, tmp_path)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("lrtempo: auth file ") and "Error" not in lines[0], lines
    assert "hunter2" not in lines[0]


def _alert_text(resp: dict) -> str:
    """The text of the write-back result alert in a callback's response."""
    alert = resp["review-writeback-result"]["children"]["props"]["children"]
    return alert if isinstance(alert, str) else json.dumps(alert)


def _request_cases() -> list[tuple[str, str, Callable[[str], tuple[int, str]]]]:
    """``(id, request, send)``; ``send(base)`` returns the status and the text shown."""
    import requests

    from tests.test_security_writeback import call

    def foreign_host(base: str) -> tuple[int, str]:
        r = requests.get(base + "/", headers={"Host": "rebind.example:8050"}, timeout=60)
        return r.status_code, r.text.strip()

    def forged_confirm(base: str) -> tuple[int, str]:
        resp = call(
            base,
            "writeback-modal.is_open",
            {"writeback-confirm.n_clicks": 1, "review-window.value": "all"},
        )
        return 200, _alert_text(resp)

    def reader_opens(base: str) -> tuple[int, str]:
        resp = call(
            base,
            "writeback-modal.is_open",
            {"review-writeback.n_clicks": 1, "review-window.value": "all"},
            ("reader", "pw"),
        )
        return 200, _alert_text(resp)

    return [
        ("foreign-host", "any page with `Host: rebind.example:8050` (DNS rebinding)", foreign_host),
        (
            "forged-confirm",
            (
                "`POST /_dash-update-component` naming `writeback-confirm.n_clicks` "
                'with `review-window: "all"`, no dialog opened'
            ),
            forged_confirm,
        ),
        (
            "reader-writes",
            ('a reader of the auth file (`user:password`) asks to "Write tags to MLflow"'),
            reader_opens,
        ),
    ]


def run_request_cases(folder: Path) -> dict[str, str]:
    """The dashboard's answers to hostile requests, as doc rows by case id (a loopback
    dashboard without auth, whose local user may write; one with a reader for the last)."""
    from dashboard.app import create_app
    from dashboard.auth import AuthConfig
    from tests.serving import serve_app

    (folder / GOOD).write_text(LOG)
    rows = {}
    for auth in (None, AuthConfig(users={"reader": "pw"})):
        with serve_app(create_app([str(folder)], since_hours=0, auth=auth)) as base:
            for case_id, what, send in _request_cases():
                if (case_id == "reader-writes") == (auth is not None):
                    status, text = send(base)
                    rows[case_id] = f"| {case_id} | {what} | {status}: `` {text} `` |"
    return rows


def test_hostile_dashboard_requests(tmp_path: Path) -> None:
    rows = run_request_cases(tmp_path)
    assert "| 400: `` Bad Request:" in rows["foreign-host"]
    assert "No tags were written" in rows["forged-confirm"]
    assert "may only read" in rows["reader-writes"]
    _ROWS.update({f"request-{k}": v for k, v in rows.items()})


# --------------------------------------------------------------------------- the doc


def _shown(text: str, folder: Path) -> str:
    text = text.replace(str(folder), "$CASE")
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)


def _row(case_id: str, what: str, outcome: Outcome, folder: Path) -> str:
    if outcome.lines:
        seen = "<br>".join(f"`` {_shown(ln, folder)} ``" for ln in outcome.lines)
    else:  # the status is the detectors' business: not shown, so the doc follows the readers
        runs = [r for r in outcome.doc["runs"] if r["run"]["name"] != "good"]
        seen = (
            "read and analyzed, nothing on stderr (run "
            + ", ".join(f"`{r['run']['name']}`" for r in runs)
            + ")"
        )
    seen = seen.replace("|", "\\|")
    return f"| {case_id} | {what} | {seen} | {outcome.code_alone} | {outcome.code_with_good} |"


HEADER = """# Hostile inputs: what the user sees

Generated by `python -m tests.test_hostile_inputs` from the real command line, not typed:
each case is run as `lrtempo analyze SOURCE good.csv --format json` (the last column's exit
code) and as `lrtempo analyze SOURCE` alone (exit code before it): 0 all read, 3 a partial
read (a source failed, the good file was analyzed), 2 nothing readable. The stderr lines are
shown as printed (`$CASE` is the case's folder); an error line's text after
`lrtempo: <location>: ` is also the `error` of that source in the JSON `errors`, and a
`warning:` line means the run was read and analyzed; a `note:` line counts the files a
folder scan left out as not training logs (a file named as a log, `.csv`, `.tsv`, `.jsonl`,
`trainer_state.json` or an event file, is always read, so one that cannot be is an error
line, never dropped). The good file is analyzed in every
case. Each row is a test in `tests/test_hostile_inputs.py`; the failing servers are also
tested one by one in `tests/test_reader_mlflow.py` (there also a real
`mlflow server --app-name basic-auth`, which answers wrong credentials as the 401 row
shows).

Limits: a CSV or JSON log (or a gzip file's content) is refused above `LRTEMPO_MAX_FILE_MB`
(default 2048 MiB) or above what the memory available now holds (reading needs about 28x the
file's size); a TensorBoard event file is read in 16 MiB windows and refused only when its
scalar points outgrow the memory available; an MLflow answer waits `LRTEMPO_MLFLOW_TIMEOUT`
seconds (default 30; a whole answer 4x that) and is refused above 64 MiB; one listing
stops after 200,000 runs (`LRTEMPO_MLFLOW_MAX_RUNS`) or 2 GiB of answers; a CSV header of
over 20,000 columns is refused. Pipes, devices and sockets are never read (nor waited on).
"""


def build_doc(root: Path, rows: dict[str, str] | None = None) -> str:
    """The markdown of docs/hostile_inputs.md, from runs under ``root`` (or ``rows``)."""
    rows = rows or {}
    out = [
        HEADER,
        "## Files and folders",
        "",
        "| case | input | what the user sees | exit alone | exit beside a good file |",
        "|---|---|---|---|---|",
    ]
    for case in CASES:
        if case.id not in rows:
            folder = root / case.id
            folder.mkdir()
            source = case.make(folder)
            outcome = _guarded(
                lambda s=source, f=folder, c=case: run_case(s, f, c.env, c.as_nobody), folder
            )
            rows[case.id] = _row(case.id, case.what, outcome, folder)
        out.append(rows[case.id])
    out += [
        "",
        "## MLflow tracking servers",
        "",
        "| case | server | what the user sees | exit alone | exit beside a good file |",
        "|---|---|---|---|---|",
    ]
    for server in SERVER_CASES:
        key = f"server-{server.id}"
        if key not in rows:
            folder = root / key
            folder.mkdir()
            rows[key] = _row(server.id, server.what, run_server_case(server, folder), folder)
        out.append(rows[key])
    out += [
        "",
        "## The dashboard: auth file",
        "",
        "`lrtempo dashboard --auth-file FILE` (read up to 1 MiB; refused before serving):",
        "",
        "| case | auth file | what the user sees | exit |",
        "|---|---|---|---|",
    ]
    for auth in AUTH_CASES:
        key = f"auth-{auth.id}"
        if key not in rows:
            folder = root / key
            folder.mkdir()
            rows[key] = _auth_row(auth, *run_auth_case(auth, folder), folder)
        out.append(rows[key])
    out += [
        "",
        "## The dashboard: hostile requests",
        "",
        (
            "Sent by `tests/test_hostile_inputs.py` to a dashboard served on loopback (a folder "
            "source; for the last row with one reader in its auth file); more in "
            "`tests/test_security_headers.py` and `tests/test_security_writeback.py`:"
        ),
        "",
        "| case | request | answer |",
        "|---|---|---|",
    ]
    if not all(f"request-{c}" in rows for c, _, _ in _request_cases()):
        folder = root / "requests"
        folder.mkdir()
        rows.update({f"request-{k}": v for k, v in run_request_cases(folder).items()})
    out += [rows[f"request-{c}"] for c, _, _ in _request_cases()]
    return "\n".join(out) + "\n"


def test_the_doc_is_current(tmp_path: Path) -> None:
    assert DOC.read_text(encoding="utf-8") == build_doc(tmp_path, _ROWS), (
        "docs/hostile_inputs.md is stale: run `python -m tests.test_hostile_inputs`"
    )


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        DOC.write_text(build_doc(Path(tmp)), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC}\n")
