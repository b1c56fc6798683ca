"""What the page callbacks do, as plain functions (testable without a browser).

The modules in ``pages/`` hold only layouts and thin ``@dash.callback`` wrappers; they
are executed by Dash when an app is created and are not imported elsewhere.
Every function here runs inside a request (or ``app.server.app_context()``): it finds
the app's :class:`~dashboard.store.DataStore` with :func:`~dashboard.store.current_store`.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from analyzer.lrtext import lr_change
from analyzer.model import Run
from analyzer.report import render_html, render_markdown
from analyzer.roles import RoleMap, resolve_roles

from .compare_figure import CompareRun, compare_figure
from .figures import empty_figure, run_figure
from .layout import findings_table, mlflow_alert, run_href, status_badge, suggestion_card
from .review_rows import format_duration, format_time, mlflow_run_url
from .store import current_store
from .tag_filter import TagFilterError, check_tag_filter, matches_tags
from .uploads import UploadError, content_key, decode_contents, read_upload
from .zoom import zoom_range

MAX_COMPARE = 10


@dataclass(frozen=True)
class FailedAnalysis:
    """Stands in for a ``RunAnalysis`` when the analyzer raised: curves still show."""

    roles: RoleMap
    error: str
    status: str = "insufficient_data"
    findings: tuple = ()
    suggestion: None = None


def analyze_safely(run: Run) -> Any:
    """The cached analysis, or a :class:`FailedAnalysis` carrying the error."""
    try:
        return current_store().analyze(run)
    except Exception as exc:  # noqa: BLE001 - one run's failure must not break the page
        try:
            roles = resolve_roles(run)
        except Exception:  # noqa: BLE001
            roles = RoleMap(None, None, None)
        return FailedAnalysis(roles, f"{type(exc).__name__}: {exc}")


#: Shortest auto-refresh period of the Review page (seconds).
MIN_REFRESH = 5


def refresh_seconds(value: Any) -> int:
    """An auto-refresh period from a URL or dropdown: 0 (off) or at least :data:`MIN_REFRESH`."""
    try:
        v = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return 0
    return 0 if v <= 0 else min(max(v, MIN_REFRESH), 86400)


def effective_window(choice: str | None, start: str | None, end: str | None) -> str | None:
    """The window key for the data layer: a preset, or ``start..end`` for "Dates…"
    (``None`` until both days are picked)."""
    if choice != "custom":
        return choice
    if start and end:
        return f"{start[:10]}..{end[:10]}"
    return None


@dataclass(frozen=True)
class ReviewFilters:
    """What the Review page shows: a window (preset, duration or date range) and filters."""

    window: str = "24h"
    experiment: str | None = None
    status: str | None = None
    user: str | None = None
    tag: str | None = None
    tracking_uri: str | None = None  # the visitor's own (from their browser's Settings)


@dataclass
class ReviewData:
    """The Review page's content: rows (all filters), status counts (all but status)."""

    rows: list[dict[str, Any]]
    counts: dict[str, int]
    experiments: list[str]
    users: list[str]
    errors: list[dict[str, str]]
    analyses: list[Any] = field(default_factory=list)  # of the rows, same order
    runs: list[Run] = field(default_factory=list)
    #: What a filter got wrong or why it matched nothing (one line each).
    notices: list[str] = field(default_factory=list)


