"""GET /api/v1/search: parameters, semantics over HTTP, as_of, explain, and the fast path."""

import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import yaml

from caldb_selection import Query, parse_expression, requested_mjd, select
from caldb_server import create_app
from caldb_server.config import DEFAULT_REGISTRY
from caldb_server.db import utcnow
from caldb_server.search import service
from caldb_server.web import extension
from tests.conftest import app_settings, fresh_database
from tests.helpers import (
    MXT_GAIN,
    assert_problem,
    calfile_bytes,
    insert_datasets,
    mxt_gain_dataset,
    upload,
    write_registry,
)

SEARCH = "/api/v1/search"


def gain(valid_from, **changes):
    return calfile_bytes(MXT_GAIN | {"CVSD0001": valid_from} | changes)


def ids(response):
    assert response.status_code == 200, response.get_json()
    return [result["id"] for result in response.get_json()["results"]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"codename": "GAIN"}, "instrument"),
        ({"instrument": "MXT"}, "codename"),
        ({"instrument": "MXT", "codename": "GAIN", "codname": "x"}, "codname"),
        ({"instrument": "MXT", "codename": "GAIN", "maxret": "0"}, "maxret"),
        ({"instrument": "MXT", "codename": "GAIN", "maxret": "10001"}, "maxret"),
        ({"instrument": "MXT", "codename": "GAIN", "maxret": "ten"}, "maxret"),
        ({"instrument": "MXT", "codename": "GAIN", "date": "2024-02-30"}, "date"),
        ({"instrument": "MXT", "codename": "GAIN", "date": "yesterday"}, "date"),
        ({"instrument": "MXT", "codename": "GAIN", "date": "-", "time": "12:00:00"}, "time"),
        (
            {"instrument": "MXT", "codename": "GAIN", "time": "25:00:00", "date": "2024-01-01"},
            "time",
        ),
        (
            {
                "instrument": "MXT",
                "codename": "GAIN",
                "date": "2024-01-01T10:00:00",
                "time": "12:00:00",
            },
            "time",
        ),
        ({"instrument": "MXT", "codename": "GAIN", "expr": "energ.eq."}, "expr"),
        ({"instrument": "MXT", "codename": "GAIN", "expr": "energ.lt.PHOTON"}, "expr"),
        ({"instrument": "MXT", "codename": "GAIN", "as_of": "last week"}, "as_of"),
        ({"instrument": "MXT", "codename": "GAIN", "explain": "maybe"}, "explain"),
        ({"instrument": "M X T", "codename": "GAIN"}, "instrument"),
        ({"instrument": "MXT", "codename": "G" * 21}, "codename"),
        ({"instrument": "MXT", "codename": "GAIN", "detector": "A" * 21}, "detector"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(client, query, field):
    body = assert_problem(client.get(SEARCH, query_string=query), 422)
    assert field in [error["field"] for error in body["errors"]]


def test_every_bad_parameter_is_reported_at_once(client):
    query = {"codename": "GAIN", "maxret": "0", "date": "nope", "surprise": "1"}
    body = assert_problem(client.get(SEARCH, query_string=query), 422)
    assert {e["field"] for e in body["errors"]} == {"instrument", "maxret", "date", "surprise"}


def test_repeated_parameter_is_refused(client):
    body = assert_problem(client.get(f"{SEARCH}?instrument=MXT&codename=GAIN&codename=CTI"), 422)
    assert body["errors"] == [{"field": "codename", "reason": "given more than once"}]


def test_epochs_are_chosen_by_date_and_time(client, uploader):
    first = upload(client, gain("2024-06-22"), "gain_v1.fits", headers=uploader).get_json()
    second = upload(
        client, gain("2025-06-01", CVST0001="12:00:00"), "gain_v2.fits", headers=uploader
    )
    first_id, second_id = first["datasets"][0]["id"], second.get_json()["datasets"][0]["id"]
    query = {"instrument": "MXT", "codename": "GAIN"}
    assert ids(client.get(SEARCH, query_string=query | {"date": "2024-06-21"})) == []
    assert ids(client.get(SEARCH, query_string=query | {"date": "2024-06-22"})) == [first_id]
    assert ids(
        client.get(SEARCH, query_string=query | {"date": "2025-06-01", "time": "11:59:59"})
    ) == [first_id]
    assert ids(client.get(SEARCH, query_string=query | {"date": "2025-06-01T12:00:00Z"})) == [
        second_id
    ]
    assert ids(client.get(SEARCH, query_string=query | {"date": "now"})) == [second_id]
    assert ids(client.get(SEARCH, query_string=query)) == [second_id]
    assert ids(client.get(SEARCH, query_string=query | {"date": "-"})) == [first_id, second_id]
    assert ids(client.get(SEARCH, query_string=query | {"date": "-", "maxret": "1"})) == [first_id]
    body = client.get(SEARCH, query_string=query | {"date": "-", "maxret": "1"}).get_json()
    assert body["nfound"] == 2


def test_answer_echoes_the_understood_query(client, uploader):
    upload(client, gain("2024-06-22"), "gain_v1.fits", headers=uploader)
    query = {
        "instrument": "mxt",
        "codename": "gain",
        "date": "2024-07-01",
        "time": "06:00:00",
        "expr": "energ.eq.1",
    }
    body = client.get(SEARCH, query_string=query).get_json()
    assert body["query"] == {
        "mission": "SVOM",
        "instrument": "MXT",
        "codename": "GAIN",
        "detector": "-",
        "filter": "-",
        "expr": "ENERG.EQ.1",
        "time": "2024-07-01T06:00:00+00:00",
        "ref_time": 60492.25,
        "maxret": 50,
        "as_of": None,
    }
    assert body["epoch"] == {"ref_time": 60483.0, "start": "2024-06-22T00:00:00+00:00"}


def test_detector_rows_and_none_rows(client, uploader):
    blue = upload(client, gain("2024-01-01", DETNAM="BLUE"), "g_blue.fits", headers=uploader)
    common = upload(
        client,
        gain("2024-01-01", DETNAM="NONE", CBD10001="ENERG(0.2-1)"),
        "g_none.fits",
        headers=uploader,
    )
    blue_id, common_id = (
        blue.get_json()["datasets"][0]["id"],
        common.get_json()["datasets"][0]["id"],
    )
    query = {"instrument": "MXT", "codename": "GAIN", "date": "2024-02-01"}
    assert ids(client.get(SEARCH, query_string=query | {"detector": "blue"})) == [
        blue_id,
        common_id,
    ]
    assert ids(client.get(SEARCH, query_string=query | {"detector": "RED"})) == [common_id]
    assert ids(client.get(SEARCH, query_string=query)) == [blue_id, common_id]


def test_alias_with_one_target_is_resolved(client, uploader):
    response = upload(
        client, gain("2024-01-01", INSTRUME="ECLAIRS"), "ecl_gain.fits", headers=uploader
    )
    assert response.status_code == 201
    assert response.get_json()["datasets"][0]["instrume"] == "ECL"
    for name in ("ECL", "ECLAIRS", "eclairs"):
        body = client.get(SEARCH, query_string={"instrument": name, "codename": "GAIN"}).get_json()
        assert body["nfound"] == 1, name


@pytest.mark.parametrize(
    ("query", "field", "known"),
    [
        ({"instrument": "MXR", "codename": "GAIN"}, "instrument", ["ECL", "ECLAIRS", "MXT", "VT"]),
        ({"instrument": "MXT", "codename": "GAINS"}, "codename", ["BADPIX", "EBOUNDS", "GAIN"]),
        ({"instrument": "eclairs", "codename": "TELDEF"}, "codename", ["BADPIX", "TRIGCFG"]),
        ({"mission": "NOSUCH", "instrument": "XRT", "codename": "GAIN"}, "mission", ["SVOM"]),
    ],
)
def test_unknown_names_are_404_naming_the_known_ones(client, query, field, known):
    body = assert_problem(client.get(SEARCH, query_string=query), 404)
    [error] = body["errors"]
    assert error["field"] == field
    assert set(known) <= set(error["known"])
    assert error["known"] == sorted(error["known"])
    assert all(name in body["detail"] for name in known)


def test_a_known_codename_with_nothing_valid_then_is_nfound_0(client, uploader):
    assert upload(client, gain("2024-01-01"), "mxt_gain.fits", headers=uploader).status_code == 201
    for query in (
        {"instrument": "MXT", "codename": "GAIN", "date": "2023-01-01"},
        {"instrument": "MXT", "codename": "CTI"},  # registered, never uploaded
        {"instrument": "MXT", "codename": "EVTTHR"},  # an onboard codename
    ):
        response = client.get(SEARCH, query_string=query)
        assert response.status_code == 200, query
        assert response.get_json()["nfound"] == 0, query


def test_names_only_the_catalogue_holds_are_still_searchable(app, client):
    """An instrument or codename taken out of the registry keeps its datasets findable."""
    insert_datasets(extension(app).database, [mxt_gain_dataset(cal_cnam="OLDGAIN")])
    query = {"instrument": "MXT", "codename": "OLDGAIN", "date": "-"}
    assert client.get(SEARCH, query_string=query).get_json()["nfound"] == 1


def test_instruments_without_a_codename_list_accept_any(app_config, tmp_path):
    document = yaml.safe_load(DEFAULT_REGISTRY.read_text())
    document["missions"][0]["instruments"].append({"name": "GRM", "dir": "data/svom/grm"})
    app_config["REGISTRY"] = write_registry(document, tmp_path / "registry.yaml")
    app = create_app(app_config)
    try:
        query = {"instrument": "GRM", "codename": "ANYTHING"}
        response = app.test_client().get(SEARCH, query_string=query)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["nfound"] == 0
    finally:
        extension(app).database.dispose()


def test_results_carry_every_field_and_a_working_url(client, uploader):
    content = gain("2024-01-01")
    upload(client, content, "gain_v1.fits", headers=uploader)
    result = client.get(SEARCH, query_string={"instrument": "MXT", "codename": "GAIN"}).get_json()[
        "results"
    ][0]
    assert result["cal_cbd"] == ["NONE"] * 9
    assert result["cal_dir"] == "data/svom/mxt/bcf/gain"
    assert result["size"] == len(content)
    with client.get(result["url"]) as download:  # closes the file send_file opened
        assert download.status_code == 200
        assert download.data == content
        assert download.headers["ETag"].strip('"') == result["sha256"]


def test_as_of_replays_uploads_and_quality_changes(client, uploader):
    first = upload(client, gain("2024-06-22"), "gain_v1.fits", headers=uploader).get_json()
    between = (utcnow() + timedelta(microseconds=1)).isoformat()
    second = upload(client, gain("2025-06-01"), "gain_v2.fits", headers=uploader).get_json()
    first_id, second_id = first["datasets"][0]["id"], second["datasets"][0]["id"]
    query = {"instrument": "MXT", "codename": "GAIN", "date": "2025-07-01"}
    assert ids(client.get(SEARCH, query_string=query)) == [second_id]
    assert ids(client.get(SEARCH, query_string=query | {"as_of": between})) == [first_id]
    before_everything = "2000-01-01T00:00:00"
    assert ids(client.get(SEARCH, query_string=query | {"as_of": before_everything})) == []

    before_withdrawal = utcnow().isoformat()
    patched = client.patch(
        f"/api/v1/datasets/{second_id}", json={"cal_qual": 5, "reason": "bad"}, headers=uploader
    )
    assert patched.status_code == 200
    assert ids(client.get(SEARCH, query_string=query)) == [first_id]
    assert ids(client.get(SEARCH, query_string=query | {"as_of": before_withdrawal})) == [second_id]


def test_explain_says_why_each_candidate_lost(client, uploader):
    old = upload(client, gain("2024-06-22"), "gain_v1.fits", headers=uploader).get_json()[
        "datasets"
    ][0]["id"]
    new = upload(client, gain("2025-06-01"), "gain_v2.fits", headers=uploader).get_json()[
        "datasets"
    ][0]["id"]
    late = upload(client, gain("2026-01-01"), "gain_v3.fits", headers=uploader).get_json()[
        "datasets"
    ][0]["id"]
    red = upload(
        client,
        gain("2025-06-01", DETNAM="RED", CBD10001="ENERG(0.2-1)"),
        "gain_red.fits",
        headers=uploader,
    ).get_json()["datasets"][0]["id"]
    narrow = upload(
        client,
        gain("2025-06-01", CBD10001="ENERG(5-10)", DETNAM="BLUE"),
        "gain_narrow.fits",
        headers=uploader,
    ).get_json()["datasets"][0]["id"]
    client.patch(
        f"/api/v1/datasets/{old}", json={"cal_qual": 5, "reason": "test"}, headers=uploader
    )
    query = {
        "instrument": "MXT",
        "codename": "GAIN",
        "date": "2025-07-01",
        "detector": "BLUE",
        "expr": "energ.eq.1",
        "explain": "true",
    }
    body = client.get(SEARCH, query_string=query).get_json()
    assert [r["id"] for r in body["results"]] == [new]
    reasons = {item["id"]: item["reason"] for item in body["explain"]}
    assert reasons == {old: "quality", late: "later_validity", red: "detector", narrow: "boundary"}
    details = {item["id"]: item["detail"] for item in body["explain"]}
    assert "CAL_QUAL is 5" in details[old]
    assert "ENERG(5-10)" in details[narrow]
    assert "ENERG.EQ.1" in details[narrow]


def test_explain_reports_superseded_epochs(client, uploader):
    old = upload(client, gain("2024-06-22"), "gain_v1.fits", headers=uploader).get_json()[
        "datasets"
    ][0]["id"]
    upload(client, gain("2025-06-01"), "gain_v2.fits", headers=uploader)
    body = client.get(
        SEARCH,
        query_string={
            "instrument": "MXT",
            "codename": "GAIN",
            "date": "2025-07-01",
            "explain": "true",
        },
    ).get_json()
    assert body["explain"] == [
        {
            "id": old,
            "cal_file": "gain_v1.fits",
            "cal_xno": 1,
            "reason": "superseded",
            "detail": body["explain"][0]["detail"],
        }
    ]
    assert "2025-06-01T00:00:00" in body["explain"][0]["detail"]


# --- the paged fast path agrees with the reference selection over every row -------------


def _random_catalogue(rng, count):
    epochs = [55000.0 + 30 * k for k in range(12)] + [55000.5, 55000.25]
    detectors = ["NONE", "BLUE", "RED"]
    cbds = [
        "NONE",
        "ENERG(0.2-2)keV",
        "ENERG(2-10)keV",
        "DATAMODE(PHOTON)",
        "DATAMODE(PHOTON,WINDOWED)",
    ]
    rows = []
    for _ in range(count):
        epoch = rng.choice(epochs[:3]) if rng.random() < 0.4 else rng.choice(epochs)  # big epochs
        rows.append(
            {
                "ref_time": epoch,
                "detnam": rng.choice(detectors),
                "filter": rng.choice(["NONE", "F1"]),
                "cal_qual": 5 if rng.random() < 0.15 else 0,
                "cal_cbd": [rng.choice(cbds), rng.choice([*cbds[3:], "NONE"]), *["NONE"] * 7],
            }
        )
    return rows


@pytest.fixture(scope="module")
def random_catalogue(backend, tmp_path_factory):
    directory = tmp_path_factory.mktemp("random")
    app = create_app(app_settings(fresh_database(backend, directory), directory, None))
    rows = _random_catalogue(random.Random(20261121), 400)
    insert_datasets(extension(app).database, [mxt_gain_dataset(**row) for row in rows])
    yield app, rows
    extension(app).database.dispose()


def test_fast_path_equals_reference_selection(random_catalogue, monkeypatch):
    app, rows = random_catalogue
    monkeypatch.setattr(service, "FIRST_PAGE", 8)  # exercise cut epochs and page growth
    reference_rows = [
        SimpleNamespace(id=i + 1, instrume="MXT", cal_cnam="GAIN", **row)
        for i, row in enumerate(rows)
    ]
    rng = random.Random(7)
    expressions = [
        "-",
        "energ.eq.1",
        "energ.eq.5",
        "datamode.eq.WINDOWED",
        "energ.lt.2.or.datamode.eq.PHOTON",
    ]
    checked = 0
    with extension(app).database.unit_of_work(write=False) as session:
        for _ in range(150):
            days = rng.uniform(54990, 55400)
            moment = datetime(1858, 11, 17, tzinfo=UTC) + timedelta(days=days)
            query = Query.create(
                "MXT",
                "GAIN",
                detector=rng.choice(["-", "BLUE", "RED"]),
                filter=rng.choice(["-", "F1", "F2"]),
                expression=parse_expression(rng.choice(expressions)),
                time_mjd=requested_mjd(moment.isoformat(), None, moment),
            )
            fast = service.search(session, service.SearchRequest(query, maxret=10000))
            expected = select(reference_rows, query).selected
            assert [r["id"] for r in fast.results] == [r.id for r in expected], query
            assert fast.nfound == len(expected)
            checked += bool(expected)
    assert checked > 50  # most queries find something: the comparison is not vacuous
