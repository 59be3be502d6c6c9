"""The web interface's Upload page (FITS and onboard files) and quality curation."""

from __future__ import annotations

import io

import pytest
from markupsafe import escape

from caldb_server.web import extension
from tests.helpers import MXT_GAIN, calfile_bytes, tree_files, upload
from tests.server.ui_client import add_user, csrf_token, sign_in, text

GOOD = calfile_bytes(MXT_GAIN)
# Three failed checks at once: no codename, a date that is no date, an unknown class.
BAD = calfile_bytes(MXT_GAIN | {"CCNM0001": None, "CVSD0001": "2024-13-45", "CCLS0001": "XYZ"})
EVTTHR = b"event_threshold_adu: 20\nsplit_threshold_adu: 5\nupper_threshold_adu: 4000\n"
ONBOARD_NAME = "MXT_EVTTHR_20250301T120000_V01.yaml"


@pytest.fixture
def uploader_client(app, client):
    """A test client signed in as the uploader ``alice``."""
    add_user(app, "alice", "uploader")
    assert sign_in(client, "alice").status_code == 303
    return client


def post_file(client, path, content, name, token=None, **fields):
    data = {"file": (io.BytesIO(content), name), **fields}
    if token is not False:
        data["csrf_token"] = token or csrf_token(client, "/upload")
    return client.post(path, data=data)


def api_dataset(client, dataset_id):
    answer = client.get(f"/api/v1/datasets/{dataset_id}")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def dataset_id_of(response) -> int:
    assert response.status_code == 303, text(response)
    location = response.headers["Location"]
    assert location.startswith("/datasets/"), location
    return int(location.removeprefix("/datasets/"))


def stored(client):
    return tree_files(extension(client.application).storage.root)


def test_the_upload_page_has_both_forms(uploader_client):
    page = text(uploader_client.get("/upload"))
    assert '<label for="calibration-file">Calibration file</label>' in page
    assert '<label for="supersede">Supersede</label>' in page
    assert '<button type="submit">Upload</button>' in page
    assert '<label for="onboard-file">Onboard file</label>' in page
    assert page.count('enctype="multipart/form-data"') == 2
    assert 'action="/upload/onboard"' in page
    assert ">Upload</a>" in page  # the header link, for an uploader


def test_a_reader_gets_the_forbidden_page(app, client):
    add_user(app, "rita", "reader")
    sign_in(client, "rita")
    for response in (
        client.get("/upload"),
        client.post("/upload", data={"csrf_token": csrf_token(client, "/")}),
        client.post(
            "/datasets/1/quality",
            data={"quality": "5", "reason": "x", "csrf_token": csrf_token(client, "/")},
        ),
    ):
        assert response.status_code == 403
        assert response.mimetype == "text/html"
        assert "Forbidden" in text(response)
        assert "Traceback" not in text(response)


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/upload")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=%2Fupload"
    refused = client.post("/upload", data={})
    assert refused.status_code == 401
    assert "Traceback" not in text(refused)


def test_an_upload_without_the_csrf_token_is_refused(uploader_client):
    response = post_file(uploader_client, "/upload", GOOD, "mxt_gain_v1.fits", token=False)
    assert response.status_code == 400
    assert "CSRF" in text(response)
    assert "Traceback" not in text(response)
    assert stored(uploader_client) == []


def test_a_refused_file_lists_every_failed_check_as_the_api_does(uploader_client, uploader):
    api = upload(uploader_client, BAD, "mxt_gain_bad.fits", headers=uploader)
    assert api.status_code == 422
    errors = api.get_json()["errors"]
    assert len(errors) >= 3
    response = post_file(uploader_client, "/upload", BAD, "mxt_gain_bad.fits")
    assert response.status_code == 422
    page = text(response)
    assert 'role="alert"' in page
    assert "Traceback" not in page
    assert f"Every failed check ({len(errors)})" in page
    assert page.count("<li>") - text(uploader_client.get("/upload")).count("<li>") == len(errors)
    for error in errors:
        assert str(escape(error["reason"])) in page, error
        if "keyword" in error:
            assert f"keyword {error['keyword']}" in page
    assert '<label for="calibration-file">Calibration file</label>' in page  # the form again
    assert stored(uploader_client) == []


def test_a_good_file_leads_to_its_dataset_page(uploader_client):
    response = post_file(uploader_client, "/upload", GOOD, "mxt_gain_v1.fits")
    dataset = api_dataset(uploader_client, dataset_id_of(response))
    assert dataset["cal_file"] == "mxt_gain_v1.fits"
    assert dataset["uploaded_by"] == "alice"
    page = uploader_client.get(response.headers["Location"])
    assert page.status_code == 200
    assert "mxt_gain_v1.fits is indexed" in text(page)  # the notice, shown once
    assert "is indexed" not in text(uploader_client.get("/"))


def test_an_identical_upload_goes_to_the_existing_dataset_with_a_notice(uploader_client):
    first = dataset_id_of(post_file(uploader_client, "/upload", GOOD, "mxt_gain_v1.fits"))
    uploader_client.get(f"/datasets/{first}")  # shows the first notice
    again = post_file(uploader_client, "/upload", GOOD, "mxt_gain_v1.fits")
    assert dataset_id_of(again) == first
    notice = text(uploader_client.get(f"/datasets/{first}"))
    assert "already indexed with the same content" in notice


