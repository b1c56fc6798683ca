"""Upload with byte-level progress, in a real headless Chromium (issue 12).

The page's script (dashboard/assets/30_upload.js) sends each file raw to the upload
route with XMLHttpRequest and draws a Bootstrap progress bar of the bytes sent; a file
over the limit is refused in the browser, and the server must not see any request for
it (the werkzeug request log and the route's own log are read). The upload speed is
held to a few MiB/s with Chromium's own network throttling (DevTools protocol), so a
multi-MiB file takes long enough for the bar to move through its values.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser_fixtures import grid_row, open_page
from tests.test_dashboard_browser import _curves, write_jsonl

pytestmark = pytest.mark.browser
PAGE_TIMEOUT_MS = 90_000  # the page fixture's (tests/browser_fixtures.py)
LIMIT_MB = 4
INPUT = "#upload-files input[type=file]"
ROUTE = "/_lrtempo/upload"


@pytest.fixture(scope="module")
def app_args(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, Any]]:
    logs = tmp_path_factory.mktemp("logs")
    return [str(logs)], {"since_hours": 0, "upload_limit_mb": LIMIT_MB}


def write_big_csv(path: Path, mib: float, seed: int) -> Path:
    """A CSV log of about ``mib`` MiB: a loss that falls, then creeps up (overfitting)."""
    rows, i = [], 0
    size = len("step,loss,val_loss,lr\n")
    while size < mib * 2**20:
        line = (
            f"{i},{2.0 / (i + 1) + 0.01 + seed * 1e-4:.7f},{2.0 / (i + 1) + i * 1e-7:.7f},0.0003\n"
        )
        rows.append(line)
        size += len(line)
        i += 1
    path.write_text("step,loss,val_loss,lr\n" + "".join(rows))
    return path


def throttle_uploads(page, bytes_per_s: int) -> None:
    """Chromium's own network throttling: request bodies leave at ``bytes_per_s``."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": bytes_per_s},
    )


def watch_progress(page) -> None:
    """Record every value the progress bar and its line take (window.lrtSeen)."""
    page.evaluate("""() => {
        window.lrtSeen = [];
        new MutationObserver(() => {
            const bar = document.querySelector('#upload-progress .progress-bar');
            const box = document.querySelector('#upload-progress-box');
            if (!bar || !box || box.style.display === 'none') { return; }
            const seen = [Number(bar.getAttribute('aria-valuenow')), bar.textContent,
                          document.querySelector('#upload-pending').textContent];
            const last = window.lrtSeen[window.lrtSeen.length - 1];
            if (!last || last.join('|') !== seen.join('|')) { window.lrtSeen.push(seen); }
        }).observe(document.body, {subtree: true, childList: true, attributes: true,
                                   characterData: true});
    }""")


def route_posts(page) -> list[str]:
    """The upload route's requests the page makes (collected from now on)."""
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if ROUTE in r.url else None)
    return posts


def test_a_multi_mib_csv_shows_its_bytes_sent_up_to_100_percent(page, tmp_path: Path) -> None:
    big = write_big_csv(tmp_path / "long_run_overfits.csv", 3.5, seed=1)
    total = big.stat().st_size / 2**20
    open_page(page, "/upload")
    throttle_uploads(page, 2 * 2**20)  # ~1.7 s for the file
    watch_progress(page)
    posts = route_posts(page)
    assert not page.locator("#upload-progress-box").is_visible()
    page.locator(INPUT).set_input_files(str(big))
    ok = page.locator(".upload-ok").first
    ok.wait_for()
    assert "long_run_overfits.csv → long_run_overfits" in ok.inner_text()
    assert page.locator(".upload-error").count() == 0
    assert len(posts) == 1
    seen = page.evaluate("window.lrtSeen")
    values = [v for v, _, _ in seen]
    assert values == sorted(values), values  # never goes back
    assert values[-1] == 100 and seen[-1][1] == "100 %"
    moving = sorted({v for v in values if 0 < v < 100})
    assert len(moving) >= 5, seen  # the bar moved while the bytes were sent
    # The line says bytes sent of the total, in MiB, and the percent, as they were sent.
    lines = [line for _, _, line in seen if "sending long_run_overfits.csv" in line]
    assert lines, seen
    for line in lines:
        m = re.match(r"^(\d+\.\d) of (\d+\.\d) MiB sent \((\d+) %\) · ", line)
        assert m, line
        assert float(m.group(2)) == round(total, 1)
        # MiB shown to 0.05, percent floored: they agree within that rounding
        assert abs(float(m.group(1)) / total * 100 - int(m.group(3))) <= 5 / total + 1, line
    assert any("the server is reading long_run_overfits.csv" in line for _, _, line in seen)
    assert page.locator("#upload-progress .progress-bar").get_attribute("aria-valuenow") == "100"
    assert page.inner_text("#upload-pending") == ""  # the line goes with the results
    # The run is listed in Review with its verdict.
    page.goto(page.base + "/?window=all")
    row = grid_row(page, "long_run_overfits")
    row.wait_for()
    assert "long_run_overfits" in row.inner_text()


