"""Offline mode: ``sync`` copies a catalogue into the cache, and searches then answer alike.

An online client and an offline one (same cache, the URL of a closed port) are asked the
same questions; the offline client must give the same datasets, materialize their files
from the cache, and refuse clearly what its copy cannot answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import socket

import pytest
import urllib3.connection

from caldbio import NotFound, TransportError, ValidationFailed
from tests.helpers import MXT_GAIN, calfile_bytes

DATES = ["2024-01-01", "2024-12-01", "2025-04-01", "2025-07-01", "-", "now"]
CODENAMES = ["GAIN", "teldef", "CTI"]
MXT_FILES = {
    "gain_v1.fits": MXT_GAIN | {"CVSD0001": "2024-06-22"},
    "gain_v2.fits": MXT_GAIN | {"CVSD0001": "2025-06-01", "CDES0001": "MXT gain, epoch 2"},
    "gain_v3.fits": MXT_GAIN | {"CVSD0001": "2025-03-01", "CDES0001": "MXT gain, found bad"},
    "teldef_v1.fits": MXT_GAIN | {"CCNM0001": "TELDEF", "CDES0001": "MXT teldef"},
}
ECL_GAIN = MXT_GAIN | {"INSTRUME": "ECL", "CDES0001": "ECLAIRs per-pixel gain"}


def closed_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def content_paths(server):
    return [path for path in server.meter.paths if path.endswith("/content")]


@pytest.fixture
def catalogue(make_client, make_token, tmp_path):
    """The MXT files uploaded (gain_v3 then marked bad); their bytes by name."""
    uploader = make_client(token=make_token("uploader"))
    contents = {}
    for name, keywords in MXT_FILES.items():
        contents[name] = calfile_bytes(keywords)
        (tmp_path / name).write_bytes(contents[name])
        result = uploader.upload(tmp_path / name)
        assert result.created
        if name == "gain_v3.fits":
            uploader.set_quality(result.datasets[0].id, 5, "gain drift found in flight data")
    return contents


@pytest.fixture
def synced(catalogue, make_client, server):
    """``sync("MXT")`` done into the shared cache; returns the online client."""
    online = make_client()
    index = online.sync("MXT")
    assert index.instrument == "MXT"
    assert index.codenames == ()
    assert len(index.datasets) == 4  # every quality is copied
    return online


def test_sync_writes_the_copy_and_fetches_only_the_good_files(synced, catalogue, server):
    path = synced.cache.root / "index" / "svom" / "mxt.json"
    document = json.loads(path.read_text())
    assert document["instrument"] == "MXT"
    assert document["url"] == server.url
    assert sorted(d["cal_file"] for d in document["datasets"]) == sorted(MXT_FILES)
    assert {d["cal_qual"] for d in document["datasets"]} == {0, 5}
    good = ["gain_v1.fits", "gain_v2.fits", "teldef_v1.fits"]
    assert server.meter.content_bytes == sum(len(catalogue[name]) for name in good)
    assert len(content_paths(server)) == 3
    for name in good:
        sha = hashlib.sha256(catalogue[name]).hexdigest()
        assert synced.cache.lookup(sha) is not None
    assert synced.cache.lookup(hashlib.sha256(catalogue["gain_v3.fits"]).hexdigest()) is None
    served = server.meter.content_bytes
    synced.sync("MXT")  # a second sync moves no file bytes
    assert server.meter.content_bytes == served


def test_offline_answers_like_online(synced, make_client, server):
    offline = make_client(offline=True, url=closed_url())
    assert offline.offline_mode == "on"
    checked = 0
    for date in DATES:
        for codename in CODENAMES:
            online_answer = synced.search_answer("MXT", codename, date)
            offline_answer = offline.search_answer("mxt", codename, date)
            where = (date, codename)
            assert offline_answer.nfound == online_answer.nfound, where
            assert offline_answer.results == online_answer.results, where
            checked += bool(online_answer.results)
    assert checked >= 8  # the grid is not trivially empty
    for maxret in (1, 2):
        online_answer = synced.search_answer("MXT", "GAIN", "-", maxret=maxret)
        offline_answer = offline.search_answer("MXT", "GAIN", "-", maxret=maxret)
        assert len(offline_answer.results) == maxret
        assert (offline_answer.nfound, offline_answer.results) == (
            online_answer.nfound,
            online_answer.results,
        )
    expected = {
        "2024-12-01": ["gain_v1.fits"],
        "2025-04-01": ["gain_v1.fits"],  # gain_v3 is bad
        "2025-07-01": ["gain_v2.fits"],
        "2024-01-01": [],
    }
    for date, names in expected.items():
        assert [d.cal_file for d in offline.search("MXT", "GAIN", date)] == names, date


def test_offline_downloads_come_from_the_cache(synced, catalogue, make_client, server, tmp_path):
    paths_before, bytes_before = list(server.meter.paths), server.meter.content_bytes
    offline = make_client(offline=True, url=closed_url())
    work = tmp_path / "work"
    (found,) = offline.search("MXT", "GAIN", "2025-07-01", download_path=work)
    assert found.local_path == work / "gain_v2.fits"
    assert found.local_path.read_bytes() == catalogue["gain_v2.fits"]
    (teldef,) = offline.search("MXT", "TELDEF", "now", download_path=work)
    assert teldef.local_path.read_bytes() == catalogue["teldef_v1.fits"]
    assert (server.meter.paths, server.meter.content_bytes) == (paths_before, bytes_before)


def test_a_codename_left_out_of_the_sync_is_not_found(catalogue, make_client, tmp_path):
    partial = tmp_path / "partial-cache"
    index = make_client(cache_dir=partial).sync("MXT", ["gain"])
    assert index.codenames == ("GAIN",)
    offline = make_client(offline=True, url=closed_url(), cache_dir=partial)
    assert [d.cal_file for d in offline.search("MXT", "GAIN", "2025-07-01")] == ["gain_v2.fits"]
    with pytest.raises(NotFound, match="TELDEF was not synced"):
        offline.search("MXT", "TELDEF", "now")


def test_syncing_an_unknown_instrument_is_refused_and_writes_nothing(make_client, tmp_path):
    client = make_client(cache_dir=tmp_path / "empty-cache")
    with pytest.raises(NotFound, match="knows no instrument SVOM NOPE"):
        client.sync("NOPE")
    with pytest.raises(NotFound, match="knows no instrument XMM MXT"):
        client.sync("MXT", mission="XMM")
    assert not (tmp_path / "empty-cache" / "index").exists()


def test_unknown_names_are_refused_offline_as_online(synced, make_client):
    """The copy knows the registry's codenames; it cannot tell unknown from unsynced."""
    offline = make_client(offline=True, url=closed_url())
    for client in (synced, offline):
        with pytest.raises(NotFound, match="unknown codename GAINS of MXT") as raised:
            client.search("MXT", "GAINS", "now")
        assert "EVTTHR" in raised.value.errors[0]["known"]
        assert "GAIN, MXT" not in str(raised.value)
        assert client.search("MXT", "CTI", "2025-07-01") == []  # registered, nothing valid
    with pytest.raises(NotFound, match="unknown instrument MXR of SVOM; known instruments"):
        synced.search("MXR", "GAIN", "now")
    with pytest.raises(NotFound, match=r"\(synced: MXT\); it is unknown to the CalDB or"):
        offline.search("MXR", "GAIN", "now")


