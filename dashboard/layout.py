"""Layout helpers shared by the pages (components only; no callbacks, no data loading).

Every string that comes from a run goes in as a child string (React renders it as
text); nothing here uses markdown or ``dangerously_allow_html``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from analyzer.findings import Finding, Suggestion
from analyzer.lrtext import evidence_label, evidence_readable, format_number, lr_change

from .figures import empty_figure
from .health import MlflowProblem
from .theme import STATUS_BADGE, STATUS_ORDER

NAV = (
    ("Review", "/"),
    ("Sweeps", "/sweeps"),
    ("Compare", "/compare"),
    ("Upload", "/upload"),
    ("Settings", "/settings"),
)


def theme_toggle() -> dbc.Button:
    """The navbar's light/dark switch, labelled with the theme it switches to (the
    stylesheet shows one of the two labels from ``<html data-bs-theme>``; a click is
    handled in the browser: ``lrtempo_theme.toggle`` in ``dashboard/assets/05_theme.js``)."""
    return dbc.Button(
        [
            html.Span("\u263e Dark", className="theme-to-dark"),
            html.Span("\u2600 Light", className="theme-to-light"),
        ],
        id="theme-toggle",
        color="outline-light",
        size="sm",
        n_clicks=0,
        className="theme-toggle",
        title="Switch between the light and dark themes",
    )


def navbar() -> dbc.Navbar:
    return dbc.Navbar(
        dbc.Container(
            [
                dcc.Link("LR Tempo", href="/", className="navbar-brand fw-bold"),
                dbc.Nav(
                    [
                        dbc.NavItem(
                            dcc.Link(
                                label, href=href, className="nav-link", id=f"nav-{label.lower()}"
                            )
                        )
                        for label, href in NAV
                    ],
                    className="me-auto",
                ),
                theme_toggle(),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        className="mb-3",
    )


def status_badge(status: str, **kwargs: Any) -> dbc.Badge:
    return dbc.Badge(
        status.replace("_", " "),
        color=STATUS_BADGE.get(status, "secondary"),
        className=f"status-badge status-{status} " + kwargs.pop("className", ""),
        text_color="dark" if status == "insufficient_data" else None,
        **kwargs,
    )


def status_counts(counts: Mapping[str, int]) -> html.Div:
    """``N healthy · M overfitting …`` as badges."""
    items = []
    for s in STATUS_ORDER + tuple(k for k in counts if k not in STATUS_ORDER):
        n = counts.get(s, 0)
        if n:
            items.append(
                html.Span(
                    [html.Span(str(n), className="count-num"), " ", status_badge(s)],
                    className="me-3 count-item",
                    id=f"count-{s}",
                )
            )
    total = sum(counts.values())
    return html.Div(
        [html.Span(f"{total} run{'s' if total != 1 else ''}", className="me-3 fw-bold")] + items,
        className="status-counts d-flex flex-wrap align-items-center",
    )


def loading_graph(id: str, message: str) -> dcc.Loading:
    """A Plotly graph (no Plotly logo) under a loading dot, showing ``message`` until a
    callback gives it its figure."""
    return dcc.Loading(
        dcc.Graph(id=id, config={"displaylogo": False}, figure=empty_figure(message)),
        type="dot",
    )


def run_href(run_id: str) -> str:
    return "/run?" + urlencode({"id": run_id})


def suggestion_card(suggestion: Suggestion | None, status: str) -> dbc.Card:
    """The recommendation with its numbers and rationale."""
    if suggestion is None:
        body = [
            html.P(
                "No change needed." if status == "healthy" else "No suggestion for this run.",
                className="mb-0",
            )
        ]
        title = "none"
    else:
        change = lr_change(suggestion)  # the same line as the grid, the reports and the tags
        title = change.label[:1].upper() + change.label[1:]
        numbers = [
            html.Div(
                change.text[:1].upper() + change.text[1:],
                id="suggestion-text",
                className="fs-6 fw-bold",
            )
        ]
        for k, v in dict(suggestion.extra).items():
            if k == "warmup_steps" or (text := format_number(v, k)) is None:
                continue  # the warm-up length is in the line above
            numbers.append(
                html.Div(
                    [html.Span(f"{evidence_label(k)}: ", className="text-muted"), html.Span(text)]
                )
            )
        body = numbers + [html.P(suggestion.rationale, className="mt-2 mb-0 rationale")]
    return dbc.Card(
        [
            dbc.CardHeader(
                [
                    html.Span("Suggestion: ", className="text-muted"),
                    html.Span(title, className="fw-bold"),
                ]
            ),
            dbc.CardBody(body),
        ],
        id="suggestion-card",
        className="mb-3",
    )


def findings_table(findings: Iterable[Finding]) -> html.Div:
    findings = list(findings)
    if not findings:
        return html.Div("No findings.", className="text-muted", id="findings")
    rows = []
    for f in findings:
        evidence = evidence_readable(f.evidence)
        rows.append(
            html.Tr(
                [
                    html.Td(status_badge(f.kind)),
                    html.Td(f.metric),
                    html.Td(f"{int(f.start_step)}–{int(f.end_step)}"),
                    html.Td(f.severity),
                    html.Td(f"{f.confidence:.2f}"),
                    html.Td([html.Div(f.message), html.Small(evidence, className="text-muted")]),
                ]
            )
        )
    head = html.Thead(
        html.Tr(
            [
                html.Th(h)
                for h in ("kind", "metric", "steps", "severity", "confidence", "message / evidence")
            ]
        )
    )
    return html.Div(
        dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, className="mb-0"), id="findings"
    )


def error_list(errors: Iterable[Mapping[str, str]], *, id: str = "read-errors") -> html.Div:
    errors = list(errors)
    if not errors:
        return html.Div(id=id)
    return html.Div(
        dbc.Alert(
            [
                html.Div(
                    f"{len(errors)} source{'s' if len(errors) != 1 else ''} could not be read:",
                    className="fw-bold",
                ),
                html.Ul(
                    [
                        html.Li(f"{e.get('location', '?')}: {e.get('error', '')}")
                        for e in errors[:20]
                    ],
                    className="mb-0",
                ),
            ],
            color="warning",
            className="py-2",
        ),
        id=id,
    )


#: Headline of the MLflow alert per :class:`~dashboard.health.MlflowProblem` state.
MLFLOW_HEADLINES = {
    "unreachable": "MLflow server {uri} is unreachable",
    "slow": "MLflow server {uri} is too slow: it did not answer in time",
    "refused": "MLflow server {uri} refused access: check the credentials",
    "error": "MLflow store {uri} could not be read",
}


def mlflow_alert(problems: Iterable[MlflowProblem]) -> html.Div:
    """One alert per unusable MLflow store, naming it and what is wrong (no traceback)."""
    items = [
        dbc.Alert(
            [
                html.Div(
                    MLFLOW_HEADLINES.get(p.state, MLFLOW_HEADLINES["error"]).format(uri=p.uri),
                    className="fw-bold",
                ),
                html.Div(p.message, className="small"),
                html.Div(
                    "Runs from files and uploads are still shown; Refresh tries the server again.",
                    className="small text-muted",
                ),
            ],
            color="danger",
            className=f"py-2 mlflow-{p.state}",
        )
        for p in problems
    ]
    return html.Div(items, id="mlflow-status")
