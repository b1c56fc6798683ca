"""The server-wide settings an admin saves on the Settings page, kept in a small JSON file
(``$LRTEMPO_HOME/settings.json``) so that they survive a restart.

Only two keys are kept: ``tracking_uri`` and ``experiment``. A URI given on the command
line (``--tracking-uri``) takes precedence over the saved one at start. A file that cannot
be read (bad JSON, wrong types) is reported with its path and line and otherwise ignored:
the dashboard starts on its command-line settings. Writes are atomic (a temporary file
renamed over the old one) and private to the user (mode 0600).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from analyzer.readers.mlflow_cache import lrtempo_home

KEYS = ("tracking_uri", "experiment")
#: The app's config key of its :class:`SettingsFile` (absent: settings are not kept).
SETTINGS_KEY = "LRTEMPO_SETTINGS_FILE"


def data_dir() -> Path:
    """``$LRTEMPO_HOME``, else ``$XDG_DATA_HOME/lrtempo``, else ``~/.local/share/lrtempo``
    (where the MLflow history cache lives too)."""
    return lrtempo_home()


def default_path() -> Path:
    """Where ``lrtempo dashboard`` and ``lrtempo demo`` keep the server-wide settings."""
    return data_dir() / "settings.json"


@dataclass(frozen=True)
class Saved:
    """The saved values (only non-empty strings of :data:`KEYS`) and why a file was not
    read (``None`` when it was, or when there is none yet)."""

    values: dict[str, str] = field(default_factory=dict)
    problem: str | None = None


def load(path: Path) -> Saved:
    """The settings saved in ``path``; a missing file is no settings, a bad one a problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Saved()
    except (OSError, UnicodeDecodeError) as exc:
        return Saved(problem=f"{path}: cannot be read ({exc.__class__.__name__}: {exc})")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return Saved(problem=f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})")
    if not isinstance(data, dict):
        return Saved(problem=f"{path}: expected a JSON object, found {type(data).__name__}")
    values: dict[str, str] = {}
    for key in KEYS:
        v = data.get(key)
        if v is None:
            continue
        if not isinstance(v, str):
            return Saved(problem=f"{path}: {key!r} must be a string, found {type(v).__name__}")
        if v.strip():
            values[key] = v.strip()
    return Saved(values)


def save(path: Path, values: dict[str, str | None]) -> None:
    """Write the non-empty :data:`KEYS` of ``values`` to ``path`` atomically (mode 0600).
    Raises ``OSError`` when the folder or file cannot be written."""
    data = {k: v for k in KEYS if isinstance(v := values.get(k), str) and v.strip()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class SettingsFile:
    """Where an app keeps its server-wide settings, why the file was not read at start
    (``None`` when it was), and whether ``--tracking-uri`` overrides its URI at start."""

    path: Path
    problem: str | None
    uri_from_command_line: bool