def test_copies_without_the_known_codenames_accept_any(synced, make_client, tmp_path):
    """A copy written before the copies kept the known codenames answers nfound 0."""
    path = next((synced.cache.root / "index").rglob("mxt.json"))
    document = json.loads(path.read_text())
    del document["known_codenames"]
    path.write_text(json.dumps(document))
    offline = make_client(offline=True, url=closed_url())
    assert offline.search("MXT", "GAINS", "now") == []


def test_what_the_copy_cannot_answer_is_refused_clearly(synced, make_client):
    offline = make_client(offline=True, url=closed_url())
    with pytest.raises(NotFound, match="run 'caldbio sync VT'"):
        offline.search("VT", "BIAS", "now")
    with pytest.raises(NotFound, match="as_of"):
        offline.search("MXT", "GAIN", "2025-07-01", as_of="2025-01-01T00:00:00Z")
    assert synced.search("MXT", "GAIN", "2025-07-01", as_of="2025-01-01T00:00:00Z") == []


@pytest.mark.parametrize(
    ("codename", "arguments"),
    [
        ("GAIN", {"date": "2025-13-45"}),
        ("GAIN", {"date": "yesterday"}),
        ("GAIN", {"date": "-", "time": "12:00:00"}),
        ("GAIN", {"date": "2025-07-01T10:00:00", "time": "10:00:00"}),
        ("GAIN", {"expr": "(((("}),
        ("GAIN", {"maxret": 0}),
        ("GAIN", {"date": "-", "maxret": -1}),
        ("", {}),
    ],
    ids=[
        "bad-day", "word", "time-without-date", "time-twice", "expr", "maxret-0",
        "maxret-negative", "no-codename",
    ],
)  # fmt: skip
def test_a_malformed_request_fails_offline_as_online(synced, make_client, codename, arguments):
    offline = make_client(offline=True, url=closed_url())
    with pytest.raises(ValidationFailed) as online_error:
        synced.search("MXT", codename, **arguments)
    assert online_error.value.status == 422
    with pytest.raises(ValidationFailed) as offline_error:
        offline.search("MXT", codename, **arguments)
    assert type(offline_error.value) is type(online_error.value)
    assert offline_error.value.status == online_error.value.status


