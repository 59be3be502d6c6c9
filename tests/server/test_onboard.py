"""Onboard uploads (SPEC §3.5): names carry the indexing data, content is checked, versions
supersede, and search answers which configuration was active on board."""

from __future__ import annotations

import io

import pytest
from astropy.io import fits

from caldb_server.web import extension
from tests.helpers import MXT_GAIN, assert_problem, calfile_bytes, tree_files, upload
from tests.server.uploads import BOUNDARY, multipart

EVTTHR = b"event_threshold_adu: 20\nsplit_threshold_adu: 5\nupper_threshold_adu: 4000\n"
PATTERN = "<INSTRUME>_<CODENAME>_<YYYYMMDD>T<HHMMSS>_V<NN>.yaml"


def send(client, name, content, headers):
    # A raw multipart body: the test client would spool a big one to a file it never closes.
    with client.post(
        "/api/v1/onboard",
        data=multipart([("file", name, content)]),
        headers=headers,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    ) as response:
        response.get_data()
    return response


def stored(client):
    return tree_files(extension(client.application).storage.root)


def evtthr(threshold):
    return EVTTHR.replace(b"20", str(threshold).encode())


def active(client, date, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    answer = client.get(f"/api/v1/search?instrument=MXT&codename=EVTTHR&date={date}&{query}")
    assert answer.status_code == 200, answer.get_json()
    return [r["cal_file"] for r in answer.get_json()["results"]]


def test_an_onboard_file_is_indexed_from_its_name(client, uploader):
    response = send(client, "mxt_evtthr_20250301T120000_V01.yaml", EVTTHR, uploader)
    assert response.status_code == 201, response.get_json()
    (dataset,) = response.get_json()["datasets"]
    assert dataset["instrume"] == "MXT"
    assert dataset["cal_cnam"] == "EVTTHR"
    assert (dataset["cal_clas"], dataset["cal_dtyp"]) == ("UPLOAD", "ONBOARD")
    assert (dataset["cal_vsd"], dataset["cal_vst"]) == ("2025-03-01", "12:00:00")
    assert dataset["cal_dir"] == "data/svom/mxt/upload/evtthr"
    assert dataset["cal_desc"] == "MXT EVTTHR onboard configuration V01"
    assert stored(client) == ["data/svom/mxt/upload/evtthr/mxt_evtthr_20250301T120000_V01.yaml"]
    with client.get(dataset["url"].split("localhost")[1]) as content:
        assert content.data == EVTTHR
    again = send(client, "mxt_evtthr_20250301T120000_V01.yaml", EVTTHR, uploader)
    assert again.status_code == 200
    assert again.get_json()["datasets"][0]["id"] == dataset["id"]


def test_class_and_type_are_forced_and_an_alias_names_the_instrument(client, uploader):
    trigger = b"count_rate_sigma: 6\nimage_sigma: 6.5\ntimescales_s: [0.01, 1, 10]\n"
    trigger += b"description: ECLAIRs trigger for the commissioning\n"
    response = send(client, "ECLAIRS_TRIGCFG_20240701T000000_V01.yaml", trigger, uploader)
    assert response.status_code == 201, response.get_json()
    (dataset,) = response.get_json()["datasets"]
    assert (dataset["instrume"], dataset["cal_clas"], dataset["cal_dtyp"]) == (
        "ECL",
        "UPLOAD",
        "ONBOARD",
    )
    assert dataset["cal_desc"] == "ECLAIRs trigger for the commissioning"


def test_versions_and_dates_decide_what_was_active_on_board(client, uploader):
    for name, threshold in [
        ("MXT_EVTTHR_20240701T000000_V01.yaml", 20),
        ("MXT_EVTTHR_20250301T120000_V01.yaml", 22),
        ("MXT_EVTTHR_20250301T120000_V02.yaml", 25),
    ]:
        response = send(client, name, evtthr(threshold), uploader)
        assert response.status_code == 201, response.get_json()
    superseded = response.get_json()["superseded"]
    assert len(superseded) == 1
    assert active(client, "2024-06-01") == []
    assert active(client, "2024-12-01") == ["MXT_EVTTHR_20240701T000000_V01.yaml"]
    assert active(client, "2025-03-01", time="11:59:59") == ["MXT_EVTTHR_20240701T000000_V01.yaml"]
    assert active(client, "2025-03-01", time="12:00:00") == ["MXT_EVTTHR_20250301T120000_V02.yaml"]
    explained = client.get(
        "/api/v1/search?instrument=MXT&codename=EVTTHR&date=2025-06-01&explain=true"
    ).get_json()["explain"]
    reasons = {e["cal_file"]: e["reason"] for e in explained}
    assert reasons == {
        "MXT_EVTTHR_20250301T120000_V01.yaml": "quality",
        "MXT_EVTTHR_20240701T000000_V01.yaml": "superseded",
    }
    history = client.get(f"/api/v1/datasets/{superseded[0]}").get_json()["quality_history"]
    assert "superseded by version V02" in history[0]["reason"]


def test_as_of_replays_the_answer_before_a_new_version(client, uploader):
    send(client, "MXT_EVTTHR_20250301T120000_V01.yaml", evtthr(22), uploader)
    before = client.get("/api/v1/search?instrument=MXT&codename=EVTTHR&date=2025-06-01").get_json()[
        "answered_at"
    ]
    send(client, "MXT_EVTTHR_20250301T120000_V02.yaml", evtthr(25), uploader)
    assert active(client, "2025-06-01") == ["MXT_EVTTHR_20250301T120000_V02.yaml"]
    assert active(client, "2025-06-01", as_of=before.replace("+", "%2B")) == [
        "MXT_EVTTHR_20250301T120000_V01.yaml"
    ]


def test_a_lower_or_equal_version_is_refused(client, uploader):
    send(client, "MXT_EVTTHR_20250301T120000_V03.yaml", evtthr(25), uploader)
    body = assert_problem(
        send(client, "MXT_EVTTHR_20250301T120000_V02.yaml", EVTTHR, uploader), 409
    )
    assert "V03" in body["detail"]
    assert active(client, "2025-06-01") == ["MXT_EVTTHR_20250301T120000_V03.yaml"]
    changed = send(client, "MXT_EVTTHR_20250301T120000_V03.yaml", evtthr(30), uploader)
    assert "immutable" in assert_problem(changed, 409)["detail"]


def test_onboard_files_stay_out_of_the_heasarc_index(client, uploader):
    upload(client, calfile_bytes(MXT_GAIN), "mxt_gain_v1.fits", headers=uploader)
    with client.get("/caldb/data/svom/mxt/caldb.indx") as before:
        index = before.data
    send(client, "MXT_EVTTHR_20250301T120000_V01.yaml", EVTTHR, uploader)
    with client.get("/caldb/data/svom/mxt/caldb.indx") as after:
        assert after.data == index  # not listed, and the index did not change at all
    with fits.open(io.BytesIO(index)) as cif:
        assert list(cif["CIF"].data["CAL_FILE"]) == ["mxt_gain_v1.fits"]
    instruments = client.get("/api/v1/instruments").get_json()["missions"][0]["instruments"]
    mxt = next(i for i in instruments if i["name"] == "MXT")
    assert {o["name"]: o["datasets"] for o in mxt["onboard"]} == {"EVTTHR": 1, "PIXMASK": 0}
    assert mxt["datasets"] == 1  # the calibration count: the GAIN file only


BAD_NAMES = [
    "MXT_EVTTHR_2025-03-01T120000_V01.yaml",
    "MXT_EVTTHR_20250301T120000_V1.yaml",
    "MXT_EVTTHR_20250301T120000_V01.yml",
    "MXT_EVT_THR_20250301T120000_V01.yaml",
    "MXT_EVTTHR_20251301T120000_V01.yaml",
    "MXT_EVTTHR_20250301T250000_V01.yaml",
    "../MXT_EVTTHR_20250301T120000_V01.yaml",
    "evtthr.yaml",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_bad_name_is_refused_with_the_expected_pattern(client, uploader, name):
    body = assert_problem(send(client, name, EVTTHR, uploader), 422)
    assert PATTERN in body["detail"]
    assert stored(client) == []


@pytest.mark.parametrize(
    ("name", "content", "rule"),
    [
        ("ABC_EVTTHR_20250301T120000_V01.yaml", EVTTHR, "unknown instrument ABC"),
        ("MXT_GAIN_20250301T120000_V01.yaml", EVTTHR, "unknown onboard codename GAIN"),
        ("MXT_EVTTHR_20250301T120000_V01.yaml", b"- 1\n- 2\n", "mapping"),
        ("MXT_EVTTHR_20250301T120000_V01.yaml", b"a: [1, 2\n", "not valid YAML"),
        ("MXT_EVTTHR_20250301T120000_V01.yaml", "é: 1".encode("latin-1"), "UTF-8"),
        ("MXT_EVTTHR_20250301T120000_V01.yaml", EVTTHR + b"split_threshold_adu: 6\n", "twice"),
        (
            "MXT_EVTTHR_20250301T120000_V01.yaml",
            b'a: &a ["x","x"]\nb: &b [*a,*a]\nc: &c [*b,*b]\nd: [*c,*c]\n',
            "aliases",
        ),
        ("MXT_EVTTHR_20250301T120000_V01.yaml", b"a: " + b"[" * 100 + b"]" * 100, "nested"),
        ("MXT_EVTTHR_20250301T120000_V01.yaml", b"a: !!python/object/apply:os.system [x]", "YAML"),
        ("MXT_EVTTHR_20250301T120000_V01.yaml", b"event_threshold_adu: -1\n", "required"),
        ("MXT_EVTTHR_20250301T120000_V01.yaml", EVTTHR + b"colour: red\n", "additional"),
    ],
    ids=[
        "instrument", "codename", "list", "broken", "latin-1", "duplicate key", "alias bomb",
        "deep", "python tag", "schema required", "schema extra",
    ],
)  # fmt: skip
def test_bad_content_is_refused_naming_the_rule_and_nothing_is_stored(
    client, uploader, name, content, rule
):
    body = assert_problem(send(client, name, content, uploader), 422)
    assert rule in str(body)
    assert stored(client) == []
    assert client.get("/api/v1/datasets?instrument=MXT").get_json()["datasets"] == []


def test_an_instrument_without_onboard_products_is_named_so(client, uploader, registry_path):
    if registry_path is None:
        pytest.skip("the HEASARC fixtures (and so Swift XRT) are absent")
    body = assert_problem(
        send(client, "XRT_EVTTHR_20250301T120000_V01.yaml", EVTTHR, uploader), 422
    )
    assert body["errors"][0]["reason"].startswith("XRT has no onboard products")


def test_oversize_files_get_413_and_roles_are_checked(client, uploader, make_token):
    big = EVTTHR + b"# " + b"x" * (1024 * 1024) + b"\n"
    assert_problem(send(client, "MXT_EVTTHR_20250301T120000_V01.yaml", big, uploader), 413)
    reader = {"Authorization": f"Bearer {make_token('reader')}"}
    assert_problem(send(client, "MXT_EVTTHR_20250301T120000_V01.yaml", EVTTHR, reader), 403)
    assert_problem(send(client, "MXT_EVTTHR_20250301T120000_V01.yaml", EVTTHR, {}), 401)
    assert stored(client) == []


# -- values PyYAML cannot construct, control characters, dates before 1900 ---------------

UNREADABLE = {
    "timestamp 2001-13-45": b"description: 2001-13-45\n",
    "float tag on text": b"frame_time_ms: !!float abc\n",
    "int tag on text": b"frame_time_ms: !!int abc\n",
    "4301-digit integer": b"frame_time_ms: " + b"9" * 4301 + b"\n",
}


@pytest.mark.parametrize("extra", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_a_value_yaml_cannot_construct_is_422_not_500(client, uploader, extra):
    body = assert_problem(
        send(client, "MXT_EVTTHR_20250301T120000_V01.yaml", EVTTHR + extra, uploader), 422
    )
    assert body["errors"][0]["rule"] == "yaml"
    assert "cannot be read" in body["errors"][0]["reason"]
    assert stored(client) == []


@pytest.mark.parametrize(
    "extra",
    [b'description: "bad\\0value"\n', b'description: "\\e[2J"\n', b'"\\x85key": 1\n',
     b'description: "a\\ud800"\n', b'"key\\tname": 1\n'],
    ids=["NUL", "escape", "C1 in a key", "surrogate", "tab in a key"],
)  # fmt: skip
def test_a_control_character_in_a_yaml_string_is_422(client, uploader, extra):
    body = assert_problem(
        send(client, "MXT_EVTTHR_20250301T120000_V01.yaml", EVTTHR + extra, uploader), 422
    )
    assert body["errors"][0]["rule"] == "control-characters"
    assert stored(client) == []


def test_multi_line_values_are_kept_but_never_become_the_description(client, uploader):
    """Block scalars may hold tab and newline; CAL_DESC, one FITS line, falls back."""
    content = EVTTHR + b"description: |\n  two\n  \tlines\n"
    response = send(client, "MXT_EVTTHR_20250301T120000_V01.yaml", content, uploader)
    assert response.status_code == 201, response.get_json()
    (dataset,) = response.get_json()["datasets"]
    assert dataset["cal_desc"] == "MXT EVTTHR onboard configuration V01"


def test_on_board_dates_begin_in_1900(client, uploader):
    body = assert_problem(
        send(client, "MXT_EVTTHR_18991231T235959_V01.yaml", EVTTHR, uploader), 422
    )
    assert "from 1900" in body["detail"]
    assert body["errors"][0]["pattern"] == PATTERN
    assert_problem(send(client, "MXT_EVTTHR_09990101T000000_V01.yaml", EVTTHR, uploader), 422)
    assert stored(client) == []
    first = send(client, "MXT_EVTTHR_19000101T000000_V01.yaml", EVTTHR, uploader)
    assert first.status_code == 201, first.get_json()
    (dataset,) = first.get_json()["datasets"]
    assert (dataset["cal_vsd"], dataset["cal_vst"]) == ("1900-01-01", "00:00:00")
    assert active(client, "1900-01-02") == ["MXT_EVTTHR_19000101T000000_V01.yaml"]
