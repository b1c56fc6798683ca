"""The Upload page's files, sent raw: ``POST <prefix>_lrtempo/upload``, one file a request.

The page's script (``assets/30_upload.js``) sends each chosen or dropped file with
``XMLHttpRequest`` (so the browser reports the bytes sent) as the request body, its name
percent-encoded in the :data:`NAME_HEADER` header. Here the body is streamed to a file
in the uploads' private folder, never held whole in memory, and handed to the page's one
ingestion, :func:`dashboard.upload_views.ingest_upload` (dedupe by content, ``.zip`` handling,
naming, errors naming the file and line).

Checks, before a byte of the body is read:

* the same as every request of the app: the ``Host`` check and, with authentication,
  the credentials (:func:`dashboard.auth.protect` guards every route of the server, this
  one included); anyone who may use the Upload page may upload here, no one else;
* the :data:`NAME_HEADER` header must be there, and a browser's ``Sec-Fetch-Site``, when
  sent, must say ``same-origin``: a page of another site cannot send a file here (a
  custom header makes its browser ask first, and nothing here answers that);
* ``Content-Length`` must be given and at most the upload limit (413 naming the file and
  the limit in MiB otherwise); a body longer or shorter than it says is refused.

The answer is JSON: ``{"results": [{"file", "runs", "errors", "same"}]}``
(:meth:`dashboard.upload_views.Ingested.as_json`), with 200 when the file was read (its errors,
if any, are in ``errors``) and an error status (400, 403, 411, 413, 503) when it was
refused, its reason in ``errors`` too.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

#: The route, under the app's ``routes_pathname_prefix``.
ROUTE = "_lrtempo/upload"
#: The request header carrying the file's name (percent-encoded UTF-8).
NAME_HEADER = "X-Upload-Name"
#: Bytes read from the request body at a time.
CHUNK = 1 << 20
#: Characters of a file name kept (the stored name is cleaned and shorter still).
MAX_NAME_CHARS = 500

log = logging.getLogger(__name__)


def upload_path(app: Any) -> str:
    """The route's path on the Flask server (the app's ``routes_pathname_prefix`` first)."""
    return str(app.config.routes_pathname_prefix) + ROUTE


def install(app: Any) -> None:
    """Add the route to the Flask server of the Dash ``app``."""
    app.server.add_url_rule(upload_path(app), "lrtempo_upload", receive, methods=["POST"])


def _answer(name: str, status: int, errors: list[str]) -> Any:
    import flask

    body = {"results": [{"file": name, "runs": [], "errors": errors, "same": False}]}
    return flask.jsonify(body), status


def receive() -> Any:
    """One uploaded file: checked, streamed to disk, ingested (see the module docstring)."""
    import flask

    from .store import current_store
    from .upload_views import ingest_upload, upload_reading
    from .uploads import MB, UploadError, too_big

    request = flask.request
    raw = request.headers.get(NAME_HEADER)
    if raw is None:
        return _answer(
            "upload",
            400,
            [f"upload: the {NAME_HEADER} header is missing; files are sent from the Upload page"],
        )
    name = unquote(raw, errors="replace").replace("\x00", "")[:MAX_NAME_CHARS].strip() or "upload"
    site = request.headers.get("Sec-Fetch-Site")
    if site not in (None, "same-origin"):
        return _answer(name, 403, [f"{name}: refused: sent from another site ({site})"])
    store = current_store()
    limit = store.upload_limit_mb * MB
    length = request.content_length
    if length is None and "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
        length = 0  # no body at all
    log.info("upload %r: %s bytes announced", name, length)
    if length is None:  # chunked: the size must be known before anything is read
        return _answer(name, 411, [f"{name}: the request has no Content-Length"])
    if length > limit:
        return _answer(name, 413, [too_big(name, length, limit)])
    if length == 0:
        return _answer(name, 400, [f"{name}: the file is empty"])
    fd, spool_name = tempfile.mkstemp(prefix=".receiving-", dir=store.uploads.folder())
    spool = Path(spool_name)
    try:
        got = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := request.stream.read(CHUNK):
                got += len(chunk)
                if got > length:
                    break
                out.write(chunk)
        if got != length:
            return _answer(
                name,
                400,
                [
                    f"{name}: {got} bytes received of the {length} announced; "
                    "the upload was cut or is malformed, send it again"
                ],
            )
        try:
            with upload_reading([name], length) as limit_bytes:
                done = ingest_upload(name, spool, limit_bytes)
        except UploadError as exc:  # busy, or the shared budget is full
            return _answer(name, 503, [str(exc)])
        return flask.jsonify({"results": [done.as_json()]}), 200
    finally:
        spool.unlink(missing_ok=True)