def test_auto_falls_back_to_the_copy_only_when_the_server_is_unreachable(
    synced, make_client, make_token, monkeypatch, caplog, server, tmp_path
):
    unreachable = closed_url()
    monkeypatch.setenv("CALDBIO_OFFLINE", "auto")
    with caplog.at_level(logging.WARNING, logger="caldbio.client"):
        (found,) = make_client(url=unreachable).search("MXT", "GAIN", "2025-07-01")
    assert found.cal_file == "gain_v2.fits"
    assert any(unreachable in record.getMessage() for record in caplog.records)
    assert "offline copy" in caplog.text
    # Reachable, auto asks the server: a file uploaded after the sync is found.
    newer = tmp_path / "gain_v4.fits"
    newer.write_bytes(calfile_bytes(MXT_GAIN | {"CVSD0001": "2025-06-20"}))
    make_client(token=make_token("uploader")).upload(newer)
    (latest,) = make_client().search("MXT", "GAIN", "2025-07-01")
    assert latest.cal_file == "gain_v4.fits"
    monkeypatch.setenv("CALDBIO_OFFLINE", "off")
    with pytest.raises(TransportError, match=re.escape(unreachable)):
        make_client(url=unreachable).search("MXT", "GAIN", "2025-07-01")
    monkeypatch.setenv("CALDBIO_OFFLINE", "maybe")
    with pytest.raises(ValueError, match="maybe"):
        make_client()


def test_an_alias_syncs_and_finds_the_instrument_it_names(make_client, make_token, tmp_path):
    path = tmp_path / "ecl_gain.fits"
    path.write_bytes(calfile_bytes(ECL_GAIN))
    assert make_client(token=make_token("uploader")).upload(path).created
    online = make_client()
    index = online.sync("ECLAIRS")
    assert (index.instrument, index.aliases) == ("ECL", ("ECLAIRS",))
    assert (online.cache.root / "index" / "svom" / "ecl.json").is_file()
    assert not (online.cache.root / "index" / "svom" / "eclairs.json").exists()
    offline = make_client(offline=True, url=closed_url())
    for name in ("ECLAIRS", "eclairs", "ECL"):
        (found,) = offline.search(name, "GAIN", "2025-07-01", download_path=tmp_path / name)
        assert (found.instrume, found.cal_file) == ("ECL", "ecl_gain.fits")
        assert found.local_path.read_bytes() == path.read_bytes()
        assert offline.search(name, "GAIN", "-") == online.search(name, "GAIN", "-")
    with pytest.raises(NotFound, match="MXT"):
        offline.search("MXT", "GAIN", "now")  # only ECL was synced


def test_auto_falls_back_after_the_first_refused_connection(synced, make_client, monkeypatch):
    attempts = []
    open_connection = urllib3.connection.HTTPConnection._new_conn

    def counting(connection):
        attempts.append(connection.port)
        return open_connection(connection)

    monkeypatch.setattr(urllib3.connection.HTTPConnection, "_new_conn", counting)
    unreachable = closed_url()
    client = make_client(url=unreachable, offline="auto", max_tries=5, backoff_s=10.0)
    (found,) = client.search("MXT", "GAIN", "2025-07-01")
    assert found.cal_file == "gain_v2.fits"
    assert len(attempts) == 1  # not five: a refusal is answered at once and would not change


@pytest.mark.parametrize("date", ["2025-07-01", "2025-04-01", "2024-01-01"])
def test_offline_explains_like_online(synced, make_client, date):
    online = synced.search_answer("MXT", "GAIN", date, explain=True)
    offline = make_client(offline=True).search_answer("MXT", "GAIN", date, explain=True)
    assert online.explain
    assert offline.explain == online.explain
    assert make_client(offline=True).search_answer("MXT", "GAIN", date).explain is None
