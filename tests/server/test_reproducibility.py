"""Replaying answers (as_of=answered_at) and leaving the index alone when nothing changes."""

import pytest

from tests.helpers import MXT_GAIN, calfile_bytes, import_index, upload

INDEX = "/caldb/data/svom/mxt/caldb.indx"
GAIN = {"instrument": "MXT", "codename": "GAIN", "date": "2025-07-01"}


def index_etag(client):
    with client.get(INDEX) as response:
        assert response.status_code == 200
        return response.headers["ETag"]


def test_answered_at_replays_the_answer(client, uploader):
    upload(
        client, calfile_bytes(MXT_GAIN | {"CVSD0001": "2024-06-22"}), "g1.fits", headers=uploader
    )
    first = client.get("/api/v1/search", query_string=GAIN).get_json()
    upload(
        client, calfile_bytes(MXT_GAIN | {"CVSD0001": "2025-06-01"}), "g2.fits", headers=uploader
    )
    now = client.get("/api/v1/search", query_string=GAIN).get_json()
    replay = client.get(
        "/api/v1/search", query_string=GAIN | {"as_of": first["answered_at"]}
    ).get_json()
    assert [r["cal_file"] for r in first["results"]] == ["g1.fits"]
    assert [r["cal_file"] for r in now["results"]] == ["g2.fits"]
    assert replay["results"] == first["results"]


@pytest.fixture
def indexed(client, uploader):
    content = calfile_bytes(MXT_GAIN)
    dataset = upload(client, content, "g1.fits", headers=uploader).get_json()["datasets"][0]
    return content, dataset, index_etag(client)


def test_identical_reupload_leaves_the_index_alone(client, uploader, indexed):
    content, _dataset, etag = indexed
    assert upload(client, content, "g1.fits", headers=uploader).status_code == 200
    assert index_etag(client) == etag


def test_setting_the_same_quality_leaves_the_index_alone(client, uploader, indexed):
    _content, dataset, etag = indexed
    same = client.patch(
        f"/api/v1/datasets/{dataset['id']}", json={"cal_qual": 0, "reason": "x"}, headers=uploader
    )
    assert same.status_code == 200
    assert index_etag(client) == etag
    changed = client.patch(
        f"/api/v1/datasets/{dataset['id']}", json={"cal_qual": 5, "reason": "x"}, headers=uploader
    )
    assert changed.status_code == 200
    assert index_etag(client) != etag


def test_reimporting_an_unchanged_index_leaves_it_alone(app, client, heasarc_dir):
    cif = heasarc_dir / "cif" / "swift_xrt_caldb.indx20160609"
    import_index(app, cif)
    with client.get("/caldb/data/swift/xrt/caldb.indx") as first:
        etag = first.headers["ETag"]
    assert import_index(app, cif).datasets_added == 0
    with client.get("/caldb/data/swift/xrt/caldb.indx") as second:
        assert second.headers["ETag"] == etag
