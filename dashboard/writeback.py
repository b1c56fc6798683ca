"""Review's "Write tags to MLflow": who may, and a confirmation the server checks.

    tokens = ConfirmTokens(folder)
    token = tokens.issue(["run-a", "run-b"], user="bob")    # with the dialog listing them
    tokens.take(token, user="bob")                           # → ("run-a", "run-b"), once

Opening the dialog lists the MLflow runs of the server's own stores that the page's
filters show and issues a one-time token bound to exactly those run ids and to the user
who opened it (:func:`plan`). "Write tags" writes those runs and no other
(:func:`write_runs`), only with that token, unused and not expired: the run list is
never derived again from the filters of the confirming request, so a forged request
naming ``writeback-confirm.n_clicks`` with ``review-window: "all"`` writes nothing.
Only a writer (:func:`dashboard.auth.may_write`) may open or confirm.

Tokens are files in a private folder made before gunicorn forks (renamed away when
taken, an atomic step): one-time across workers too. The browser holds only the token.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from analyzer.writeback import MlflowMissing, write_back
from analyzer.writeback import summary as writeback_summary

from .store import current_store

#: A confirmation is valid this long after the dialog opened (seconds).
TOKEN_TTL = 600.0
#: Run names listed in the dialog (the rest are counted).
LISTED = 25
CONFIRM_KEY = "LRTEMPO_CONFIRM"


class TokenRefused(ValueError):
    """A confirmation token that is missing, unknown, used, expired or someone else's."""


