"""Upload: drop log files; each becomes a run, analyzed on the spot and listed in Review.

The page's script (``assets/30_upload.js``) takes the files chosen or dropped on the
zone before Dash's upload component reads them: a file over the size limit gets a line
at once and is never sent (checked in the browser; the server checks again, a forged
request may send anything); the others are sent one by one, raw, to the upload route
(:mod:`dashboard.upload_route`) with a progress bar of the bytes sent (MiB) and percent.
When all are read, the script puts the route's answers into the ``upload-done`` store and
the callback below shows them: a line per run (link, verdict, suggestion) or per error,
newest first. Sizes are in binary units, named as such (KiB, MiB, GiB).
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from dashboard.store import current_store
from dashboard.upload_route import ROUTE
from dashboard.upload_views import shown_uploads
from dashboard.uploads import size_text

dash.register_page(__name__, path="/upload", name="Upload", title="LR Tempo · Upload", order=3)


def layout(**_: Any) -> html.Div:
    limit = current_store().upload_limit_mb * 2**20
    return html.Div(
        [
            html.H3("Upload logs"),
            html.P(
                [
                    "CSV (plain, Lightning, Keras, W&B export, Ultralytics), trainer_state.json, JSON lines, ",
                    ".log/.txt, TensorBoard event files, or a .zip of a run folder. ",
                    f"Up to {size_text(limit)} per file. Uploaded runs also appear in Review; the same "
                    "content uploaded again is the same run.",
                ],
                className="text-muted",
                id="upload-help",
            ),
            html.Div(
                dcc.Upload(
                    id="upload-files",
                    children=html.Div(
                        ["Drag and drop files here, or ", html.A("choose files", href="#")]
                    ),
                    multiple=True,
                    className="upload-zone mb-3",
                    max_size=limit,
                ),
                id="upload-box",
                # Read by assets/30_upload.js: the limit in bytes and where to send files.
                **{
                    "data-upload-limit": str(limit),
                    "data-upload-url": dash.get_relative_path("/" + ROUTE),
                },
            ),
            html.Div(id="upload-refused"),
            html.Div(
                [
                    html.Div(id="upload-pending", className="text-muted small mb-1"),
                    dbc.Progress(
                        id="upload-progress",
                        value=0,
                        label="",
                        className="mb-3",
                        style={"height": "1.25rem"},
                    ),
                ],
                id="upload-progress-box",
                style={"display": "none"},
            ),
            dcc.Store(id="upload-done"),  # the upload route's answers, put here by the script
            dcc.Loading(html.Div(id="upload-results"), type="dot"),
        ]
    )


# The "reading" line goes when the results are shown (the bar stays, at 100 %).
clientside_callback(
    "function(_results) { return ''; }",
    Output("upload-pending", "children"),
    Input("upload-results", "children"),
    prevent_initial_call=True,
)


@callback(
    Output("upload-results", "children"),
    Input("upload-done", "data"),
    State("upload-results", "children"),
    prevent_initial_call=True,
)
def on_uploaded(done: Any, previous: Any):
    results = done.get("results") if isinstance(done, dict) else None
    new = shown_uploads(results)  # forged: only uploaded runs, by id; text shown as text
    previous = previous if isinstance(previous, list) else ([previous] if previous else [])
    return new + previous
