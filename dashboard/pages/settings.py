"""Settings: your MLflow tracking URI (with a connection test) and default experiment.

Your settings live in your browser (local storage) and change only what you see; other
users keep theirs. The server-wide tracking URI is set on the command line; an admin of
the auth file (``user:password:admin``) may also change it here for everyone; it is kept
in ``$LRTEMPO_HOME/settings.json`` (:mod:`dashboard.settings_file`) and restored at the
next start unless ``--tracking-uri`` is given there. A URI entered here must pass the server's policy
(:mod:`dashboard.uri_policy`): http(s) and no loopback or metadata address by default.
Save checks the URI first (a URI at all, the policy, then a real connection) and says what
failed instead of saving a URI the dashboard cannot read. The page shows the *active* URI:
the visitor's own when set and allowed, else the server-wide one.
"""

from __future__ import annotations

import re
from typing import Any

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from dashboard import settings_file
from dashboard.auth import is_admin
from dashboard.settings_file import SETTINGS_KEY, SettingsFile
from dashboard.store import current_store
from dashboard.uri_policy import UriNotAllowed
from dashboard.views import _check_connection, check_uri

dash.register_page(
    __name__, path="/settings", name="Settings", title="LR Tempo · Settings", order=4
)


def _settings_file() -> SettingsFile | None:
    return flask.current_app.config.get(SETTINGS_KEY)


def _kept_line() -> html.Div | None:
    """Where the server-wide settings are kept, and why the saved file was not read."""
    kept = _settings_file()
    if kept is None:
        return None
    text = [
        html.Span("Server-wide settings file: ", className="text-muted"),
        html.Code(str(kept.path), id="settings-file-path"),
    ]
    if kept.problem:
        text.append(
            html.Div(
                f"Not read at start: {kept.problem}",
                className="text-danger",
                id="settings-file-problem",
            )
        )
    return html.Div(text, className="small")


def _persist(uri: str | None, experiment: str | None) -> str:
    """Keep an admin's server-wide settings for the next start; what happened, in words."""
    kept = _settings_file()
    if kept is None:
        return " (until the dashboard restarts)"
    try:
        settings_file.save(kept.path, {"tracking_uri": uri, "experiment": experiment})
    except OSError as exc:
        return f" until the dashboard restarts: could not write {kept.path} ({exc.strerror or exc})"
    if kept.uri_from_command_line:
        return (
            f"; kept in {kept.path} (at the next start --tracking-uri on the command line "
            "wins over the saved URI)"
        )
    return f"; kept in {kept.path} for the next start"


def _admin() -> bool:
    from dashboard.app import AUTH_KEY

    return is_admin(flask.current_app.config.get(AUTH_KEY))


def layout(**_: Any) -> html.Div:
    store = current_store()
    admin = _admin()
    return html.Div(
        [
            dcc.Store(id="settings-page", data=True),  # new on each visit: fills the fields
            html.H3("Settings"),
            dbc.Card(
                dbc.CardBody(
                    [
                        dbc.Label(
                            "Your MLflow tracking URI (kept in this browser)",
                            html_for="settings-uri",
                        ),
                        dbc.InputGroup(
                            [
                                dbc.Input(
                                    id="settings-uri",
                                    value="",
                                    type="text",
                                    placeholder=store.tracking_uri or "http://mlflow.internal:5000",
                                ),
                                dbc.Button(
                                    "Test connection",
                                    id="settings-test",
                                    color="secondary",
                                    outline=True,
                                ),
                            ],
                            className="mb-2",
                        ),
                        html.Div(id="settings-test-result", className="mb-3"),
                        dbc.Label(
                            "Default experiment filter (Review)", html_for="settings-experiment"
                        ),
                        dbc.Input(
                            id="settings-experiment",
                            value="",
                            type="text",
                            placeholder="all experiments",
                            className="mb-3",
                        ),
                        html.Div(_active_line(None), id="settings-active-uri", className="mb-2"),
                        html.Div(
                            [
                                html.Span("Server-wide tracking URI: ", className="text-muted"),
                                html.Span(store.tracking_uri or "none", id="settings-server-uri"),
                            ],
                            className="small",
                        ),
                        _kept_line(),
                        html.Div(
                            [
                                html.Span("Sources: ", className="text-muted"),
                                html.Span(", ".join(store.sources) or "none (uploads only)"),
                            ],
                            className="small mb-3",
                        ),
                        html.Div(
                            "Leave the URI empty to use the server-wide one. Your settings change "
                            "only what this browser shows.",
                            className="small text-muted mb-2",
                        ),
                        dbc.Button("Save", id="settings-save", color="primary", className="me-2"),
                        dbc.Button(
                            "Save for everyone (admin)",
                            id="settings-save-all",
                            color="danger",
                            outline=True,
                        )
                        if admin
                        else None,
                        html.Div(id="settings-save-result", className="mt-2"),
                    ]
                ),
                style={"maxWidth": "48rem"},
            ),
        ]
    )


# In the browser: the fields from this browser's saved settings (empty: the server's),
# run where the values are current, so a field the visitor already typed in is kept (a
# server round trip could answer after the typing and clear it).
clientside_callback(
    """
    function(data, _page, uri, experiment) {
        const keep = window.dash_clientside.no_update;
        const saved = (data && typeof data === "object") ? data : {};
        const text = v => (typeof v === "string") ? v.trim() : "";
        return [uri ? keep : text(saved.tracking_uri), experiment ? keep : text(saved.experiment)];
    }
    """,
    Output("settings-uri", "value"),
    Output("settings-experiment", "value"),
    Input("user-settings", "data"),
    Input("settings-page", "data"),
    State("settings-uri", "value"),
    State("settings-experiment", "value"),
)


