"""Retries against a real server that fails on purpose: what is retried, what is not."""

from __future__ import annotations

import hashlib
import socket
import time

import pytest
import urllib3.connection

from caldbio import (
    AuthError,
    CaDBIO,
    Forbidden,
    NotFound,
    ServerError,
    TransportError,
    ValidationFailed,
)
from tests.client.flaky import Answer, flaky_server

CONTENT = b"SIMPLE  =                    T" + b" " * 2850
SHA = hashlib.sha256(CONTENT).hexdigest()


def dataset_document(**changes):
    document = {
        "id": 1,
        "telescop": "SVOM",
        "instrume": "MXT",
        "detnam": "NONE",
        "filter": "NONE",
        "cal_dev": "ONLINE",
        "cal_dir": "data/svom/mxt/bcf/gain",
        "cal_file": "mxt_gain_v1.fits",
        "cal_clas": "BCF",
        "cal_dtyp": "DATA",
        "cal_cnam": "GAIN",
        "cal_cbd": ["NONE"] * 9,
        "cal_xno": 1,
        "cal_vsd": "2024-06-22",
        "cal_vst": "00:00:00",
        "ref_time": 60483.0,
        "cal_qual": 0,
        "cal_date": "2024-06-01",
        "cal_desc": "MXT gain",
        "file_id": 7,
        "sha256": SHA,
        "size": len(CONTENT),
        "url": "http://elsewhere.invalid/api/v1/files/7/content",
        "indexed_at": "2026-11-21T10:00:00+00:00",
        "indexed_by": "alice",
    }
    return document | changes


def search_answer():
    return Answer.json({"nfound": 1, "results": [dataset_document()], "answered_at": None})


def client_for(flaky, tmp_path, **options):
    options = {"max_tries": 3, "backoff_s": 0.01, "timeout": (1.0, 0.5)} | options
    return CaDBIO(flaky.url, cache_dir=tmp_path / "cache", use_tokens=False, **options)


def test_503_twice_then_success_is_one_answer(tmp_path):
    with flaky_server() as flaky:
        flaky.plan = [Answer(503), Answer(503), search_answer()]
        results = client_for(flaky, tmp_path).search("MXT", "gain")
    assert [r.cal_file for r in results] == ["mxt_gain_v1.fits"]
    assert len(flaky.requests) == 3


def test_retry_after_is_honoured(tmp_path):
    with flaky_server() as flaky:
        flaky.plan = [Answer(429, headers={"Retry-After": "1"}), search_answer()]
        started = time.monotonic()
        client_for(flaky, tmp_path).search("MXT", "gain")
        waited = time.monotonic() - started
    assert len(flaky.requests) == 2
    assert waited >= 0.9  # the server asked for one second; backoff alone is 10 ms


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ValidationFailed),
        (401, AuthError),
        (403, Forbidden),
        (404, NotFound),
        (422, ValidationFailed),
    ],
)
def test_other_4xx_are_never_retried(tmp_path, status, kind):
    problem = {
        "type": "urn:svom-caldb:problem:x",
        "title": "Refused",
        "status": status,
        "detail": "no",
        "errors": [{"field": "date", "reason": "is not a date"}],
    }
    with flaky_server() as flaky:
        flaky.plan = [Answer.json(problem, status), search_answer()]
        with pytest.raises(kind) as raised:
            client_for(flaky, tmp_path).search("MXT", "gain")
    assert len(flaky.requests) == 1
    assert raised.value.status == status
    assert raised.value.detail.startswith("no")
    assert raised.value.errors == problem["errors"]


def test_exhausted_retries_on_429_raise_server_error(tmp_path):
    with flaky_server() as flaky:
        flaky.plan = [Answer(429), Answer(429), Answer(429), search_answer()]
        with pytest.raises(ServerError) as raised:
            client_for(flaky, tmp_path).search("MXT", "gain")
    assert raised.value.status == 429
    assert len(flaky.requests) == 3


def test_reset_connections_are_retried(tmp_path):
    with flaky_server() as flaky:
        flaky.plan = [Answer(failure="reset"), Answer(failure="reset"), search_answer()]
        results = client_for(flaky, tmp_path).search("MXT", "gain")
    assert len(results) == 1
    assert len(flaky.requests) == 3


def test_a_stalled_answer_times_out_and_is_retried(tmp_path):
    with flaky_server() as flaky:
        flaky.plan = [Answer(failure="stall", stall_s=1.5), search_answer()]
        results = client_for(flaky, tmp_path).search("MXT", "gain")
    assert len(results) == 1
    assert len(flaky.requests) == 2