class ConfirmTokens:
    """One-time tokens, each bound to a list of run ids and a user (files in ``folder``)."""

    def __init__(self, folder: str | Path | None = None, ttl: float = TOKEN_TTL) -> None:
        if folder is None:
            folder = tempfile.mkdtemp(prefix="lrtempo-confirm-")  # mode 0700
            pid = os.getpid()
            # Removed when the process that made it ends (not a forked worker).
            weakref.finalize(
                self, lambda: os.getpid() == pid and shutil.rmtree(folder, ignore_errors=True)
            )
        self.folder = Path(folder)
        self.ttl = ttl

    def _path(self, token: str) -> Path:
        return self.folder / hashlib.sha256(token.encode()).hexdigest()

    def issue(self, run_ids: Sequence[str], user: str | None, now: float | None = None) -> str:
        """A new token for exactly ``run_ids``, usable once by ``user`` within the TTL."""
        self._expire(now)
        token = secrets.token_urlsafe(32)
        record = {
            "runs": list(run_ids),
            "user": user,
            "expires": (time.time() if now is None else now) + self.ttl,
        }
        fd = os.open(self._path(token), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
        return token

    def take(self, token: Any, user: str | None, now: float | None = None) -> tuple[str, ...]:
        """The run ids of ``token``, which is used up; :class:`TokenRefused` otherwise."""
        if not isinstance(token, str) or not token:
            raise TokenRefused("no confirmation: open the dialog again")
        path = self._path(token)
        taken = path.with_name(f"{path.name}.taken-{secrets.token_hex(8)}")
        try:
            os.rename(path, taken)  # atomic: only one request (in any worker) gets it
        except OSError:
            raise TokenRefused(
                "this confirmation was already used or has expired: open the dialog again"
            ) from None
        try:
            record = json.loads(taken.read_text(encoding="utf-8"))
        finally:
            taken.unlink(missing_ok=True)
        if (time.time() if now is None else now) > record["expires"]:
            raise TokenRefused("this confirmation has expired: open the dialog again")
        if record["user"] != user:
            raise TokenRefused("this confirmation was issued to another user")
        return tuple(record["runs"])

    def discard(self, token: Any) -> None:
        """Forget ``token`` (the dialog was cancelled)."""
        if isinstance(token, str) and token:
            self._path(token).unlink(missing_ok=True)

    def _expire(self, now: float | None) -> None:
        """Remove tokens that expired (kept ``ttl`` more for a clear message meanwhile)."""
        limit = (time.time() if now is None else now) - 2 * self.ttl
        for p in self.folder.iterdir():
            try:
                if p.stat().st_mtime < limit:
                    p.unlink()
            except OSError:
                pass


@dataclass(frozen=True)
class Plan:
    """What the dialog shows: the runs to tag (ids and names, in the page's order)."""

    run_ids: tuple[str, ...]
    names: tuple[str, ...]
    #: Names of the runs shown that are still RUNNING: left out (their verdict is not final).
    running: tuple[str, ...] = ()


def plan(filters: Any) -> Plan:
    """The MLflow runs of the server's own stores that ``filters`` show (never a
    visitor's tracking URI: the writer would send the server's credentials there)."""
    from .views import review_data

    data = review_data(replace(filters, tracking_uri=None))
    rows = [r for r in data.rows if r.get("source") == "mlflow"]
    done = [r for r in rows if not r.get("running")]
    return Plan(
        tuple(r["id"] for r in done),
        tuple(str(r.get("run") or r["id"]) for r in done),
        tuple(str(r.get("run") or r["id"]) for r in rows if r.get("running")),
    )


def dialog_body(p: Plan) -> list[Any]:
    """The dialog's text: how many runs, which ones, and which tags."""
    n = len(p.run_ids)
    names = list(p.names[:LISTED]) + ([f"… and {n - LISTED} more"] if n > LISTED else [])
    return [
        html.P(
            f"Store the verdict of the {n} MLflow run{'s' if n != 1 else ''} shown as run "
            "tags: lrtempo.status, lrtempo.action, lrtempo.current_lr, lrtempo.suggested_lr, "
            "lrtempo.factor, lrtempo.early_stop_step, lrtempo.worst_finding, "
            "lrtempo.suggestion, lrtempo.analyzed_at."
        ),
        html.Ul(
            [html.Li(name) for name in names],
            id="writeback-runs",
            className="small mb-2",
            style={"maxHeight": "12rem", "overflowY": "auto"},
        ),
        html.P(
            f"{len(p.running)} run{'s' if len(p.running) != 1 else ''} still running "
            f"{'are' if len(p.running) != 1 else 'is'} left out (the verdict is not final): "
            + ", ".join(p.running[:LISTED]),
            id="writeback-running",
            className="small",
        )
        if p.running
        else None,
        html.P(
            "Only these runs are written; only tags — metrics and params are never touched. "
            "Runs whose tags already match are left as they are.",
            className="small text-muted mb-0",
        ),
    ]


def result_alert(text: str | list[Any], color: str) -> dbc.Alert:
    return dbc.Alert(text, color=color, className="py-2 mb-2", id="writeback-result")


def write_runs(run_ids: Sequence[str]) -> dbc.Alert:
    """Write the verdict tags of exactly ``run_ids`` (MLflow runs of the server's stores)."""
    store = current_store()
    analyses = []
    for run_id in run_ids:
        run = store.get(run_id)  # the server's stores only (no visitor URI)
        if run is not None and run.meta.source == "mlflow":
            analyses.append(store.analyze(run))
    if not analyses:
        return result_alert("No MLflow run to tag: nothing was written.", "warning")
    from .sweep_views import default_sweeps  # the Run page's sweeps: the same advice

    try:
        results = write_back(analyses, tracking_uris=store.mlflow_uris, sweeps=default_sweeps())
    except MlflowMissing as exc:
        return result_alert(f"Nothing was written: {exc}.", "danger")
    missing = len(run_ids) - len(analyses)
    failed = [r for r in results if r.outcome == "failed"]
    return result_alert(
        [
            html.Div(
                f"MLflow tags: {writeback_summary(results)}"
                + (f"; {missing} run(s) no longer found" if missing else "")
                + ".",
                className="fw-bold",
            ),
            html.Div(
                "Tags only (lrtempo.status, lrtempo.action, …); metrics and params are untouched.",
                className="small",
            ),
            html.Ul(
                [html.Li(f"{r.run_name}: {r.message}") for r in failed[:10]], className="mb-0 small"
            )
            if failed
            else None,
        ],
        "danger" if failed else "success",
    )
