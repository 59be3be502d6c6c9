"""The dataset page ``/datasets/<id>``: CIF fields, Download, HDUs, history, comparison."""

from __future__ import annotations

import hashlib
import html
import io
import re
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from caldb_demodata import DEFAULT_SEED, EPOCH_1, EPOCH_2, mxt_detector, mxt_optics, onboard
from caldb_demodata.common import file_name, write_fits, write_yaml
from tests.helpers import MXT_GAIN, calfile_bytes, upload
from tests.server.inspect_files import png_pixels
from tests.server.ui_client import add_user, csrf_token, sign_in

CIF_LABELS = (
    "TELESCOP",
    "INSTRUME",
    "DETNAM",
    "FILTER",
    "CAL_DEV",
    "CAL_DIR",
    "CAL_FILE",
    "CAL_CLAS",
    "CAL_DTYP",
    "CAL_CNAM",
    "CAL_CBD",
    "CAL_XNO",
    "CAL_VSD",
    "CAL_VST",
    "REF_TIME",
    "CAL_QUAL",
    "CAL_DATE",
    "CAL_DESC",
)
HTML = {"Accept": "text/html"}
_DOWNLOAD = re.compile(r'<a [^>]*href="([^"]+)"[^>]*>Download</a>')


@pytest.fixture
def app_config(app_config, request):
    """``@pytest.mark.parametrize("app_config", ["false"], indirect=True)`` sets PUBLIC_READ."""
    if hasattr(request, "param"):
        app_config["PUBLIC_READ"] = request.param
    return app_config


private = pytest.mark.parametrize("app_config", ["false"], indirect=True)


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "demo"
    directory.mkdir()
    return directory


def gain_file(directory: Path, epoch: int) -> Path:
    valid_from = EPOCH_1 if epoch == 1 else EPOCH_2
    hdus = mxt_detector.gain_hdus(epoch, valid_from, DEFAULT_SEED)
    return write_fits(directory / file_name("mxt", "gain", valid_from), hdus)


def psf_file(directory: Path) -> Path:
    hdus = mxt_optics.psf_hdus(EPOCH_1, DEFAULT_SEED)
    return write_fits(directory / file_name("mxt", "psf", EPOCH_1), hdus)


def uploaded(client, path_or_bytes, headers, name=None, **options) -> dict:
    """Upload a calibration file; its first dataset (JSON of the API)."""
    response = upload(client, path_or_bytes, name, headers=headers, **options)
    # Werkzeug spools a large multipart body to a temporary file it leaves open.
    response.request.environ["wsgi.input"].close()
    assert response.status_code == 201, response.get_json()
    return response.get_json()["datasets"][0]


def onboard_upload(client, directory: Path, index: int, headers) -> dict:
    name, document = onboard.onboard_documents(DEFAULT_SEED)[index]
    content = write_yaml(directory / name, document).read_bytes()
    response = client.post(
        "/api/v1/onboard", data={"file": (io.BytesIO(content), name)}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["datasets"][0]


def page_html(client, dataset_id: int) -> str:
    response = client.get(f"/datasets/{dataset_id}", headers=HTML)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    return text


def section(text: str, heading_id: str) -> str:
    """The HTML of the ``<section>`` labelled by heading ``heading_id``."""
    start = text.index(f'aria-labelledby="{heading_id}"')
    return text[start : text.index("</section>", start)]


def rows_of(text: str, css_class: str) -> list[list[str]]:
    """The cells (tags removed, unescaped) of each ``<tr class="css_class">``."""
    rows = re.findall(rf'<tr class="{css_class}">(.*?)</tr>', text, flags=re.S)
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]
        for row in rows
        if (cells := re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S))
    ]


