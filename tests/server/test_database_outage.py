"""Losing the database: 503 with ``Retry-After`` while it is gone, full recovery after.

The server reaches PostgreSQL through a TCP proxy started by the test (:mod:`tests.tcp_proxy`),
never by stopping the machine's PostgreSQL: ``cut()`` resets every connection and refuses new
ones, ``restore()`` lets them through again, and ``cut_on(statement)`` loses the database at a
chosen statement of a unit of work (the INSERT of an upload, its COMMIT...).

PostgreSQL only: the embedded SQLite default is a file opened by the server process itself,
with no connection that could be lost, so these tests do not apply to it.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from caldb_server import create_app
from caldb_server.devserver import closing_responses
from caldb_server.fsck import fsck
from caldb_server.web import extension
from tests.helpers import MXT_GAIN, add_user, calfile_bytes, tree_files
from tests.tcp_proxy import TcpProxy

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]

# The simple-query message psycopg sends to commit ('Q', length 11, "COMMIT\0"): the pattern
# must not match "READ COMMITTED" in a BEGIN.
PG_COMMIT = b"Q\x00\x00\x00\x0bCOMMIT\x00"
# The server's answer to it ('C' CommandComplete "COMMIT"): the commit was carried out.
PG_COMMITTED = b"C\x00\x00\x00\x0bCOMMIT\x00"
ONBOARD_NAME = "MXT_EVTTHR_20250301T120000_V01.yaml"
TIMEOUT = 30


@pytest.fixture
def proxy(database_url: str) -> Iterator[TcpProxy]:
    """A proxy in front of the test PostgreSQL."""
    url = make_url(database_url)
    if url.host not in ("127.0.0.1", "localhost", "::1"):
        pytest.skip(f"the proxy forwards to a loopback PostgreSQL, not {url.host!r}")
    with TcpProxy((url.host, url.port or 5432)) as running:
        yield running


@pytest.fixture
def server(
    app_config: dict[str, Any], database_url: str, proxy: TcpProxy
) -> Iterator[tuple[Flask, str]]:
    """The app as in production (not TESTING), its database reached through the proxy."""
    through_proxy = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    config = app_config | {
        "DATABASE_URL": through_proxy.render_as_string(hide_password=False),
        "TESTING": False,
    }
    app = create_app(config)
    http = make_server("127.0.0.1", 0, closing_responses(app), threaded=True)
    thread = threading.Thread(target=http.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        thread.join()
        http.server_close()
        extension(app).database.dispose()


def gain_file(day: int) -> bytes:
    """A new MXT GAIN dataset, valid from June ``day``, 2025."""
    return calfile_bytes(MXT_GAIN | {"CVSD0001": f"2025-06-{day:02d}"})


Request = tuple[str, str, dict[str, Any]]  # method, path, requests keyword arguments


def fetch(http: requests.Session, base: str, request: Request) -> requests.Response:
    """Send one request and read its whole answer."""
    method, path, kwargs = request
    with http.request(method, base + path, timeout=TIMEOUT, **kwargs) as response:
        response.content  # noqa: B018 - read it all before the connection is released
    return response


def upload(uploader: dict[str, str], name: str, content: bytes) -> Request:
    """The upload of ``content`` as ``name``."""
    return ("POST", "/api/v1/files", {"headers": uploader, "files": {"file": (name, content)}})


def quality_change(uploader: dict[str, str], dataset_id: int, reason: str) -> Request:
    """The change of a dataset's quality to 5, for ``reason``."""
    body = {"cal_qual": 5, "reason": reason}
    return ("PATCH", f"/api/v1/datasets/{dataset_id}", {"headers": uploader, "json": body})


def assert_unavailable(response: requests.Response, what: str) -> None:
    """A 503 that tells the client to come back, and shows nothing of the server's insides."""
    assert response.status_code == 503, (what, response.status_code, response.text)
    assert response.headers.get("Retry-After", "").isdigit(), (what, dict(response.headers))
    assert int(response.headers["Retry-After"]) > 0
    assert "Traceback" not in response.text, what
    assert "psycopg" not in response.text, what
    assert "OperationalError" not in response.text, what
    body = response.json()
    if what.endswith("/health"):  # the documented Health document, 503
        assert body["database"] == "unreachable", body
        return
    assert response.headers["Content-Type"].startswith("application/problem+json"), what
    assert body["status"] == 503, (what, body)
    assert body["title"]
    assert body["detail"]


