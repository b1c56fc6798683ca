"""Serving helpers for tests: a server in a background thread, a Dash app on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def in_thread(server: Any) -> Iterator[str]:
    """Run ``server.serve_forever`` (http.server or werkzeug) in a thread; its base URL."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """A Dash app served by werkzeug on a free loopback port in a thread; its base URL."""
    from werkzeug.serving import make_server

    with in_thread(make_server("127.0.0.1", 0, app.server, threaded=True)) as url:
        yield url
