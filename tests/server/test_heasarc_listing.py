"""HTML listings of the HEASARC tree's directories, while files answer as before.

A browser gets a page for every directory URL of /caldb/; HEASoft and CFITSIO, which ask
only for files (and their .gz/.Z probes), see the same answers as before the listings.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from caldb_server.catalogue.models import CalibrationFile, CatalogueIndex, Dataset
from caldb_server.cli import main
from caldb_server.db import utcnow
from caldb_server.headers import DATA_POLICY
from caldb_server.heasarc.tree import release_index
from caldb_server.ui import PAGE_POLICY
from caldb_server.web import extension
from tests.helpers import MXT_GAIN, assert_problem, calfile_bytes, mxt_gain_dataset, upload

GAIN = calfile_bytes(MXT_GAIN)
CTI = calfile_bytes(
    {**MXT_GAIN, "CCNM0001": "CTI"}, {**MXT_GAIN, "CCNM0001": "CTI", "DETNAM": "CCD"}
)
MXT = "/caldb/data/svom/mxt/"
GAIN_DIR = f"{MXT}bcf/gain/"
GAIN_FILE = f"{GAIN_DIR}mxt_gain_v1.fits"


def fetch(client, path, method="GET", headers=None):
    """One request, never following redirects; the body is read and the file closed."""
    response = client.open(path, method=method, headers=headers or {}, follow_redirects=False)
    response.get_data()
    response.close()
    return response


class _Links(HTMLParser):
    """(href, text) of every link of a page (and of its table), its rows as cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.table_links: list[tuple[str, str]] = []
        self.rows: list[list[str]] = []
        self._href: str | None = None
        self._text = ""
        self._cell: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), ""
        elif tag == "tr":
            self.rows.append([])
        elif tag == "td":
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text))
            if self._cell is not None:
                self.table_links.append((self._href, self._text))
            self._href = None
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._href is not None:
            self._text += data
        if self._cell is not None:
            self._cell += data


def listing(client, path, headers=None):
    """GET a directory URL: check it is a listing page, return its parsed links and rows."""
    response = client.get(path, headers=headers or {})
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:300]
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == PAGE_POLICY
    assert "<h1>Index of <code>" in body
    parser = _Links()
    parser.feed(body)
    return parser


def entries(page):
    """{name: href} of the listing's entries (the table's links into the tree)."""
    return {text: href for href, text in page.table_links if href.startswith("/caldb/")}


def row_of(page, name):
    (row,) = [row for row in page.rows if row and row[0].split(" ")[0].rstrip("/") == name]
    return row


def _upload(client, uploader, content, name):
    response = upload(client, content, name, headers=uploader)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["datasets"]


@pytest.fixture
def uploaded(app, client, uploader):
    """Two MXT files (one of two HDUs), and a release of the MXT index."""
    gain = _upload(client, uploader, GAIN, "mxt_gain_v1.fits")
    cti = _upload(client, uploader, CTI, "mxt_cti_v1.fits")
    services = extension(app)
    with services.database.unit_of_work() as session:
        release_index(
            session, services.storage, "data/svom/mxt", caldbver="20260101", actor="t", now=utcnow()
        )
    return {"gain": [d["id"] for d in gain], "cti": [d["id"] for d in cti]}


def test_top_levels_list_their_directories(client, uploaded):
    top = listing(client, "/caldb/")
    assert entries(top) == {"data": "/caldb/data/", "software": "/caldb/software/"}
    assert "Parent directory" not in [text for _, text in top.links]
    assert entries(listing(client, "/caldb/data/"))["svom"] == "/caldb/data/svom/"
    svom = entries(listing(client, "/caldb/data/svom/"))
    assert {"mxt", "ecl", "vt"} <= set(svom)  # registered instruments, filled or not
    assert svom["mxt"] == MXT
    tools = listing(client, "/caldb/software/")
    assert entries(tools) == {"tools": "/caldb/software/tools/"}