def review_data(filters: ReviewFilters, refresh: bool = False, min_age: float = 0.0) -> ReviewData:
    """Analyze the window's runs and apply the filters (cached analyses are reused).

    ``refresh`` re-reads the sources first (see :meth:`DataStore.refresh` for ``min_age``).
    """
    store = current_store()
    if refresh:
        store.refresh(min_age)
    try:
        runs, errors = store.runs(filters.window, filters.tracking_uri)
    except ValueError as exc:
        return ReviewData([], {}, [], [], [{"location": "time window", "error": str(exc)}])
    try:
        wanted_tags = check_tag_filter(filters.tag)
    except TagFilterError as exc:
        return ReviewData([], {}, [], [], [], notices=[str(exc)])
    items = []
    for run in runs:
        try:
            analysis = store.analyze(run)
        except Exception as exc:  # noqa: BLE001 - one bad run must not hide the others
            errors = errors + [{"location": run.meta.location, "error": f"analysis failed: {exc}"}]
            continue
        items.append((run, analysis, store.review_row(run, analysis, store.is_upload(run.meta.id))))
    experiments = sorted({row["experiment"] for _, _, row in items if row["experiment"]})
    users = sorted({row["user"] for _, _, row in items if row["user"]})
    if filters.experiment:
        items = [i for i in items if i[2]["experiment"] == filters.experiment]
    if filters.user:
        items = [i for i in items if i[2]["user"] == filters.user]
    notices = []
    if wanted_tags:
        before = items
        items = [i for i in items if matches_tags(i[0], wanted_tags)]
        if before and not items:
            notices.append(_no_tag_match(wanted_tags, [r for r, _, _ in before]))
    counts = Counter(row["status"] for _, _, row in items)
    if filters.status:
        items = [i for i in items if i[2]["status"] == filters.status]
    return ReviewData([row for _, _, row in items], dict(counts), experiments, users, errors,
                      [a for _, a, _ in items], [r for r, _, _ in items], notices)


def _no_tag_match(wanted: list[tuple[str, str | None]], runs: list[Run]) -> str:
    """Why a tag filter kept no run: the tags (and values) the window's runs do have."""
    want = ", ".join(k if v is None else f"{k}={v}" for k, v in wanted)
    seen: dict[str, set[str]] = {}
    for r in runs:
        for k, v in (r.meta.tags or {}).items():
            if not str(k).startswith("mlflow."):
                seen.setdefault(str(k), set()).add(str(v))
    missing = [k for k, _ in wanted if k not in seen]
    if missing:
        have = ", ".join(sorted(seen)[:12]) or "none"
        return (f"No run of the {len(runs)} in this window has the tag {missing[0]!r} "
                f"(tags they have: {have}).")
    for key, value in wanted:
        if value is not None and value.lower() not in {v.strip().lower() for v in seen[key]}:
            values = ", ".join(sorted(seen[key])[:8])
            return (f"No run of the {len(runs)} in this window matches {want}: tag {key!r} "
                    f"has the values {values} (not {value!r}).")
    return f"No run of the {len(runs)} in this window has all of {want} at once."


EXPORT_TYPES = {"html": ("html", "text/html"), "markdown": ("md", "text/markdown")}


def export_report(filters: ReviewFilters, fmt: str, now: float | None = None) -> dict[str, Any]:
    """The current review as a ``dcc.Download`` payload (self-contained HTML or Markdown)."""
    if fmt not in EXPORT_TYPES:
        raise ValueError(f"export format {fmt!r}: use html or markdown")
    from .sweep_views import review_sweeps  # the sweep views build on this module

    data = review_data(filters)
    sweeps = review_sweeps(filters, data)[1]  # as the grid: its members' advice agrees
    if fmt == "html":
        text = render_html(data.analyses, data.errors, {r.meta.id: r for r in data.runs},
                           sweeps=sweeps)
    else:
        text = render_markdown(data.analyses, data.errors, sweeps)
    ext, mime = EXPORT_TYPES[fmt]
    day = datetime.fromtimestamp(time.time() if now is None else now, tz=UTC).strftime("%Y-%m-%d")
    return {"content": text, "filename": f"lrtempo-review-{day}.{ext}", "type": mime, "base64": False}


def mlflow_row_count(rows: list[dict[str, Any]]) -> int:
    """How many rows are MLflow runs (the ones write-back can tag)."""
    return sum(1 for r in rows if r.get("source") == "mlflow")


def write_tags_view(filters: ReviewFilters) -> dbc.Alert:
    """Write the verdicts of the MLflow runs ``filters`` show as ``lrtempo.*`` tags, at
    once (for scripts and tests: the Review page confirms first, see
    :mod:`dashboard.writeback`); a result alert."""
    from .writeback import plan, write_runs

    return write_runs(plan(filters).run_ids)


def _with_sweep_advice(analysis: Any) -> Any:
    """The Run page's advice agrees with the Review grid's for a run in an LR sweep."""
    from .sweep_views import with_sweep_advice  # the sweep views build on this module

    return with_sweep_advice(analysis)


