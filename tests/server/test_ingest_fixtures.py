"""Real HEASARC calibration files through ``POST /api/v1/files``: the rows udcif would write.

Expectations come from ``reference/heasarc_caldb.md`` §2 and the fixtures' README; the
Swift RMF rows are also compared with the real HEASARC index that lists that file.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from caldb_server.heasarc.cif import read_cif
from tests.helpers import tree_files

NONE9 = ("NONE",) * 9
RMF = "swift_xrt/swxpc0to12s6_20130101v014.rmf.gz"
RMF_CBDS = (
    "DATAMODE(PHOTON)",
    "DETCHANS(1024)",
    "GRADE(G0:12)",
    "CHAN(0-1023)",
    'CHANTYPE("PI")',
    "XRTVSUB(6)",
)
XTE_EPOCHS = (  # in HDU order: five PCUs per epoch, the latest epoch first
    ("2000-05-13", "00:00:00"),
    ("1999-03-22", "17:38:03"),
    ("1996-04-15", "23:06:00"),
    ("1996-03-21", "18:33:40"),
    ("1996-01-01", "00:00:00"),
)
ROW_FIELDS = (
    "telescop",
    "instrume",
    "detnam",
    "filter",
    "cal_clas",
    "cal_dtyp",
    "cal_cnam",
    "cal_xno",
    "cal_vsd",
    "cal_vst",
    "cal_cbd",
)


def row(
    telescop: str,
    instrume: str,
    cal_cnam: str,
    cal_xno: int,
    cal_vsd: str,
    *,
    cal_clas: str = "BCF",
    cal_vst: str = "00:00:00",
    cbds: tuple[str, ...] = (),
    detnam: str = "NONE",
) -> tuple[Any, ...]:
    """An expected dataset, in ``ROW_FIELDS`` order (FILTER is NONE in every fixture)."""
    cal_cbd = [*cbds, *NONE9[len(cbds) :]]
    return (
        telescop,
        instrume,
        detnam,
        "NONE",
        cal_clas,
        "DATA",
        cal_cnam,
        cal_xno,
        cal_vsd,
        cal_vst,
        cal_cbd,
    )


ASCA_EA_CBDS = ("THETA(0-20)ARCMIN", "PHI(0-45)DEG", "ENERG(0.1-12)KEV")
XTE_CBDS = ("LLD(1-64)", "METHOD(3)")
# file under calfiles/ -> (CAL_DIR, expected datasets in index order)
EXPECTED: dict[str, tuple[str, list[tuple[Any, ...]]]] = {
    "asca/rti_gis_1024_040693.fits": (
        "data/asca/gis/bcf/rtibounds",
        [
            row("ASCA", gis, "RTIBOUNDS", 1, "1993-01-01", cbds=("CHAN(0-1023)",))
            for gis in ("GIS2", "GIS3")
        ],
    ),
    "asca/s0_teldef_ascalin.fits": (
        "data/asca/sis/bcf/raw2lin",
        [row("ASCA", "SIS0", "RAW2LIN", 0, "1992-02-20")],
    ),
    "asca/xrt_ea_v1_1.fits": (
        "data/asca/xrt/bcf/effarea",
        [
            row(
                "ASCA", f"XRT{n}", "EFFAREA", 1, "1993-02-20", cal_vst="02:00:00", cbds=ASCA_EA_CBDS
            )
            for n in range(1, 5)
        ],
    ),
    "gen/leapsec.fits": (
        "data/gen/bcf/leapsecs",
        [row("GEN", "INS", "LEAPSECS", 1, "1970-01-01")],
    ),
    "swift_sc/swalign20041115v012.fits": (
        "data/swift/mis/bcf/alignment",
        [row("SWIFT", "SC", "ALIGNMENT", 0, "2004-10-12")],
    ),
    "swift_xrt/psfconst_xrt.fits": (
        "data/swift/xrt/cpf/psf",
        [row("SWIFT", "XRT", "PSF", 1, "2001-01-01", cal_clas="CPF")],
    ),
    "swift_xrt/vignconst_xrt.fits": (
        "data/swift/xrt/cpf/vignet",
        [row("SWIFT", "XRT", "VIGNET", 1, "2001-01-01", cal_clas="CPF")],
    ),
    RMF: (
        "data/swift/xrt/cpf/matrix",
        [
            row("SWIFT", "XRT", codename, xno, "2013-01-01", cal_clas="CPF", cbds=RMF_CBDS)
            for xno, codename in ((1, "MATRIX"), (2, "EBOUNDS"))
        ],
    ),
    "xte/pca_e2c_e05v03.fits": (
        "data/xte/pca/bcf/e2c_parm",
        [
            row("XTE", "PCA", "E2C_PARM", xno, vsd, cal_vst=vst, cbds=XTE_CBDS, detnam=pcu)
            for xno, ((vsd, vst), pcu) in enumerate(
                itertools.product(XTE_EPOCHS, [f"PCU{n}" for n in range(5)]), start=1
            )
        ],
    ),
}


def mjd(cal_vsd: str, cal_vst: str) -> float:
    """REF_TIME computed independently of the server: MJD of the date plus the day fraction."""
    hours, minutes, seconds = map(int, cal_vst.split(":"))
    days = (date.fromisoformat(cal_vsd) - date(1858, 11, 17)).days
    return days + (hours * 3600 + minutes * 60 + seconds) / 86400


def post(client, path: Path, headers: dict[str, str]) -> TestResponse:
    """Upload a file from an in-memory body.

    The test client would spool a large multipart body to a temporary file that it never
    closes (a ResourceWarning, an error here).
    """
    fields = {"file": FileStorage(io.BytesIO(path.read_bytes()), filename=path.name)}
    boundary, body = encode_multipart(fields)
    with client.post(
        "/api/v1/files",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=headers,
    ) as response:
        response.get_data()
    return response


def fetch(client, url: str) -> bytes:
    with client.get(url) as response:
        assert response.status_code == 200, url
        return response.get_data()


def utc_today() -> str:
    return datetime.now(UTC).date().isoformat()


def calfile(heasarc_dir: Path, name: str) -> Path:
    return heasarc_dir / "calfiles" / name


def dataset_counts(client) -> Counter:
    """Datasets per (mission, instrument) from ``GET /api/v1/instruments``."""
    document = client.get("/api/v1/instruments").get_json()
    return Counter(
        {
            (mission["name"], instrument["name"]): instrument["datasets"]
            for mission in document["missions"]
            for instrument in mission["instruments"]
            if instrument["datasets"]
        }
    )


@pytest.fixture(params=sorted(EXPECTED))
def fixture_name(request: pytest.FixtureRequest) -> str:
    return request.param


def test_upload_gives_the_udcif_rows(client, uploader, heasarc_dir, fixture_name):
    path = calfile(heasarc_dir, fixture_name)
    cal_dir, expected = EXPECTED[fixture_name]
    before = utc_today()
    response = post(client, path, uploader)
    after = utc_today()
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["created"] is True
    datasets = body["datasets"]
    assert [tuple(d[f] for f in ROW_FIELDS) for d in datasets] == expected
    content = path.read_bytes()
    for dataset in datasets:
        assert dataset["cal_dir"] == cal_dir
        assert dataset["cal_file"] == path.name
        assert dataset["cal_dev"] == "ONLINE"
        assert dataset["cal_qual"] == 0
        assert dataset["cal_date"] in {before, after}
        assert dataset["ref_time"] == pytest.approx(
            mjd(dataset["cal_vsd"], dataset["cal_vst"]), abs=1e-9
        )
        assert dataset["sha256"] == hashlib.sha256(content).hexdigest() == body["sha256"]
        assert dataset["size"] == len(content)
        assert dataset["file_id"] == body["file_id"]


def test_description_is_kept_verbatim(client, uploader, heasarc_dir):
    path = calfile(heasarc_dir, "xte/pca_e2c_e05v03.fits")
    datasets = post(client, path, uploader).get_json()["datasets"]
    assert datasets[2]["cal_desc"] == "PCU2 Energy->Channel params (method-3; e05v03)"


def test_uploaded_bytes_are_served_unchanged(client, uploader, app_config, heasarc_dir):
    path = calfile(heasarc_dir, RMF)
    content = path.read_bytes()
    datasets = post(client, path, uploader).get_json()["datasets"]
    for dataset in datasets:
        assert fetch(client, dataset["url"]) == content
    heasarc_url = f"/caldb/{datasets[0]['cal_dir']}/{path.name}"
    assert fetch(client, heasarc_url) == content
    assert tree_files(app_config["ROOT"]) == [f"data/swift/xrt/cpf/matrix/{path.name}"]
    assert (app_config["ROOT"] / "data/swift/xrt/cpf/matrix" / path.name).read_bytes() == content


def test_get_dataset_shows_the_stored_row(client, uploader, heasarc_dir):
    path = calfile(heasarc_dir, "asca/rti_gis_1024_040693.fits")
    uploaded = post(client, path, uploader).get_json()["datasets"]
    for dataset in uploaded:
        stored = client.get(f"/api/v1/datasets/{dataset['id']}").get_json()
        assert {k: stored[k] for k in dataset} == dataset
        assert stored["uploaded_by"] == "alice"
        assert stored["quality_history"] == []


def test_rmf_rows_match_the_heasarc_index(client, uploader, heasarc_dir):
    """The real Swift CIF lists the same RMF (uncompressed, in data/swift/xrt/cpf/rmf)."""
    heasarc_rows = [
        r
        for r in read_cif(heasarc_dir / "cif" / "swift_xrt_caldb.indx20160609").rows
        if r.cal_file == "swxpc0to12s6_20130101v014.rmf"
    ]
    datasets = post(client, calfile(heasarc_dir, RMF), uploader).get_json()["datasets"]
    compared = (*ROW_FIELDS, "cal_dev", "ref_time", "cal_desc", "cal_qual")
    assert len(heasarc_rows) == len(datasets) == 2
    for ours, theirs in zip(datasets, heasarc_rows, strict=True):
        assert {f: ours[f] for f in compared} == {
            f: list(getattr(theirs, f)) if f == "cal_cbd" else getattr(theirs, f) for f in compared
        }


def test_legacy_date_conversion_is_reported(client, uploader, heasarc_dir):
    path = calfile(heasarc_dir, "asca/s0_teldef_ascalin.fits")
    body = post(client, path, uploader).get_json()
    assert body["datasets"][0]["cal_vsd"] == "1992-02-20"
    assert any("20/02/92" in note and "1992-02-20" in note for note in body["notes"])


def test_iso_dates_give_no_conversion_note(client, uploader, heasarc_dir):
    body = post(client, calfile(heasarc_dir, RMF), uploader).get_json()
    assert not any("legacy" in note for note in body["notes"])


def test_second_upload_is_idempotent(client, uploader, app_config, heasarc_dir, fixture_name):
    path = calfile(heasarc_dir, fixture_name)
    first = post(client, path, uploader).get_json()
    tree = tree_files(app_config["ROOT"])
    counts = dataset_counts(client)
    second = post(client, path, uploader)
    assert second.status_code == 200, second.get_json()
    body = second.get_json()
    assert body["created"] is False
    assert body["file_id"] == first["file_id"]
    assert [d["id"] for d in body["datasets"]] == [d["id"] for d in first["datasets"]]
    assert body["superseded"] == []
    assert tree_files(app_config["ROOT"]) == tree
    assert dataset_counts(client) == counts


def test_every_fixture_coexists_in_one_caldb(client, uploader, app_config, heasarc_dir):
    for name in sorted(EXPECTED):
        response = post(client, calfile(heasarc_dir, name), uploader)
        assert response.status_code == 201, (name, response.get_json())
    assert dataset_counts(client) == Counter(
        {
            ("ASCA", "GIS2"): 1,
            ("ASCA", "GIS3"): 1,
            ("ASCA", "SIS0"): 1,
            **{("ASCA", f"XRT{n}"): 1 for n in range(1, 5)},
            ("GEN", "INS"): 1,
            ("SWIFT", "SC"): 1,
            ("SWIFT", "XRT"): 4,
            ("XTE", "PCA"): 25,
        }
    )
    assert tree_files(app_config["ROOT"]) == sorted(
        f"{cal_dir}/{Path(name).name}" for name, (cal_dir, _) in EXPECTED.items()
    )
    for name in sorted(EXPECTED):
        assert post(client, calfile(heasarc_dir, name), uploader).status_code == 200


def search(client, **params: str) -> dict[str, Any]:
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.parametrize("instrument", ["GIS2", "GIS3"])
def test_alias_rows_are_each_found_by_search(client, uploader, heasarc_dir, instrument):
    post(client, calfile(heasarc_dir, "asca/rti_gis_1024_040693.fits"), uploader)
    found = search(
        client, mission="ASCA", instrument=instrument, codename="rtibounds", date="1993-06-01"
    )
    assert found["nfound"] == 1
    assert found["results"][0]["instrume"] == instrument
    assert found["results"][0]["cal_file"] == "rti_gis_1024_040693.fits"


@pytest.mark.parametrize(
    ("time", "expected_vsd"),
    [("18:33:39", "1996-01-01"), ("18:33:40", "1996-03-21"), ("23:59:59", "1996-03-21")],
)
def test_xte_validity_start_counts_to_the_second(client, uploader, heasarc_dir, time, expected_vsd):
    post(client, calfile(heasarc_dir, "xte/pca_e2c_e05v03.fits"), uploader)
    found = search(
        client,
        mission="XTE",
        instrument="PCA",
        codename="E2C_PARM",
        detector="PCU2",
        date="1996-03-21",
        time=time,
    )
    assert [(r["detnam"], r["cal_vsd"]) for r in found["results"]] == [("PCU2", expected_vsd)]


def test_rmf_is_selected_by_its_boundaries(client, uploader, heasarc_dir):
    post(client, calfile(heasarc_dir, RMF), uploader)
    common = {"mission": "SWIFT", "instrument": "XRT", "codename": "MATRIX", "date": "2015-01-01"}
    match = search(client, **common, expr="datamode.eq.PHOTON.and.grade.eq.G0:12")
    miss = search(client, **common, expr="datamode.eq.WINDOWED")
    assert [r["cal_xno"] for r in match["results"]] == [1]
    assert miss["nfound"] == 0