def test_files_over_the_limit_are_refused_in_the_browser_and_never_sent(
    page, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="werkzeug")
    caplog.set_level(logging.INFO, logger="dashboard.upload_route")
    over = write_big_csv(tmp_path / "over_limit.csv", LIMIT_MB + 0.5, seed=2)
    huge = tmp_path / "huge_export.csv"
    with open(huge, "wb") as fh:  # 1.5 GiB, sparse: only its size is ever read
        fh.truncate(3 * 2**29)
    small = write_jsonl(tmp_path / "small_ok.jsonl", _curves(200, overfit_at=None, seed=3, lr=1e-3))
    open_page(page, "/upload")
    posts = route_posts(page)
    page.locator(INPUT).set_input_files([str(over), str(huge), str(small)])
    refused = page.locator("#upload-refused .upload-error")
    refused.first.wait_for()
    texts = refused.all_inner_texts()
    over_mib = round(over.stat().st_size / 2**20, 2)
    assert texts == [
        f"over_limit.csv: {over_mib:g} MiB is over the {LIMIT_MB} MiB upload limit; not sent "
        "(checked in your browser)",
        f"huge_export.csv: 1.5 GiB is over the {LIMIT_MB} MiB upload limit; not sent "
        "(checked in your browser)",
    ]
    page.locator(".upload-ok").first.wait_for()  # the small file was sent and read
    assert "small_ok" in page.locator(".upload-ok").first.inner_text()
    assert len(posts) == 1 and page.locator(".upload-ok").count() == 1
    # The server saw one upload request: the small file's, nothing of the others.
    announced = [r.getMessage() for r in caplog.records if r.name == "dashboard.upload_route"]
    assert announced == [f"upload 'small_ok.jsonl': {small.stat().st_size} bytes announced"]
    served = [
        r.getMessage() for r in caplog.records if r.name == "werkzeug" and ROUTE in r.getMessage()
    ]
    assert len(served) == 1 and "POST" in served[0], served
    # Only refused files: nothing is sent at all, and no bar appears.
    caplog.clear()
    page.locator(INPUT).set_input_files(str(huge))
    page.wait_for_function(
        "() => document.querySelectorAll('#upload-refused .upload-error').length === 1"
    )
    assert "huge_export.csv: 1.5 GiB" in page.inner_text("#upload-refused")
    page.wait_for_timeout(500)
    assert len(posts) == 1
    assert not [r for r in caplog.records if ROUTE in r.getMessage() or r.name.endswith("route")]


def test_a_dropped_file_is_sent_and_read_and_a_bad_one_names_its_line(page) -> None:
    open_page(page, "/upload")
    posts = route_posts(page)
    lines = "".join(f'{{"step": {s}, "loss": {1 / (s + 1):.5f}}}\n' for s in range(300))
    drop = page.evaluate_handle(
        """([good]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([good], 'dropped_run.jsonl'));
            dt.items.add(new File(['step,loss\\n1,0.5\\n2,0.4\\n3,"open\\n4,0.3\\n'], 'broken.csv'));
            return dt;
        }""",
        [lines],
    )
    page.dispatch_event("#upload-files", "drop", {"dataTransfer": drop})
    page.locator(".upload-ok").first.wait_for()
    assert "dropped_run.jsonl → dropped_run" in page.locator(".upload-ok").first.inner_text()
    err = page.locator("#upload-results .upload-error").first
    assert err.inner_text().startswith("broken.csv: line 3: not a readable CSV table")
    assert len(posts) == 2
    assert page.locator("#upload-progress .progress-bar").get_attribute("aria-valuenow") == "100"


def test_leaving_the_page_while_a_file_is_sent_still_reads_it(page, tmp_path: Path) -> None:
    """The visitor goes on to Review while the bytes are sent: no script error, and the
    file is still read and kept (its run is listed in Review)."""
    big = write_big_csv(tmp_path / "left_behind.csv", 2.0, seed=6)
    open_page(page, "/upload")
    throttle_uploads(page, 1 * 2**20)  # ~2 s for the file
    with page.expect_request(lambda r: ROUTE in r.url) as sent:
        page.locator(INPUT).set_input_files(str(big))
    page.get_by_role("link", name="Review", exact=True).first.click()
    page.wait_for_selector("#review-grid")
    sent.value.response()  # the server answered: the file was read
    page.locator("#review-refresh").click()
    grid_row(page, "left_behind").wait_for()