def test_a_refused_connection_is_a_transport_error(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    client = CaDBIO(
        f"http://127.0.0.1:{port}",
        cache_dir=tmp_path,
        max_tries=2,
        backoff_s=0.01,
        use_tokens=False,
    )
    with pytest.raises(TransportError) as raised:
        client.search("MXT", "gain")
    assert "after 2 attempt(s)" in str(raised.value)
    assert raised.value.status is None


def test_a_truncated_download_is_fetched_again(tmp_path):
    with flaky_server() as flaky:
        flaky.plan = [
            search_answer(),
            Answer(200, CONTENT, failure="truncate"),
            Answer(200, CONTENT),
        ]
        results = client_for(flaky, tmp_path).search("MXT", "gain", download_path=tmp_path / "here")
    assert results[0].local_path.read_bytes() == CONTENT
    content_requests = [path for _m, path, _h in flaky.requests if path.endswith("/content")]
    assert content_requests == ["/api/v1/files/7/content"] * 2  # our server, not the url field
    assert not list((tmp_path / "cache" / "objects").rglob(".tmp-*"))


def test_corrupt_bytes_are_never_kept(tmp_path):
    with flaky_server() as flaky:
        flaky.plan = [search_answer()] + [Answer(200, CONTENT[::-1])] * 3
        with pytest.raises(TransportError, match="intact"):
            client_for(flaky, tmp_path).search("MXT", "gain", download_path=tmp_path / "here")
    assert len(flaky.requests) == 4
    assert [
        p for p in (tmp_path / "cache").rglob("*") if p.is_file() and "locks" not in p.parts
    ] == []
    assert not (tmp_path / "here").exists() or list((tmp_path / "here").iterdir()) == []


@pytest.fixture
def connection_attempts(monkeypatch):
    """Every new connection urllib3 opens (to a closed port, each one is refused)."""
    attempts = []
    open_connection = urllib3.connection.HTTPConnection._new_conn

    def counting(connection):
        attempts.append((connection.host, connection.port))
        return open_connection(connection)

    monkeypatch.setattr(urllib3.connection.HTTPConnection, "_new_conn", counting)
    return attempts


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again: nothing listens there


@pytest.mark.parametrize(("offline", "attempts"), [("auto", 1), ("off", 4)])
def test_a_refused_connection_is_retried_only_when_there_is_no_offline_fallback(
    tmp_path, connection_attempts, offline, attempts
):
    port = closed_port()
    client = CaDBIO(
        f"http://127.0.0.1:{port}",
        cache_dir=tmp_path,
        max_tries=4,
        backoff_s=0.01,
        use_tokens=False,
        offline=offline,
    )
    with pytest.raises(TransportError) as raised:
        client.health()
    assert connection_attempts == [("127.0.0.1", port)] * attempts
    message = str(raised.value)
    assert ("not retried" in message) is (offline == "auto")
    assert "Connection refused" in message
    assert "Errno" not in message


@pytest.mark.parametrize(
    "failures",
    [[Answer(503), Answer(503)], [Answer(429), Answer(502)], [Answer(failure="reset")] * 2],
    ids=["503", "429 and 502", "reset"],
)
def test_in_auto_mode_what_a_server_answers_is_still_retried(tmp_path, failures):
    with flaky_server() as flaky:
        flaky.plan = [*failures, search_answer()]
        results = client_for(flaky, tmp_path, offline="auto").search("MXT", "gain")
    assert [r.cal_file for r in results] == ["mxt_gain_v1.fits"]
    assert len(flaky.requests) == 3


def upload_answer():
    document = {"created": True, "file_id": 7, "sha256": SHA, "datasets": [dataset_document()]}
    return Answer.json(document, 201)


@pytest.mark.parametrize(
    "failures",
    [[Answer(503)], [Answer(failure="reset")], [Answer(502), Answer(failure="reset")]],
    ids=["503", "reset", "502 then reset"],
)
def test_a_retried_upload_sends_the_whole_body_again(tmp_path, failures):
    path = tmp_path / "mxt_gain_v1.fits"
    path.write_bytes(CONTENT)
    with flaky_server() as flaky:
        flaky.plan = [*failures, upload_answer()]
        result = client_for(flaky, tmp_path, progress=True).upload(path, supersede=True)
    assert result.created
    assert result.sha256 == SHA
    assert len(flaky.bodies) == len(failures) + 1
    first = flaky.bodies[0]
    assert all(body == first for body in flaky.bodies)  # each attempt from the first byte
    for _, _, headers in flaky.requests:
        assert int(headers["Content-Length"]) == len(first)
        assert headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert first.count(CONTENT) == 1
    assert b'name="supersede"\r\n\r\ntrue\r\n' in first
    assert b'name="file"; filename="mxt_gain_v1.fits"' in first
