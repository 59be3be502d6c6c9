"""CaDBIO against a real server: typed results, downloads, uploads, quality, errors."""

from __future__ import annotations

import hashlib
from dataclasses import fields

import pytest

from caldbio import AuthError, Conflict, Dataset, Forbidden, NotFound, ValidationFailed
from caldbio.results import Dataset as DatasetType
from tests.helpers import MXT_GAIN, calfile_bytes

CIF_FIELDS = [
    "telescop", "instrume", "detnam", "filter", "cal_dev", "cal_dir", "cal_file", "cal_clas",
    "cal_dtyp", "cal_cnam", "cal_cbd", "cal_xno", "cal_vsd", "cal_vst", "ref_time", "cal_qual",
    "cal_date", "cal_desc",
]  # fmt: skip


def gain(valid_from, **changes):
    return calfile_bytes(MXT_GAIN | {"CVSD0001": valid_from} | changes)


@pytest.fixture
def uploaded(make_client, make_token, tmp_path):
    """Two GAIN epochs uploaded through the client; returns the uploader's client."""
    client = make_client(token=make_token("uploader"))
    for name, valid_from in [("gain_v1.fits", "2024-06-22"), ("gain_v2.fits", "2025-06-01")]:
        path = tmp_path / name
        path.write_bytes(gain(valid_from))
        assert client.upload(path).created
    return client


def test_search_gives_typed_datasets_with_every_field(uploaded, make_client):
    (found,) = make_client().search("mxt", "gain", date="2025-07-01")
    assert isinstance(found, DatasetType)
    assert {f.name for f in fields(Dataset)} >= {*CIF_FIELDS, "id", "sha256", "size", "url"}
    assert (found.instrume, found.cal_cnam, found.cal_file) == ("MXT", "GAIN", "gain_v2.fits")
    assert found.cal_cbd == ("NONE",) * 9 or len(found.cal_cbd) == 9
    assert found.ref_time == pytest.approx(60827.0)
    assert found.hdu == "gain_v2.fits[1]"
    assert found.local_path is None
    (older,) = make_client().search("MXT", "GAIN", date="2024-12-01")
    assert older.cal_file == "gain_v1.fits"


def test_download_path_puts_verified_files_there_and_the_cache_moves_no_bytes(
    uploaded, make_client, server, tmp_path
):
    client = make_client()
    (first,) = client.search("MXT", "GAIN", date="2025-07-01", download_path=tmp_path / "a")
    content = gain("2025-06-01")
    assert first.local_path == tmp_path / "a" / "gain_v2.fits"
    assert first.local_path.read_bytes() == content
    assert hashlib.sha256(content).hexdigest() == first.sha256
    served = server.meter.content_bytes
    assert served == len(content)
    (again,) = client.search("MXT", "GAIN", date="2025-07-01", download_path=tmp_path / "b")
    assert again.local_path.read_bytes() == content
    assert server.meter.content_bytes == served  # the second search moved no file bytes
    assert [p for p in server.meter.paths if p.endswith("/content")] == [
        f"/api/v1/files/{first.file_id}/content"
    ]


def test_a_corrupted_cache_entry_is_fetched_again(uploaded, make_client, server, tmp_path):
    client = make_client()
    (found,) = client.search("MXT", "GAIN", date="2025-07-01", download_path=tmp_path / "a")
    entry = client.cache.object_path(found.sha256)
    entry.chmod(0o644)
    entry.write_bytes(b"garbage")
    (again,) = client.search("MXT", "GAIN", date="2025-07-01", download_path=tmp_path / "b")
    assert again.local_path.read_bytes() == gain("2025-06-01")
    assert server.meter.content_bytes == 2 * found.size
    assert hashlib.sha256(entry.read_bytes()).hexdigest() == found.sha256


def test_uploads_are_idempotent_and_conflicts_are_typed(uploaded, tmp_path):
    again = tmp_path / "gain_v1.fits"
    result = uploaded.upload(again)
    assert (result.created, [d.cal_file for d in result.datasets]) == (False, ["gain_v1.fits"])
    other = tmp_path / "other" / "gain_v1.fits"
    other.parent.mkdir()
    other.write_bytes(gain("2024-06-22", CDES0001="different bytes"))
    with pytest.raises(Conflict) as raised:
        uploaded.upload(other)
    assert raised.value.status == 409
    duplicate = tmp_path / "gain_v1b.fits"
    duplicate.write_bytes(gain("2024-06-22"))
    with pytest.raises(Conflict, match="dataset"):
        uploaded.upload(duplicate)
    replaced = uploaded.upload(duplicate, supersede=True)
    assert replaced.created
    assert len(replaced.superseded) == 1