def run_view(run_id: str | None) -> tuple[Any, Any, Any]:
    """Header, side panel (suggestion card + facts) and findings table for a run."""
    store = current_store()
    run = store.get(run_id) if run_id else None
    if run is None:
        msg = dbc.Alert(f"No run with id {run_id!r} in the sources." if run_id else
                        "No run chosen: open one from the Review page.", color="warning",
                        id="run-missing")
        return html.Div([msg, mlflow_alert(store.problems())]), None, None
    analysis = _with_sweep_advice(analyze_safely(run))
    m = run.meta
    url = mlflow_run_url(run)
    header = html.Div([
        html.H3([html.Span(m.name, className="run-title", id="run-name"), " ",
                 status_badge(analysis.status, id="run-status"),
                 html.Small(" so far (still running)", className="so-far", id="run-so-far")
                 if str(m.status or "").upper() == "RUNNING" else None], className="mb-1"),
        html.Div([
            html.Span(m.experiment or "", className="me-3"),
            html.Span(m.source, className="me-3 text-muted"),
            html.Span(m.location, className="text-muted small me-3"),
            html.A("open in MLflow ↗", href=url, target="_blank", rel="noopener noreferrer")
            if url else None,
        ]),
        dbc.Alert(f"The analysis failed: {analysis.error}", color="danger", className="mt-2 py-2")
        if isinstance(analysis, FailedAnalysis) else None,
    ])
    roles = analysis.roles.as_dict()
    facts = dbc.Card([
        dbc.CardHeader("Run"),
        dbc.CardBody([
            html.Div([html.Span("started ", className="text-muted"), format_time(m.start_time)])
            if m.start_time else None,
            html.Div([html.Span("duration ", className="text-muted"),
                      format_duration(m.start_time, m.end_time)]) if m.start_time and m.end_time else None,
            html.Div([html.Span("status ", className="text-muted"), m.status]) if m.status else None,
            *[html.Div([html.Span(f"{role} ", className="text-muted"), name]) for role, name in roles.items()],
            *[html.Div(w, className="small text-warning") for w in list(run.warnings)[:5]],
        ], className="small"),
    ])
    side = html.Div([suggestion_card(analysis.suggestion, analysis.status), facts])
    return header, side, findings_table(analysis.findings)


def run_graph(run_id: str | None, smoothing: float, log_y: bool, x_mode: str,
              zoom: dict[str, Any] | None = None):
    """The Run figure; ``zoom`` (see :func:`zoom_state`) re-samples the visible range."""
    x_range = zoom_range(zoom, x_mode, log_y)
    store = current_store()
    run = store.get(run_id) if run_id else None
    if run is None:
        return empty_figure("run not found")
    analysis = _with_sweep_advice(analyze_safely(run))
    train, val, lr = store.role_series(run, analysis.roles)  # cached: a zoom re-uses them
    if all(s is None or s.empty for s in (train, val, lr)):
        return empty_figure("this run has no loss or learning-rate metric")
    epoch = epoch_series(run) if x_mode == "epoch" else None
    return run_figure(train, val, lr, findings=analysis.findings, suggestion=analysis.suggestion,
                      smoothing=float(smoothing or 0), log_y=log_y, x_mode=x_mode,
                      step_label=run.meta.step_axis, epoch=epoch, x_range=x_range)


def epoch_series(run: Run) -> Any:
    """The run's logged epoch metric (``epoch``, ``train/epoch``), else ``None``."""
    name = next((n for n in run.metric_names if n.lower() in ("epoch", "train/epoch")), None)
    return run.series(name) if name else None


