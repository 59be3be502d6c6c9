"""Hostile uploads: broken structure, problem lists, hostile headers (CONTINUE, long values).

Each is refused with a problem+json answer, nothing is stored and nothing is left in
``.incoming`` (:func:`refused` checks both). The work spent on a hostile header is measured,
not timed: the cards parsed and the CONTINUE parts joined are counted.
"""

from __future__ import annotations

import gzip
import io
from typing import Any

import pytest

from caldb_server.ingest import structure
from caldb_server.ingest.structure import BLOCK, MAX_PROBLEMS, MAX_VALUE_CHARS, verify_structure
from tests.helpers import calfile_bytes, tree_files
from tests.server.fits_corpus import BAD_FILES, replace
from tests.server.uploads import GOOD, gain, gain_datasets, places, refused, send

CARD = 80


# -- structure ----------------------------------------------------------------------------

ISSUE = {  # the issue's files, and where each is refused
    "BITPIX = 7 in the table": {(1, "BITPIX")},
    "NAXIS1 = -5": {(1, "NAXIS1")},
    "TFIELDS = 999999 with one column": {(1, "TFIELDS")},
    "duplicate INSTRUME": {(1, "INSTRUME")},
    "duplicate CCNM0001": {(1, "CCNM0001")},
    "wrong CHECKSUM": {(1, "CHECKSUM")},
    "wrong DATASUM": {(1, "DATASUM"), (1, "CHECKSUM")},
}


@pytest.mark.parametrize(("name", "expected"), ISSUE.items(), ids=ISSUE)
def test_structurally_broken_file_is_refused_where_it_breaks(
    client, uploader, root, name, expected
):
    errors = refused(client, uploader, root, BAD_FILES[name])
    assert places(errors) == expected


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_every_structural_problem_is_listed(client, uploader, root, compress):
    content = replace(BAD_FILES["duplicate INSTRUME"], 1, "NAXIS2", b"NAXIS2  = 4 / rows\t")
    content = replace(content, 1, "CDTP0001", "CDTP0001= 'DATA    ' x")
    if compress:
        content = gzip.compress(content, mtime=0)
    errors = refused(client, uploader, root, content)
    assert places(errors) == {(1, "INSTRUME"), (1, "NAXIS2"), (1, "CDTP0001")}
    assert all(isinstance(e["reason"], str) and e["reason"] for e in errors)


# -- bounded work on hostile headers --------------------------------------------------------


def _header_starts(data: bytes) -> list[int]:
    """Where each header starts (the data blocks of these files never start XTENSION)."""
    return [0] + [o for o in range(BLOCK, len(data), BLOCK) if data[o : o + 8] == b"XTENSION"]


