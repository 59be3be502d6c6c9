"""POST and GET /api/v1/usage: a run's usage record stored once, checked, listed."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
import yaml

from caldb_common.resources import schema_path
from tests.helpers import MXT_GAIN, assert_problem, calfile_bytes, upload


@pytest.fixture
def gain(client, uploader) -> dict[str, Any]:
    """The uploaded GAIN dataset, as a search finds it at the observation's date."""
    upload(client, calfile_bytes(MXT_GAIN), "gain_v1.fits", headers=uploader)
    search = "/api/v1/search?instrument=MXT&codename=GAIN&date=2025-07-01T12:00:00"
    return client.get(search).get_json()["results"][0]


@pytest.fixture
def pipeline(make_token) -> dict[str, str]:
    """A pipeline's token: a reader, as a processing account is."""
    return {"Authorization": f"Bearer {make_token('reader', subject='mxt-pipeline-1')}"}


def usage_record(dataset: dict[str, Any], **values: Any) -> dict[str, Any]:
    """A valid record of one selection of ``dataset``."""
    selection = {
        "instrument": "MXT",
        "codename": "GAIN",
        "date": "2025-07-01T12:00:00",
        "detector": "-",
        "filter": "-",
        "expr": "-",
        "as_of": None,
        "dataset_id": dataset["id"],
        "cal_file": dataset["cal_file"],
        "cal_xno": dataset["cal_xno"],
        "sha256": dataset["sha256"],
    }
    return {
        "record_id": str(uuid.uuid4()),
        "observation": "sb25070101",
        "brick": "mxt-pipeline",
        "brick_version": "1.0.0",
        "finished_at": "2026-12-07T21:00:00+00:00",
        "selections": [selection],
    } | values


def test_a_record_is_stored_and_listed_with_who_sent_it(client, gain, pipeline):
    record = usage_record(gain)
    response = client.post("/api/v1/usage", json=record, headers=pipeline)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["record_id"] == record["record_id"]
    assert body["submitted_by"] == "mxt-pipeline-1"
    assert body["selections"][0]["dataset_id"] == gain["id"]
    assert response.headers["Location"].endswith("/usage?observation=sb25070101")
    listed = client.get("/api/v1/usage?observation=sb25070101", headers=pipeline).get_json()
    assert [r["record_id"] for r in listed["records"]] == [record["record_id"]]
    assert listed["last_id"] == body["id"]


def test_a_resend_is_answered_with_the_stored_record_and_not_stored_twice(client, gain, pipeline):
    record = usage_record(gain)
    first = client.post("/api/v1/usage", json=record, headers=pipeline)
    again = client.post("/api/v1/usage", json=record, headers=pipeline)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert len(client.get("/api/v1/usage", headers=pipeline).get_json()["records"]) == 1


def test_concurrent_resends_store_one_record(app, gain, pipeline):
    record = usage_record(gain)
    statuses: list[int] = []

    def send() -> None:
        statuses.append(
            app.test_client().post("/api/v1/usage", json=record, headers=pipeline).status_code
        )

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 200, 200, 201]
    listed = app.test_client().get("/api/v1/usage", headers=pipeline).get_json()
    assert len(listed["records"]) == 1


def test_a_different_record_under_a_stored_id_is_a_conflict(client, gain, pipeline):
    record = usage_record(gain)
    client.post("/api/v1/usage", json=record, headers=pipeline)
    assert_problem(
        client.post("/api/v1/usage", json=record | {"observation": "sb25070102"}, headers=pipeline),
        409,
    )


def test_paging_goes_on_after_the_last_id(client, gain, pipeline):
    ids = [
        client.post("/api/v1/usage", json=usage_record(gain), headers=pipeline).get_json()["id"]
        for _ in range(3)
    ]
    page = client.get("/api/v1/usage?limit=2", headers=pipeline).get_json()
    assert [r["id"] for r in page["records"]] == ids[:2]
    rest = client.get(f"/api/v1/usage?after={page['last_id']}", headers=pipeline).get_json()
    assert [r["id"] for r in rest["records"]] == ids[2:]


