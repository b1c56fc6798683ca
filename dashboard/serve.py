"""Serving the dashboard: Dash's own server for one worker, gunicorn for more.

With several workers each has its own memory: uploads and Settings changes live in
the worker that handled them (use one worker when people upload files).
"""

from __future__ import annotations

from typing import Any

import dash


def serve(
    app: dash.Dash, host: str = "127.0.0.1", port: int = 8050, workers: int = 1, debug: bool = False
) -> None:
    """Serve ``app`` until interrupted."""
    if workers < 1:
        raise ValueError(f"workers={workers!r}: must be 1 or more")
    if workers == 1:
        app.run(host=host, port=port, debug=debug, use_reloader=False)
        return
    from gunicorn.app.base import BaseApplication

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def __init__(self, wsgi: Any, options: dict[str, Any]) -> None:
            self.application = wsgi
            self.options = options
            super().__init__()

        def load_config(self) -> None:
            for key, value in self.options.items():
                if key in self.cfg.settings and value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            return self.application

    _Gunicorn(
        app.server,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": 4,
            "timeout": 300,
            # Idle connections are kept 5 s (gunicorn's 2 s races a busy worker's next request).
            "keepalive": 5,
            "loglevel": "debug" if debug else "info",
            "accesslog": "-" if debug else None,
            "control_socket_disable": True,  # a shared ~/.gunicorn/gunicorn.ctl would clash
        },
    ).run()