def test_a_refused_upload_lists_every_failed_check(uploaded, tmp_path):
    bad = tmp_path / "bad_gain.fits"
    bad.write_bytes(calfile_bytes(MXT_GAIN | {"CCNM0001": None, "CVSD0001": "yesterday"}))
    with pytest.raises(ValidationFailed) as raised:
        uploaded.upload(bad)
    keywords = {item.get("keyword") for item in raised.value.errors}
    assert {"CCNM0001", "CVSD0001"} <= keywords
    assert "CCNM0001" in str(raised.value)


def test_set_quality_and_the_roles_it_needs(uploaded, make_client, make_token):
    (found,) = uploaded.search("MXT", "GAIN", date="2025-07-01")
    changed = uploaded.set_quality(found.id, 5, "gain drift found in flight data")
    assert changed.cal_qual == 5
    history = uploaded.dataset(found.id)["quality_history"]
    assert [(h["new_qual"], h["changed_by"]) for h in history] == [(5, "alice")]
    assert uploaded.search("MXT", "GAIN", date="2025-07-01")[0].cal_file == "gain_v1.fits"
    with pytest.raises(Forbidden):
        make_client(token=make_token("reader")).set_quality(found.id, 0, "back")
    with pytest.raises(NotFound):
        uploaded.set_quality(999_999, 0, "no such dataset")


def test_auth_errors_say_where_the_token_came_from(server, make_client, monkeypatch, tmp_path):
    monkeypatch.setenv("CALDB_TOKEN", "not-a-token")
    path = tmp_path / "gain.fits"
    path.write_bytes(gain("2024-06-22"))
    with pytest.raises(AuthError) as raised:
        make_client().upload(path)
    assert raised.value.status == 401
    assert raised.value.token_source == "the CALDB_TOKEN environment variable"
    assert "CALDB_TOKEN" in str(raised.value)
    monkeypatch.delenv("CALDB_TOKEN")
    with pytest.raises(AuthError, match="no token was found"):
        make_client().upload(path)
    with pytest.raises(AuthError, match="no token was found"):
        make_client(use_tokens=False, token="ignored").upload(path)


def test_instruments_and_a_dataset_without_a_held_file(make_client, server, tmp_path):
    missions = {m["name"]: m for m in make_client().instruments()["missions"]}
    assert {"MXT", "ECL", "VT"} <= {i["name"] for i in missions["SVOM"]["instruments"]}
    imported = Dataset.from_json(
        dict.fromkeys(CIF_FIELDS, "X")
        | {"id": 1, "cal_cbd": ["NONE"] * 9, "cal_xno": 1, "ref_time": 0.0, "cal_qual": 0}
    )
    with pytest.raises(NotFound, match="holds no file"):
        make_client().download(imported, tmp_path)


def test_upload_onboard_and_search_what_was_active(make_client, make_token, tmp_path):
    client = make_client(token=make_token("uploader"))
    content = "event_threshold_adu: {}\nsplit_threshold_adu: 5\nupper_threshold_adu: 4000\n"
    for version, threshold in [(1, 20), (2, 25)]:
        path = tmp_path / f"MXT_EVTTHR_20250301T120000_V0{version}.yaml"
        path.write_text(content.format(threshold))
        result = client.upload_onboard(path)
        assert result.created
        assert (result.datasets[0].cal_clas, result.datasets[0].cal_dtyp) == ("UPLOAD", "ONBOARD")
    assert len(result.superseded) == 1
    (found,) = client.search("MXT", "evtthr", date="2025-06-01", download_path=tmp_path / "got")
    assert found.cal_file == "MXT_EVTTHR_20250301T120000_V02.yaml"
    assert "event_threshold_adu: 25" in found.local_path.read_text()
    bad = tmp_path / "MXT_EVTTHR_2025.yaml"
    bad.write_text(content.format(20))
    with pytest.raises(ValidationFailed) as raised:
        client.upload_onboard(bad)
    assert (
        raised.value.errors[0]["pattern"] == "<INSTRUME>_<CODENAME>_<YYYYMMDD>T<HHMMSS>_V<NN>.yaml"
    )
