"""The Upload page's work: read, analyze and register each uploaded file (a plain
function, testable without a browser; see :mod:`dashboard.views`)."""

from __future__ import annotations

import shutil
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


def handle_uploads(contents: list[str] | None, filenames: list[str] | None) -> list[Any]:
    """Read, analyze and register each upload; one result line per file or error.

    At most ``UPLOAD_READERS`` requests are read at once (the others wait); a request's
    files share one decompression budget, reserved from the process's before anything is
    decoded (see :mod:`dashboard.uploads`)."""
    store = current_store()
    limit = store.upload_limit_mb * 1024 * 1024
    pairs = list(zip(contents or [], filenames or []))
    size = sum(min(len(c or "") * 3 // 4, limit) for c, _ in pairs)
    if not store.upload_slots.acquire(timeout=UPLOAD_WAIT):
        names = ", ".join(n or "upload" for _, n in pairs)
        busy = "the server is busy reading other uploads; try again in a minute"
        return [_error_line(f"{names}: {busy}")]
    try:
        with upload_budget(limit, store.upload_budget, reserve=size):
            return _handle_uploads(pairs, limit)
    except ReaderError as exc:  # the reservation did not fit: nothing was read
        names = ", ".join(n or "upload" for _, n in pairs)
        return [_error_line(f"{names}: {exc.reason}")]
    finally:
        store.upload_slots.release()


def _handle_uploads(pairs: list[tuple[str, str]], limit: int) -> list[Any]:
    store = current_store()
    items: list[Any] = []
    for data_url, given in pairs:
        name = given or "upload"
        try:
            data = decode_contents(data_url, name, limit)
        except UploadError as exc:
            items.append(_error_line(str(exc)))
            continue
        key = content_key(data)
        same = _uploaded_before(key)
        if same:  # the same content again: one run, shown again (not read twice)
            items.extend(_upload_line(store, name, run, same=True) for run in same)
            continue
        result = read_upload(name, data, limit_bytes=limit, keep_in=store.uploads.folder())
        del data
        same = _uploaded_before(key) if result.runs else []
        if same:  # the same content was read at the same time by another request
            if result.folder is not None:
                shutil.rmtree(result.folder, ignore_errors=True)
            items.extend(_upload_line(store, name, run, same=True) for run in same)
            continue
        items.extend(_error_line(err) for err in result.errors)
        for run in result.runs:
            store.add_upload(run, name, result.folder)
            items.append(_upload_line(store, name, run))
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


def _error_line(text: str) -> dbc.Alert:
    """One upload's failure, as a red result line."""
    return dbc.Alert(text, color="danger", className="upload-error py-2 mb-2")