def compare_view(run_ids: list[str], log_y: bool, smoothing: float = 0.6, x_mode: str = "step"):
    """The Compare figure (train smoothed by ``smoothing``; x by step, epoch or wall time)
    and the runs' status table."""
    store = current_store()
    items, rows = [], []
    for rid in (run_ids or [])[:MAX_COMPARE]:
        run = store.get(rid)
        if run is None:
            rows.append(html.Tr([html.Td(rid), html.Td("not found", colSpan=3)]))
            continue
        a = analyze_safely(run)
        items.append(CompareRun(run.meta.name, a.status, *store.role_series(run, a.roles),
                                epoch=epoch_series(run) if x_mode == "epoch" else None))
        sug = a.suggestion
        rows.append(html.Tr([
            html.Td(dcc.Link(run.meta.name, href=run_href(rid))),
            html.Td(status_badge(a.status)),
            html.Td(lr_change(sug).text if sug else ""),
            html.Td(sug.rationale if sug else "", className="small"),
        ]))
    if not items:
        fig = empty_figure("choose runs to compare")
    else:
        fig = compare_figure(items, log_y=log_y, smoothing=smoothing, x_mode=x_mode)
    table = dbc.Table([html.Thead(html.Tr([html.Th(h) for h in ("run", "status", "suggestion", "why")])),
                       html.Tbody(rows)], size="sm", id="compare-status-table") if rows else None
    return fig, table


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
        return {"file": self.filename, "runs": [r.meta.id for r in self.runs],
                "errors": list(self.errors), "same": self.same}


@contextmanager
def upload_reading(names: list[str], size: int) -> Iterator[int]:
    """A slot to read uploads in (at most ``UPLOAD_READERS`` requests read at once, the
    others wait) and the request's decompression budget, reserved from the process's
    (``size`` bytes) before anything is read (see :mod:`dashboard.uploads`); yields the
    upload limit in bytes. ``UploadError`` naming the files when busy or over budget."""
    from analyzer.errors import ReaderError

    from .uploads import UPLOAD_WAIT, upload_budget

    store = current_store()
    limit = store.upload_limit_mb * 1024 * 1024
    shown = ", ".join(n or "upload" for n in names)
    if not store.upload_slots.acquire(timeout=UPLOAD_WAIT):
        raise UploadError(f"{shown}: the server is busy reading other uploads; try again in a "
                          "minute")
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


def _error_line(text: str) -> Any:
    return dbc.Alert(text, color="danger", className="upload-error py-2 mb-2")


def upload_lines(done: Ingested) -> list[Any]:
    """The result lines of one uploaded file: its errors, then a line per run."""
    store = current_store()
    return ([_error_line(e) for e in done.errors]
            + [_upload_line(store, done.filename, run, same=done.same) for run in done.runs])


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
            errors.append(f"{name}: its run is no longer kept (uploads are kept within the "
                          "server's memory, disk and age bounds); upload it again")
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
    except Exception as exc:  # noqa: BLE001
        return dbc.Alert(f"{name}: run {run.meta.name!r} could not be analyzed: {exc}",
                         color="danger", className="upload-error py-2 mb-2")
    sug = a.suggestion
    first = run.meta.location.removeprefix("upload:")
    return dbc.Alert([
        html.Span(f"{name} → ", className="text-muted"),
        dcc.Link(run.meta.name, href=run_href(run.meta.id), className="fw-bold me-2 upload-run-link"),
        status_badge(a.status),
        html.Span(f"  {sug.rationale}" if sug and sug.rationale else "", className="ms-2 small"),
        html.Div(f"Already uploaded (as {first}): the same content is one run, not added again.",
                 className="small text-muted upload-same") if same else None,
    ], color="light", className="upload-ok py-2 mb-2 border")


def check_uri(uri: str) -> tuple[bool, str]:
    """``(ok, message)`` for a tracking URI a visitor typed, via
    ``mlflow_store.check_connection``: first the server's URI policy (nothing is opened
    or connected for a refused URI), then the environment's credentials only for the
    operator's own origins."""
    from .uri_policy import UriNotAllowed

    uri = (uri or "").strip()
    if not uri:
        return False, "Enter a tracking URI first."
    store = current_store()
    try:
        store.check_user_uri(uri)
    except UriNotAllowed as exc:
        return False, f"Not allowed here: {exc}."
    with store.credentials_for(uri):
        return _check_connection(uri)


def _check_connection(uri: str) -> tuple[bool, str]:
    """``(ok, message)`` of ``mlflow_store.check_connection``."""
    from analyzer.readers.mlflow_store import check_connection

    try:
        return True, str(check_connection(uri)) or "Connected."
    except Exception as exc:  # noqa: BLE001 - any failure is the answer to show
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return False, f"Could not connect: {text[:300]}"