def test_every_cif_field_and_the_file_facts(client, uploader, demo_dir):
    path = gain_file(demo_dir, 1)
    dataset = uploaded(client, path, uploader)
    text = page_html(client, dataset["id"])
    fields = section(text, "cif-heading")
    for label in CIF_LABELS:
        assert f'<th scope="row">{label}</th>' in fields, label
    assert '<th scope="row">CAL_QUAL</th><td>0 (good)</td>' in fields
    assert f'<th scope="row">CAL_FILE</th><td>{path.name}</td>' in fields
    assert '<th scope="row">CAL_CNAM</th><td>GAIN</td>' in fields
    facts = section(text, "file-heading")
    assert f"{path.stat().st_size:,} bytes" in facts
    assert "<dd>alice</dd>" in facts  # the uploader
    assert re.search(r"<dd><time [^>]*>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time></dd>", facts)


def test_the_sha256_shown_is_that_of_the_file(client, uploader, demo_dir):
    path = gain_file(demo_dir, 1)
    dataset = uploaded(client, path, uploader)
    facts = section(page_html(client, dataset["id"]), "file-heading")
    assert hashlib.sha256(path.read_bytes()).hexdigest() in facts


def test_download_gives_the_bytes_with_the_api_headers(client, uploader, demo_dir):
    path = gain_file(demo_dir, 1)
    dataset = uploaded(client, path, uploader)
    (link,) = _DOWNLOAD.findall(page_html(client, dataset["id"]))
    with client.get(html.unescape(link)) as response:
        assert response.status_code == 200
        assert response.data == path.read_bytes()
    with client.get(f"/api/v1/files/{dataset['file_id']}/content") as api:
        assert api.data == response.data
    for name in ("ETag", "Repr-Digest", "X-Checksum-Sha256", "Content-Disposition"):
        assert response.headers[name] == api.headers[name], name


@private
def test_private_reads_download_for_a_signed_in_reader_only(app, client, uploader, demo_dir):
    path = gain_file(demo_dir, 1)
    dataset = uploaded(client, path, uploader)
    download = f"/datasets/{dataset['id']}/download"
    for anonymous in (download, f"/datasets/{dataset['id']}"):
        with client.get(anonymous, headers=HTML) as refused:
            assert refused.status_code == 302
            assert refused.headers["Location"].startswith("/sign-in?next=")
    add_user(app, "rita", "reader")
    assert sign_in(client, "rita").status_code == 303
    (link,) = _DOWNLOAD.findall(page_html(client, dataset["id"]))
    assert html.unescape(link) == download
    with client.get(download) as response:
        assert response.status_code == 200
        assert response.data == path.read_bytes()
        assert "private" in response.headers["Cache-Control"]
        assert "Cookie" in response.headers["Vary"]


def test_headers_and_table_column_ranges(client, uploader, demo_dir):
    path = gain_file(demo_dir, 1)
    dataset = uploaded(client, path, uploader)
    content = section(page_html(client, dataset["id"]), "content-heading")
    assert '<th scope="row"><code>CCNM0001</code></th><td><code>GAIN</code></td>' in content
    assert '<th scope="row"><code>EXTNAME</code></th><td><code>GAIN</code></td>' in content
    with fits.open(path) as hdus:
        table = hdus["GAIN"]
        gains = table.data["GAIN"]
        unit = table.columns["GAIN"].unit
        rows = len(table.data)
    assert f"{rows} rows" in content
    (gain_row,) = [
        row for row in re.findall(r"<tr>(.*?)</tr>", content, re.S) if ">GAIN</th>" in row
    ]
    cells = [
        html.unescape(re.sub(r"<[^>]+>", "", c))
        for c in re.findall(r"<td[^>]*>(.*?)</td>", gain_row)
    ]
    assert cells[1] == unit
    assert float(cells[2]) == pytest.approx(float(np.min(gains)), rel=1e-6)
    assert float(cells[3]) == pytest.approx(float(np.max(gains)), rel=1e-6)