@pytest.fixture
def catalogue(
    server: tuple[Flask, str], uploader: dict[str, str], make_token: Callable[..., str]
) -> dict[str, Any]:
    """One stored dataset, a user of the built-in issuer, and the requests to try."""
    app, base = server
    add_user(extension(app).database, "bob", "bob-password-123", role="uploader")
    with requests.Session() as http:
        response = fetch(http, base, upload(uploader, "a.fits", gain_file(1)))
    assert response.status_code == 201, response.text
    stored = response.json()
    file_id, dataset_id = stored["file_id"], stored["datasets"][0]["id"]
    admin = {"Authorization": f"Bearer {make_token('admin', subject='root')}"}
    onboard = b"event_threshold_adu: 40\nsplit_threshold_adu: 20\nupper_threshold_adu: 3000\n"
    onboarded = {"headers": uploader, "files": {"file": (ONBOARD_NAME, onboard)}}
    login = {"json": {"username": "bob", "password": "bob-password-123"}}
    mxt, mxt_gain = {"instrument": "MXT"}, {"instrument": "MXT", "codename": "GAIN"}
    requests_needing_the_database: dict[str, tuple[Request, int]] = {
        # name: (request, status once the database is back)
        "GET /api/v1/health": (("GET", "/api/v1/health", {}), 200),
        "GET /api/v1/search": (("GET", "/api/v1/search", {"params": mxt_gain}), 200),
        "GET /api/v1/datasets": (("GET", "/api/v1/datasets", {"params": mxt}), 200),
        "GET /api/v1/datasets/<id>": (("GET", f"/api/v1/datasets/{dataset_id}", {}), 200),
        "GET /api/v1/files/<id>/content": (("GET", f"/api/v1/files/{file_id}/content", {}), 200),
        "GET /api/v1/instruments": (("GET", "/api/v1/instruments", {}), 200),
        "GET /caldb/.../caldb.indx": (("GET", "/caldb/data/svom/mxt/caldb.indx", {}), 200),
        "GET /caldb/<CAL_DIR>/<CAL_FILE>": (
            ("GET", "/caldb/data/svom/mxt/bcf/gain/a.fits", {}),
            200,
        ),
        "POST /api/v1/auth/token": (("POST", "/api/v1/auth/token", login), 200),
        "GET /api/v1/auth/whoami": (("GET", "/api/v1/auth/whoami", {"headers": uploader}), 200),
        "GET /api/v1/auth/tokens": (("GET", "/api/v1/auth/tokens", {"headers": admin}), 200),
        "PATCH /api/v1/datasets/<id>": (quality_change(uploader, dataset_id, "outage test"), 200),
        "POST /api/v1/files": (upload(uploader, "b.fits", gain_file(2)), 201),
        "POST /api/v1/onboard": (("POST", "/api/v1/onboard", onboarded), 201),
    }
    return {"file_id": file_id, "dataset_id": dataset_id, "requests": requests_needing_the_database}


def visible_state(http: requests.Session, base: str, root: Path, dataset_id: int) -> dict[str, Any]:
    """What clients and the tree show: catalogue, the dataset's quality, files on disk."""
    listing = fetch(http, base, ("GET", "/api/v1/datasets", {"params": {"instrument": "MXT"}}))
    dataset = fetch(http, base, ("GET", f"/api/v1/datasets/{dataset_id}", {}))
    assert listing.status_code == dataset.status_code == 200
    return {
        "datasets": sorted((d["cal_file"], d["sha256"]) for d in listing.json()["datasets"]),
        "quality": dataset.json()["cal_qual"],
        "history": dataset.json()["quality_history"],
        "tree": tree_files(root),
    }