URI_EXAMPLE = "http://mlflow.internal:5000"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:\d+(/|$)")


def not_a_uri(text: str) -> str | None:
    """Why ``text`` is not a URI at all (neither a ``scheme:`` nor a path; or a bare
    ``host:port``), or ``None``. Such input is refused, never taken as a local path; a path
    (``/``, ``.``, ``~``) is left to the policy, which names it as one."""
    shown = repr(text[:200])
    if _HOST_PORT.match(text):
        return f"{shown} has no scheme; did you mean http://{text[:200]} ?"
    if not (_SCHEME.match(text) or text[0] in "/.~"):
        return f"{shown} is not a URI (expected one like {URI_EXAMPLE})"
    return None


def checked(uri: str) -> tuple[bool, str]:
    """``(ok, message)`` for a URI a visitor wants to read: a URI at all, then
    :func:`dashboard.views.check_uri` (the policy, then a real connection)."""
    problem = not_a_uri(uri)
    return (False, problem + ".") if problem else check_uri(uri)


def _active_line(user_uri: str | None) -> list[Any]:
    """The URI this visitor's pages read, and whose it is."""
    store = current_store()
    server = store.tracking_uri
    whose, uri, note = "server-wide", server, ""
    user_uri = _text(user_uri)
    if user_uri:
        try:
            store.check_user_uri(user_uri)
            whose, uri = "yours, kept in this browser", user_uri
        except UriNotAllowed as exc:
            note = f" (your saved URI {user_uri!r} is not allowed here: {exc})"
    return [
        html.Span("Active tracking URI: ", className="fw-bold"),
        html.Code(uri or "none", id="settings-active-value"),
        html.Span(
            f" ({whose}){note}" if uri else f" (no MLflow server){note}",
            className="text-muted",
            id="settings-active-whose",
        ),
    ]


@callback(
    Output("settings-active-uri", "children"),
    Input("user-settings", "data"),
    Input("settings-page", "data"),
)
def on_active(data: Any, _page: Any) -> list[Any]:
    """The active URI: the visitor's own (from this browser's store) or the server's."""
    uri = data.get("tracking_uri") if isinstance(data, dict) else None
    return _active_line(uri if isinstance(uri, str) else None)


@callback(
    Output("settings-test-result", "children"),
    Input("settings-test", "n_clicks"),
    State("settings-uri", "value"),
    prevent_initial_call=True,
)
def on_test(_n: int | None, uri: str | None):
    ok, msg = checked(_text(uri) or current_store().tracking_uri or "")
    return dbc.Alert(
        msg, color="success" if ok else "danger", className="py-2 mb-0", id="settings-test-alert"
    )


def _text(value: Any) -> str:
    """A field's value as stripped text (a forged request may send anything)."""
    return value.strip() if isinstance(value, str) else ""


def _alert(text: str, ok: bool) -> dbc.Alert:
    return dbc.Alert(
        text, color="success" if ok else "danger", className="py-2 mb-0", id="settings-save-alert"
    )


@callback(
    Output("user-settings", "data"),
    Output("settings-save-result", "children"),
    Input("settings-save", "n_clicks"),
    State("settings-uri", "value"),
    State("settings-experiment", "value"),
    prevent_initial_call=True,
)
def on_save(_n: int | None, uri: str | None, experiment: str | None):
    """Save in this browser after the checks (a URI, the policy, a real connection);
    the server's settings stay. A failed check says what failed and saves nothing."""
    if not _n:  # Dash calls it when the page appears (its output lives in the app layout)
        return no_update, no_update
    uri = _text(uri)
    if uri:
        ok, msg = checked(uri)
        if not ok:
            return no_update, _alert(f"Not saved: {msg[0].lower()}{msg[1:]}", False)
    data = {"tracking_uri": uri or None, "experiment": _text(experiment) or None}
    return data, _alert(
        "Saved. In this browser only: Review reads "
        f"{uri or 'the server-wide store'} on its next load.",
        True,
    )


@callback(
    Output("settings-save-result", "children", allow_duplicate=True),
    Output("settings-server-uri", "children"),
    Output("settings-active-uri", "children", allow_duplicate=True),
    Input("settings-save-all", "n_clicks"),
    State("settings-uri", "value"),
    State("settings-experiment", "value"),
    State("user-settings", "data"),
    prevent_initial_call=True,
)
def on_save_all(_n: int | None, uri: str | None, experiment: str | None, mine: Any = None):
    """An admin's Save: the server-wide tracking URI and default experiment."""
    _ = ctx.triggered_id
    if not _n:
        return no_update, no_update, no_update
    if not _admin():  # checked on the server: the button alone proves nothing
        return (
            _alert("Only an admin of the auth file may change the server-wide settings.", False),
            no_update,
            no_update,
        )
    uri = _text(uri)
    if uri:  # the admin's URI: a URI at all and reachable (the visitor policy is theirs)
        problem = not_a_uri(uri)
        ok, msg = (False, problem + ".") if problem else _check_connection(uri)
        if not ok:
            return _alert(f"Not saved: {msg[0].lower()}{msg[1:]}", False), no_update, no_update
    store = current_store()
    store.set_tracking_uri(uri or None)
    store.experiment = _text(experiment) or None
    kept = _persist(uri or None, store.experiment)
    own = mine.get("tracking_uri") if isinstance(mine, dict) else None
    return (
        _alert(f"Saved for everyone{kept}.", True),
        uri or "none",
        _active_line(own if isinstance(own, str) else None),
    )
