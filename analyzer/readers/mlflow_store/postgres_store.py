"""An MLflow PostgreSQL database (``postgresql://user:pass@host:5432/db``, also
``postgresql+psycopg2://…`` as MLflow writes it) read directly with ``psycopg`` in a
read-only session (``default_transaction_read_only``): the same tables and queries as
:mod:`.sqlite_store`, nothing written. ``psycopg`` is optional: without it the URI is
refused with a line saying what to install."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ...errors import SourceError
from .shared import _strip_credentials
from .sqlite_store import _SqlStore

#: ``postgresql+driver://`` → ``postgresql://`` (psycopg takes the plain URI).
_DRIVER = re.compile(r"^(postgres(?:ql)?)\+[\w]+://", re.IGNORECASE)
CONNECT_TIMEOUT_S = 10


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        return None
    return psycopg


class _PostgresStore(_SqlStore):
    """An MLflow PostgreSQL database read directly, in a read-only session."""

    def __init__(self, uri: str) -> None:
        super().__init__()
        self.location = _strip_credentials(uri)
        psycopg = _psycopg()
        if psycopg is None:
            raise SourceError(
                self.location,
                "reading a PostgreSQL store needs the psycopg package "
                "(pip install 'psycopg[binary]'), or point LR Tempo at the MLflow server",
                "config",
            )
        self.errors = (psycopg.Error,)
        conninfo = _DRIVER.sub(r"\1://", uri.strip())
        try:
            self.conn = psycopg.connect(
                conninfo,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                options="-c default_transaction_read_only=on",
            )
        except psycopg.OperationalError as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            denied = "authentication" in text or "password" in text
            raise SourceError(
                self.location, f"cannot connect: {text}", "auth" if denied else "unreachable"
            ) from None
        except psycopg.Error as exc:
            raise SourceError(self.location, f"cannot connect: {exc}", "bad_uri") from None
        info = self.conn.info
        self.label = f"PostgreSQL store {info.host}:{info.port}/{info.dbname}"
        tables = {
            r[0]
            for r in self._rows(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
        }
        self._check_tables(tables)
        cols = self._rows(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'metrics'"
        )
        self._is_nan = "is_nan" in {r[0] for r in cols}

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The base's queries with psycopg's ``%s`` placeholders (they hold no other ``?``
        or ``%``)."""
        return super()._rows(sql.replace("?", "%s"), args)
