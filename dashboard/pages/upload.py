"""Upload: drop log files; each becomes a run, analyzed on the spot and listed in Review.

The size limit is checked in the browser first: a file over it is never sent (the drop
zone's ``max_size``) and a line says so at once; the server checks again (a forged
request may send anything). While accepted files are sent and read, a line says how many
and how big. Sizes are in binary units, named as such (KiB, MiB, GiB).
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from dashboard.controls import str_list
from dashboard.store import current_store
from dashboard.upload_views import handle_uploads
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
            dcc.Store(id="upload-limit", data=limit),
            dcc.Store(id="upload-guard"),  # the browser guard's (unused) output
            dcc.Upload(
                id="upload-files",
                children=html.Div(
                    ["Drag and drop files here, or ", html.A("choose files", href="#")]
                ),
                multiple=True,
                className="upload-zone mb-3",
                max_size=limit,  # over it: not sent (the browser guard below says so)
            ),
            html.Div(id="upload-refused"),
            html.Div(id="upload-pending", className="text-muted small mb-2"),
            dcc.Loading(html.Div(id="upload-results"), type="dot"),
        ]
    )


# In the browser: one listener (capture phase, before the drop zone's) on every drop or
# file choice in the zone. Files over the limit get a line at once and are not sent (the
# zone's max_size drops them); for the others, a line says what is being sent.
clientside_callback(
    """
    function(limit) {
        window.lrtempoUploadLimit = limit;
        if (window.lrtempoUploadGuard) { return window.dash_clientside.no_update; }
        window.lrtempoUploadGuard = true;
        const size = n => {
            for (const [u, s] of [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]]) {
                if (n >= s) { return parseFloat((n / s).toFixed(u === "KiB" ? 0 : 2)) + " " + u; }
            }
            return n + " bytes";
        };
        const line = text => ({namespace: "dash_html_components", type: "Div",
            props: {children: text, className: "alert alert-danger upload-error py-2 mb-2"}});
        const check = files => {
            const set = window.dash_clientside.set_props;
            const lim = window.lrtempoUploadLimit;
            const all = Array.from(files || []);
            if (!all.length || !set) { return; }
            const big = all.filter(f => f.size > lim);
            const ok = all.filter(f => f.size <= lim);
            set("upload-refused", {children: big.map(f => line(
                `${f.name}: ${size(f.size)} is over the ${size(lim)} upload limit; ` +
                "not sent (checked in your browser)"))});
            const total = ok.reduce((s, f) => s + f.size, 0);
            set("upload-pending", {children: ok.length ? `Sending and reading ${ok.length} ` +
                `file${ok.length > 1 ? "s" : ""} (${size(total)})` +
                (total > 5 * 2 ** 20 ? "; a large file takes a while…" : "…") : ""});
        };
        const inZone = e => e.target && e.target.closest && e.target.closest("#upload-files");
        document.addEventListener("drop", e => {
            if (inZone(e)) { check(e.dataTransfer && e.dataTransfer.files); }
        }, true);
        document.addEventListener("change", e => {
            if (inZone(e)) { check(e.target.files); }
        }, true);
        return window.dash_clientside.no_update;
    }
    """,
    Output("upload-guard", "data"),
    Input("upload-limit", "data"),
)


# The "sending" line goes when the results come (the upload callback keeps one output).
clientside_callback(
    "function(_results) { return ''; }",
    Output("upload-pending", "children"),
    Input("upload-results", "children"),
    prevent_initial_call=True,
)


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
