"""The upload route (``POST <prefix>_lrtempo/upload``, :mod:`dashboard.upload_route`) on
the real Flask server of a real app, through Flask's test client: raw bodies streamed to
disk and read by the page's one ingestion, the size limit and the credentials enforced
before a byte is read, errors naming the file and line, the app's URL prefix respected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from dashboard.auth import AuthConfig
from dashboard.store import STORE_KEY

MB = 2**20
URL = "/_lrtempo/upload"


def _csv(rows: int, seed: int = 0) -> bytes:
    return (
        "step,loss,val_loss,lr\n"
        + "".join(
            f"{i},{2.0 / (i + 1) + seed * 1e-3:.6f},{2.1 / (i + 1):.6f},0.001\n"
            for i in range(rows)
        )
    ).encode()


def _post(client: Any, name: str, body: bytes, url: str = URL, **headers: str) -> Any:
    return client.post(url, data=body, headers={"X-Upload-Name": quote(name), **headers})


@pytest.fixture
def app() -> Any:
    from dashboard.app import create_app

    app = create_app([], since_hours=0, upload_limit_mb=1)
    yield app
    app.server.config[STORE_KEY].uploads.close()


def test_a_raw_upload_is_read_kept_and_deduplicated(app) -> None:
    store = app.server.config[STORE_KEY]
    body = _csv(20_000)  # ~0.6 MiB: read in several chunks
    client = app.server.test_client()
    first = _post(client, "team run (é).csv", body)
    assert first.status_code == 200, first.get_json()
    (res,) = first.get_json()["results"]
    assert res["file"] == "team run (é).csv" and res["errors"] == [] and not res["same"]
    (rid,) = res["runs"]
    with app.server.test_request_context():
        run = store.get(rid)
    assert run is not None and run.meta.name == "team run (é)" and len(run.frame) > 0
    assert run.meta.location == "upload:team run (é).csv"
    again = _post(client, "renamed.csv", body).get_json()["results"][0]
    assert again["same"] and again["runs"] == [rid]  # the same content is one run
    kept = store.uploads.folder()
    assert [p.name for p in kept.iterdir() if p.name.startswith(".receiving-")] == []


def test_over_the_limit_is_refused_before_the_body_is_read(app) -> None:
    store = app.server.config[STORE_KEY]
    client = app.server.test_client()
    big = _post(client, "huge.csv", _csv(40_000) + b"9" * MB)
    assert big.status_code == 413
    (err,) = big.get_json()["results"][0]["errors"]
    assert err.startswith("huge.csv: ") and "over the 1 MiB upload limit" in err
    assert store.uploads.ids() == set()
    assert list(store.uploads.folder().iterdir()) == []  # nothing spooled


def test_a_bad_file_gets_an_error_naming_it_and_the_line(app) -> None:
    client = app.server.test_client()
    bad = b'step,loss\n1,0.5\n2,0.4\n3,"unterminated\n4,0.3\n'
    res = _post(client, "broken.csv", bad)
    assert res.status_code == 200
    (err,) = res.get_json()["results"][0]["errors"]
    assert err.startswith("broken.csv: line 3: ") and "lrtempo-upload" not in err
    # Cells a reader skipped are warnings on the run, naming the file and line too.
    res = _post(client, "some bad cells.csv", b"step,loss\n1,0.5\n2,abc\n3,0.4\n4,0.3\n")
    (rid,) = res.get_json()["results"][0]["runs"]
    with app.server.test_request_context():
        (warning,) = app.server.config[STORE_KEY].get(rid).warnings
    assert warning == "some bad cells.csv: line 3: text in numeric column 'loss', cells ignored"
    (err,) = _post(client, "notes.txt", b"hello\nworld\n").get_json()["results"][0]["errors"]
    assert err.startswith("notes.txt")
    (err,) = _post(client, "run.exe", b"MZ\x00").get_json()["results"][0]["errors"]
    assert "run.exe: unsupported file type '.exe'" in err
    empty = _post(client, "empty.csv", b"")
    assert empty.status_code == 400 and empty.get_json()["results"][0]["errors"] == [
        "empty.csv: the file is empty"
    ]


def test_requests_not_from_the_page_are_refused(app) -> None:
    client = app.server.test_client()
    no_name = client.post(URL, data=_csv(10))
    assert (
        no_name.status_code == 400
        and "X-Upload-Name" in no_name.get_json()["results"][0]["errors"][0]
    )
    cross = _post(client, "a.csv", _csv(10), **{"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    assert "another site" in cross.get_json()["results"][0]["errors"][0]
    assert app.server.config[STORE_KEY].uploads.ids() == set()


def test_the_route_asks_for_the_same_credentials_as_every_page() -> None:
    from dashboard.app import create_app

    auth = AuthConfig(
        users={"ann": "pw-ann", "bob": "pw-bob"}, writers=frozenset({"bob"}), source="test"
    )
    app = create_app([], since_hours=0, upload_limit_mb=1, auth=auth)
    client = app.server.test_client()
    body = _csv(50)
    try:
        assert _post(client, "a.csv", body).status_code == 401
        wrong = {"Authorization": "Basic " + __import__("base64").b64encode(b"ann:nope").decode()}
        assert _post(client, "a.csv", body, **wrong).status_code == 401
        assert app.server.config[STORE_KEY].uploads.ids() == set()
        # A reader may upload, as on the Upload page (whose callback has no role check).
        ann = {"Authorization": "Basic " + __import__("base64").b64encode(b"ann:pw-ann").decode()}
        ok = _post(client, "a.csv", body, **ann)
        assert ok.status_code == 200 and len(ok.get_json()["results"][0]["runs"]) == 1
    finally:
        app.server.config[STORE_KEY].uploads.close()


def test_the_route_and_the_page_follow_the_apps_url_prefix(monkeypatch) -> None:
    import dash

    from dashboard.app import create_app

    monkeypatch.setenv("DASH_URL_BASE_PATHNAME", "/tempo/")
    app = create_app([], since_hours=0, upload_limit_mb=1)
    try:
        client = app.server.test_client()
        assert _post(client, "a.csv", _csv(50)).status_code == 404
        res = _post(client, "a.csv", _csv(50), url="/tempo" + URL)
        assert res.status_code == 200 and res.get_json()["results"][0]["runs"]
        page = dash.page_registry["pages.upload"]
        with app.server.test_request_context("/tempo/upload"):
            layout = page["layout"]()
        (box,) = [c for c in layout.children if getattr(c, "id", None) == "upload-box"]
        props = box.to_plotly_json()["props"]
        assert props["data-upload-url"] == "/tempo/_lrtempo/upload"
        assert props["data-upload-limit"] == str(MB)
    finally:
        app.server.config[STORE_KEY].uploads.close()


def test_the_callback_path_and_the_route_share_one_ingestion(app, tmp_path: Path) -> None:
    """A file sent as base64 (dashboard.upload_views.handle_uploads) and then raw gives one run."""
    import base64

    from dashboard import upload_views

    body = _csv(200, seed=3)
    with app.server.test_request_context():
        items = upload_views.handle_uploads(
            ["data:;base64," + base64.b64encode(body).decode()], ["by_callback.csv"]
        )
    assert "upload-ok" in str(items)
    (first,) = app.server.config[STORE_KEY].uploads.ids()
    res = _post(app.server.test_client(), "by_route.csv", body).get_json()["results"][0]
    assert res["same"] and res["runs"] == [first]
