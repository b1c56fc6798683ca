"""The Upload page's work: read, analyze and register each uploaded file (plain
functions, testable without a browser): :func:`ingest_upload` is the one ingestion, used
by the upload route (:mod:`dashboard.upload_route`) and :func:`handle_uploads`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from analyzer.errors import ReaderError
from analyzer.model import Run

from .layout import run_href, status_badge
from .store import current_store
from .uploads import (
    UPLOAD_WAIT,
    UploadError,
    content_key,
    decode_contents,
    read_upload,
    upload_budget,
)


@dataclass
class Ingested:
    """What became of one uploaded file: its runs (``same``: kept from an earlier upload
    of the same content, not added again) and the problems, each naming the file."""

    filename: str
    runs: list[Run] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    same: bool = False

    def as_json(self) -> dict[str, Any]:
        """For the upload route's answer (:func:`shown_uploads` shows it)."""
        return {
            "file": self.filename,
            "runs": [r.meta.id for r in self.runs],
            "errors": list(self.errors),
            "same": self.same,
        }


@contextmanager
def upload_reading(names: list[str], size: int) -> Iterator[int]:
    """A slot to read uploads in (at most ``UPLOAD_READERS`` requests read at once, the
    others wait) and the request's decompression budget, reserved from the process's
    (``size`` bytes) before anything is read (see :mod:`dashboard.uploads`); yields the
    upload limit in bytes. ``UploadError`` naming the files when busy or over budget."""
    store = current_store()
    limit = store.upload_limit_mb * 1024 * 1024
    shown = ", ".join(n or "upload" for n in names)
    if not store.upload_slots.acquire(timeout=UPLOAD_WAIT):
        raise UploadError(
            f"{shown}: the server is busy reading other uploads; try again in a minute"
        )
    try:
        with upload_budget(limit, store.upload_budget, reserve=size):
            yield limit
    except ReaderError as exc:  # the reservation did not fit: nothing was read
        raise UploadError(f"{shown}: {exc.reason}") from None
    finally:
        store.upload_slots.release()


def ingest_upload(name: str, data: bytes | Path, limit: int) -> Ingested:
    """The one ingestion of an uploaded file (the upload route's and :func:`handle_uploads`'),
    within :func:`upload_reading`: the same content as an earlier upload gives that
    upload's runs again (not read twice); else the file (or ``.zip``) is read and its runs
    kept in the store, named after the file or its folder. ``data``: the bytes, or a file
    holding them (moved into the upload's kept folder)."""
    store = current_store()
    key = content_key(data)
    same = _uploaded_before(key)
    if same:  # the same content again: one run, shown again (not read twice)
        return Ingested(name, same, same=True)
    result = read_upload(name, data, limit_bytes=limit, keep_in=store.uploads.folder())
    del data
    same = _uploaded_before(key) if result.runs else []
    if same:  # the same content was read at the same time by another request
        if result.folder is not None:
            shutil.rmtree(result.folder, ignore_errors=True)
        return Ingested(name, same, same=True)
    for run in result.runs:
        store.add_upload(run, name, result.folder)
    return Ingested(name, result.runs, result.errors)


def _error_line(text: str) -> dbc.Alert:
    """One upload's failure, as a red result line."""
    return dbc.Alert(text, color="danger", className="upload-error py-2 mb-2")


def upload_lines(done: Ingested) -> list[Any]:
    """The result lines of one uploaded file: its errors, then a line per run."""
    store = current_store()
    return [_error_line(e) for e in done.errors] + [
        _upload_line(store, done.filename, run, same=done.same) for run in done.runs
    ]


def handle_uploads(contents: list[str] | None, filenames: list[str] | None) -> list[Any]:
    """Uploads as ``dcc.Upload`` data URLs (base64) → :func:`ingest_upload` each; one
    result line per run or error. The files of one call share one decompression budget."""
    pairs = [(c, n or "upload") for c, n in zip(contents or [], filenames or [])]
    limit = current_store().upload_limit_mb * 1024 * 1024
    size = sum(min(len(c or "") * 3 // 4, limit) for c, _ in pairs)
    try:
        with upload_reading([n for _, n in pairs], size):
            items: list[Any] = []
            for data_url, name in pairs:
                try:
                    data = decode_contents(data_url, name, limit)
                except UploadError as exc:
                    items.append(_error_line(str(exc)))
                    continue
                items.extend(upload_lines(ingest_upload(name, data, limit)))
                del data
            return items
    except UploadError as exc:
        return [_error_line(str(exc))]


#: Results the upload route's answers may hold at once (a forged list is cut).
MAX_SHOWN_UPLOADS = 200


def shown_uploads(results: Any) -> list[Any]:
    """The result lines of the upload route's answers (``Ingested.as_json`` each, passed
    on by the page's script): the kept runs by id (only uploads), and the errors."""
    store = current_store()
    items: list[Any] = []
    for res in (results if isinstance(results, list) else [])[:MAX_SHOWN_UPLOADS]:
        if not isinstance(res, dict):
            continue
        name = str(res.get("file") or "upload")[:300]
        errors = [str(e)[:2000] for e in res.get("errors") or [] if isinstance(e, str)]
        ids = [i for i in res.get("runs") or [] if isinstance(i, str)]
        runs = [store.get(i) if store.is_upload(i) else None for i in ids]
        if any(r is None for r in runs):
            errors.append(
                f"{name}: its run is no longer kept (uploads are kept within the "
                "server's memory, disk and age bounds); upload it again"
            )
        done = Ingested(name, [r for r in runs if r is not None], errors, bool(res.get("same")))
        items.extend(upload_lines(done))
    return items


def _uploaded_before(key: str) -> list[Run]:
    """The kept runs of an earlier upload with the same content (ids start with ``key``;
    read again from disk, within this request's budget, if they left memory)."""
    store = current_store()
    runs = (store.uploads.get(rid) for rid in sorted(store.uploads.ids()) if rid.startswith(key))
    return [r for r in runs if r is not None]


def _upload_line(store: Any, name: str, run: Run, same: bool = False) -> Any:
    """One result line: the run's link, verdict and suggestion (or why it failed)."""
    try:
        a = store.analyze(run)
    except Exception as exc:  # any failure: this run's line says it
        return _error_line(f"{name}: run {run.meta.name!r} could not be analyzed: {exc}")
    sug = a.suggestion
    first = run.meta.location.removeprefix("upload:")
    return dbc.Alert(
        [
            html.Span(f"{name} → ", className="text-muted"),
            dcc.Link(
                run.meta.name, href=run_href(run.meta.id), className="fw-bold me-2 upload-run-link"
            ),
            status_badge(a.status),
            html.Span(
                f"  {sug.rationale}" if sug and sug.rationale else "", className="ms-2 small"
            ),
            html.Div(
                f"Already uploaded (as {first}): the same content is one run, not added again.",
                className="small text-muted upload-same",
            )
            if same
            else None,
        ],
        color="light",
        className="upload-ok py-2 mb-2 border",
    )
