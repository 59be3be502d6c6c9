"""The read-only HEASARC tree under /caldb/, as HEASoft and CFITSIO read it."""

from __future__ import annotations

import dataclasses
import io

import pytest
from astropy.io import fits

from caldb_server.config import DEFAULT_REGISTRY
from caldb_server.db import utcnow
from caldb_server.heasarc.cif import CifRow, read_cif
from caldb_server.heasarc.config_files import parse_caldb_config, read_alias_config
from caldb_server.heasarc.tree import release_index
from caldb_server.web import extension
from tests.helpers import (
    MXT_GAIN,
    assert_fitsverify_clean,
    assert_problem,
    calfile_bytes,
    import_index,
    upload,
)

INDEX = "/caldb/data/svom/mxt/caldb.indx"
SWIFT_INDEX = "/caldb/data/swift/xrt/caldb.indx"
SWIFT_CIF = "cif/swift_xrt_caldb.indx20160609"
RMF = "data/swift/xrt/cpf/rmf/swxpc0to12s6_20130101v014.rmf"
# The columns of a HEASARC CIF, written out here rather than taken from the code under test.
CIF_TABLE = [
    ("TELESCOP", "10A"),
    ("INSTRUME", "10A"),
    ("DETNAM", "20A"),
    ("FILTER", "10A"),
    ("CAL_DEV", "20A"),
    ("CAL_DIR", "70A"),
    ("CAL_FILE", "40A"),
    ("CAL_CLAS", "3A"),
    ("CAL_DTYP", "4A"),
    ("CAL_CNAM", "20A"),
    ("CAL_CBD", "630A70"),
    ("CAL_XNO", "I"),
    ("CAL_VSD", "10A"),
    ("CAL_VST", "8A"),
    ("REF_TIME", "D"),
    ("CAL_QUAL", "I"),
    ("CAL_DATE", "10A"),
    ("CAL_DESC", "70A"),
]
CTI = {
    **MXT_GAIN,
    "CCNM0001": "CTI",
    "CVSD0001": "2025-01-01",
    "CVST0001": "12:30:00",
    "DETNAM": "CCD",
    "FILTER": "OPEN",
    "CBD10001": "ENERG(0.2-10)keV",
    "CDES0001": "MXT charge transfer inefficiency",
}
GAIN_V2 = {**MXT_GAIN, "CVSD0001": "2025-06-01"}
CIF_FIELDS = [field.name for field in dataclasses.fields(CifRow)]


def _upload(client, uploader, name, *hdus):
    response = upload(client, calfile_bytes(*hdus), name, headers=uploader)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _import_swift(app, heasarc_dir, files_root=None):
    return import_index(app, heasarc_dir / SWIFT_CIF, files_root)


def fetch(client, path, method="GET"):
    """One request, never following redirects; the body is read and the file closed."""
    response = client.open(path, method=method, follow_redirects=False)
    response.get_data()
    response.close()
    return response


def _served_cif(client, path):
    """GET an index, check it is a checksummed CIF, return (bytes, rows)."""
    response = fetch(client, path)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    data = response.get_data()
    with fits.open(io.BytesIO(data), checksum=True) as hdulist:
        assert hdulist[1].verify_checksum() == 1
        assert hdulist[1].verify_datasum() == 1
    return data, read_cif(io.BytesIO(data)).rows


def _cif_fields(document):
    return {name: document[name] for name in CIF_FIELDS}


def _catalogue_row(client, dataset_id):
    return _cif_fields(fetch(client, f"/api/v1/datasets/{dataset_id}").get_json())


def _as_dict(row):
    values = dataclasses.asdict(row)
    values["cal_cbd"] = list(values["cal_cbd"])
    return values


