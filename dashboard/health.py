"""Whether the configured MLflow stores can be used: one :class:`MlflowProblem` per store
that failed (unreachable, slow, refused or another error), split from the run errors.

A read error names its store in ``location``. Its state comes from the reader's error
``kind`` (:data:`KIND_STATES`, ``analyzer.errors.SourceError.kind``) when the error has
one, else from the reader's wording (:data:`PROBLEM_WORDS`: errors read before kinds, or
by code that sets none).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The states of an unusable store (``error``: any other failure).
STATES = ("unreachable", "slow", "refused", "error")
#: The state of each reader error kind (``analyzer.errors.SourceErrorKind``).
KIND_STATES: dict[str, str] = {
    "auth": "refused",
    "timeout": "slow",
    "rate_limited": "slow",
    "unreachable": "unreachable",
    "not_found": "unreachable",
    **dict.fromkeys(
        ("bad_uri", "config", "not_mlflow", "server_error", "bad_data", "limit"), "error"
    ),
}
#: The reader's wording of each state (when an error carries no ``kind``).
PROBLEM_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("refused", ("access refused", "HTTP 401", "HTTP 403")),
    ("slow", ("did not answer within", "rate-limiting")),
    (
        "unreachable",
        (
            "cannot connect",
            "no connection within",
            "TLS certificate",
            "no such file",
            "does not exist",
        ),
    ),
)


@dataclass(frozen=True)
class MlflowProblem:
    """What is wrong with a configured MLflow store: ``state`` is ``unreachable``,
    ``slow``, ``refused`` or ``error``; ``message`` is the reader's explanation."""

    uri: str
    state: str
    message: str


def strip_userinfo(uri: str) -> str:
    """The URI without ``user:password@``."""
    scheme, sep, rest = uri.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}{sep}{host.rsplit('@', 1)[-1]}{slash}{path}" if sep else uri


def plain_uri(uri: str) -> str:
    """A URI compared without credentials, case of the scheme, or a trailing slash."""
    scheme, sep, rest = strip_userinfo(uri.strip()).partition("://")
    return (f"{scheme.lower()}{sep}{rest}" if sep else scheme).rstrip("/")


def problem_state(error: dict[str, str]) -> str:
    """The state of a store's read error: from its ``kind``, else from its wording."""
    kind = error.get("kind")
    if kind in STATES:
        return kind
    if kind in KIND_STATES:
        return KIND_STATES[kind]
    msg = error.get("error", "").lower()
    return next(
        (st for st, words in PROBLEM_WORDS if any(w.lower() in msg for w in words)), "error"
    )


def mlflow_problems(
    uris: list[str], errors: list[dict[str, str]]
) -> tuple[list[MlflowProblem], list[dict[str, str]]]:
    """Split read errors into one problem per unusable MLflow store and the others
    (a single run's history that failed stays an ordinary error)."""
    plain = {plain_uri(u): u for u in uris}
    problems: list[MlflowProblem] = []
    rest: list[dict[str, str]] = []
    seen: set[str] = set()
    for e in errors:
        uri = plain.get(plain_uri(e.get("location", "")))
        if uri is None or uri in seen:
            rest.append(e)
            continue
        seen.add(uri)
        problems.append(MlflowProblem(strip_userinfo(uri), problem_state(e), e.get("error", "")))
    return problems, rest
