"""GET /api/v1/impact: the runs whose calibration file would now differ, and why.

Two observations used GAIN v1 (valid from 2024-06-22): A on 2025-07-01, B on 2024-09-01.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.helpers import MXT_GAIN, assert_problem, calfile_bytes, upload

OBSERVATIONS = {"sbA": "2025-07-01T12:00:00", "sbB": "2024-09-01T00:00:00"}


def gain(client, headers, name: str, valid_from: str, codename: str = "GAIN") -> dict[str, Any]:
    """Upload a GAIN-like file valid from ``valid_from``; its dataset."""
    content = calfile_bytes(MXT_GAIN | {"CVSD0001": valid_from, "CCNM0001": codename})
    response = upload(client, content, name, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["datasets"][0]


def send_usage(client, headers, observation: str, dataset: dict[str, Any]) -> None:
    search = client.get(
        "/api/v1/search",
        query_string={
            "instrument": "MXT",
            "codename": dataset["cal_cnam"],
            "date": OBSERVATIONS[observation],
        },
    ).get_json()
    chosen = search["results"][0]
    assert chosen["id"] == dataset["id"]
    record = {
        "record_id": str(uuid.uuid4()),
        "observation": observation,
        "brick": "mxt-pipeline",
        "brick_version": "1.0.0",
        "finished_at": "2026-12-07T21:00:00+00:00",
        "selections": [
            {
                "instrument": "MXT",
                "codename": dataset["cal_cnam"],
                "date": OBSERVATIONS[observation],
                "detector": "-",
                "filter": "-",
                "expr": "-",
                "as_of": search["answered_at"],
                "dataset_id": chosen["id"],
                "cal_file": chosen["cal_file"],
                "cal_xno": chosen["cal_xno"],
                "sha256": chosen["sha256"],
            }
        ],
    }
    assert client.post("/api/v1/usage", json=record, headers=headers).status_code == 201


@pytest.fixture
def headers(make_token) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token('uploader', subject='calib')}"}


@pytest.fixture
def since(client, headers) -> int:
    """Both observations processed with GAIN v1; the feed's number at that moment."""
    v1 = gain(client, headers, "gain_v1.fits", "2024-06-22")
    for observation in OBSERVATIONS:
        send_usage(client, headers, observation, v1)
    return impact(client, headers, 0)["until"]


def impact(client, headers, since: int, **params: Any) -> dict[str, Any]:
    response = client.get(
        "/api/v1/impact", query_string={"since": since, **params}, headers=headers
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_nothing_is_affected_before_any_change(client, headers, since):
    assert impact(client, headers, since) | {"until": None} == {
        "since": since,
        "until": None,
        "changes": 0,
        "observations": [],
        "affected_total": 0,
        "affected": [],
        "truncated": False,
    }


def test_a_new_epoch_before_an_observation_affects_it_with_old_and_new_file(client, headers, since):
    v2 = gain(client, headers, "gain_v2.fits", "2025-01-01")
    answer = impact(client, headers, since)
    assert answer["observations"] == ["sbA"]
    (item,) = answer["affected"]
    assert (item["observation"], item["codename"], item["reason"]) == ("sbA", "GAIN", "newer")
    assert item["old"]["cal_file"] == "gain_v1.fits"
    assert item["new"] == {
        "dataset_id": v2["id"],
        "cal_file": "gain_v2.fits",
        "cal_xno": 1,
        "sha256": item["new"]["sha256"],
    }
    assert item["change"]["kind"] == "upload"
    assert item["change"]["seq"] == answer["until"]
    assert item["change"]["actor"] == "calib"


def test_a_new_epoch_after_every_observation_affects_none(client, headers, since):
    gain(client, headers, "gain_v9.fits", "2026-01-01")
    assert impact(client, headers, since)["affected"] == []


def test_a_file_marked_bad_affects_every_run_that_used_it(client, headers, since):
    search = "/api/v1/search?instrument=MXT&codename=GAIN&date=2025-07-01"
    v1_id = client.get(search).get_json()["results"][0]["id"]
    client.patch(
        f"/api/v1/datasets/{v1_id}", json={"cal_qual": 5, "reason": "wrong"}, headers=headers
    )
    answer = impact(client, headers, since)
    assert answer["observations"] == ["sbA", "sbB"]
    assert {item["reason"] for item in answer["affected"]} == {"bad"}
    assert all(item["new"] is None for item in answer["affected"])  # nothing else is valid
    assert {item["change"]["kind"] for item in answer["affected"]} == {"quality"}


def test_a_change_to_another_codename_affects_none(client, headers, since):
    gain(client, headers, "other_v2.fits", "2025-01-01", codename="TELDEF")
    answer = impact(client, headers, since)
    assert answer["changes"] == 1
    assert answer["affected"] == []


def test_a_reprocessed_observation_is_no_longer_affected(client, headers, since):
    v2 = gain(client, headers, "gain_v2.fits", "2025-01-01")
    assert impact(client, headers, since)["observations"] == ["sbA"]
    send_usage(client, headers, "sbA", v2)  # the pipeline ran again, with the new file
    assert impact(client, headers, since)["observations"] == []


def test_filters_and_the_limit(client, headers, since):
    gain(client, headers, "gain_v2.fits", "2025-01-01")
    assert impact(client, headers, since, codename="TELDEF")["affected"] == []
    assert impact(client, headers, since, instrument="ECL")["affected"] == []
    assert len(impact(client, headers, since, codename="GAIN")["affected"]) == 1
    limited = impact(client, headers, since, limit=1)
    assert (len(limited["affected"]), limited["affected_total"], limited["truncated"]) == (
        1,
        1,
        False,
    )
    later = impact(client, headers, impact(client, headers, 0)["until"])
    assert later["affected"] == []


@pytest.mark.parametrize(
    "query", ["since=-1", "since=x", "limit=0", "limit=100001", "limit=1&limit=2", "nope=1"]
)
def test_bad_parameters_are_refused(client, headers, query):
    assert_problem(client.get(f"/api/v1/impact?{query}", headers=headers), 422)


def test_impact_needs_a_token(client):
    assert_problem(client.get("/api/v1/impact?since=0"), 401)


def test_a_difference_from_before_since_is_not_the_impact_of_later_changes(client, headers, since):
    gain(client, headers, "gain_v2.fits", "2025-01-01")  # sbA affected from here
    after_v2 = impact(client, headers, 0)["until"]
    gain(client, headers, "gain_v9.fits", "2026-01-01")  # after every observation
    assert impact(client, headers, after_v2)["observations"] == []
    assert impact(client, headers, since)["observations"] == ["sbA"]