def test_usage_needs_a_token(client, gain):
    assert_problem(client.post("/api/v1/usage", json=usage_record(gain)), 401)
    assert_problem(client.get("/api/v1/usage"), 401)


def _selection_change(gain: dict[str, Any], **values: Any) -> dict[str, Any]:
    record = usage_record(gain)
    record["selections"][0] |= values
    return record


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"record_id": "not-a-uuid"}, "record_id"),
        ({"observation": "../etc"}, "observation"),
        ({"brick": "X"}, "brick"),
        ({"finished_at": "2026-12-07T21:00:00"}, "finished_at"),
        ({"finished_at": "yesterday"}, "finished_at"),
        ({"selections": []}, "selections"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_malformed_record_is_refused_naming_the_field(client, gain, pipeline, change, field):
    body = assert_problem(
        client.post("/api/v1/usage", json=usage_record(gain) | change, headers=pipeline), 422
    )
    assert field in {error["field"] for error in body["errors"]}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"date": "2025-13-45"}, "selections/0/date"),
        ({"expr": "gain.xx.3"}, "selections/0/expr"),
        ({"instrument": "NOPE"}, "selections/0/dataset_id"),
        ({"dataset_id": 999999}, "selections/0/dataset_id"),
        ({"cal_file": "other.fits"}, "selections/0/dataset_id"),
        ({"sha256": "0" * 64}, "selections/0/dataset_id"),
        ({"codename": "TELDEF"}, "selections/0/dataset_id"),
    ],
)
def test_a_selection_that_is_not_a_search_of_that_dataset_is_refused(
    client, gain, pipeline, values, field
):
    response = client.post(
        "/api/v1/usage", json=_selection_change(gain, **values), headers=pipeline
    )
    body = assert_problem(response, 422)
    assert field in {error["field"] for error in body["errors"]}


def test_nothing_is_stored_from_a_refused_record(client, gain, pipeline):
    record = usage_record(gain)
    record["selections"].append(dict(record["selections"][0], dataset_id=999999))
    assert_problem(client.post("/api/v1/usage", json=record, headers=pipeline), 422)
    assert client.get("/api/v1/usage", headers=pipeline).get_json()["records"] == []


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=1001", "after=-1", "observation=a%20b", "nope=1", "limit=1&limit=2"],
)
def test_bad_listing_parameters_are_refused(client, pipeline, query):
    assert_problem(client.get(f"/api/v1/usage?{query}", headers=pipeline), 422)


@pytest.mark.parametrize("body", [b"", b"[]", b"{", b'{"record_id": "\\u0000"}'])
def test_a_body_that_is_not_a_record_is_refused(client, pipeline, body):
    response = client.post(
        "/api/v1/usage", data=body, content_type="application/json", headers=pipeline
    )
    assert_problem(response, 422)


def test_the_api_document_states_the_record_schema_the_server_checks():
    document = yaml.safe_load(schema_path("openapi.yaml").read_text(encoding="utf-8"))
    stated = document["components"]["schemas"]
    checked = json.loads(schema_path("usage_record.schema.json").read_text(encoding="utf-8"))
    record = stated["UsageRecordInput"]
    assert record["required"] == checked["required"]
    selection = checked["properties"]["selections"]
    for name, rule in checked["properties"].items():
        if name != "selections":
            assert {k: v for k, v in rule.items() if k != "description"} == record["properties"][
                name
            ], name
    assert selection["items"]["required"] == stated["UsageSelection"]["required"]
    for name, rule in selection["items"]["properties"].items():
        without = {k: v for k, v in rule.items() if k != "description"}
        assert without == {
            k: v
            for k, v in stated["UsageSelection"]["properties"][name].items()
            if k != "description"
        }, name