@pytest.fixture
def mxt(client, uploader):
    """Three MXT files (one with two HDUs); returns their dataset ids in upload order."""
    ids = []
    for name, hdus in [
        ("mxt_gain_v1.fits", [MXT_GAIN]),
        ("mxt_cti_v1.fits", [CTI, {**CTI, "DETNAM": "NONE", "CBD10001": "ENERG(10-12)keV"}]),
        ("mxt_gain_v2.fits", [GAIN_V2]),
    ]:
        ids += [d["id"] for d in _upload(client, uploader, name, *hdus)["datasets"]]
    return ids


def test_index_is_a_checksummed_cif_with_the_heasarc_columns(client, mxt):
    data, _rows = _served_cif(client, INDEX)
    with fits.open(io.BytesIO(data)) as hdulist:
        assert len(hdulist) == 2
        header = hdulist[1].header
    assert header["EXTNAME"] == "CIF"
    assert header["TFIELDS"] == 18
    assert header["NAXIS1"] == 947
    table = [(header[f"TTYPE{n}"], header[f"TFORM{n}"]) for n in range(1, 19)]
    assert table == CIF_TABLE
    assert header["CIFVERSN"].strip() == "1.1"
    last_indexed = fetch(client, f"/api/v1/datasets/{mxt[-1]}").get_json()["indexed_at"]
    assert header["CALDBVER"] == last_indexed[:10].replace("-", "")
    assert "CHECKSUM" in header
    assert "DATASUM" in header


def test_index_rows_are_the_catalogue_in_index_order(client, mxt):
    _data, rows = _served_cif(client, INDEX)
    assert len(rows) == len(mxt) == 4
    assert [_as_dict(row) for row in rows] == [_catalogue_row(client, i) for i in mxt]
    assert [(r.cal_file, r.cal_xno) for r in rows] == [
        ("mxt_gain_v1.fits", 1),
        ("mxt_cti_v1.fits", 1),
        ("mxt_cti_v1.fits", 2),
        ("mxt_gain_v2.fits", 1),
    ]
    assert rows[1].cal_cbd[:2] == ("ENERG(0.2-10)KEV", "NONE")


def test_search_results_are_rows_of_the_index(client, mxt):
    found = fetch(client, "/api/v1/search?instrument=MXT&codename=CTI&date=-").get_json()
    assert found["nfound"] == 2
    _data, rows = _served_cif(client, INDEX)
    served = [_as_dict(row) for row in rows]
    for result in found["results"]:
        assert _cif_fields(result) in served


def test_index_follows_uploads_and_quality_changes(client, uploader, mxt):
    first, rows = _served_cif(client, INDEX)
    etag = fetch(client, INDEX).headers["ETag"]
    assert fetch(client, INDEX).get_data() == first  # cached, stable between changes
    _upload(client, uploader, "mxt_badpix_v1.fits", {**MXT_GAIN, "CCNM0001": "BADPIX"})
    second, more = _served_cif(client, INDEX)
    assert len(more) == len(rows) + 1
    assert more[-1].cal_cnam == "BADPIX"
    assert fetch(client, INDEX).headers["ETag"] != etag
    patched = client.patch(
        f"/api/v1/datasets/{mxt[0]}",
        json={"cal_qual": 5, "reason": "replaced by v2"},
        headers=uploader,
    )
    assert patched.status_code == 200, patched.get_json()
    third, after = _served_cif(client, INDEX)
    assert third != second
    assert [r.cal_qual for r in after] == [5, 0, 0, 0, 0]


def test_index_of_another_instrument_is_unchanged_by_an_upload(client, uploader, mxt):
    _upload(client, uploader, "ecl_gain_v1.fits", {**MXT_GAIN, "INSTRUME": "ECLAIRS"})
    before = fetch(client, "/caldb/data/svom/ecl/caldb.indx").get_data()
    mxt_before = fetch(client, INDEX).get_data()
    _upload(client, uploader, "mxt_cti_v2.fits", {**CTI, "CVSD0001": "2026-01-01"})
    assert fetch(client, "/caldb/data/svom/ecl/caldb.indx").get_data() == before
    assert fetch(client, INDEX).get_data() != mxt_before
    _data, rows = _served_cif(client, "/caldb/data/svom/ecl/caldb.indx")
    assert [(r.telescop, r.instrume, r.cal_dir) for r in rows] == [
        ("SVOM", "ECL", "data/svom/ecl/bcf/gain")
    ]


