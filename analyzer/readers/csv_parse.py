"""CSV parsing for the CSV reader family: a file → a :class:`Table` of numeric columns.

Handles what real logs throw at it: gzip, a UTF-8 BOM, CRLF (and Windows' ``\\r\\r\\n``),
blank lines, the delimiter (``,`` ``;`` tab ``|``; decimal commas with ``;``), header
names and values padded with spaces, text in numeric cells, and lines with more
fields than the header.

Per column a table keeps float values and a mask of the cells that hold a point:

- blank cells and ``null``/``None``/``NA`` hold none (Lightning's interleaved rows);
- ``nan``/``inf`` cells are points whose value is NaN/Inf (a NaN loss is a finding);
- a few text cells in a numeric column hold none and are warned about, with lines;
- a column that is mostly text is set aside in :attr:`Table.text` (metadata, not a metric);
- a column without a header name (a pandas index, a trailing delimiter) is ignored.

Line numbers in messages are 1-based file lines; they assume one record per line
(a quoted cell spanning lines shifts them).

Turning a table into runs (steps, wall time, metric frames) is :mod:`.csv_table`.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ReaderError
from ._io import read_text
from ._records import names_a_metric

DELIMITERS = (",", ";", "\t", "|")
#: Column names (case-insensitive) that count steps, in order of preference.
STEP_NAMES = (
    "step",
    "global_step",
    "trainer/global_step",
    "train/global_step",
    "_step",
    "iteration",
    "iter",
    "steps",
)
EPOCH_NAMES = ("epoch",)
#: Column names that give a point's time (epoch seconds, elapsed seconds or ISO dates).
WALL_NAMES = ("wall_time", "wall time", "walltime", "timestamp", "_timestamp", "time")
#: Cell texts that mean "no value" rather than a NaN value.
MISSING_WORDS = frozenset({"null", "none", "na", "n/a", "nil", "-", "#n/a"})
#: Cell texts that are a NaN value (``float("nan")`` as Python and C print it).
NAN_WORDS = frozenset({"nan", "-nan", "+nan", "nan(ind)", "-nan(ind)"})
MAX_LINES_NAMED = 5
#: More header fields than this is not a training log (pandas takes minutes and GBs on 10**6).
MAX_COLUMNS = 20_000

_SKIPPED = re.compile(r"Skipping line (\d+)")
_LINE_IN_ERROR = re.compile(r"(?:line|row) (\d+)")
_DECIMAL_COMMA = re.compile(r"(?:^|[;\t|])\s*-?\d+,\d+\s*(?:$|[;\t|])", re.MULTILINE)
_DECIMAL_POINT = re.compile(r"\d\.\d")
_UNNAMED = re.compile(r"^Unnamed: \d+$")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def norm(name: str) -> str:
    """A header name for comparisons: stripped, lower case."""
    return name.strip().lower()


def lines_text(lines: Sequence[int]) -> str:
    """``line 4`` / ``lines 4, 9, 17`` / ``lines 4, 9, 17, 20, 31 and 12 more``."""
    shown = ", ".join(str(n) for n in lines[:MAX_LINES_NAMED])
    more = len(lines) - MAX_LINES_NAMED
    word = "line" if len(lines) == 1 else "lines"
    return f"{word} {shown}" + (f" and {more} more" if more > 0 else "")


@dataclass
class Table:
    """A parsed CSV file: numeric columns, their point masks, and set-aside text columns."""

    path: Path
    names: list[str]  # every header name, stripped, in file order
    values: dict[str, np.ndarray]  # float64 per numeric column; NaN where no point (or NaN)
    filled: dict[str, np.ndarray]  # bool per numeric column: the cell holds a point
    text: dict[str, pd.Series]  # mostly-text columns, raw
    header_line: int  # 1-based file line of the header
    n_rows: int
    body: str = field(repr=False)  # normalized text from the header line on
    skipped: list[int] = field(default_factory=list)  # body lines pandas skipped
    warnings: list[str] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        """Numeric column names in file order."""
        return list(self.values)

    def find(self, candidates: Sequence[str], numeric: bool = True) -> str | None:
        """The first header name equal (case-insensitively) to one of ``candidates``."""
        pool = self.columns if numeric else self.names
        by_norm = {norm(c): c for c in reversed(pool)}
        return next((by_norm[c] for c in candidates if c in by_norm), None)

    @cached_property
    def row_lines(self) -> np.ndarray:
        """The file line number of each data row."""
        if not self.skipped and not _BLANK_LINE.search(self.body.rstrip()):
            return np.arange(
                self.header_line + 1, self.header_line + 1 + self.n_rows, dtype=np.int64
            )
        rel = [i + 1 for i, line in enumerate(self.body.split("\n")) if line.strip()][1:]
        lines = np.asarray(rel, dtype=np.int64)
        if self.skipped:
            lines = lines[~np.isin(lines, self.skipped)]
        if len(lines) != self.n_rows:  # quoted multi-line cells: approximate
            lines = np.arange(2, self.n_rows + 2, dtype=np.int64)
        return lines + self.header_line - 1

    def warn_rows(self, rows: np.ndarray, message: str) -> None:
        """Add a warning naming the lines of the rows in the boolean mask ``rows``."""
        lines = self.row_lines[np.flatnonzero(rows)].tolist()
        if lines:
            self.warnings.append(f"{self.path}: {lines_text(lines)}: {message}")

    def warn(self, message: str) -> None:
        self.warnings.append(f"{self.path}: {message}")


# --- parsing -------------------------------------------------------------------------------


def _normalize_newlines(text: str) -> str:
    """``\\r\\n`` and ``\\r\\r\\n`` → ``\\n``; a lone ``\\r`` ends a line too."""
    if "\r" not in text:
        return text
    return re.sub(r"\r+\n", "\n", text).replace("\r", "\n")


def _split_header(text: str) -> tuple[int, str]:
    """Skip leading blank lines: the header's 1-based line number and the text from it."""
    stripped = text.lstrip("\n \t")
    if not stripped:
        return 0, ""
    skipped = text[: len(text) - len(stripped)]
    start = skipped.rfind("\n") + 1
    return skipped.count("\n") + 1, text[start:]