def test_a_duplicate_needs_supersede(uploader_client):
    first = dataset_id_of(post_file(uploader_client, "/upload", GOOD, "mxt_gain_v1.fits"))
    newer = calfile_bytes(MXT_GAIN | {"CDES0001": "MXT gain, recalibrated"})
    refused = post_file(uploader_client, "/upload", newer, "mxt_gain_v2.fits")
    assert refused.status_code == 409
    assert f"duplicates dataset {first}" in text(refused)
    bad_flag = post_file(uploader_client, "/upload", newer, "mxt_gain_v2.fits", supersede="maybe")
    assert bad_flag.status_code == 422
    assert "must be true or false" in text(bad_flag)
    accepted = post_file(uploader_client, "/upload", newer, "mxt_gain_v2.fits", supersede="true")
    second = dataset_id_of(accepted)
    assert second != first
    assert api_dataset(uploader_client, first)["cal_qual"] == 5
    assert api_dataset(uploader_client, second)["cal_qual"] == 0
    assert f"Superseded (CAL_QUAL 5): dataset(s) {first}" in text(
        uploader_client.get(f"/datasets/{second}")
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [({"supersed": "true"}, "unknown field"), ({}, "no file chosen")],
)
def test_malformed_forms_are_refused_with_the_form_again(uploader_client, fields, reason):
    name = "" if reason == "no file chosen" else "mxt_gain_v1.fits"
    response = post_file(uploader_client, "/upload", GOOD, name, **fields)
    assert response.status_code == 422
    assert reason in text(response)
    assert "Calibration file</label>" in text(response)
    assert stored(uploader_client) == []


def test_an_onboard_file_is_indexed_and_a_bad_one_explained(uploader_client):
    response = post_file(uploader_client, "/upload/onboard", EVTTHR, ONBOARD_NAME)
    dataset = api_dataset(uploader_client, dataset_id_of(response))
    assert (dataset["cal_cnam"], dataset["cal_dtyp"]) == ("EVTTHR", "ONBOARD")
    assert dataset["uploaded_by"] == "alice"
    bad_name = post_file(uploader_client, "/upload/onboard", EVTTHR, "evtthr.yaml")
    assert bad_name.status_code == 422
    assert "Onboard file</label>" in text(bad_name)
    bad_content = b"event_threshold_adu: -3\nsplit_threshold_adu: five\n"
    refused = post_file(
        uploader_client, "/upload/onboard", bad_content, "MXT_EVTTHR_20250401T000000_V01.yaml"
    )
    assert refused.status_code == 422
    assert "Every failed check" in text(refused)
    assert "Traceback" not in text(refused)
    assert len(stored(uploader_client)) == 1


def quality_form(client, dataset_id, **fields):
    data = {"csrf_token": csrf_token(client, "/upload")} | fields
    return client.post(f"/datasets/{dataset_id}/quality", data=data)


def test_a_quality_change_with_its_reason_joins_the_history(uploader_client):
    dataset_id = dataset_id_of(post_file(uploader_client, "/upload", GOOD, "mxt_gain_v1.fits"))
    page = text(uploader_client.get(f"/datasets/{dataset_id}"))
    assert f'action="/datasets/{dataset_id}/quality"' in page  # the macro, on the dataset page
    response = quality_form(uploader_client, dataset_id, quality="5", reason="gain drift found")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/datasets/{dataset_id}"
    (change,) = api_dataset(uploader_client, dataset_id)["quality_history"]
    assert (change["old_qual"], change["new_qual"]) == (0, 5)
    assert (change["reason"], change["changed_by"]) == ("gain drift found", "alice")
    shown = text(uploader_client.get(f"/datasets/{dataset_id}"))
    assert f"Dataset {dataset_id} is now" in shown
    assert "gain drift found" in shown


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"quality": "5", "reason": "   "}, "reason"),
        ({"quality": "5"}, "reason"),
        ({"quality": "10", "reason": "x"}, "quality"),
        ({"quality": "-1", "reason": "x"}, "quality"),
        ({"reason": "x"}, "quality"),
        ({"quality": "5", "reason": "x" * 1001}, "reason"),
    ],
)
def test_a_bad_quality_change_is_refused(uploader_client, fields, field):
    dataset_id = dataset_id_of(post_file(uploader_client, "/upload", GOOD, "mxt_gain_v1.fits"))
    response = quality_form(uploader_client, dataset_id, **fields)
    assert response.status_code == 422
    assert f"field={field}" in text(response)
    assert "Traceback" not in text(response)
    assert api_dataset(uploader_client, dataset_id)["quality_history"] == []


def test_quality_of_a_missing_dataset_and_without_csrf(uploader_client):
    missing = quality_form(uploader_client, 999, quality="5", reason="x")
    assert missing.status_code == 404
    assert "there is no dataset 999" in text(missing)
    huge = quality_form(uploader_client, 2**40, quality="5", reason="x")
    assert huge.status_code == 404
    dataset_id = dataset_id_of(post_file(uploader_client, "/upload", GOOD, "mxt_gain_v1.fits"))
    forged = uploader_client.post(
        f"/datasets/{dataset_id}/quality", data={"quality": "5", "reason": "x"}
    )
    assert forged.status_code == 400
    assert api_dataset(uploader_client, dataset_id)["cal_qual"] == 0
