"""The codename page: every dataset newest first, supersession in words, filters, pages, cost.

The page helpers are the instrument page tests' (tests/server/test_ui_instruments.py).
"""

from __future__ import annotations

import re
from datetime import timedelta

from caldb_server.db import utcnow
from caldb_server.ui import codename_page as codename_module
from caldb_server.ui.blueprint import STATIC_DIR
from caldb_server.web import extension
from tests.helpers import insert_datasets, mxt_gain_dataset
from tests.server.test_ui_instruments import dataset_ids, html_page, statements, uploaded


def test_every_dataset_newest_first_with_its_fields(client, uploader):
    uploaded(client, uploader, "gain_2024.fits", CBD10001="RAWX(0-99)")
    uploaded(client, uploader, "gain_2025.fits", CVSD0001="2025-03-01", CVST0001="12:30:00")
    ids = dataset_ids(client)
    page = html_page(client, "/instruments/MXT/GAIN")
    rows = re.findall(r"<tr class=\"(\w+)\">(.*?)</tr>", page, re.S)
    assert [klass for klass, _ in rows] == ["good", "good"]
    newest, oldest = (row for _, row in rows)
    assert "2025-03-01 12:30:00" in newest
    assert "2024-06-22 00:00:00" in oldest
    assert f'<a href="/datasets/{ids["gain_2025.fits"]}">gain_2025.fits</a>' in newest
    assert f'<a href="/datasets/{ids["gain_2024.fits"]}">gain_2024.fits</a>' in oldest
    cells = re.findall(r"<td[^>]*>(.*?)</td>", oldest, re.S)
    assert cells[3] == "<code>RAWX(0-99)</code>"  # the empty (NONE) boundaries are omitted
    assert cells[6] == "1"  # the extension number
    assert "alice" in newest  # the uploader (the token's subject)
    assert utcnow().date().isoformat() in newest  # the upload date
    assert "Valid from (UTC)" in page
    assert "good" in newest


def test_superseded_datasets_are_marked_and_described_in_words(client, uploader):
    uploaded(client, uploader, "gain_old.fits")
    uploaded(client, uploader, "gain_new.fits", supersede=True)
    page = html_page(client, "/instruments/MXT/GAIN")
    rows = {
        re.search(r">(gain_\w+\.fits)</a>", row).group(1): (klass, row)  # type: ignore[union-attr]
        for klass, row in re.findall(r"<tr class=\"(\w+)\">(.*?)</tr>", page, re.S)
    }
    assert rows["gain_old.fits"][0] == "superseded"
    assert "superseded or bad" in rows["gain_old.fits"][1]
    assert rows["gain_new.fits"][0] == "good"
    css = (STATIC_DIR / "site.css").read_text()
    assert re.search(r"tr\.superseded td[^{]*\{[^}]*line-through", css)


def test_the_codename_is_case_insensitive_and_links_are_upper_case(client, uploader):
    uploaded(client, uploader, "gain_a.fits")
    page = html_page(client, "/instruments/mxt/gain")
    assert "<h1>MXT GAIN</h1>" in page
    assert 'action="/instruments/MXT/GAIN"' in page
    assert '<a href="/instruments/MXT">MXT</a>' in page
    assert "gain_a.fits</a>" in page


def test_the_filter_form_offers_the_values_present_and_filters(app, client):
    insert_datasets(
        extension(app).database,
        [
            mxt_gain_dataset(detnam="CCD1", filter="OPEN", ref_time=59945.0),
            mxt_gain_dataset(detnam="CCD2", filter="OPEN", ref_time=59946.0),
            mxt_gain_dataset(detnam="CCD2", filter="FE55", ref_time=59947.0),
        ],
    )
    page = html_page(client, "/instruments/MXT/GAIN")
    assert '<label for="detector">Detector</label>' in page
    assert '<label for="filter">Filter</label>' in page
    assert '<button type="submit">Filter</button>' in page
    detector = re.search(r'<select id="detector" name="detector">(.*?)</select>', page, re.S)
    assert detector is not None
    assert re.findall(r'<option value="(\w*)"', detector.group(1)) == ["", "CCD1", "CCD2"]
    assert len(re.findall(r"<tr class=", page)) == 3

    def rows(query: str) -> list[tuple[str, ...]]:
        body = html_page(client, f"/instruments/MXT/GAIN?{query}")
        return [
            tuple(re.findall(r"<td[^>]*>(.*?)</td>", row)[1:3])
            for row in re.findall(r"<tr class=\"\w+\">(.*?)</tr>", body, re.S)
        ]

    assert rows("detector=CCD2") == [("CCD2", "FE55"), ("CCD2", "OPEN")]
    assert rows("detector=CCD2&filter=OPEN") == [("CCD2", "OPEN")]
    assert rows("filter=OPEN") == [("CCD2", "OPEN"), ("CCD1", "OPEN")]
    selected = html_page(client, "/instruments/MXT/GAIN?detector=CCD2")
    assert '<option value="CCD2" selected>CCD2</option>' in selected
    nothing = html_page(client, "/instruments/MXT/GAIN?detector=CCD9")
    assert "<tr class=" not in nothing
    assert "matches these filters" in nothing


def test_a_long_list_is_paginated_keeping_the_filters(app, client, monkeypatch):
    monkeypatch.setattr(codename_module, "PAGE_SIZE", 2)
    insert_datasets(
        extension(app).database,
        [mxt_gain_dataset(detnam="CCD1", ref_time=59945.0 + n) for n in range(5)],
    )
    first = html_page(client, "/instruments/MXT/GAIN?detector=CCD1")
    assert len(re.findall(r"<tr class=", first)) == 2
    assert 'href="/instruments/MXT/GAIN?detector=CCD1&amp;page=2"' in first
    last = html_page(client, "/instruments/MXT/GAIN?detector=CCD1&page=3")
    assert len(re.findall(r"<tr class=", last)) == 1
    assert "Older datasets" not in last
    assert "Newer datasets" in last


def test_the_codename_page_costs_the_same_statements_for_10_or_300_datasets(app, client):
    database = extension(app).database
    insert_datasets(database, [mxt_gain_dataset(ref_time=59945.0 + n) for n in range(10)])
    html_page(client, "/instruments/MXT/GAIN")  # warm up (first connection)
    with statements(app) as few:
        page = html_page(client, "/instruments/MXT/GAIN")
    assert len(re.findall(r"<tr class=", page)) == 10
    with database.unit_of_work() as session:  # more datasets, of other files too
        from caldb_server.catalogue.models import CalibrationFile, Dataset  # noqa: PLC0415

        for number in range(29):
            stored = CalibrationFile(
                index_dir="data/svom/mxt",
                cal_dir="data/svom/mxt/bcf/gain",
                cal_file=f"more{number}.fits",
                origin="import",
                uploaded_by="test",
                uploaded_at=utcnow() - timedelta(days=number),
            )
            session.add_all(
                Dataset(file=stored, **mxt_gain_dataset(ref_time=60000.0 + number * 10 + n))
                for n in range(10)
            )
    with statements(app) as many:
        page = html_page(client, "/instruments/MXT/GAIN")
    assert len(re.findall(r"<tr class=", page)) == 300
    assert len(many) == len(few) <= 4