def test_instrument_directory_lists_index_releases_and_classes(client, uploaded):
    page = listing(client, MXT)
    assert entries(page) == {
        "bcf": f"{MXT}bcf/",
        "index": f"{MXT}index/",
        "caldb.indx": f"{MXT}caldb.indx",
    }
    assert ("/caldb/data/svom/", "Parent directory") in page.links
    crumbs = [(href, text) for href, text in page.links if text in ("caldb", "data", "svom")]
    assert crumbs == [("/caldb/", "caldb"), ("/caldb/data/", "data"), ("/caldb/data/svom/", "svom")]
    index = fetch(client, f"{MXT}caldb.indx").get_data()
    assert row_of(page, "caldb.indx")[1] == f"{len(index):,}"
    assert row_of(page, "caldb.indx")[2].endswith("UTC")
    releases = listing(client, f"{MXT}index/")
    release = fetch(client, f"{MXT}index/caldb.indx20260101").get_data()
    assert entries(releases) == {"caldb.indx20260101": f"{MXT}index/caldb.indx20260101"}
    assert row_of(releases, "caldb.indx20260101")[1] == f"{len(release):,}"
    assert entries(listing(client, f"{MXT}bcf/")) == {"cti": f"{MXT}bcf/cti/", "gain": GAIN_DIR}


def test_calibration_files_link_their_bytes_and_their_datasets(client, uploaded):
    gain = listing(client, GAIN_DIR)
    (gain_id,) = uploaded["gain"]
    assert entries(gain) == {"mxt_gain_v1.fits": GAIN_FILE}
    assert (f"/datasets/{gain_id}", f"dataset {gain_id}") in gain.links
    assert row_of(gain, "mxt_gain_v1.fits")[1] == f"{len(GAIN):,}"
    assert fetch(client, GAIN_FILE).get_data() == GAIN
    cti = listing(client, f"{MXT}bcf/cti/")
    assert [href for href, _ in cti.links if href.startswith("/datasets/")] == [
        f"/datasets/{i}" for i in uploaded["cti"]
    ]
    assert fetch(client, f"{MXT}bcf/cti/mxt_cti_v1.fits").get_data() == CTI


def test_tools_directory_lists_the_configuration_files(client):
    page = listing(client, "/caldb/software/tools/")
    assert set(entries(page)) == {"caldb.config", "alias_config.fits"}
    for name in ("caldb.config", "alias_config.fits"):
        body = fetch(client, f"/caldb/software/tools/{name}").get_data()
        assert row_of(page, name)[1] == f"{len(body):,}"


def test_every_link_of_the_demo_data_listings_answers(app_config, client, tmp_path):
    env = {f"CALDB_{key}": str(value) for key, value in app_config.items() if key != "TESTING"}
    kept = tmp_path / "kept"
    result = CliRunner().invoke(main, ["demo-data", "--keep", str(kept)], env=env)
    assert result.exit_code == 0, result.output
    generated = {path.name: path.read_bytes() for path in kept.iterdir()}
    teldef = listing(client, f"{MXT}bcf/teldef/")
    assert set(entries(teldef)) == {
        "svmxt_teldef_20240622v001.fits",
        "svmxt_teldef_20250601v001.fits",
    }
    served, pending, seen = {}, ["/caldb/data/svom/"], set()
    while pending:  # every directory and file under svom, from the links alone
        page = listing(client, pending.pop())
        for name, href in entries(page).items():
            if href in seen or not href.startswith("/caldb/data/svom/"):
                continue
            seen.add(href)
            if href.endswith("/"):
                pending.append(href)
            else:
                response = fetch(client, href)
                assert response.status_code == 200, href
                served[name] = response.get_data()
    demo_files = {name: content for name, content in served.items() if name in generated}
    assert demo_files == generated  # every demo file is listed, with its own bytes
    assert set(served) - set(generated) == {"caldb.indx"}


