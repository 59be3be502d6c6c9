"""The instrument page: links, timelines, unknown names, bad input, access, cost.

The codename page has its own tests (test_ui_codename.py), which use the helpers here.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from caldb_server.web import extension
from tests.helpers import (
    MXT_GAIN,
    calfile_bytes,
    cif_row,
    import_index,
    insert_datasets,
    mxt_gain_dataset,
    upload,
    write_index,
)
from tests.server.ui_client import add_user, sign_in, text
from tests.server.uploads import BOUNDARY, multipart

SVG = "{http://www.w3.org/2000/svg}"
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
EVTTHR = b"event_threshold_adu: 20\nsplit_threshold_adu: 5\nupper_threshold_adu: 4000\n"


def html_page(client, path: str, status: int = 200) -> str:
    response = client.get(path, headers=BROWSER)
    assert response.status_code == status, text(response)
    assert response.mimetype == "text/html"
    body = text(response)
    assert "Traceback" not in body
    return body


def timeline(page: str, dom_id: str) -> ET.Element:
    """The SVG element ``dom_id`` of a page, parsed."""
    match = re.search(rf'<svg [^>]*id="{dom_id}".*?</svg>', page, re.S)
    assert match is not None, f"no timeline {dom_id}"
    return ET.fromstring(match.group(0))  # noqa: S314 - our own markup


def epoch_links(svg: ET.Element) -> dict[str, str]:
    """href -> class of every epoch link of a timeline."""
    return {a.get("href", ""): a.get("class", "") for a in svg.iter(f"{SVG}a")}


def uploaded(client, headers, name: str, supersede: bool | None = None, **keywords) -> None:
    content = calfile_bytes(MXT_GAIN | keywords)
    response = upload(client, content, name, headers=headers, supersede=supersede)
    assert response.status_code == 201, response.get_json()


def send_onboard(client, name: str, content: bytes, headers) -> None:
    with client.post(
        "/api/v1/onboard",
        data=multipart([("file", name, content)]),
        headers=headers,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    ) as response:
        assert response.status_code == 201, response.get_json()


def dataset_ids(client) -> dict[str, int]:
    """Dataset id by file name (one dataset per file in these tests)."""
    listed = client.get("/api/v1/datasets?instrument=MXT&limit=100").get_json()
    return {d["cal_file"]: d["id"] for d in listed["datasets"]}


@contextmanager
def statements(app) -> Iterator[list[str]]:
    """The SQL statements the app sends while the block runs."""
    sent: list[str] = []
    engine = extension(app).database.engine

    def record(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


# -- instrument page ----------------------------------------------------------------------


def test_one_link_per_codename_named_by_it_with_description_and_counts(client, uploader):
    uploaded(client, uploader, "gain_a.fits")
    uploaded(client, uploader, "gain_b.fits", CVSD0001="2025-01-01")
    page = html_page(client, "/instruments/MXT")
    assert "<h1>SVOM MXT</h1>" in page
    assert "Microchannel X-ray Telescope" in page
    for codename in ("TELDEF", "GAIN", "CTI", "BADPIX"):  # registered, with datasets or not
        assert f'<a href="/instruments/MXT/{codename}">{codename}</a>' in page
    gain = re.search(r'<a href="/instruments/MXT/GAIN">GAIN</a>(.*?)</li>', page, re.S)
    assert gain is not None
    assert "Per-column gain and offset" in gain.group(1)
    assert "2 good of 2 datasets" in gain.group(1)
    teldef = re.search(r'<a href="/instruments/MXT/TELDEF">TELDEF</a>(.*?)</li>', page, re.S)
    assert teldef is not None
    assert "0 good of 0 datasets" in teldef.group(1)


def test_the_timeline_links_each_epoch_and_shows_superseded_ones(client, uploader):
    uploaded(client, uploader, "gain_old.fits")
    uploaded(client, uploader, "gain_other.fits", CVSD0001="2025-01-01")
    before = timeline(html_page(client, "/instruments/MXT"), "calibration-timeline")
    ids = dataset_ids(client)
    assert epoch_links(before) == {
        f"/datasets/{ids['gain_old.fits']}": "epoch good",
        f"/datasets/{ids['gain_other.fits']}": "epoch good",
    }
    uploaded(client, uploader, "gain_new.fits", supersede=True)  # same validity as gain_old
    after = timeline(html_page(client, "/instruments/MXT"), "calibration-timeline")
    ids = dataset_ids(client)
    assert epoch_links(after) == {
        f"/datasets/{ids['gain_old.fits']}": "epoch superseded",
        f"/datasets/{ids['gain_other.fits']}": "epoch good",
        f"/datasets/{ids['gain_new.fits']}": "epoch good",
    }
    labels = [t.text for t in after.iter(f"{SVG}text") if t.get("class") == "lane-label"]
    assert labels == ["GAIN"]


def test_lanes_are_per_codename_and_detector(app, client):
    insert_datasets(
        extension(app).database,
        [
            mxt_gain_dataset(detnam="CCD1"),
            mxt_gain_dataset(detnam="CCD2"),
            mxt_gain_dataset(cal_cnam="CTI"),
        ],
    )
    svg = timeline(html_page(client, "/instruments/MXT"), "calibration-timeline")
    labels = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "lane-label"]
    assert labels == ["CTI", "GAIN / CCD1", "GAIN / CCD2"]
    assert len(epoch_links(svg)) == 3


def test_onboard_configurations_have_their_own_timeline(client, uploader):
    uploaded(client, uploader, "gain_a.fits")
    send_onboard(client, "MXT_EVTTHR_20240701T000000_V01.yaml", EVTTHR, uploader)
    send_onboard(
        client, "MXT_EVTTHR_20240701T000000_V02.yaml", EVTTHR.replace(b"20", b"25"), uploader
    )
    page = html_page(client, "/instruments/MXT")
    ids = dataset_ids(client)
    onboard = epoch_links(timeline(page, "onboard-timeline"))
    assert onboard == {
        f"/datasets/{ids['MXT_EVTTHR_20240701T000000_V01.yaml']}": "epoch superseded",
        f"/datasets/{ids['MXT_EVTTHR_20240701T000000_V02.yaml']}": "epoch good",
    }
    calibration = epoch_links(timeline(page, "calibration-timeline"))
    assert list(calibration) == [f"/datasets/{ids['gain_a.fits']}"]
    section = page.split('id="onboard"')[1]
    assert '<a href="/instruments/MXT/EVTTHR">EVTTHR</a>' in section
    assert '<a href="/instruments/MXT/PIXMASK">PIXMASK</a>' in section
    assert "1 good of 2 uploads" in section


def test_an_empty_instrument_still_draws_its_timelines(client):
    page = html_page(client, "/instruments/VT")
    assert "no datasets yet" in page
    assert epoch_links(timeline(page, "calibration-timeline")) == {}
    assert epoch_links(timeline(page, "onboard-timeline")) == {}


def test_names_are_case_insensitive_and_an_alias_names_its_instrument(client):
    assert "<h1>SVOM MXT</h1>" in html_page(client, "/instruments/mxt")
    page = html_page(client, "/instruments/eclairs")
    assert "<h1>SVOM ECL</h1>" in page
    assert '<a href="/instruments/ECL/GAIN">GAIN</a>' in page


def test_uploaded_texts_are_escaped_in_the_lists_and_the_timeline(app, client):
    hostile = "<B>X&AMP;"  # codenames are upper-case
    insert_datasets(
        extension(app).database,
        [mxt_gain_dataset(cal_cnam=hostile, detnam='<S>"', cal_desc='"><script>alert(1)</script>')],
    )
    page = html_page(client, "/instruments/MXT")
    assert "<script>alert" not in page
    assert "<B>X" not in page
    assert "&lt;B&gt;X&amp;AMP;" in page
    svg = timeline(page, "calibration-timeline")  # still well-formed XML
    labels = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "lane-label"]
    assert labels == [f'{hostile} / <S>"']
    codename = html_page(client, "/instruments/MXT/%3Cb%3Ex%26amp%3B")
    assert "<B>X" not in codename
    assert "<S>" not in codename
    assert codename.count("&lt;S&gt;&#34;") == 3  # its cell, its option: value and text
    assert "many.fits" in codename


def test_the_instrument_page_costs_the_same_statements_whatever_it_holds(app, client):
    html_page(client, "/instruments/MXT")  # warm up (first connection)
    with statements(app) as empty:
        html_page(client, "/instruments/MXT")
    codenames = ["GAIN", "CTI", "PSF", "VIGNET", "TELDEF", "EXTRA1", "EXTRA2"]
    insert_datasets(
        extension(app).database,
        [
            mxt_gain_dataset(cal_cnam=name, detnam=f"CCD{n % 3}", ref_time=59945.0 + n)
            for n in range(140)
            for name in [codenames[n % len(codenames)]]
        ],
    )
    with statements(app) as full:
        page = html_page(client, "/instruments/MXT")
    assert len(epoch_links(timeline(page, "calibration-timeline"))) == 140
    assert len(full) == len(empty) <= 4


# -- unknown names, bad input, access -----------------------------------------------------


def test_an_unknown_instrument_is_a_404_page_naming_the_known_ones(client):
    page = html_page(client, "/instruments/NOPE", 404)
    assert "unknown instrument NOPE of SVOM; known instruments of SVOM: MXT, ECL, VT." in page
    for name in ("MXT", "ECL", "VT"):
        assert f'<a href="/instruments/{name}">{name}</a>' in page


def test_an_unknown_codename_is_a_404_page_naming_the_codenames(client):
    page = html_page(client, "/instruments/MXT/NOPE", 404)
    assert "unknown codename NOPE of MXT" in page
    for name in ("GAIN", "TELDEF", "EVTTHR"):  # calibration and onboard
        assert f'<a href="/instruments/MXT/{name}">{name}</a>' in page
    assert "unknown instrument NOPE" in html_page(client, "/instruments/NOPE/GAIN", 404)


def test_an_unknown_mission_is_a_404_page_naming_the_missions(client):
    page = html_page(client, "/instruments/MXT?mission=NOPE", 404)
    assert "unknown mission NOPE; known missions: " in page
    assert '<a href="/instruments/MXT?mission=SVOM">SVOM</a>' in page


def test_an_imported_mission_is_reached_with_its_name(app, client, tmp_path):
    import_index(app, write_index(tmp_path, cif_row(telescop="NEWSAT", instrume="XRT")))
    page = html_page(client, "/instruments/XRT?mission=NEWSAT")
    assert "<h1>NEWSAT XRT</h1>" in page
    assert '<a href="/instruments/XRT/GAIN?mission=NEWSAT">GAIN</a>' in page
    codename = html_page(client, "/instruments/XRT/GAIN?mission=NEWSAT")
    assert "gain.fits</a>" in codename
    assert '<input type="hidden" name="mission" value="NEWSAT">' in codename


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/instruments/MXT/GAIN?page=0", 422, "must be an integer from 1 to"),
        ("/instruments/MXT/GAIN?page=x", 422, "must be an integer from 1 to"),
        ("/instruments/MXT/GAIN?detector=%01", 422, "control characters"),
        ("/instruments/MXT%01", 422, "control characters"),
        (f"/instruments/{'X' * 5000}", 404, "unknown instrument"),
        (f"/instruments/MXT/{'Y' * 5000}", 404, "unknown codename"),
    ],
)
def test_bad_input_is_a_page_saying_what_is_wrong(client, path, status, words):
    assert words in html_page(client, path, status)


@pytest.fixture
def private(app_config):
    app_config["PUBLIC_READ"] = "false"
    return app_config


def test_private_read_sends_anonymous_browsers_to_sign_in(private, app, client):
    for path in ("/instruments/MXT", "/instruments/MXT/GAIN"):
        response = client.get(path, headers=BROWSER)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/sign-in?next=%2Finstruments%2FMXT")
    add_user(app, "rita", "reader")
    assert sign_in(client, "rita").status_code == 303
    assert "<h1>SVOM MXT</h1>" in html_page(client, "/instruments/MXT")
    assert "<h1>MXT GAIN</h1>" in html_page(client, "/instruments/MXT/GAIN")
