"""The worked examples of reference/heasarc_caldb.md §4.10, answered over the HTTP API.

The real Swift XRT index (HEASARC, CALDBVER 20160609) is imported, then each quzcif call
is made as a search; rows are the 1-based CIF rows, i.e. dataset ids in index order.
"""

import pytest

from caldb_server import create_app
from caldb_server.web import extension
from tests.conftest import app_settings, fresh_database
from tests.helpers import import_index

PHOTON_G0_12 = "datamode.eq.PHOTON.and.grade.eq.G0:12.and.xrtvsub.eq.6"
TELDEF = "data/swift/xrt/bcf/teldef"
RMF = "data/swift/xrt/cpf/rmf"


@pytest.fixture(scope="module")
def client(backend, heasarc_dir, heasarc_registry, tmp_path_factory):
    """One imported index for the whole module (read-only tests)."""
    directory = tmp_path_factory.mktemp("swift")
    app = create_app(app_settings(fresh_database(backend, directory), directory, heasarc_registry))
    import_index(app, heasarc_dir / "cif" / "swift_xrt_caldb.indx20160609")
    yield app.test_client()
    extension(app).database.dispose()


def search(client, codename, date, time, expr):
    params = {
        "mission": "SWIFT",
        "instrument": "XRT",
        "codename": codename,
        "date": date,
        "time": time,
        "expr": expr,
        "maxret": 100,
    }
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return body["nfound"], [
        (r["id"], f"{r['cal_dir']}/{r['cal_file']}", r["cal_xno"]) for r in body["results"]
    ]


@pytest.mark.parametrize(
    ("codename", "date", "time", "expr", "expected"),
    [
        ("TELDEF", "2014-03-01", "00:00:00", "-", [(696, f"{TELDEF}/swx20140101v001.teldef", 0)]),
        ("TELDEF", "2015-06-01", "00:00:00", "-", [(699, f"{TELDEF}/swx20150601v001.teldef", 0)]),
        ("TELDEF", "2005-01-01", "00:00:00", "-", [(300, f"{TELDEF}/swx20010101v007.teldef", 0)]),
        (
            "MATRIX",
            "2014-03-01",
            "12:00:00",
            PHOTON_G0_12,
            [(572, f"{RMF}/swxpc0to12s6_20130101v014.rmf", 1)],
        ),
        (
            "MATRIX",
            "2012-03-01",
            "12:00:00",
            PHOTON_G0_12,
            [(570, f"{RMF}/swxpc0to12s6_20110101v014.rmf", 1)],
        ),
        (
            "EBOUNDS",
            "2014-03-01",
            "12:00:00",
            PHOTON_G0_12,
            [(573, f"{RMF}/swxpc0to12s6_20130101v014.rmf", 2)],
        ),
        (
            "GAIN",
            "2014-03-01",
            "12:00:00",
            "datamode.eq.PHOTON.and.xrtvsub.eq.6",
            [(464, "data/swift/xrt/bcf/gain/swxpcgains6_20010101v010.fits", 1)],
        ),
        (
            "SPECRESP",
            "2014-03-01",
            "12:00:00",
            "datamode.eq.WINDOWED.and.xrtvsub.eq.6",
            [(534, "data/swift/xrt/cpf/arf/swxs6_20010101v001.arf", 1)],
        ),
    ],
)
def test_single_answers(client, codename, date, time, expr, expected):
    assert search(client, codename, date, time, expr) == (len(expected), expected)


def test_all_teldef_epochs(client):
    nfound, rows = search(client, "TELDEF", "-", "-", "-")
    ids = [row_id for row_id, _, _ in rows]
    assert nfound == 22
    assert ids == [*range(300, 309), 405, *range(548, 556), *range(696, 700)]


def test_eef_theta_gives_one_row_per_energy(client):
    nfound, rows = search(client, "EEF", "2014-03-01", "12:00:00", "theta.eq.2")
    assert nfound == 5
    assert [(row_id, xno) for row_id, _, xno in rows] == [
        (4, 2),
        (9, 7),
        (14, 12),
        (19, 17),
        (24, 22),
    ]
    assert {path for _, path, _ in rows} == {"data/swift/xrt/cpf/eef/swxeef20010101v001.fits"}


def test_eef_without_expression_gives_every_extension(client):
    nfound, rows = search(client, "EEF", "2014-03-01", "12:00:00", "-")
    assert nfound == 24
    assert [xno for _, _, xno in rows] == list(range(1, 25))


def test_lower_case_request_is_the_same(client):
    params = {"mission": "swift", "instrument": "xrt", "codename": "teldef", "date": "2014-03-01"}
    body = client.get("/api/v1/search", query_string=params).get_json()
    assert [r["id"] for r in body["results"]] == [696]
