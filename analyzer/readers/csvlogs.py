"""CSV training logs: the entry point of the CSV reader family.

Dialects are told apart by their columns, first match wins:

==============  =================================================================
dialect         signature (module)
==============  =================================================================
W&B export      ``Step`` first, then ``"<run> - <metric>"`` (+ ``__MIN``/``__MAX``)
                columns; one run per run name (:mod:`.csv_wandb`)
Ultralytics     ``epoch`` + ``train/*_loss`` + ``metrics/*``, ``lr/pg*`` or ``x/lr*``
                (:mod:`.csv_ultralytics`)
Lightning       a ``step`` and an ``epoch`` column, interleaved rows with blank cells
                (:mod:`.csv_lightning`)
Keras           ``epoch`` first, no step column; appended trainings → one run each
                (:mod:`.csv_keras`)
plain           a step-like or ``epoch`` column + metric columns (:mod:`.csv_plain`)
==============  =================================================================

Parsing (delimiter, BOM, CRLF, gzip, padding, text cells) is shared in
:mod:`.csv_table`.
"""

from __future__ import annotations

from pathlib import Path

from ..model import Run
from . import csv_keras, csv_lightning, csv_plain, csv_ultralytics, csv_wandb
from .csv_table import looks_like_header, parse_table

#: Dialects in the order they are tried; ``csv_plain`` always matches.
DIALECTS = (csv_wandb, csv_ultralytics, csv_lightning, csv_keras, csv_plain)
CSV_EXTENSIONS = (".csv", ".tsv", ".csv.gz", ".tsv.gz")
#: Extensions read only when the first line is a CSV header with a step/epoch column.
HEADER_EXTENSIONS = (".log", ".txt", ".log.gz", ".txt.gz")


def sniff(path: Path, head: bytes) -> bool:
    """``.csv``/``.tsv`` (gzipped too), or a ``.log``/``.txt`` starting with a CSV header."""
    name = path.name.lower()
    if name.endswith(CSV_EXTENSIONS):
        return True
    return name.endswith(HEADER_EXTENSIONS) and looks_like_header(head)


def read(path: Path) -> list[Run]:
    """The runs in one CSV file (several for W&B exports and appended Keras logs)."""
    table = parse_table(path)
    dialect = next(d for d in DIALECTS if d.matches(table))
    return dialect.runs(table)
