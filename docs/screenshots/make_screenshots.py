"""Re-make ``review.png``, ``run.png`` and ``sweeps.png`` from the sample runs.

    .venv/bin/python docs/screenshots/make_screenshots.py

Starts a real ``mlflow server`` in a temporary folder, seeds it with ``sample_runs/``
(as ``lrtempo demo`` does), serves the dashboard on it and screenshots the Review page
one run's page and the Sweeps page (the sample LR sweep) in headless Chromium (``/usr/bin/chromium``). Nothing outside the
temporary folder and this one is written.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

RUN = "vit_lr3e-2_oscillating"


def main() -> None:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from benchmarks.mlflow_server import start_server, stop_server
    from dashboard.app import create_app
    from dashboard.demo import seed_store

    logging.disable(logging.WARNING)
    server, proc = start_server(Path(tempfile.mkdtemp(prefix="lrtempo-shots-")))
    try:
        seed_store(server.url)
        app = create_app([server.url], since_hours=24)
        srv = make_server("127.0.0.1", 0, app.server, threaded=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{srv.server_port}"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=["--no-sandbox", "--disable-gpu"],
            )
            page = browser.new_page(viewport={"width": 1440, "height": 620})
            page.set_default_timeout(60_000)
            page.goto(base + "/?window=24h")
            page.wait_for_selector(".ag-row .run-link")
            page.wait_for_timeout(1500)
            page.screenshot(path=str(HERE / "review.png"))
            page.get_by_role("link", name=RUN, exact=True).click()
            page.wait_for_function(
                "() => { const g = document.querySelector('#run-graph .js-plotly-plot');"
                " return g && g.data && g.data.some(t => t.meta === 'lr'); }"
            )
            page.set_viewport_size({"width": 1440, "height": 800})
            page.wait_for_timeout(1500)
            page.screenshot(path=str(HERE / "run.png"))
            page.goto(base + "/sweeps?window=24h")
            page.wait_for_function(
                "() => { const g = document.querySelector('.sweep-card .js-plotly-plot');"
                " return g && g.data && g.data.some(t => t.meta === 'recommended'); }"
            )
            page.set_viewport_size({"width": 1440, "height": 760})
            page.wait_for_timeout(1500)
            page.screenshot(path=str(HERE / "sweeps.png"))
            browser.close()
        srv.shutdown()
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