def fsck_findings(app: Flask) -> tuple[bool, list[tuple[str, str]]]:
    """fsck of the app's catalogue and tree: consistent?, and every finding."""
    services = extension(app)
    with services.database.unit_of_work(write=False) as session:
        report = fsck(session, services.storage, services.registry)
    return report.consistent, [(f.kind, f.path) for f in report.findings]


def lose_the_database_during(
    http: requests.Session, base: str, proxy: TcpProxy, request: Request, statement: bytes
) -> None:
    """Lose the database at ``statement`` of ``request``: the client gets a 503; restore it.

    ``statement`` is sent by the server to PostgreSQL, but for ``PG_COMMITTED``, PostgreSQL's
    answer: the database is then lost once the COMMIT was carried out.
    """
    from_server = statement == PG_COMMITTED
    proxy.cut_on(statement, from_server=from_server)
    response = fetch(http, base, request)
    assert proxy.tripped.is_set(), (
        f"{statement!r} was never {'answered' if from_server else 'sent'}"
    )
    method, path, _ = request
    assert_unavailable(response, f"{method} {re.sub(r'/[0-9]+$', '/<id>', path)}")
    proxy.restore()


def assert_changed_once(after: dict[str, Any], reason: str) -> None:
    """The dataset's quality is 5, changed once from 0 for ``reason``."""
    assert after["quality"] == 5
    assert [(h["old_qual"], h["new_qual"], h["reason"]) for h in after["history"]] == [
        (0, 5, reason)
    ]


def test_every_request_needing_the_database_answers_503_then_recovers(
    server: tuple[Flask, str], proxy: TcpProxy, catalogue: dict[str, Any], root: Path
) -> None:
    app, base = server
    with requests.Session() as http:
        before = visible_state(http, base, root, catalogue["dataset_id"])

        proxy.cut()
        for name, (request, _status) in catalogue["requests"].items():
            assert_unavailable(fetch(http, base, request), name)
        # The server itself is alive: what needs no database still answers.
        assert fetch(http, base, ("GET", "/api/v1/openapi.json", {})).status_code == 200
        proxy.restore()

        # Nothing of the refused writes is stored: no row, no file, no part in .incoming.
        assert visible_state(http, base, root, catalogue["dataset_id"]) == before
        assert fsck_findings(app) == (True, [])

        # The same server answers every request again, at the first try.
        for name, (request, status) in catalogue["requests"].items():
            response = fetch(http, base, request)
            assert response.status_code == status, (name, response.text)
        content = fetch(http, base, ("GET", f"/api/v1/files/{catalogue['file_id']}/content", {}))
        assert content.content == gain_file(1)
    assert fsck_findings(app) == (True, [])


def test_a_short_loss_costs_no_request_once_the_database_is_back(
    server: tuple[Flask, str], proxy: TcpProxy, catalogue: dict[str, Any]
) -> None:
    """Pooled connections that died while nobody asked are not handed to requests."""
    _app, base = server
    reads = [name for name, (request, _) in catalogue["requests"].items() if request[0] == "GET"]
    with requests.Session() as http:
        for name in reads:  # warm the pool: every connection is now idle and will die
            assert fetch(http, base, catalogue["requests"][name][0]).status_code == 200
        proxy.cut()
        proxy.restore()
        for name in reads:
            response = fetch(http, base, catalogue["requests"][name][0])
            assert response.status_code == 200, (name, response.status_code, response.text)