def _fields(line: str, delimiter: str) -> int:
    try:
        return len(next(csv.reader([line], delimiter=delimiter)))
    except (csv.Error, StopIteration):
        return 0


def detect_delimiter(header: str, first_row: str, prefer_tab: bool = False) -> str:
    """The delimiter giving the most header fields, preferring one the first row agrees with."""
    order = ("\t", *[d for d in DELIMITERS if d != "\t"]) if prefer_tab else DELIMITERS

    def score(d: str) -> tuple[bool, int]:
        n = _fields(header, d)
        return (n > 1 and (not first_row or _fields(first_row, d) == n), n)

    return max(order, key=score)  # max keeps the first of equal scores


def looks_like_header(head: bytes) -> bool:
    """True when the first line of ``head`` is a delimited header with a step/epoch column."""
    text = _normalize_newlines(head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace"))
    _, body = _split_header(text)
    lines = body.split("\n")
    header = lines[0].strip()
    if not header or header[0] in "{[" or _CONTROL.search(header):
        return False
    sep = detect_delimiter(header, lines[1] if len(lines) > 1 else "")
    try:
        names = {norm(n) for n in next(csv.reader([header], delimiter=sep))}
    except (csv.Error, StopIteration):
        return False
    return len(names) > 1 and bool(names & {*STEP_NAMES, *EPOCH_NAMES})


def _decimal_for(sep: str, body: str) -> str:
    """``,`` for ``;``/tab/``|`` files written with decimal commas (``0,25``)."""
    if sep == ",":
        return "."
    sample = "\n".join(body.split("\n", 6)[1:6])
    if _DECIMAL_COMMA.search(sample) and not _DECIMAL_POINT.search(sample):
        return ","
    return "."


def _without_a_cut_last_row(body: str, header: str, sep: str) -> tuple[str, bool]:
    """``body`` without its last line when the file ends inside a row: no line end after
    it and fewer fields than the header (a log cut off while being written — its last
    number may be cut too, ``2.`` of ``2.345``)."""
    if body.endswith("\n") or "\n" not in body:
        return body, False
    head, _, last = body.rpartition("\n")
    if last.strip() and _fields(last, sep) < _fields(header, sep):
        return head + "\n", True
    return body, False


def _read_frame(
    path: Path, body: str, sep: str, header_line: int
) -> tuple[pd.DataFrame, list[int]]:
    """``pd.read_csv`` with the C engine; returns the frame and the body lines it skipped."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # UTF-8 bytes, not a StringIO: that one holds the text at 4 bytes a character
            frame = pd.read_csv(
                io.BytesIO(body.encode("utf-8")),
                encoding="utf-8",
                sep=sep,
                decimal=_decimal_for(sep, body),
                engine="c",
                skipinitialspace=True,
                keep_default_na=False,
                na_values=[""],
                index_col=False,
                on_bad_lines="warn",
                low_memory=False,
            )
        except pd.errors.EmptyDataError:
            raise ReaderError(str(path), "empty file") from None
        except (pd.errors.ParserError, ValueError) as exc:
            found = _LINE_IN_ERROR.search(str(exc))
            where = f"line {int(found.group(1)) + header_line - 1}" if found else None
            raise ReaderError(
                str(path), f"not a readable CSV table: {str(exc).strip()}", where
            ) from None
    skipped = [int(n) for w in caught for n in _SKIPPED.findall(str(w.message))]
    return frame, skipped


def _warn_repeated(table: Table, header: str, sep: str) -> None:
    """A warning per column name the header repeats: pandas reads the second ``loss`` as
    ``loss.1``, which no role picks, so the user must know which one is analyzed."""
    try:
        raw = [c.strip() for c in next(csv.reader([header], delimiter=sep))]
    except (csv.Error, StopIteration):
        return
    places: dict[str, list[int]] = {}
    for i, name in enumerate(raw, 1):
        if name:
            places.setdefault(name, []).append(i)
    for name, cols in places.items():
        if len(cols) > 1:
            others = ", ".join(repr(f"{name}.{k}") for k in range(1, len(cols)))
            table.warn(
                f"line {table.header_line}: column {name!r} appears {len(cols)} times "
                f"(columns {', '.join(map(str, cols))}); the first is read as {name!r}, "
                f"the others as {others}"
            )


def _unique(names: list[str]) -> list[str]:
    """Stripped names; a repeated name gets ``.1``, ``.2``… as pandas does."""
    seen: dict[str, int] = {}
    out = []
    for raw in names:
        name = str(raw).strip()
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def _coerce(table: Table, name: str, col: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """Values and point mask of a text-typed column; ``None`` when it is mostly text."""
    if pd.api.types.is_bool_dtype(col):
        return None
    try:
        words = col.astype(object).str.strip()
    except AttributeError:  # not strings at all
        return None
    low = words.str.lower()
    present = (words.notna() & (words != "") & ~low.isin(MISSING_WORDS)).to_numpy(dtype=bool)
    numbers = pd.to_numeric(words.where(present, None), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    bad = present & np.isnan(numbers) & ~low.isin(NAN_WORDS).to_numpy(dtype=bool)
    if bad.sum() * 2 > present.sum():
        if (present & ~bad).any():
            table.warn(f"column {name!r} is mostly text, ignored")
        elif bad.any() and names_a_metric(name):
            table.warn(f"column {name!r} holds no number in any row, ignored")
        return None
    if bad.any():
        table.warn_rows(bad, f"text in numeric column {name!r}, cells ignored")
    return numbers, present & ~bad


def _columns(table: Table, frame: pd.DataFrame) -> None:
    """Fill ``table.values``/``filled``/``text`` from the raw frame (numeric coercion)."""
    values: dict[str, np.ndarray] = {}
    filled: dict[str, np.ndarray] = {}
    for name, col in zip(table.names, (frame.iloc[:, i] for i in range(frame.shape[1]))):
        if _UNNAMED.match(name):  # no header name: a pandas index or a trailing delimiter
            continue
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            nums = col.to_numpy(dtype=np.float64)
            mask = ~np.isnan(nums)
        else:
            coerced = _coerce(table, name, col)
            if coerced is None:
                table.text[name] = col
                continue
            nums, mask = coerced
        if mask.any():
            values[name], filled[name] = np.where(mask, nums, np.nan), mask
    table.values, table.filled = values, filled  # plain arrays: frames cost ~1 ms a file


def parse_table(path: Path) -> Table:
    """Read and parse one CSV file; raises :class:`ReaderError` for empty or broken files."""
    text = _normalize_newlines(read_text(path))
    header_line, body = _split_header(text)
    if not body:
        raise ReaderError(str(path), "empty file")
    first, _, rest = body.partition("\n")
    if _CONTROL.search(first):
        raise ReaderError(str(path), "binary data, not a CSV log", f"line {header_line}")
    second = next((ln for ln in rest.split("\n", 20) if ln.strip()), "")
    sep = detect_delimiter(
        first, second, prefer_tab=path.name.lower().endswith((".tsv", ".tsv.gz"))
    )
    if first.count(sep) >= MAX_COLUMNS:
        raise ReaderError(
            str(path),
            f"{first.count(sep) + 1:,} columns in the header; a training "
            f"log has at most {MAX_COLUMNS:,}",
            f"line {header_line}",
        )
    body, cut = _without_a_cut_last_row(body, first, sep)
    frame, skipped = _read_frame(path, body, sep, header_line)
    if frame.empty:
        raise ReaderError(str(path), "header only, no data rows", f"line {header_line + 1}")
    names = _unique([str(c) for c in frame.columns])
    table = Table(
        path=path,
        names=names,
        values={},
        filled={},
        text={},
        header_line=header_line,
        n_rows=len(frame),
        body=body,
        skipped=skipped,
    )
    if skipped:
        lines = [n + header_line - 1 for n in skipped]
        table.warn(f"{lines_text(lines)}: more fields than the header, line skipped")
    if cut:
        table.warn(
            f"line {header_line + body.count(chr(10))}: the file ends mid-row (fewer "
            "fields than the header and no line end: cut off while written?), row skipped"
        )
    _warn_repeated(table, first, sep)
    _columns(table, frame)
    return table