def _spliced(data: bytes, hdu: int, keyword: str, cards: list[bytes]) -> bytes:
    """``data`` with the card ``keyword`` of HDU ``hdu`` replaced by ``cards``.

    The header grows (or shrinks) to whole blocks; the data after it is kept.
    """
    start = _header_starts(data)[hdu]
    at, end = None, start
    while data[end : end + 8] != b"END     ":
        if at is None and data[end : end + 8] == keyword.encode().ljust(8):
            at = end
        end += CARD
    if keyword == "END":
        at = end
    assert at is not None, keyword
    header_end = -(-(end + CARD) // BLOCK) * BLOCK
    header = data[start:at] + b"".join(c.ljust(CARD) for c in cards) + data[at + CARD : end + CARD]
    header = header.ljust(-(-len(header) // BLOCK) * BLOCK, b" ")
    return data[:start] + header + data[header_end:]


def _broken_cards(data: bytes, per_hdu: int) -> bytes:
    """``data`` with ``per_hdu`` cards holding a control byte (0x01) in every header."""
    broken = b"HISTORY \x01 a control byte".ljust(CARD)
    for hdu in reversed(range(len(_header_starts(data)))):
        data = _spliced(data, hdu, "END", [broken] * per_hdu + [b"END"])
    return data


@pytest.fixture
def parsed_cards(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per card the structural walk parses."""
    calls: list[int] = []
    real = structure.parse_card

    def counted(raw: bytes, position: int) -> Any:
        calls.append(position)
        return real(raw, position)

    monkeypatch.setattr(structure, "parse_card", counted)
    return calls


def test_a_file_of_broken_cards_costs_max_problems_checks(client, uploader, root, parsed_cards):
    """The issue's file, scaled down: every header full of cards holding a 0x01 byte."""
    content = _broken_cards(gain_datasets(5), 10_000)  # 6 HDUs, 60 000 broken cards, 4.8 MB
    cards = len(content) // CARD
    packed = gzip.compress(content, mtime=0)
    assert len(packed) < 100_000
    errors = refused(client, uploader, root, packed, name="mxt_gain.fits.gz")
    assert len(errors) <= MAX_PROBLEMS + 1
    assert errors[-1]["reason"].startswith("... and more problems not listed (at least ")
    assert all("0x01" in e["reason"] for e in errors[:-1])
    # The walk stopped inside the first header, after MAX_PROBLEMS broken cards.
    assert len(parsed_cards) <= MAX_PROBLEMS + 10
    assert len(parsed_cards) < cards // 50


def test_the_walk_stops_at_the_header_that_reaches_max_problems(parsed_cards):
    content = _broken_cards(gain_datasets(5), 400)  # 6 headers of 400 broken cards
    found = verify_structure(io.BytesIO(content))
    assert found.stopped
    assert len(found.problems) == MAX_PROBLEMS
    assert {p.hdu for p in found.problems[:-1]} == {0, 1, 2}  # 400 + 400 + 199 of HDU 2
    assert found.problems[-1].reason == (
        "... and more problems not listed (at least 1): the verification stopped at 1000 problems"
    )
    assert len(parsed_cards) < 3 * (400 + 36)  # two headers and part of the third


def test_a_keyword_repeated_thousands_of_times_is_one_short_check():
    content = _spliced(GOOD, 1, "END", [b"OBSERVER= 'me'"] * 20_000 + [b"END"])
    found = verify_structure(io.BytesIO(content))
    [repeated] = [p for p in found.problems if p.keyword == "OBSERVER"]
    assert repeated.reason.startswith("OBSERVER appears 20000 times (cards ")
    assert repeated.reason.endswith(" and 19990 more)")
    assert len(repeated.reason) < 200


def _continued(data: bytes, keyword: str, cards: int, first: str = "start") -> bytes:
    """``data`` with ``keyword`` of HDU 1 a long string over ``cards`` CONTINUE cards."""
    part = "x" * 60 + "&"
    continued = [f"CONTINUE  '{part}'".encode()] * (cards - 1) + [b"CONTINUE  'end'"]
    return _spliced(data, 1, keyword, [f"{keyword:<8}= '{first}&'".encode(), *continued])


@pytest.fixture
def joined_parts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per CONTINUE card joined to a kept value."""
    calls: list[int] = []
    real = structure.continued_string

    def counted(card: Any) -> Any:
        calls.append(card.position)
        return real(card)

    monkeypatch.setattr(structure, "continued_string", counted)
    return calls


@pytest.mark.parametrize("keyword", ["CDES0001", "CBD10001"])
def test_a_value_continued_over_50000_cards_is_joined_up_to_a_bound(
    client, uploader, root, joined_parts, keyword
):
    content = _continued(calfile_bytes(gain(CBD10001="CCDID(1)")), keyword, 50_000)
    assert len(content) > 50_000 * CARD
    response = send(client, uploader, gzip.compress(content, mtime=0), name="mxt_gain.fits.gz")
    body = response.get_data()
    assert response.status_code == 422, body[:1000]
    assert len(body) < 64 * 1024
    errors = response.get_json()["errors"]
    assert errors == [
        {"hdu": 1, "keyword": keyword, "reason": f"value longer than {MAX_VALUE_CHARS} characters"}
    ]
    assert len(joined_parts) <= MAX_VALUE_CHARS // 60 + 2  # not 50 000 joins
    assert tree_files(root) == []


def test_a_long_value_under_the_bound_is_read_whole():
    content = _continued(GOOD, "CDES0001", 10)
    [_, table] = verify_structure(io.BytesIO(content), keep={"CDES0001"}).hdus
    assert table.values["CDES0001"] == "start" + "x" * 60 * 9 + "end"
    assert table.too_long == frozenset()


@pytest.mark.parametrize(
    ("keyword", "expected"),
    [("CVSD0001", "is neither YYYY-MM-DD"), ("CVST0001", "is not a time of day")],
)
def test_a_long_value_is_quoted_shortened_in_its_reason(client, uploader, root, keyword, expected):
    content = _continued(GOOD, keyword, 15, first="20")  # 857 characters, under the bound
    errors = refused(client, uploader, root, content)
    [error] = [e for e in errors if e.get("keyword") == keyword]
    assert expected in error["reason"]
    assert "… (" in error["reason"]
    assert len(error["reason"]) < 200


def test_an_over_wide_boundary_is_refused_as_too_long_only(client, uploader, root):
    content = calfile_bytes(gain(CBD10001="CCDID(1)"))
    content = _continued(content, "CBD10001", 10, first="CCDID(1")  # no closing parenthesis
    errors = refused(client, uploader, root, content)
    assert errors == [{"hdu": 1, "keyword": "CBD10001", "reason": "longer than 70 characters"}]