def test_comparison_with_the_previous_epoch(client, uploader, demo_dir):
    first = uploaded(client, gain_file(demo_dir, 1), uploader)
    second = uploaded(client, gain_file(demo_dir, 2), uploader)
    comparison = section(page_html(client, second["id"]), "comparison-heading")
    assert f'href="/datasets/{first["id"]}"' in comparison
    assert ["value changed", "CVSD0001", EPOCH_1, EPOCH_2] in rows_of(comparison, "changed")
    changed_columns = {row[0] for row in rows_of(comparison, "changed")}
    assert {"GAIN", "OFFSET"} <= changed_columns  # the gains of epoch 2 differ
    earliest = section(page_html(client, first["id"]), "comparison-heading")
    assert "no previous version" in earliest


def test_the_previous_version_has_the_same_boundaries(client, uploader):
    # Two files of one epoch each, one HDU per energy band: band 1 keV is compared with the
    # previous band 1 keV, not with the other band's HDU of the same older file.
    bands = [MXT_GAIN | {"CBD10001": f"ENERGY({kev})keV"} for kev in (1, 5)]
    later = [band | {"CVSD0001": "2024-07-01"} for band in bands]
    response = upload(client, calfile_bytes(*bands), "gain_bands_a.fits", headers=uploader)
    old_ids = [d["id"] for d in response.get_json()["datasets"]]
    response = upload(client, calfile_bytes(*later), "gain_bands_b.fits", headers=uploader)
    new_ids = [d["id"] for d in response.get_json()["datasets"]]
    for old_id, new_id in zip(old_ids, new_ids, strict=True):
        comparison = section(page_html(client, new_id), "comparison-heading")
        assert f'href="/datasets/{old_id}"' in comparison


def test_comparison_shows_added_and_removed_cards(client, uploader):
    old = calfile_bytes(MXT_GAIN | {"OLDKEY": 1})
    new = calfile_bytes(MXT_GAIN | {"NEWKEY": "here", "CVSD0001": "2024-07-01"})
    uploaded(client, old, uploader, "gain_a.fits")
    newer = uploaded(client, new, uploader, "gain_b.fits")
    comparison = section(page_html(client, newer["id"]), "comparison-heading")
    assert ["added", "NEWKEY", "", "here"] in rows_of(comparison, "added")
    assert ["removed", "OLDKEY", "1", ""] in rows_of(comparison, "removed")


def test_history_shows_a_quality_change_with_its_reason(client, uploader, demo_dir):
    dataset = uploaded(client, gain_file(demo_dir, 1), uploader)
    reason = "gain of column 17 is wrong <b>by 3%</b>"
    patched = client.patch(
        f"/api/v1/datasets/{dataset['id']}",
        json={"cal_qual": 5, "reason": reason},
        headers=uploader,
    )
    assert patched.status_code == 200, patched.get_json()
    history = section(page_html(client, dataset["id"]), "history-heading")
    (change,) = rows_of(history, "quality-change")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", change[0])
    assert change[1] == "alice"
    assert change[2] == "quality 0 (good) → 5 (superseded or bad)"
    assert change[3] == reason  # escaped in the page, shown as written
    assert "<b>by" not in history


def test_history_links_the_superseding_dataset(client, uploader):
    old = uploaded(client, calfile_bytes(MXT_GAIN), uploader, "gain_old.fits")
    new = uploaded(client, calfile_bytes(MXT_GAIN), uploader, "gain_new.fits", supersede=True)
    history = section(page_html(client, old["id"]), "history-heading")
    assert f'replaced by <a href="/datasets/{new["id"]}">dataset {new["id"]}</a>' in history
    comparison = section(page_html(client, new["id"]), "comparison-heading")
    assert f'href="/datasets/{old["id"]}"' in comparison  # same start, earlier upload


