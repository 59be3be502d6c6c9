"""The udcif rules of ``POST /api/v1/files`` on small generated files (SPEC §3.2).

One dataset per HDU with CCLS0001, upper-casing and defaults, aliases, duplicates (409),
supersede (CAL_QUAL 5 with a recorded reason), and who may upload.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from caldb_server import db
from caldb_server.heasarc.cif import CifIndex, read_cif
from tests.helpers import MXT_GAIN, assert_problem, calfile_bytes, tree_files, upload


def gain(**changes: Any) -> dict[str, Any]:
    """The MXT gain dataset with some keywords changed (None removes one)."""
    return MXT_GAIN | changes


def uploaded(
    client,
    headers: Mapping[str, str],
    *hdus: Mapping[str, Any],
    name: str = "mxt_gain_v1.fits",
    primary: Mapping[str, Any] | None = None,
    supersede: bool | None = None,
) -> dict[str, Any]:
    """Upload a generated file that must be accepted; the response body."""
    content = calfile_bytes(*(hdus or (MXT_GAIN,)), primary=primary)
    response = upload(client, content, name, headers=headers, supersede=supersede)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def search(client, **params: str) -> dict[str, Any]:
    response = client.get("/api/v1/search", query_string={"date": "-", **params})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def dataset(client, dataset_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/datasets/{dataset_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def total_datasets(client) -> int:
    document = client.get("/api/v1/instruments").get_json()
    return sum(i["datasets"] for m in document["missions"] for i in m["instruments"])


# -- one dataset per HDU ------------------------------------------------------------------


def test_every_hdu_with_ccls0001_is_a_dataset_numbered_by_its_hdu(client, uploader):
    body = uploaded(
        client,
        uploader,
        gain(CCNM0001="MATRIX"),
        {"TELESCOP": "SVOM", "EXTNAME": "NOTES"},  # no CCLS0001: not indexed, not checked
        gain(CCNM0001="EBOUNDS"),
        primary=gain(CCNM0001="TELDEF"),
    )
    rows = [(d["cal_xno"], d["cal_cnam"]) for d in body["datasets"]]
    assert rows == [(0, "TELDEF"), (1, "MATRIX"), (3, "EBOUNDS")]
    assert {d["file_id"] for d in body["datasets"]} == {body["file_id"]}
    assert {d["cal_dir"] for d in body["datasets"]} == {"data/svom/mxt/bcf/teldef"}


def test_file_is_stored_under_the_first_datasets_class_and_codename(client, uploader, app_config):
    uploaded(client, uploader, gain(CCLS0001="CPF", CCNM0001="PSF"), name="mxt_psf.fits")
    assert tree_files(app_config["ROOT"]) == ["data/svom/mxt/cpf/psf/mxt_psf.fits"]


def test_indexed_values_are_upper_cased_but_not_the_description(client, uploader):
    lower = {
        "TELESCOP": "svom",
        "INSTRUME": "mxt",
        "CCLS0001": "bcf",
        "CDTP0001": "data",
        "CCNM0001": "gain",
        "DETNAM": "ccd1",
        "FILTER": "open",
        "CBD10001": "energ(0.2-10)kev",
        "CBD20001": "readmode(full)",
        "CDES0001": "Gain of the MXT, lower case kept",
    }
    (row,) = uploaded(client, uploader, gain(**lower))["datasets"]
    assert {k: row[k] for k in ("telescop", "instrume", "cal_clas", "cal_dtyp", "cal_cnam")} == {
        "telescop": "SVOM",
        "instrume": "MXT",
        "cal_clas": "BCF",
        "cal_dtyp": "DATA",
        "cal_cnam": "GAIN",
    }
    assert (row["detnam"], row["filter"]) == ("CCD1", "OPEN")
    assert row["cal_cbd"][:3] == ["ENERG(0.2-10)KEV", "READMODE(FULL)", "NONE"]
    assert row["cal_desc"] == "Gain of the MXT, lower case kept"
    assert row["cal_dir"] == "data/svom/mxt/bcf/gain"


@pytest.mark.parametrize(
    ("changes", "detnam", "filter_"),
    [
        ({}, "NONE", "NONE"),
        ({"DETNAM": "none", "FILTER": "none"}, "NONE", "NONE"),
        ({"DETNAM": "CCD"}, "CCD", "NONE"),
        ({"FILTER": "THIN"}, "NONE", "THIN"),
    ],
)
def test_detnam_and_filter_default_to_none(client, uploader, changes, detnam, filter_):
    (row,) = uploaded(client, uploader, gain(**changes))["datasets"]
    assert (row["detnam"], row["filter"]) == (detnam, filter_)
    assert row["cal_cbd"] == ["NONE"] * 9


@pytest.mark.parametrize("alias", ["ECLAIRS", "eclairs"])
def test_eclairs_alias_is_indexed_as_ecl(client, uploader, app_config, alias):
    (row,) = uploaded(client, uploader, gain(INSTRUME=alias), name="ecl_gain.fits")["datasets"]
    assert (row["instrume"], row["cal_dir"]) == ("ECL", "data/svom/ecl/bcf/gain")
    assert tree_files(app_config["ROOT"]) == ["data/svom/ecl/bcf/gain/ecl_gain.fits"]
    assert search(client, instrument="ECL", codename="GAIN")["nfound"] == 1


def test_alias_with_several_targets_gives_one_row_each(client, uploader, heasarc_dir):
    hdu = gain(TELESCOP="ASCA", INSTRUME="GIS", CCNM0001="GAIN")
    rows = uploaded(client, uploader, hdu, name="gis_gain.fits")["datasets"]
    assert [(r["instrume"], r["cal_xno"], r["cal_dir"]) for r in rows] == [
        ("GIS2", 1, "data/asca/gis/bcf/gain"),
        ("GIS3", 1, "data/asca/gis/bcf/gain"),
    ]


# -- files are immutable ------------------------------------------------------------------


def test_same_name_with_other_bytes_is_a_conflict_and_changes_nothing(client, uploader, app_config):
    first = uploaded(client, uploader)
    stored = (app_config["ROOT"] / "data/svom/mxt/bcf/gain/mxt_gain_v1.fits").read_bytes()
    other = calfile_bytes(gain(CVSD0001="2025-01-01"))
    body = assert_problem(upload(client, other, "mxt_gain_v1.fits", headers=uploader), 409)
    assert "mxt_gain_v1.fits" in body["detail"]
    assert total_datasets(client) == 1
    assert tree_files(app_config["ROOT"]) == ["data/svom/mxt/bcf/gain/mxt_gain_v1.fits"]
    with client.get(first["datasets"][0]["url"]) as download:
        assert download.get_data() == stored
    assert search(client, instrument="MXT", codename="GAIN")["results"][0]["cal_vsd"] == (
        "2024-06-22"
    )


def test_same_bytes_under_another_name_duplicate_the_first(client, uploader):
    first = uploaded(client, uploader)
    response = upload(client, calfile_bytes(MXT_GAIN), "mxt_gain_copy.fits", headers=uploader)
    body = assert_problem(response, 409)
    assert [e["dataset_id"] for e in body["errors"]] == [first["datasets"][0]["id"]]


def served_index(client, index_dir: str = "data/svom/mxt") -> CifIndex:
    with client.get(f"/caldb/{index_dir}/caldb.indx") as response:
        assert response.status_code == 200
        return read_cif(io.BytesIO(response.get_data()))


def test_identical_re_upload_leaves_the_served_index_unchanged(client, uploader, monkeypatch):
    uploaded(client, uploader)
    before = served_index(client)
    later = db.utcnow() + timedelta(days=3)
    monkeypatch.setattr(db, "utcnow", lambda: later)  # the re-upload happens days later
    response = upload(client, calfile_bytes(MXT_GAIN), "mxt_gain_v1.fits", headers=uploader)
    assert response.status_code == 200, response.get_json()
    after = served_index(client)
    assert (after.caldbver, after.rows) == (before.caldbver, before.rows)


# -- duplicates ---------------------------------------------------------------------------

# (keywords changed in the first file, in the second file): both compete for one request.
DUPLICATES = {
    "identical keywords": ({}, {"CDES0001": "a second gain"}),
    "codename case": ({}, {"CCNM0001": "gain"}),
    "overlapping energy ranges": ({"CBD10001": "ENERG(0.2-10)"}, {"CBD10001": "ENERG(5-12)"}),
    "touching energy ranges": ({"CBD10001": "ENERG(0.2-2)"}, {"CBD10001": "ENERG(2-10)"}),
    "no boundary is valid everywhere": ({"CBD10001": "ENERG(0.2-10)"}, {}),
    "boundary on another parameter": ({"CBD10001": "ENERG(0.2-10)"}, {"CBD10001": "THETA(0)"}),
    "a shared mode": ({"CBD10001": "MODE(FULL)"}, {"CBD10001": "MODE(FULL,WINDOW)"}),
    "same detector": ({"DETNAM": "CCD"}, {"DETNAM": "ccd"}),
}
# ... and differences that let both be selected separately.
DISTINCT = {
    "disjoint energy ranges": ({"CBD10001": "ENERG(0.2-2)"}, {"CBD10001": "ENERG(2.5-10)"}),
    "other mode": ({"CBD10001": "MODE(FULL)"}, {"CBD10001": "MODE(WINDOW)"}),
    "other detector": ({}, {"DETNAM": "CCD2"}),
    "other filter": ({"FILTER": "THIN"}, {"FILTER": "THICK"}),
    "other validity date": ({}, {"CVSD0001": "2024-06-23"}),
    "other validity time": ({}, {"CVST0001": "00:00:01"}),
    "other codename": ({}, {"CCNM0001": "CTI"}),
    "other instrument": ({}, {"INSTRUME": "ECL"}),
}


@pytest.mark.parametrize(("old", "new"), DUPLICATES.values(), ids=DUPLICATES)
def test_duplicate_of_a_good_dataset_is_a_conflict_naming_it(
    client, uploader, app_config, old, new
):
    first = uploaded(client, uploader, gain(**old))
    tree = tree_files(app_config["ROOT"])
    response = upload(client, calfile_bytes(gain(**new)), "mxt_gain_v2.fits", headers=uploader)
    body = assert_problem(response, 409)
    old_id = first["datasets"][0]["id"]
    assert [(e["hdu"], e["dataset_id"]) for e in body["errors"]] == [(1, old_id)]
    assert str(old_id) in body["errors"][0]["reason"]
    assert "supersede" in body["detail"]
    assert total_datasets(client) == 1
    assert tree_files(app_config["ROOT"]) == tree
    assert dataset(client, old_id)["cal_qual"] == 0


@pytest.mark.parametrize(("old", "new"), DISTINCT.values(), ids=DISTINCT)
def test_datasets_that_can_be_told_apart_are_both_accepted(client, uploader, old, new):
    uploaded(client, uploader, gain(**old))
    second = uploaded(client, uploader, gain(**new), name="mxt_gain_v2.fits")
    assert second["superseded"] == []
    assert total_datasets(client) == 2


def test_new_file_conflicting_in_one_hdu_lists_only_that_hdu(client, uploader):
    first = uploaded(client, uploader)
    content = calfile_bytes(gain(CCNM0001="CTI"), MXT_GAIN)
    body = assert_problem(upload(client, content, "mxt_v2.fits", headers=uploader), 409)
    assert [(e["hdu"], e["dataset_id"]) for e in body["errors"]] == [
        (2, first["datasets"][0]["id"])
    ]
    assert total_datasets(client) == 1


# -- supersede ----------------------------------------------------------------------------


def test_supersede_replaces_the_duplicated_dataset_in_the_same_request(client, uploader):
    old_id = uploaded(client, uploader)["datasets"][0]["id"]
    body = uploaded(
        client, uploader, gain(CDES0001="better gain"), name="mxt_gain_v2.fits", supersede=True
    )
    new_id = body["datasets"][0]["id"]
    assert body["superseded"] == [old_id]
    old = dataset(client, old_id)
    assert old["cal_qual"] == 5
    (change,) = old["quality_history"]
    assert (change["old_qual"], change["new_qual"], change["changed_by"]) == (0, 5, "alice")
    assert "mxt_gain_v2.fits" in change["reason"]
    assert dataset(client, new_id)["cal_qual"] == 0
    found = search(client, instrument="MXT", codename="GAIN", date="2024-07-01")
    assert [r["id"] for r in found["results"]] == [new_id]


def test_supersede_replaces_every_dataset_the_new_one_overlaps(client, uploader):
    low = uploaded(client, uploader, gain(CBD10001="ENERG(0.2-2)"), name="low.fits")
    high = uploaded(client, uploader, gain(CBD10001="ENERG(2.5-10)"), name="high.fits")
    body = uploaded(client, uploader, gain(CBD10001="ENERG(1-5)"), name="mid.fits", supersede=True)
    replaced = [low["datasets"][0]["id"], high["datasets"][0]["id"]]
    assert sorted(body["superseded"]) == replaced
    assert [dataset(client, i)["cal_qual"] for i in replaced] == [5, 5]


def test_supersede_without_a_duplicate_changes_nothing_else(client, uploader):
    first = uploaded(client, uploader)
    body = uploaded(
        client, uploader, gain(CVSD0001="2025-01-01"), name="mxt_gain_v2.fits", supersede=True
    )
    assert body["superseded"] == []
    assert dataset(client, first["datasets"][0]["id"])["quality_history"] == []


def test_identical_re_upload_with_supersede_stays_idempotent(client, uploader):
    first = uploaded(client, uploader)
    response = upload(client, calfile_bytes(MXT_GAIN), "mxt_gain_v1.fits", headers=uploader,
                      supersede=True)  # fmt: skip
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["superseded"] == []
    assert dataset(client, first["datasets"][0]["id"])["cal_qual"] == 0


def test_failed_supersede_leaves_the_old_dataset_good(client, uploader, app_config):
    old_id = uploaded(client, uploader)["datasets"][0]["id"]
    tree = tree_files(app_config["ROOT"])
    content = calfile_bytes(MXT_GAIN, gain(CCNM0001=None))
    response = upload(client, content, "mxt_gain_v2.fits", headers=uploader, supersede=True)
    assert_problem(response, 422)
    old = dataset(client, old_id)
    assert (old["cal_qual"], old["quality_history"]) == (0, [])
    assert tree_files(app_config["ROOT"]) == tree


def test_superseded_dataset_no_longer_blocks_an_upload(client, uploader):
    old_id = uploaded(client, uploader)["datasets"][0]["id"]
    patch = client.patch(
        f"/api/v1/datasets/{old_id}",
        json={"cal_qual": 5, "reason": "gain was wrong"},
        headers=uploader,
    )
    assert patch.status_code == 200, patch.get_json()
    body = uploaded(client, uploader, name="mxt_gain_v2.fits")
    assert body["superseded"] == []
    found = search(client, instrument="MXT", codename="GAIN", date="2024-07-01")
    assert [r["id"] for r in found["results"]] == [body["datasets"][0]["id"]]


def test_conflict_after_a_supersede_names_only_the_good_dataset(client, uploader):
    uploaded(client, uploader)
    v2 = uploaded(client, uploader, name="mxt_gain_v2.fits", supersede=True)
    response = upload(client, calfile_bytes(MXT_GAIN), "mxt_gain_v3.fits", headers=uploader)
    body = assert_problem(response, 409)
    assert [e["dataset_id"] for e in body["errors"]] == [v2["datasets"][0]["id"]]


# -- consistency within one file ----------------------------------------------------------


def test_two_hdus_duplicating_each_other_are_refused(client, uploader, app_config):
    content = calfile_bytes(MXT_GAIN, gain(CDES0001="the same again"))
    body = assert_problem(upload(client, content, "twice.fits", headers=uploader), 422)
    assert [e["hdu"] for e in body["errors"]] == [2]
    assert "HDU 1" in body["errors"][0]["reason"]
    assert total_datasets(client) == 0
    assert tree_files(app_config["ROOT"]) == []


def test_two_hdus_for_two_detectors_are_accepted(client, uploader):
    body = uploaded(client, uploader, gain(DETNAM="CCD1"), gain(DETNAM="CCD2"))
    assert [(d["cal_xno"], d["detnam"]) for d in body["datasets"]] == [(1, "CCD1"), (2, "CCD2")]


def test_hdus_of_instruments_with_different_directories_are_refused(client, uploader, app_config):
    content = calfile_bytes(MXT_GAIN, gain(INSTRUME="ECL"))
    body = assert_problem(upload(client, content, "mixed.fits", headers=uploader), 422)
    assert any(
        "data/svom/mxt" in e["reason"] and "data/svom/ecl" in e["reason"] for e in body["errors"]
    )
    assert total_datasets(client) == 0
    assert tree_files(app_config["ROOT"]) == []


def test_hdus_of_instruments_sharing_a_directory_are_accepted(client, uploader, heasarc_dir):
    body = uploaded(
        client,
        uploader,
        gain(TELESCOP="ASCA", INSTRUME="SIS0"),
        gain(TELESCOP="ASCA", INSTRUME="SIS1"),
        name="sis_gain.fits",
    )
    assert [(d["instrume"], d["cal_dir"]) for d in body["datasets"]] == [
        ("SIS0", "data/asca/sis/bcf/gain"),
        ("SIS1", "data/asca/sis/bcf/gain"),
    ]