@pytest.fixture
def released(app, client, uploader):
    """One MXT file, released as 20260101."""
    _upload(client, uploader, "mxt_gain_v1.fits", MXT_GAIN)
    services = extension(app)
    with services.database.unit_of_work() as session:
        release_index(
            session,
            services.storage,
            "data/svom/mxt",
            caldbver="20260101",
            actor="test",
            now=utcnow(),
        )


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [
        (INDEX, "application/fits"),
        ("/caldb/data/svom/mxt/index/caldb.indx20260101", "application/fits"),
        ("/caldb/data/svom/mxt/bcf/gain/mxt_gain_v1.fits", "application/octet-stream"),
        ("/caldb/software/tools/caldb.config", "text/plain"),
        ("/caldb/software/tools/alias_config.fits", "application/fits"),
    ],
)
def test_existing_paths_answer_get_and_head_but_not_compressed_probes(
    client, released, path, mimetype
):
    body = fetch(client, path).get_data()
    head = fetch(client, path, method="HEAD")
    assert (head.status_code, head.mimetype, head.get_data()) == (200, mimetype, b"")
    assert int(head.headers["Content-Length"]) == len(body) > 0
    for probe in (f"{path}.gz", f"{path}.Z"):  # what CFITSIO asks for first
        assert_problem(fetch(client, probe), 404)
        assert "Location" not in fetch(client, probe).headers
        assert fetch(client, probe, method="HEAD").status_code == 404


@pytest.mark.parametrize(
    "path",
    [  # directory URLs (and /caldb) are listings for browsers: test_heasarc_listing.py
        "/caldb/caldb.indx",
        "/caldb/data/svom/nope/caldb.indx",
        "/caldb/data/svom/mxt/index/caldb.indx20250101",
        "/caldb/data/svom/mxt/bcf/cti/mxt_gain_v1.fits",
        "/caldb/data/svom/mxt/bcf/gain/../gain/mxt_gain_v1.fits",
        "/caldb/software/tools/caldbinit.sh",
        "/caldb/.cache/cif/data/svom/mxt/caldb.indx.1",
        "/caldb/data/svom/mxt/CALDB.INDX",
        "/caldb/data/svom/mxt/bcf/gain/mxt_gain_v1.fits.gz",
        "/caldb/data/svom/mxt/bcf/gain.gz",
    ],
)
def test_unknown_paths_are_404_problems_never_redirects(client, released, path):
    response = fetch(client, path)
    assert_problem(response, 404)
    assert "Location" not in response.headers
    assert fetch(client, path, method="HEAD").status_code == 404


def test_calibration_files_are_served_with_identical_bytes(client, uploader):
    content = calfile_bytes(CTI, MXT_GAIN | {"CCNM0001": "CTI", "CVSD0001": "2025-02-01"})
    response = upload(client, content, "mxt_cti_v1.fits", headers=uploader)
    assert response.status_code == 201, response.get_json()
    path = "/caldb/data/svom/mxt/bcf/cti/mxt_cti_v1.fits"
    served = fetch(client, path)
    assert served.status_code == 200
    assert served.get_data() == content
    assert served.headers["X-Checksum-Sha256"] == response.get_json()["sha256"]
    api = fetch(client, response.get_json()["datasets"][0]["url"])
    assert api.get_data() == content