def test_onboard_yaml_content_and_diff(client, uploader, demo_dir):
    first = onboard_upload(client, demo_dir, 0, uploader)  # MXT EVTTHR V01
    second = onboard_upload(client, demo_dir, 1, uploader)  # V02, same on-board time
    text = page_html(client, second["id"])
    content = section(text, "content-heading")
    assert "event_threshold_adu: 24" in html.unescape(content)
    comparison = section(text, "comparison-heading")
    assert f'href="/datasets/{first["id"]}"' in comparison
    removed = " ".join(cell for row in rows_of(comparison, "removed") for cell in row)
    added = " ".join(cell for row in rows_of(comparison, "added") for cell in row)
    assert "event_threshold_adu: 20" in removed
    assert "event_threshold_adu: 24" in added
    no_image = client.get(f"/datasets/{second['id']}/thumbnail/0.png", headers=HTML)
    assert no_image.status_code == 404


def test_image_hdu_thumbnail_is_a_png_of_the_image(client, uploader, demo_dir):
    dataset = uploaded(client, psf_file(demo_dir), uploader)
    content = section(page_html(client, dataset["id"]), "content-heading")
    thumbnail = f"/datasets/{dataset['id']}/thumbnail/{dataset['cal_xno']}.png"
    assert f'src="{thumbnail}"' in content
    response = client.get(thumbnail)
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert "private" in response.headers["Cache-Control"]
    pixels = png_pixels(response.data)
    assert max(pixels.shape) <= 256
    assert pixels.max() == 255
    peak = np.unravel_index(np.argmax(pixels), pixels.shape)
    centre = np.array(pixels.shape) / 2
    assert np.all(np.abs(np.array(peak) - centre) <= 2)  # the PSF peaks at its centre
    again = client.get(thumbnail, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_no_thumbnail_for_a_header_only_or_table_hdu(client, uploader, demo_dir):
    dataset = uploaded(client, psf_file(demo_dir), uploader)
    for hdu in (0, 2, 99):  # empty primary, the EEF table, no such HDU
        response = client.get(f"/datasets/{dataset['id']}/thumbnail/{hdu}.png", headers=HTML)
        assert response.status_code == 404, hdu
        assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        "/datasets/12345",
        "/datasets/0",
        "/datasets/-1",
        "/datasets/99999999999999999999",
        "/datasets/-1/download",
        "/datasets/99999999999999999999/download",
        "/datasets/99999999999999999999/thumbnail/1.png",
    ],
)
def test_unknown_and_hostile_ids_give_the_404_page(client, path):
    response = client.get(path, headers=HTML)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    assert "Sign in" in text  # the page's header: a page, not a bare error


def test_missing_file_still_shows_the_catalogue(app_config, client, uploader, demo_dir):
    path = gain_file(demo_dir, 1)
    dataset = uploaded(client, path, uploader)
    (app_config["ROOT"] / dataset["cal_dir"] / dataset["cal_file"]).unlink()
    text = page_html(client, dataset["id"])
    assert "missing from the tree" in text
    assert "fsck" in text
    assert not _DOWNLOAD.search(text)
    assert '<th scope="row">CAL_CNAM</th><td>GAIN</td>' in text
    download = client.get(f"/datasets/{dataset['id']}/download", headers=HTML)
    assert download.status_code == 500
    assert "Traceback" not in download.get_data(as_text=True)


def test_uploaders_curate_from_the_page_and_the_history_shows_it(app, client, uploader):
    dataset = uploaded(client, calfile_bytes(MXT_GAIN), uploader, "gain.fits")
    page = f"/datasets/{dataset['id']}"
    assert 'id="curate-heading"' not in page_html(client, dataset["id"])  # anonymous
    add_user(app, "ulla", "uploader")
    assert sign_in(client, "ulla").status_code == 303
    curate = section(page_html(client, dataset["id"]), "curate-heading")
    (action,) = re.findall(r'<form method="post" action="([^"]+)"', curate)
    form = {"quality": "5", "reason": "offsets drift", "csrf_token": csrf_token(client, page)}
    posted = client.post(html.unescape(action), data=form)
    assert posted.status_code == 303
    assert posted.headers["Location"] == page
    (change,) = rows_of(
        section(page_html(client, dataset["id"]), "history-heading"), "quality-change"
    )
    assert change[1:] == ["ulla", "quality 0 (good) → 5 (superseded or bad)", "offsets drift"]
