"""Issue 14 row 10: each low item gets one clear line (file and line, or the option).

Real files, real zips, real sockets, the real ``lrtempo`` command in a subprocess.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pytest

from analyzer.errors import ReaderError
from analyzer.readers import read_file
from dashboard.uploads import read_upload

BIG = 2**63


def lrtempo(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lrtempo", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
    )


def _losses(n: int = 60) -> list[float]:
    return [2 / (i + 1) + 0.1 for i in range(n)]


# ----------------------------------------------------------------- steps of 2^63 and more


@pytest.mark.parametrize(
    "name, text, where",
    [
        (
            "all_big.csv",
            "step,loss\n" + "".join(f"{BIG + i},{v}\n" for i, v in enumerate(_losses())),
            "line 2",
        ),
        (
            "beyond_u64.csv",
            "step,loss\n" + "".join(f"{10**20 * (i + 1)},{v}\n" for i, v in enumerate(_losses())),
            "line 2",
        ),
        (
            "log.jsonl",
            "".join(
                json.dumps({"step": BIG + i, "loss": v}) + "\n" for i, v in enumerate(_losses())
            ),
            "line 1",
        ),
        (
            "trainer_state.json",
            json.dumps(
                {
                    "log_history": [
                        {"step": BIG * (i + 1), "loss": v} for i, v in enumerate(_losses())
                    ]
                }
            ),
            "record 0",
        ),
    ],
)
def test_steps_of_2_to_the_63_name_the_file_and_line(
    tmp_path: Path, name: str, text: str, where: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ReaderError) as err:
        read_file(path)
    assert err.value.location == str(path) and err.value.where == where
    assert "too large: a step must be below 2^53" in str(err.value)
    proc = lrtempo("analyze", str(path), "-q")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"lrtempo: {err.value}"]
    assert "no numeric" not in proc.stderr and "Traceback" not in proc.stderr


def test_one_huge_step_among_good_rows_is_a_warning_naming_its_line(tmp_path: Path) -> None:
    rows = [f"{i},{v}" for i, v in enumerate(_losses())]
    rows[30] = f"{BIG},0.5"
    path = tmp_path / "one.csv"
    path.write_text("step,loss\n" + "\n".join(rows) + "\n")
    [run] = read_file(path)
    assert run.warnings == [
        (f"{path}: line 32: 'step' of 2^53 or more (too large for a step), row skipped")
    ]
    assert len(run.frame) == 59


# ----------------------------------------------------------------- repeated CSV columns


def test_a_repeated_column_is_a_warning_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text(
        "step,loss,lr,loss\n" + "".join(f"{i},{v},0.1,{2 * v}\n" for i, v in enumerate(_losses()))
    )
    [run] = read_file(path)
    assert run.warnings == [
        (
            f"{path}: line 1: column 'loss' appears 2 times (columns 2, 4); "
            "the first is read as 'loss', the others as 'loss.1'"
        )
    ]
    loss = run.frame[run.frame["metric"] == "loss"]["value"].to_numpy()
    assert loss[0] == pytest.approx(_losses()[0])  # the first column is the one analyzed
    proc = lrtempo("analyze", str(path), "-q")
    assert proc.returncode == 0 and "column 'loss' appears 2 times" in proc.stderr


# ----------------------------------------------------------------- zips with colliding names


@pytest.mark.parametrize(
    "entries, said",
    [
        (["a b.csv", "a_b.csv"], "entries 'a b.csv' and 'a_b.csv' both unpack to 'a_b.csv'"),
        (["run/log.csv", "run"], "entries 'run/log.csv' and 'run' both unpack to 'run'"),
        (["x.csv", "x.csv"], "entries 'x.csv' and 'x.csv' both unpack to 'x.csv'"),
    ],
)
def test_a_zip_whose_entries_collide_is_refused_naming_them(entries: list[str], said: str) -> None:
    import io

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        with zipfile.ZipFile(buf, "w") as zf:
            for e in entries:
                zf.writestr(
                    e, "step,loss\n" + "".join(f"{i},{v}\n" for i, v in enumerate(_losses()))
                )
    result = read_upload("runs.zip", buf.getvalue(), limit_bytes=10 * 2**20)
    assert result.runs == [] and len(result.errors) == 1
    assert result.errors[0].startswith(f"runs.zip: {said} ")
    assert "Errno" not in result.errors[0] and "rename one" in result.errors[0]


# ----------------------------------------------------------------- server start-up errors


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_a_port_out_of_range_exits_2_with_one_line(port: str) -> None:
    proc = lrtempo("dashboard", "--port", port)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"lrtempo: --port {port}: not a TCP port; use 1-65535 (e.g. --port 8050)"
    ]


@pytest.mark.parametrize("command", ["dashboard", "demo"])
def test_a_port_in_use_exits_2_with_one_line(command: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = lrtempo(command, "--port", str(port))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        (
            f"lrtempo: cannot listen on 127.0.0.1:{port}: the port is in use by another "
            "program; stop it or choose another --port"
        )
    ]
