"""The search page ``/search``: the form, the answer, Explain, command lines, refusals."""

from __future__ import annotations

import shlex
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from caldb_server.db import utcnow
from caldb_server.ui.reasons import instant_words
from caldbio.arguments import build_parser
from tests.helpers import MXT_GAIN, calfile_bytes, upload
from tests.server.ui_client import add_user, sign_in, text

LABELS = (
    "Instrument",
    "Codename",
    "Date",
    "Time",
    "Detector",
    "Filter",
    "Boundary expression",
    "As of",
    "Explain",
)
VOID = frozenset({"input", "br", "meta", "link", "img", "hr"})


class Elements(HTMLParser):
    """Every element of a page: (tag, attributes, text inside), in document order."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str], str]] = []
        self._open: list[tuple[str, dict[str, str], list[str]]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag in VOID:
            self.found.append((tag, attributes, ""))
        else:
            self._open.append((tag, attributes, []))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            name, attributes, text = self._open.pop()
            self.found.append((name, attributes, "".join(text)))
            if self._open:
                self._open[-1][2].extend(text)
            if name == tag:
                return

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][2].append(data)

    def having(self, tag: str, **attributes: str) -> list[tuple[dict[str, str], str]]:
        return [
            (attrs, text)
            for name, attrs, text in self.found
            if name == tag and all(attrs.get(k.rstrip("_")) == v for k, v in attributes.items())
        ]


def gain(valid_from: str, **changes: Any) -> bytes:
    return calfile_bytes(MXT_GAIN | {"CVSD0001": valid_from} | changes)


def put(client, uploader, content: bytes, name: str) -> int:
    response = upload(client, content, name, headers=uploader)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["datasets"][0]["id"]


def field_values(page: str) -> dict[str, str]:
    return {attrs["name"]: attrs.get("value", "") for attrs, _ in Elements(page).having("input")}


def result_links(page: str) -> list[str]:
    """The file links of the answer table, as ``href text``."""
    table = page[page.index('<table class="results">') :]
    table = table[: table.index("</table>")]
    return [f"{attrs['href']} {name}" for attrs, name in Elements(table).having("a")]


def copyable(page: str) -> dict[str, str]:
    return {a["data-copy"]: text for a, text in Elements(page).having("pre") if "data-copy" in a}


def test_the_first_visit_shows_the_labelled_form_and_the_rule(client):
    response = client.get("/search")
    assert response.status_code == 200
    page = text(response)
    elements = Elements(page)
    for label in LABELS:
        ((attrs, _),) = [(a, t) for a, t in elements.having("label") if t == label]
        assert elements.having("input", id=attrs["for"]), label  # a real label of a field
    ((explain, _),) = elements.having("input", name="explain")
    assert explain["type"] == "checkbox"
    ((form, _),) = elements.having("form", role="search")
    assert (form["method"], form["action"]) == ("get", "/search")
    assert elements.having("button", type="submit") == [({"type": "submit"}, "Search")]
    assert "latest validity start not after the requested date" in page
    assert 'id="answer-heading"' not in page
    assert 'href="/search">Search</a>' in page  # the header link
    ((codename, _),) = elements.having("input", name="codename")
    assert elements.having("datalist", id=codename["list"])
    assert {a["value"] for a, _ in Elements(page).having("option")} >= {"MXT", "GAIN", "SVOM"}


def test_a_search_for_mxt_gain_links_the_selected_file(client, uploader):
    put(client, uploader, gain("2024-01-01"), "mxt_gain_2024.fits")
    chosen = put(client, uploader, gain("2025-06-01"), "mxt_gain_2025.fits")
    put(client, uploader, gain("2026-01-01"), "mxt_gain_2026.fits")
    response = client.get("/search?instrument=mxt&codename=GAIN&date=2025-07-01")
    assert response.status_code == 200
    page = text(response)
    assert result_links(page) == [f"/datasets/{chosen} mxt_gain_2025.fits"]
    assert "nfound = 1" in page
    assert "2025-06-01 00:00:00 UTC" in page
    assert "Why the other candidates" not in page
    assert field_values(page)["instrument"] == "mxt"  # the form keeps the query


def test_fields_left_empty_are_dropped_from_the_url_to_share(client, uploader):
    chosen = put(client, uploader, gain("2025-06-01"), "mxt_gain_2025.fits")
    query = "instrument=MXT&date=&time=&codename=GAIN&detector=&filter=&expr=&as_of=&mission="
    response = client.get(f"/search?{query}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/search?instrument=MXT&codename=GAIN"
    answer = client.get(response.headers["Location"])
    assert result_links(text(answer)) == [f"/datasets/{chosen} mxt_gain_2025.fits"]
    emptied = client.get("/search?instrument=&codename=&x=%3Cb%3E&x=2")
    assert emptied.headers["Location"] == "/search?x=%3Cb%3E&x=2"  # repeated, still refused
    assert client.get("/search?instrument=&codename=").headers["Location"] == "/search"


def test_explain_says_in_words_why_each_candidate_lost(client, uploader):
    put(client, uploader, gain("2024-01-01"), "mxt_gain_2024.fits")
    put(client, uploader, gain("2026-01-01"), "mxt_gain_2026.fits")
    high = {"CBD10001": "ENERGY(10-20)keV"}
    put(client, uploader, gain("2025-06-01", **high), "mxt_gain_2025.fits")
    replaced = upload(
        client,
        gain("2025-06-01", **high),
        "mxt_gain_2025_v2.fits",
        headers=uploader,
        supersede=True,
    )
    assert replaced.status_code == 201, replaced.get_json()
    chosen = replaced.get_json()["datasets"][0]["id"]
    put(client, uploader, gain("2025-06-01", CBD10001="ENERGY(1-5)keV"), "mxt_gain_low.fits")
    b_side = {"DETNAM": "MXT-B", "CBD10001": "ENERGY(30-40)keV"}
    put(client, uploader, gain("2025-06-01", **b_side), "mxt_gain_b.fits")
    query = "instrument=MXT&codename=GAIN&date=2025-07-01&expr=energy.eq.12&detector=MXT-A"
    page = text(client.get(f"/search?{query}&explain=true"))
    assert result_links(page) == [f"/datasets/{chosen} mxt_gain_2025_v2.fits"]
    losers = page[page.index('<table class="losers"') :]
    rows = {
        Elements(row).having("a")[0][1]: Elements(row).having("td", class_="why")[0][1]
        for row in losers.split("<tr>")[2:]
    }
    assert rows == {
        "mxt_gain_2024.fits": "a later validity start (2025-06-01 00:00:00 UTC) was chosen; "
        "this one starts at 2024-01-01 00:00:00 UTC",
        "mxt_gain_2026.fits": "valid only from 2026-01-01 00:00:00 UTC, after the requested "
        "date (2025-07-01 00:00:00 UTC)",
        "mxt_gain_2025.fits": "superseded (quality 5); only good datasets (quality 0) are chosen",
        "mxt_gain_low.fits": "its boundary ENERGY(1-5)KEV does not satisfy energy.eq.12",
        "mxt_gain_b.fits": "its detector is MXT-B, not the requested MXT-A "
        "(only MXT-A or NONE match)",
    }
    ((explain, _),) = Elements(page).having("input", name="explain")
    assert "checked" in explain


def test_the_command_lines_are_exact_and_caldbio_reads_them(client, uploader):
    put(client, uploader, gain("2025-06-01"), "mxt_gain_2025.fits")
    query = (
        "instrument=MXT&codename=gain&date=2025-07-01T12:30:00%2B02:00&expr=energy.eq.1.5"
        "&as_of=2030-01-01T00:00:00Z&explain=true"
    )
    page = text(client.get(f"/search?{query}"))
    commands = copyable(page)
    assert commands == {
        "the caldbio command": "caldbio --url http://localhost search MXT GAIN "
        "--date 2025-07-01T12:30:00+02:00 --expr energy.eq.1.5 --as-of 2030-01-01T00:00:00Z "
        "--explain",
        "the quzcif command": "quzcif SVOM MXT - - GAIN 2025-07-01 10:30:00 energy.eq.1.5",
    }
    words = shlex.split(commands["the caldbio command"])
    args = build_parser("caldbio").parse_args(words[1:])
    given = {name: values[0] for name, values in parse_qs(query).items()}
    assert (args.command, args.url, args.explain) == ("search", "http://localhost", True)
    assert (args.instrument, args.codename) == ("MXT", given["codename"].upper())
    assert (args.date, args.time) == (given["date"], None)
    assert (args.expr, args.as_of) == (given["expr"], given["as_of"])
    assert (args.detector, args.filter, args.mission, args.maxret) == ("-", "-", "SVOM", 50)
    # The API link of the page gives the same question to the API.
    ((link, _),) = [(a, t) for a, t in Elements(page).having("a") if t.startswith("/api/v1/")]
    assert parse_qs(urlsplit(link["href"]).query) == parse_qs(query)
    assert client.get(link["href"]).get_json()["nfound"] == 1


def test_a_bad_date_is_shown_above_the_form_kept_filled(client):
    query = "instrument=MXT&codename=GAIN&date=2024-02-30&detector=MXT-A&maxret=0&explain=true"
    response = client.get(f"/search?{query}")
    assert response.status_code == 422
    page = text(response)
    problems = Elements(page).having("ul", class_="problems")[0][1]
    assert "Date: '2024-02-30' is not a calendar date" in problems
    assert "maxret:" in problems  # every problem, not the first only
    assert 'id="answer-heading"' not in page
    values = field_values(page)
    assert (values["instrument"], values["date"], values["detector"]) == (
        "MXT",
        "2024-02-30",
        "MXT-A",
    )
    assert values["maxret"] == "0"
    ((date, _),) = Elements(page).having("input", name="date")
    assert date["aria-invalid"] == "true"


def test_an_unknown_codename_lists_the_known_ones(client):
    response = client.get("/search?instrument=MXT&codename=GAIX")
    assert response.status_code == 404  # as the API answers
    page = text(response)
    assert "unknown codename GAIX of MXT; known codenames of MXT:" in page
    retry = {name: attrs["href"] for attrs, name in Elements(page).having("a")}
    assert retry["TELDEF"] == "/search?instrument=MXT&codename=TELDEF"
    assert field_values(page)["codename"] == "GAIX"


def test_a_query_without_names_says_they_are_required(client):
    response = client.get("/search?date=2025-07-01")
    assert response.status_code == 422
    problems = Elements(text(response)).having("ul", class_="problems")[0][1]
    assert "Instrument: is required" in problems
    assert "Codename: is required" in problems
    for name in ("instrument", "codename"):
        ((field, _),) = Elements(text(response)).having("input", name=name)
        assert "required" in field  # the browser asks for them before sending


def test_as_of_replays_and_says_so(client, uploader):
    first = put(client, uploader, gain("2024-01-01"), "mxt_gain_2024.fits")
    moment = utcnow() + timedelta(microseconds=1)
    between = moment.isoformat()
    second = put(client, uploader, gain("2025-06-01"), "mxt_gain_2025.fits")
    now_page = text(client.get("/search?instrument=MXT&codename=GAIN&date=2025-07-01"))
    assert result_links(now_page) == [f"/datasets/{second} mxt_gain_2025.fits"]
    assert "as the CalDB answered at" not in now_page
    replay = client.get(
        "/search",
        query_string={"instrument": "MXT", "codename": "GAIN", "date": "2025-07-01"}
        | {"as_of": between},
    )
    page = text(replay)
    assert result_links(page) == [f"/datasets/{first} mxt_gain_2024.fits"]
    assert f"as the CalDB answered at {instant_words(moment)}." in page
    assert "Link to this very answer" not in page


def test_the_link_to_this_very_answer_replays_it(client, uploader):
    first = put(client, uploader, gain("2024-01-01"), "mxt_gain_2024.fits")
    page = text(client.get("/search?instrument=MXT&codename=GAIN&date=2025-07-01"))
    ((link, _),) = [
        (a, t) for a, t in Elements(page).having("a") if t == "Link to this very answer"
    ]
    put(client, uploader, gain("2025-06-01"), "mxt_gain_2025.fits")
    assert result_links(text(client.get(link["href"]))) == [f"/datasets/{first} mxt_gain_2024.fits"]


def test_nothing_found_says_so(client, uploader):
    put(client, uploader, gain("2025-06-01"), "mxt_gain_2025.fits")
    page = text(client.get("/search?instrument=MXT&codename=GAIN&date=2020-01-01"))
    assert "nfound = 0" in page
    assert "no datasets found matching selection criteria" in page
    assert "quzcif SVOM MXT - - GAIN 2020-01-01 00:00:00 -" in unescape(page)


def test_control_characters_get_the_request_guards_page(client):
    response = client.get("/search?instrument=MXT&codename=GA%00IN")
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert "control characters" in text(response)


@pytest.mark.parametrize(
    "query",
    [
        {"instrument": "MXT", "codename": "G" * 5000},
        {"instrument": "M" * 100_000, "codename": "GAIN", "date": "9" * 5000},
        {"instrument": "MXT", "codename": "GAIN", "expr": "energy.eq.1" + ".and.energy.eq.1" * 400},
        {"instrument": "MXT", "codename": "GAIN", "expr": "energy.eq." + "(" * 2000},
        {"instrument": "<script>alert(1)</script>", "codename": '"><img src=x>'},
        {"instrument": "MXT", "codename": "GAIN", "_anchor": "x", "_external": "1"},
        {"instrument": "MXT", "codename": "GAIN", "_scheme": "javascript"},
        {"instrument": "MXT", "codename": "GAIN", "date": "9999-12-31T23:59:59-23:59"},
        {"instrument": "MXT", "codename": "GAIN", "as_of": "0001-01-01T00:00:00+01:00"},
        {
            "instrument": "\u039c\u03a7\u03a4",
            "codename": "GAIN",
            "detector": "\u202e",
            "filter": "x y",
        },
        {"instrument": ["MXT", "ECL"], "codename": "GAIN"},
        {"mission": "NOPE", "instrument": "MXT", "codename": "GAIN"},
        {"instrument": "MXT", "codename": "GAIN", "explain": "maybe", "maxret": "1e9"},
    ],
)
def test_hostile_input_is_never_a_traceback(client, query):
    response = client.get("/search", query_string=query)
    assert response.status_code in (200, 404, 422), response.status_code
    assert response.mimetype == "text/html"
    page = text(response)
    assert "Traceback" not in page
    assert "<script>alert" not in page
    assert "<img src=x>" not in page
    assert 'role="search"' in page  # the form, to try again


@pytest.fixture
def private(app_config):
    app_config["PUBLIC_READ"] = "false"
    return app_config


def test_in_private_read_mode_anonymous_browsers_sign_in_first(private, app, client):
    response = client.get("/search?instrument=MXT&codename=GAIN")
    assert response.status_code == 302
    assert response.headers["Location"] == (
        "/sign-in?next=%2Fsearch%3Finstrument%3DMXT%26codename%3DGAIN"
    )
    add_user(app, "reader1", "reader")
    assert sign_in(client, "reader1").status_code == 303
    assert client.get("/search?instrument=MXT&codename=GAIN").status_code == 200
