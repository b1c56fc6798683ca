"""Upload names runs after the file, keeps one run per content, checks size in the browser.

Real parts (issue 12): the dashboard served by werkzeug on loopback, real headless
Chromium uploading through the page's file input, a real TensorBoard event file from
``sample_runs`` and JSON-lines logs written here.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.test_dashboard_browser import _curves, write_jsonl

pytestmark = pytest.mark.browser
PAGE_TIMEOUT_MS = 60_000  # the page fixture's (tests/browser_fixtures.py)

ROOT = Path(__file__).resolve().parents[1]
EVENT_FILE = next((ROOT / "sample_runs" / "tensorboard").glob("*/events.out.tfevents.*"))


@pytest.fixture(scope="module")
def app_args(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, Any]]:
    logs = tmp_path_factory.mktemp("logs")
    return [str(logs)], {"since_hours": 0, "upload_limit_mb": 1}


def _upload(page, *files: Path) -> None:
    page.goto(page.base + "/upload")
    page.wait_for_selector("#upload-files input[type=file]", state="attached")
    page.locator("#upload-files input[type=file]").set_input_files([str(f) for f in files])


def _review_names(page) -> list[str]:
    page.goto(page.base + "/?window=all")
    page.wait_for_selector(".ag-row")
    return page.locator(".ag-row [col-id=run]").all_inner_texts()


def test_an_event_file_uploaded_alone_is_named_after_the_file(page, tmp_path: Path) -> None:
    f = tmp_path / EVENT_FILE.name
    shutil.copy(EVENT_FILE, f)
    _upload(page, f)
    ok = page.locator(".upload-ok").first
    ok.wait_for()
    name = ok.locator(".upload-run-link").inner_text()
    assert name == EVENT_FILE.name, name
    assert "lrtempo-upload" not in page.content()


def test_the_same_content_uploaded_twice_is_one_run(page, tmp_path: Path) -> None:
    rows = _curves(150, overfit_at=None, seed=11, lr=1e-3)
    first = write_jsonl(tmp_path / "twice_uploaded.jsonl", rows)
    _upload(page, first)
    page.locator(".upload-ok").first.wait_for()
    link = page.locator(".upload-run-link").first.get_attribute("href")
    again = tmp_path / "again" / "twice_uploaded.jsonl"
    again.parent.mkdir()
    shutil.copy(first, again)
    _upload(page, again)
    same = page.locator(".upload-same").first
    same.wait_for()
    assert "Already uploaded (as twice_uploaded.jsonl)" in same.inner_text()
    assert page.locator(".upload-run-link").first.get_attribute("href") == link
    names = _review_names(page)
    assert sum(n.startswith("twice_uploaded") for n in names) == 1, names


def test_a_file_over_the_limit_is_refused_in_the_browser_and_not_sent(page, tmp_path: Path) -> None:
    big = tmp_path / "too_big.jsonl"
    big.write_text("x" * (3 * 2**19))  # 1.5 MiB, over the 1 MiB limit
    good = write_jsonl(tmp_path / "small_ok.jsonl", _curves(80, overfit_at=None, seed=12, lr=1e-3))
    sent: list[int] = []
    page.on(
        "request",
        lambda r: (
            sent.append(len(r.post_data_buffer or b""))
            if "_dash-update-component" in r.url
            else None
        ),
    )
    _upload(page, big, good)
    refused = page.locator(".upload-error", has_text="too_big.jsonl").first
    refused.wait_for()
    assert refused.inner_text() == (
        "too_big.jsonl: 1.5 MiB is over the 1 MiB upload limit; not sent (checked in your browser)"
    )
    page.locator(".upload-ok").first.wait_for()  # the other file was sent and read
    assert "small_ok" in page.locator(".upload-ok").first.inner_text()
    assert page.inner_text("#upload-pending") == ""  # the "sending" line is gone
    assert sent and max(sent) < 2**20, sent  # the big file never left the browser
    assert "Up to 1 MiB per file" in page.inner_text("#upload-help")


def test_zip_top_level_runs_take_the_zips_name_and_ids_follow_the_content(tmp_path: Path) -> None:
    """Module level (a browser adds nothing): an event file at a zip's top level is named
    after the zip (not ``unzipped``), one in a folder after the folder; the same bytes
    give the same ids in two uploads, and a re-read from the kept folder (after a run
    left memory) gives them again, so the kept run is found."""
    import io
    import zipfile

    from dashboard.uploads import read_upload, reread_upload

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.write(EVENT_FILE, EVENT_FILE.name)
        zf.write(EVENT_FILE, f"run_a/{EVENT_FILE.name}")
    data = buf.getvalue()
    one = read_upload("team_runs.zip", data, limit_bytes=2**20, keep_in=tmp_path)
    two = read_upload("renamed.zip", data, limit_bytes=2**20, keep_in=tmp_path)
    assert not one.errors and one.folder is not None
    assert sorted(r.meta.name for r in one.runs) == ["run_a", "team_runs"]
    assert sorted(r.meta.id for r in one.runs) == sorted(r.meta.id for r in two.runs)
    again = reread_upload(one.folder, "team_runs.zip")
    assert sorted(r.meta.id for r in again.runs) == sorted(r.meta.id for r in one.runs)