@pytest.mark.parametrize(
    "statement",
    [b"INSERT INTO calibration_files", b"INSERT INTO datasets", PG_COMMIT],
    ids=["insert-file", "insert-dataset", "commit"],
)
def test_database_lost_in_the_middle_of_an_upload(
    server: tuple[Flask, str],
    proxy: TcpProxy,
    catalogue: dict[str, Any],
    root: Path,
    uploader: dict[str, str],
    statement: bytes,
) -> None:
    app, base = server
    content = gain_file(3)
    request = upload(uploader, "lost.fits", content)
    with requests.Session() as http:
        before = visible_state(http, base, root, catalogue["dataset_id"])
        lose_the_database_during(http, base, proxy, request, statement)
        after = visible_state(http, base, root, catalogue["dataset_id"])
        # Not visible anywhere: not listed, not served, not searchable.
        assert after["datasets"] == before["datasets"]
        tree = fetch(http, base, ("GET", "/caldb/data/svom/mxt/bcf/gain/lost.fits", {}))
        assert tree.status_code == 404
        # Only a lost COMMIT leaves the renamed file behind: its outcome was unknown to the
        # server (the database may have committed). It is invisible, and fsck notes it.
        leftover = set(after["tree"]) - set(before["tree"])
        consistent, findings = fsck_findings(app)
        assert consistent
        if statement == PG_COMMIT:
            assert leftover <= {"data/svom/mxt/bcf/gain/lost.fits"}
            assert set(findings) <= {("stray", "data/svom/mxt/bcf/gain/lost.fits")}
        else:
            assert leftover == set()
            assert findings == []

        # The client's retry stores it, byte for byte, and leaves nothing aside.
        retried = fetch(http, base, request)
        assert retried.status_code == 201, retried.text
        assert retried.json()["sha256"] == hashlib.sha256(content).hexdigest()
        served = fetch(
            http, base, ("GET", f"/api/v1/files/{retried.json()['file_id']}/content", {})
        )
        assert served.content == content
    assert fsck_findings(app) == (True, [])


@pytest.mark.parametrize(
    "statement",
    [b"UPDATE datasets", b"INSERT INTO quality_changes", PG_COMMIT],
    ids=["update-dataset", "insert-history", "commit"],
)
def test_database_lost_in_the_middle_of_a_quality_change(
    server: tuple[Flask, str],
    proxy: TcpProxy,
    catalogue: dict[str, Any],
    root: Path,
    uploader: dict[str, str],
    statement: bytes,
) -> None:
    _app, base = server
    dataset_id = catalogue["dataset_id"]
    change = quality_change(uploader, dataset_id, "lost with the database")
    with requests.Session() as http:
        before = visible_state(http, base, root, dataset_id)
        lose_the_database_during(http, base, proxy, change, statement)
        assert visible_state(http, base, root, dataset_id) == before  # quality and history

        retried = fetch(http, base, change)
        assert retried.status_code == 200, retried.text
        after = visible_state(http, base, root, dataset_id)
    assert_changed_once(after, "lost with the database")


def test_an_upload_committed_whose_answer_was_lost_is_kept_whole(
    server: tuple[Flask, str],
    proxy: TcpProxy,
    catalogue: dict[str, Any],
    root: Path,
    uploader: dict[str, str],
) -> None:
    """The server cannot tell a lost COMMIT from a lost answer: it keeps the renamed file."""
    app, base = server
    content = gain_file(4)
    request = upload(uploader, "committed.fits", content)
    with requests.Session() as http:
        lose_the_database_during(http, base, proxy, request, PG_COMMITTED)
        # It was committed: listed, served whole, and the tree agrees with the catalogue.
        listed = dict(visible_state(http, base, root, catalogue["dataset_id"])["datasets"])
        assert listed["committed.fits"] == hashlib.sha256(content).hexdigest()
        served = fetch(http, base, ("GET", "/caldb/data/svom/mxt/bcf/gain/committed.fits", {}))
        assert served.status_code == 200
        assert served.content == content
        assert fsck_findings(app) == (True, [])

        # The client's retry learns it is there.
        retried = fetch(http, base, request)
        assert retried.status_code == 200, retried.text
        assert retried.json()["created"] is False
    assert fsck_findings(app) == (True, [])


def test_a_quality_change_committed_whose_answer_was_lost_is_applied_once(
    server: tuple[Flask, str],
    proxy: TcpProxy,
    catalogue: dict[str, Any],
    root: Path,
    uploader: dict[str, str],
) -> None:
    _app, base = server
    dataset_id = catalogue["dataset_id"]
    change = quality_change(uploader, dataset_id, "answer lost")
    with requests.Session() as http:
        lose_the_database_during(http, base, proxy, change, PG_COMMITTED)
        assert visible_state(http, base, root, dataset_id)["quality"] == 5

        retried = fetch(http, base, change)  # the client retries: a no-op now
        assert retried.status_code == 200, retried.text
        after = visible_state(http, base, root, dataset_id)
    assert_changed_once(after, "answer lost")