@pytest.mark.parametrize(
    ("name", "keywords", "index"),
    [
        ("caldb.indx", MXT_GAIN, INDEX),
        # SWIFT XRT declares no codenames: an INDEX codename makes .../bcf/index/caldb.indxN,
        # the shape of a release path.
        (
            "caldb.indx20260101",
            {**MXT_GAIN, "TELESCOP": "SWIFT", "INSTRUME": "XRT", "CCNM0001": "INDEX"},
            SWIFT_INDEX,
        ),
    ],
)
def test_calibration_file_named_like_an_index_is_served(
    request, client, uploader, name, keywords, index
):
    if keywords["TELESCOP"] == "SWIFT":  # SWIFT is registered from HEASARC's caldb.config
        request.getfixturevalue("heasarc_registry")
    content = calfile_bytes(keywords)
    response = upload(client, content, name, headers=uploader)
    assert response.status_code == 201, response.get_json()
    cal_dir = response.get_json()["datasets"][0]["cal_dir"]
    _data, rows = _served_cif(client, index)
    assert [(row.cal_dir, row.cal_file) for row in rows] == [(cal_dir, name)]
    # HEASoft fetches $CALDB/<CAL_DIR>/<CAL_FILE> for every row of the index.
    served = fetch(client, f"/caldb/{cal_dir}/{name}")
    assert served.status_code == 200
    assert served.get_data() == content


@pytest.fixture
def svom_only(app_config):
    """The default SVOM registry: another mission appears only when it is hosted."""
    app_config["REGISTRY"] = DEFAULT_REGISTRY


def test_caldb_config_lists_registered_and_hosted_instruments(svom_only, app, client, heasarc_dir):
    def lines():
        response = fetch(client, "/caldb/software/tools/caldb.config")
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        parse_caldb_config(text)  # HEASoft's rules: every line readable
        return text.splitlines()

    before = lines()
    assert "SVOM MXT CALDB data/svom/mxt caldb.indx CALDB data/svom/mxt" in before
    assert "SVOM ECL CALDB data/svom/ecl caldb.indx CALDB data/svom/ecl" in before
    assert not any(line.startswith("SWIFT") for line in before)
    _import_swift(app, heasarc_dir)
    assert "SWIFT XRT CALDB data/swift/xrt caldb.indx CALDB data/swift/xrt" in lines()


def test_alias_config_has_the_svom_aliases_and_passes_fitsverify(client, tmp_path):
    response = fetch(client, "/caldb/software/tools/alias_config.fits")
    assert response.status_code == 200
    path = tmp_path / "alias_config.fits"
    path.write_bytes(response.get_data())
    aliases = read_alias_config(path)
    assert aliases["SVOM"] == {"ECLAIRS": ("ECL",)}
    with fits.open(path) as hdulist:
        assert [hdu.name for hdu in hdulist[1:]].count("SVOM") == 1
        assert hdulist["SVOM"].columns.formats == ["10A", "I", "100A10"]
    assert_fitsverify_clean(path)


def test_served_index_passes_fitsverify(client, mxt, tmp_path):
    path = tmp_path / "caldb.indx"
    path.write_bytes(fetch(client, INDEX).get_data())
    assert_fitsverify_clean(path)


def test_imported_index_is_served_and_unheld_files_are_404(app, client, heasarc_dir):
    _import_swift(app, heasarc_dir)
    _data, rows = _served_cif(client, SWIFT_INDEX)
    assert rows == read_cif(heasarc_dir / SWIFT_CIF).rows
    body = assert_problem(fetch(client, f"/caldb/{RMF}"), 404)
    assert "not held" in body["detail"]
    assert fetch(client, f"/caldb/{RMF}", method="HEAD").status_code == 404


def test_cached_index_file_is_regenerated_if_deleted(app, client, mxt):
    _data, rows = _served_cif(client, INDEX)
    cached = list(extension(app).storage.cache_dir.rglob("caldb.indx.*"))
    assert len(cached) == 1
    cached[0].unlink()
    _data, again = _served_cif(client, INDEX)
    assert again == rows
    assert cached[0].is_file()
