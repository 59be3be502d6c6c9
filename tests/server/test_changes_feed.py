"""The change feed: every catalogue event, numbered, through the real write paths.

``GET /api/v1/changes`` pages by ``since`` and filters; ``/feeds/changes.atom`` is the same
as Atom, read back with feedparser. Ordering under concurrent writers: test_changes_order.py.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import feedparser
import jsonschema
import pytest
from referencing import Registry, Resource

from caldb_server.changes.params import DEFAULT_LIMIT, MAX_LIMIT, MAX_SEQ
from caldb_server.db import utcnow
from caldb_server.errors import Conflict
from caldb_server.heasarc.tree import release_index
from caldb_server.meta.views import openapi_document
from caldb_server.search.params import name_pattern
from caldb_server.web import extension
from tests.helpers import (
    MXT_GAIN,
    SWIFT_XRT_GAIN_ROW,
    assert_problem,
    bearer,
    calfile_bytes,
    import_index,
    upload,
    write_index,
)
from tests.server.test_onboard import EVTTHR, send

ATOM = "/feeds/changes.atom"


def changes(client, query="since=0", headers=None):
    response = client.get(f"/api/v1/changes?{query}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def gain(day, **values):
    """An MXT gain file valid from 2024-06-<day> (files of different days never collide)."""
    return calfile_bytes({**MXT_GAIN, "CVSD0001": f"2024-06-{day:02d}", **values})


def uploaded(client, headers, name, content, **options):
    response = upload(client, content, name, headers=headers, **options)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["datasets"]


def ok(response):
    assert response.status_code < 300, response.get_data(as_text=True)
    return response


def release(app, version, index_dir="data/svom/mxt"):
    services = extension(app)
    with services.database.unit_of_work() as session:
        release_index(
            session, services.storage, index_dir, caldbver=version, actor="ops", now=utcnow()
        )


def test_each_kind_of_event_is_recorded_by_its_write_path(app, client, uploader, tmp_path):
    (v1,) = uploaded(client, uploader, "mxt_gain_v1.fits", gain(22))
    (v2,) = uploaded(client, uploader, "mxt_gain_v2.fits", gain(22, CDES0001="v2"), supersede=True)
    patch = {"cal_qual": 5, "reason": "gain drifted"}
    ok(client.patch(f"/api/v1/datasets/{v2['id']}", json=patch, headers=uploader))
    for version in (1, 2):
        ok(send(client, f"MXT_EVTTHR_20250301T120000_V0{version}.yaml", EVTTHR, uploader))
    release(app, "20260101")
    import_index(app, write_index(tmp_path, SWIFT_XRT_GAIN_ROW))

    body = changes(client)
    registry = Registry().with_resource("urn:openapi", Resource.opaque(openapi_document()))
    page_schema = {"$ref": "urn:openapi#/components/schemas/ChangePage"}
    jsonschema.Draft202012Validator(page_schema, registry=registry).validate(body)
    found = body["changes"]
    assert [c["seq"] for c in found] == list(range(1, 10))
    assert [c["kind"] for c in found] == [
        "upload",
        "upload",
        "supersession",
        "quality",
        "onboard_upload",
        "onboard_upload",
        "supersession",
        "release",
        "import",
    ]
    first, second, superseded, quality, onboard1, onboard2, replaced, released, imported = found
    assert {c["actor"] for c in found[:7]} == {"alice"}  # the token's subject, never the token
    assert (released["actor"], imported["actor"]) == ("ops", "test")
    for change in found[:8]:
        assert (change["mission"], change["instrument"]) == ("SVOM", "MXT"), change
    assert first["codenames"] == ["GAIN"]
    assert first["datasets"] == [v1["id"]]
    assert first["files"] == ["data/svom/mxt/bcf/gain/mxt_gain_v1.fits"]
    assert first["details"]["sha256"] == v1["sha256"]
    assert superseded["datasets"] == [v1["id"]]
    assert superseded["files"] == first["files"]
    assert superseded["details"]["superseded_by_file"] == second["files"][0]
    (pair,) = superseded["details"]["superseded"]
    assert (pair["dataset_id"], pair["by_dataset_id"], pair["old_qual"], pair["new_qual"]) == (
        v1["id"],
        v2["id"],
        0,
        5,
    )
    assert quality["datasets"] == [v2["id"]]
    assert quality["details"] == {"old_qual": 0, "new_qual": 5, "reason": "gain drifted"}
    assert onboard1["codenames"] == ["EVTTHR"]
    assert onboard2["details"]["version"] == 2
    assert onboard2["details"]["onboard_from"] == "2025-03-01T12:00:00"
    assert replaced["datasets"] == onboard1["datasets"]
    assert replaced["details"]["superseded"][0]["by_dataset_id"] == onboard2["datasets"][0]
    assert released["codenames"] == []  # every codename of the index
    assert released["files"] == ["data/svom/mxt/index/caldb.indx20260101"]
    assert released["details"]["caldbver"] == "20260101"
    assert (imported["mission"], imported["instrument"], imported["codenames"]) == (
        "SWIFT",
        "XRT",
        ["GAIN"],
    )
    assert imported["datasets"] == []  # counts, not one entry per row
    assert imported["details"]["datasets_added"] == 1
    assert imported["details"]["cif"] == "caldb.indx"
    times = [c["time"] for c in found]
    assert all(t.endswith("+00:00") for t in times)


def test_what_changes_nothing_records_nothing(app, client, uploader, tmp_path):
    (v1,) = uploaded(client, uploader, "mxt_gain_v1.fits", gain(22))
    again = upload(client, gain(22), "mxt_gain_v1.fits", headers=uploader)
    assert again.status_code == 200  # identical bytes: idempotent
    assert_problem(upload(client, gain(22), "mxt_gain_v9.fits", headers=uploader), 409)
    same = {"cal_qual": 0, "reason": "already good"}
    ok(client.patch(f"/api/v1/datasets/{v1['id']}", json=same, headers=uploader))
    cif = write_index(tmp_path, SWIFT_XRT_GAIN_ROW)
    import_index(app, cif)
    import_index(app, cif)  # a re-import adds nothing
    assert [c["kind"] for c in changes(client)["changes"]] == ["upload", "import"]


def release_twice(app, *versions):
    """Release the MXT index as each of ``versions``, in one unit of work."""
    services = extension(app)
    with services.database.unit_of_work() as session:
        for version in versions:
            release_index(
                session, services.storage, "data/svom/mxt", caldbver=version, actor="ops",
                now=utcnow(),
            )  # fmt: skip


def test_a_rolled_back_unit_of_work_leaves_neither_event_nor_gap(app, client, uploader):
    uploaded(client, uploader, "mxt_gain_v1.fits", gain(22))
    release(app, "20260101")
    with pytest.raises(Conflict):  # the second release exists: the first one goes too
        release_twice(app, "20260102", "20260101")
    uploaded(client, uploader, "mxt_gain_v2.fits", gain(23))
    found = changes(client)["changes"]
    assert [(c["seq"], c["kind"]) for c in found] == [(1, "upload"), (2, "release"), (3, "upload")]


def test_pages_follow_since_and_the_next_link(client, uploader):
    for day in range(1, 6):
        uploaded(client, uploader, f"mxt_gain_{day}.fits", gain(day))
    seen, query = [], "since=0&limit=2"
    while True:
        response = client.get(f"/api/v1/changes?{query}")
        body = response.get_json()
        seen.append([c["seq"] for c in body["changes"]])
        assert body["latest"] == 5
        if not body["more"]:
            assert "Link" not in response.headers
            break
        link = response.headers["Link"]
        assert link.endswith('>; rel="next"')
        next_url = urlsplit(link[1 : link.index(">")])
        assert next_url.path == "/api/v1/changes"
        assert next_url.query == f"since={body['next_since']}&limit=2"
        query = next_url.query
    assert seen == [[1, 2], [3, 4], [5]]
    assert body["next_since"] == 5
    assert changes(client, "since=5") == {
        "changes": [],
        "next_since": 5,
        "more": False,
        "latest": 5,
    }
    assert [c["seq"] for c in changes(client, "since=3")["changes"]] == [4, 5]
    assert changes(client, f"since={2**63 - 1}")["changes"] == []


def test_filters_by_mission_instrument_and_codename(app, client, uploader, tmp_path):
    uploaded(client, uploader, "mxt_gain_v1.fits", gain(22))  # 1
    ecl = {**MXT_GAIN, "INSTRUME": "ECLAIRS", "CDES0001": "ECL gain"}
    uploaded(client, uploader, "ecl_gain_v1.fits", calfile_bytes(ecl))  # 2: alias -> ECL
    ok(send(client, "MXT_EVTTHR_20250301T120000_V01.yaml", EVTTHR, uploader))  # 3
    release(app, "20260101")  # 4: MXT, every codename
    import_index(app, write_index(tmp_path, SWIFT_XRT_GAIN_ROW))  # 5

    def seqs(query):
        return [c["seq"] for c in changes(client, f"since=0&{query}")["changes"]]

    assert seqs("instrument=mxt") == [1, 3, 4]
    assert seqs("instrument=ECLAIRS") == seqs("instrument=ECL") == [2]
    assert seqs("codename=evtthr") == [3, 4]  # the release concerns every codename
    assert seqs("instrument=MXT&codename=GAIN&codename=EVTTHR") == [1, 3, 4]
    assert seqs("codename=GAIN") == [1, 2, 4, 5]
    assert seqs("mission=SWIFT") == [5]
    assert seqs("mission=SVOM&codename=GAIN") == [1, 2, 4]
    assert seqs("instrument=VT") == []
    body = changes(client, "since=0&limit=1&instrument=MXT&codename=GAIN")
    response = client.get("/api/v1/changes?since=0&limit=1&instrument=MXT&codename=GAIN")
    assert "since=1&limit=1&instrument=MXT&codename=GAIN>" in response.headers["Link"]
    assert body["next_since"] == 1


BAD_QUERIES = [
    ("since=-1", "since"),
    ("since=abc", "since"),
    ("since=1.5", "since"),
    ("since=%2B1", "since"),
    (f"since={2**63}", "since"),
    ("limit=0", "limit"),
    ("limit=1001", "limit"),
    ("since=0&since=1", "since"),
    ("instrument=", "instrument"),
    ("instrument=MXT%20X", "instrument"),
    ("instrument=ABCDEFGHIJK", "instrument"),
    ("codename=" + "C" * 21, "codename"),
    ("mission=", "mission"),
    ("instrment=MXT", "instrment"),
]


@pytest.mark.parametrize(("query", "field"), BAD_QUERIES)
def test_bad_parameters_are_422_problems_naming_them(client, query, field):
    for path in ("/api/v1/changes", ATOM):
        body = assert_problem(client.get(f"{path}?{query}"), 422)
        assert [e["field"] for e in body["errors"]] == [field], path


def test_the_document_states_the_servers_bounds_and_patterns():
    operation = openapi_document()["paths"]["/changes"]["get"]
    schemas = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert (schemas["since"]["minimum"], schemas["since"]["maximum"]) == (0, MAX_SEQ)
    limit = schemas["limit"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, MAX_LIMIT, DEFAULT_LIMIT)
    assert schemas["mission"]["pattern"] == schemas["instrument"]["pattern"] == name_pattern(10)
    assert schemas["codename"]["items"]["pattern"] == name_pattern(20)


def test_since_defaults_to_0_in_the_api_and_to_the_latest_in_the_feed(client):
    assert client.get("/api/v1/changes").get_json()["changes"] == []
    assert client.get("/api/v1/changes").get_json()["next_since"] == 0
    assert client.get(ATOM).status_code == 200


@pytest.fixture
def app_config(app_config, request):
    """``@pytest.mark.parametrize("app_config", ["false"], indirect=True)`` sets PUBLIC_READ."""
    if hasattr(request, "param"):
        app_config["PUBLIC_READ"] = request.param
    return app_config


@pytest.mark.parametrize("app_config", ["false"], indirect=True)
def test_private_reads_need_a_reader_token(client, uploader, make_token):
    uploaded(client, uploader, "mxt_gain_v1.fits", gain(22))
    for path in ("/api/v1/changes?since=0", ATOM):
        response = client.get(path)
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert client.get(path, headers=bearer(make_token("reader"))).status_code == 200
    assert changes(client, headers=bearer(make_token("reader")))["changes"][0]["seq"] == 1


def test_the_atom_feed_parses_and_lists_the_changes_in_order(app, client, uploader):
    datasets = [uploaded(client, uploader, f"mxt_gain_{d}.fits", gain(d))[0] for d in (1, 2)]
    patch = {"cal_qual": 5, "reason": "bad"}
    ok(client.patch(f"/api/v1/datasets/{datasets[0]['id']}", json=patch, headers=uploader))
    release(app, "20260101")

    response = client.get(ATOM)
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.get_data())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    expected = changes(client)["changes"][::-1]  # newest first
    assert [e.id for e in feed.entries] == [
        f"tag:localhost,2026-12-07:change:{c['seq']}" for c in expected
    ]
    assert [e.tags[0].term for e in feed.entries] == ["release", "quality", "upload", "upload"]
    assert feed.entries[1].title == "#3 quality: SVOM MXT GAIN, dataset 1 (0 -> 5)"
    assert feed.entries[1].author == "alice"
    assert feed.entries[1].link == f"http://localhost/datasets/{datasets[0]['id']}"
    assert feed.entries[0].link == "http://localhost/api/v1/changes?since=3&limit=1"
    updated = [e.updated_parsed for e in feed.entries]
    assert updated == sorted(updated, reverse=True)
    assert feed.feed.updated_parsed == updated[0]

    latest = feedparser.parse(client.get(f"{ATOM}?limit=2").get_data())
    assert [e.id.rsplit(":", 1)[1] for e in latest.entries] == ["4", "3"]
    # A page after since: the next changes, still newest first, with a next link when full.
    page = feedparser.parse(client.get(f"{ATOM}?since=1&limit=2").get_data())
    assert [e.id.rsplit(":", 1)[1] for e in page.entries] == ["3", "2"]
    links = {link.rel: link.href for link in page.feed.links}
    assert links["next"] == "http://localhost/feeds/changes.atom?since=3&limit=2"
    assert links["self"] == "http://localhost/feeds/changes.atom?since=1&limit=2"
    # Same entry ids in a filtered feed; a different feed id.
    mxt = feedparser.parse(client.get(f"{ATOM}?instrument=MXT&codename=GAIN").get_data())
    assert [e.id for e in mxt.entries] == [e.id for e in feed.entries]
    assert mxt.feed.id != feed.feed.id
    empty = feedparser.parse(client.get(f"{ATOM}?instrument=VT").get_data())
    assert not empty.bozo
    assert empty.entries == []
