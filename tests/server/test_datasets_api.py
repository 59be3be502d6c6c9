"""GET and PATCH /api/v1/datasets/<id>: one dataset, its history, quality changes."""

import pytest

from tests.helpers import MXT_GAIN, assert_problem, calfile_bytes, upload


@pytest.fixture
def dataset_id(client, uploader):
    response = upload(client, calfile_bytes(MXT_GAIN), "gain_v1.fits", headers=uploader)
    return response.get_json()["datasets"][0]["id"]


def test_dataset_shows_file_uploader_and_empty_history(client, dataset_id):
    body = client.get(f"/api/v1/datasets/{dataset_id}").get_json()
    assert body["id"] == dataset_id
    assert body["cal_file"] == "gain_v1.fits"
    assert body["uploaded_by"] == "alice"
    assert body["indexed_by"] == "alice"
    assert body["quality_history"] == []


def test_unknown_dataset_is_404(client):
    body = assert_problem(client.get("/api/v1/datasets/999"), 404)
    assert "999" in body["detail"]


def test_quality_change_is_recorded_with_who_and_why(client, dataset_id, make_token):
    headers = {"Authorization": f"Bearer {make_token('uploader', subject='bob')}"}
    response = client.patch(
        f"/api/v1/datasets/{dataset_id}",
        json={"cal_qual": 5, "reason": "wrong offsets"},
        headers=headers,
    )
    assert response.status_code == 200
    history = response.get_json()["quality_history"]
    assert [(h["old_qual"], h["new_qual"], h["reason"], h["changed_by"]) for h in history] == [
        (0, 5, "wrong offsets", "bob")
    ]
    assert client.get(f"/api/v1/datasets/{dataset_id}").get_json()["cal_qual"] == 5
    search = client.get("/api/v1/search?instrument=MXT&codename=GAIN&date=-").get_json()
    assert search["nfound"] == 0


def test_setting_the_same_quality_records_nothing(client, dataset_id, uploader):
    response = client.patch(
        f"/api/v1/datasets/{dataset_id}", json={"cal_qual": 0, "reason": "x"}, headers=uploader
    )
    assert response.status_code == 200
    assert response.get_json()["quality_history"] == []


def test_restoring_a_superseded_dataset_that_would_duplicate_is_409(client, uploader):
    old = upload(client, calfile_bytes(MXT_GAIN), "gain_v1.fits", headers=uploader).get_json()
    new = upload(
        client, calfile_bytes(MXT_GAIN), "gain_v2.fits", headers=uploader, supersede=True
    ).get_json()
    old_id, new_id = old["datasets"][0]["id"], new["datasets"][0]["id"]
    assert new["superseded"] == [old_id]
    body = assert_problem(
        client.patch(
            f"/api/v1/datasets/{old_id}", json={"cal_qual": 0, "reason": "undo"}, headers=uploader
        ),
        409,
    )
    assert [e["dataset_id"] for e in body["errors"]] == [new_id]
    # withdraw the new one first, then the old one can come back
    client.patch(
        f"/api/v1/datasets/{new_id}", json={"cal_qual": 5, "reason": "bad"}, headers=uploader
    )
    response = client.patch(
        f"/api/v1/datasets/{old_id}", json={"cal_qual": 0, "reason": "undo"}, headers=uploader
    )
    assert response.status_code == 200
    assert [h["new_qual"] for h in response.get_json()["quality_history"]] == [5, 0]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"cal_qual": 5}, {"reason"}),
        ({"reason": "x"}, {"cal_qual"}),
        ({"cal_qual": 10, "reason": "x"}, {"cal_qual"}),
        ({"cal_qual": -1, "reason": "x"}, {"cal_qual"}),
        ({"cal_qual": "5", "reason": "x"}, {"cal_qual"}),
        ({"cal_qual": True, "reason": "x"}, {"cal_qual"}),
        ({"cal_qual": 5, "reason": "   "}, {"reason"}),
        ({"cal_qual": 5, "reason": "x" * 1001}, {"reason"}),
        ({"cal_qual": 5, "reason": "x", "cal_file": "other"}, {"cal_file"}),
        ([5, "x"], {"body"}),
    ],
)
def test_bad_quality_changes_are_422_and_change_nothing(client, dataset_id, uploader, body, fields):
    problem = assert_problem(
        client.patch(f"/api/v1/datasets/{dataset_id}", json=body, headers=uploader), 422
    )
    assert {e["field"] for e in problem["errors"]} == fields
    assert client.get(f"/api/v1/datasets/{dataset_id}").get_json()["quality_history"] == []


def test_non_json_body_is_422(client, dataset_id, uploader):
    response = client.patch(f"/api/v1/datasets/{dataset_id}", data="cal_qual=5", headers=uploader)
    assert_problem(response, 422)


def test_patching_an_unknown_dataset_is_404(client, uploader):
    assert_problem(
        client.patch(
            "/api/v1/datasets/12345", json={"cal_qual": 5, "reason": "x"}, headers=uploader
        ),
        404,
    )


def test_listing_pages_through_every_dataset_of_an_instrument(client, uploader):
    for name, valid_from in [("gain_v1.fits", "2024-06-22"), ("gain_v2.fits", "2025-06-01")]:
        content = calfile_bytes(MXT_GAIN | {"CVSD0001": valid_from})
        assert upload(client, content, name, headers=uploader).status_code == 201
    first_id = client.get("/api/v1/datasets?instrument=MXT").get_json()["datasets"][0]["id"]
    client.patch(
        f"/api/v1/datasets/{first_id}",
        json={"cal_qual": 5, "reason": "bad"},
        headers=uploader,
    )
    first = client.get("/api/v1/datasets?instrument=mxt&limit=1").get_json()
    second = client.get(f"/api/v1/datasets?instrument=MXT&limit=1&after={first['next']}").get_json()
    third = client.get(f"/api/v1/datasets?instrument=MXT&limit=1&after={second['next']}").get_json()
    listed = first["datasets"] + second["datasets"] + third["datasets"]
    assert [d["cal_file"] for d in listed] == ["gain_v1.fits", "gain_v2.fits"]
    assert [d["cal_qual"] for d in listed] == [5, 0]  # every quality: offline selection filters
    assert third == {"datasets": [], "next": None}
    assert (
        client.get("/api/v1/datasets?instrument=MXT&codename=teldef").get_json()["datasets"] == []
    )
    assert client.get("/api/v1/datasets?instrument=VT").get_json() == {"datasets": [], "next": None}


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("", ["instrument"]),
        ("instrument=MXT&limit=0", ["limit"]),
        ("instrument=MXT&limit=5001", ["limit"]),
        ("instrument=MXT&after=-1", ["after"]),
        ("instrument=MXT&after=\uff11", ["after"]),  # a non-ASCII digit
        ("instrument=ABCDEFGHIJK", ["instrument"]),
        ("instrument=MXT&codename=" + "X" * 21, ["codename"]),
        ("instrument=MXT&codname=GAIN", ["codname"]),
    ],
)
def test_listing_refuses_bad_parameters(client, query, fields):
    body = assert_problem(client.get(f"/api/v1/datasets?{query}"), 422)
    assert [e["field"] for e in body["errors"]] == fields
