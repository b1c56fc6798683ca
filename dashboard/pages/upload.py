"""Upload: drop log files; each becomes a run, analyzed on the spot and listed in Review."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html

from dashboard.data import current_store, str_list
from dashboard.views import handle_uploads

dash.register_page(__name__, path="/upload", name="Upload", title="LR Tempo · Upload", order=3)


def layout(**_: Any) -> html.Div:
    limit = current_store().upload_limit_mb
    return html.Div([
        html.H3("Upload logs"),
        html.P([
            "CSV (plain, Lightning, Keras, W&B export, Ultralytics), trainer_state.json, JSON lines, ",
            ".log/.txt, TensorBoard event files, or a .zip of a run folder. ",
            f"Up to {limit} MB per file. Uploaded runs also appear in Review.",
        ], className="text-muted"),
        dcc.Upload(
            id="upload-files",
            children=html.Div(["Drag and drop files here, or ", html.A("choose files", href="#")]),
            multiple=True,
            className="upload-zone mb-3",
            max_size=-1,  # checked server-side, so an oversized file gets a message
        ),
        dcc.Loading(html.Div(id="upload-results"), type="dot"),
    ])


@callback(
    Output("upload-results", "children"),
    Input("upload-files", "contents"),
    State("upload-files", "filename"),
    State("upload-results", "children"),
    prevent_initial_call=True,
)
def on_upload(contents: list[str] | None, filenames: list[str] | None, previous: Any):
    new = handle_uploads(str_list(contents), str_list(filenames))  # forged: nothing sent
    previous = previous if isinstance(previous, list) else ([previous] if previous else [])
    return new + previous