def test_files_indexes_and_probes_answer_as_before(client, uploaded):
    index = fetch(client, f"{MXT}caldb.indx").get_data()
    for directory in ("/caldb/", MXT, f"{MXT}bcf/", GAIN_DIR, f"{MXT}index/"):
        listing(client, directory)
    assert fetch(client, f"{MXT}caldb.indx").get_data() == index  # listings change no byte
    for path in (GAIN_FILE, f"{MXT}caldb.indx", f"{MXT}index/caldb.indx20260101"):
        response = fetch(client, path)
        assert response.status_code == 200
        assert response.mimetype != "text/html"
        assert response.headers["Content-Security-Policy"] == DATA_POLICY
        for probe in (f"{path}.gz", f"{path}.Z"):
            for method in ("GET", "HEAD"):
                answer = fetch(client, probe, method=method)
                assert answer.status_code == 404
                assert "Location" not in answer.headers
            assert_problem(fetch(client, probe), 404)
    for probe in ("/caldb/data/svom/mxt.gz", f"{MXT}bcf.Z", "/caldb/data.gz"):  # directories
        assert_problem(fetch(client, probe), 404)
        assert "Location" not in fetch(client, probe).headers


def test_head_of_a_listing_has_no_body(client, uploaded):
    response = fetch(client, GAIN_DIR, method="HEAD")
    assert (response.status_code, response.mimetype, response.get_data()) == (200, "text/html", b"")


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/caldb", "/caldb/"),
        ("/caldb/data", "/caldb/data/"),
        ("/caldb/data/svom/mxt", MXT),
        ("/caldb/data/svom/mxt/bcf/gain", GAIN_DIR),
        ("/caldb//data/svom/mxt", MXT),  # CALDB=http://host/caldb/
    ],
)
def test_a_directory_named_without_its_slash_moves_permanently(client, uploaded, path, target):
    for method in ("GET", "HEAD"):
        response = fetch(client, path, method=method)
        assert response.status_code == 301
        assert response.headers["Location"] == target


def catalogue_file(app, cal_dir, cal_file, *, held=False):
    """A file row written straight into the catalogue (names no upload would accept).

    Held: the row claims bytes (which the tree does not have: only the listing is looked at).
    """
    with extension(app).database.unit_of_work() as session:
        if session.get(CatalogueIndex, "data/svom/mxt") is None:
            session.add(CatalogueIndex(index_dir="data/svom/mxt", telescop="SVOM", serial=1))
            session.flush()
        stored = CalibrationFile(
            index_dir="data/svom/mxt",
            cal_dir=cal_dir,
            cal_file=cal_file,
            origin="import",
            sha256="0" * 64 if held else None,
            size_bytes=1234 if held else None,
            uploaded_by="test",
            uploaded_at=utcnow(),
        )
        session.add(Dataset(file=stored, **mxt_gain_dataset(cal_xno=1)))


def test_a_directory_that_could_be_a_probe_is_never_redirected(app, client):
    catalogue_file(app, "data/svom/mxt/bcf/gain.gz", "odd.fits", held=True)
    catalogue_file(app, "data/svom/mxt/bcf/cti.Z", "other.fits", held=True)
    for path, name in ((f"{MXT}bcf/gain.gz", "odd.fits"), (f"{MXT}bcf/cti.Z", "other.fits")):
        assert_problem(fetch(client, path), 404)
        assert "Location" not in fetch(client, path).headers
        assert entries(listing(client, f"{path}/")) == {name: f"{path}/{name}"}


def test_a_file_whose_bytes_are_not_held_is_listed_without_a_link(app, client):
    catalogue_file(app, "data/svom/mxt/bcf/gain", "imported.fits")
    page = listing(client, GAIN_DIR)
    assert entries(page) == {}
    assert row_of(page, "imported.fits")[0] == "imported.fits (not held: imported index)"
    assert [href for href, _ in page.links if href.startswith("/datasets/")]  # its dataset
