"""The browser tests' fixtures (registered in tests/conftest.py): a real headless Chromium
(Debian's ``chromium``, driven by Playwright; never ``playwright install``) and guarded
pages on an app served in a thread.

A test module serves its app by defining a module-scoped ``app_args`` fixture returning
``(sources, create_app keyword arguments)``; ``app_url`` serves it and ``page`` opens a
:func:`guarded_page` on it. A module may set ``PAGE_TIMEOUT_MS`` (default 30 s) and
``PAGE_CONTEXT`` (browser context options, e.g. ``{"accept_downloads": True}``).
Without Playwright or Chromium the tests that use them skip.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.serving import serve_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)
PAGE_TIMEOUT_MS = 30_000


@contextmanager
def launch_chromium(*extra_args: str) -> Iterator[Any]:
    """A headless Chromium browser (``extra_args``: more command-line switches); skips the
    test without Playwright or Chromium."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():  # pragma: no cover
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *extra_args]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module."""
    with launch_chromium() as b:
        yield b


@contextmanager
def guarded_page(browser, base: str, name: str, timeout_ms: int, **context: Any) -> Iterator[Any]:
    """A page on ``base`` that fails its test on a JavaScript error or on any request
    leaving the test server (nothing may leave the machine); screenshot at the end.
    Dialogs are dismissed and their messages kept in ``page.dialogs``."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000}, **context)
    pg = ctx.new_page()
    pg.set_default_timeout(timeout_ms)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    outside: list[str] = []

    def route(r):
        if r.request.url.startswith(base) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    def on_dialog(d):
        pg.dialogs.append(d.message)
        d.dismiss()

    pg.route("**/*", route)
    pg.base = base
    pg.dialogs = []
    pg.on("dialog", on_dialog)
    yield pg
    SHOTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    ctx.close()
    assert not outside, f"requests left the test server: {outside}"
    assert not errors, f"JavaScript errors: {errors}"


def open_page(page, path: str) -> None:
    """Go to ``path`` of the page's app and wait for Dash to render the page."""
    page.goto(page.base + path)
    page.wait_for_selector("#_pages_content", state="attached")


def pick_column(page, label: str) -> None:
    """Pick ``label`` in the Review's column chooser as a person does: open it, type the
    name into its search once it has the focus, and click the option once the list is
    filtered by the whole name (an option clicked while the list still moves with the
    typing can be another one)."""
    typed = label.rsplit(": ", maxsplit=1)[-1]
    page.locator("#review-columns").click()
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.matches('.dash-dropdown-search')"
    )
    page.keyboard.type(typed)
    # The list is drawn one step after the search box: wait until it is the whole name's
    # (every option shown has it), else a click may land on a row that moved.
    page.wait_for_function(
        """([t, label]) => {
            const s = document.querySelector('.dash-dropdown-search');
            const shown = Array.from(document.querySelectorAll('.dash-options-list-option'))
                .map(o => o.textContent.trim());
            return s && s.value === t && shown.includes(label)
                && shown.every(x => x.toLowerCase().includes(t.toLowerCase()));
        }""",
        arg=[typed, label],
    )
    page.locator(".dash-options-list-option", has_text=label).filter(
        has=page.get_by_text(label, exact=True)
    ).first.click()  # a portal menu
    page.keyboard.press("Escape")


def grid_row(page, name: str):
    """The Review grid's row of the run named ``name`` (a locator)."""
    return page.locator(".ag-row", has=page.get_by_text(name, exact=True)).first


@pytest.fixture(scope="module")
def app_url(app_args: tuple[list[str], dict[str, Any]]) -> Iterator[str]:
    """The module's app (``app_args``: sources and ``create_app`` options), served."""
    from dashboard.app import create_app

    sources, options = app_args
    with serve_app(create_app(sources, **options)) as url:
        yield url


@pytest.fixture
def page(browser, app_url: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A guarded page on the module's app (see the module docstring for its options)."""
    timeout = getattr(request.module, "PAGE_TIMEOUT_MS", PAGE_TIMEOUT_MS)
    context = getattr(request.module, "PAGE_CONTEXT", {})
    with guarded_page(browser, app_url, request.node.name, timeout, **context) as pg:
        yield pg
