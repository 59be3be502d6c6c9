"""The search page's pure parts: reasons in words, and the equivalent command lines."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from caldb_selection import Query, Reason, Rejection, parse_expression, select
from caldb_server.ui.commands import caldbio_command, quzcif_command
from caldb_server.ui.reasons import instant_words, reason_words, utc_words
from caldbio.arguments import build_parser

NONES = ("NONE",) * 9
JAN_2024 = 60310.0  # 2024-01-01T00:00:00
JUN_2025 = 60827.0  # 2025-06-01T00:00:00
JUL_2025 = 60857.0  # 2025-07-01T00:00:00
JAN_2026 = 61041.0  # 2026-01-01T00:00:00


@dataclass(frozen=True)
class Row:
    """A candidate of the selection; ``name`` only tells them apart."""

    name: str
    ref_time: float = JAN_2024
    instrume: str = "MXT"
    detnam: str = "NONE"
    filter: str = "NONE"
    cal_cnam: str = "GAIN"
    cal_qual: int = 0
    cal_cbd: tuple[str, ...] = NONES


def mxt_gain(time_mjd: float | None, *, expression: str = "-", **names: str) -> Query:
    return Query.create(
        "MXT", "GAIN", expression=parse_expression(expression), time_mjd=time_mjd, **names
    )


# Every kind of Reason, produced by the real selection, and the sentence a scientist reads.
ROWS = [
    Row("chosen", JUN_2025, cal_cbd=("ENERGY(10-20)keV", *NONES[1:])),
    Row("older", JAN_2024),
    Row("future", JAN_2026),
    Row("other detector", JUN_2025, detnam="MXT-B"),
    Row("other filter", JUN_2025, filter="THICK"),
    Row("superseded", JUN_2025, cal_qual=5),
    Row("narrow", JUN_2025, cal_cbd=("ENERGY(1-10)keV", *NONES[1:])),
]
WORDS = {
    Reason.SUPERSEDED: (
        "older",
        "a later validity start (2025-06-01 00:00:00 UTC) was chosen; "
        "this one starts at 2024-01-01 00:00:00 UTC",
    ),
    Reason.LATER_VALIDITY: (
        "future",
        "valid only from 2026-01-01 00:00:00 UTC, after the requested date "
        "(2025-07-01 00:00:00 UTC)",
    ),
    Reason.DETECTOR: (
        "other detector",
        "its detector is MXT-B, not the requested MXT-A (only MXT-A or NONE match)",
    ),
    Reason.FILTER: (
        "other filter",
        "its filter is THICK, not the requested THIN (only THIN or NONE match)",
    ),
    Reason.QUALITY: (
        "superseded",
        "superseded (quality 5); only good datasets (quality 0) are chosen",
    ),
    Reason.BOUNDARY: ("narrow", "its boundary ENERGY(1-10)keV does not satisfy energy.eq.12"),
}


def test_every_reason_kind_has_its_sentence():
    assert set(WORDS) == set(Reason)


def explained() -> tuple[Query, float | None, dict[str, tuple[Reason, str]]]:
    query = mxt_gain(JUL_2025, expression="energy.eq.12", detector="MXT-A", filter="THIN")
    selection = select(ROWS, query, explain=True)
    assert [row.name for row in selection.selected] == ["chosen"]
    words = {
        r.candidate.name: (r.reason, reason_words(r, query, selection.epoch_mjd))
        for r in selection.rejections
    }
    return query, selection.epoch_mjd, words


@pytest.mark.parametrize("reason", list(Reason))
def test_each_reason_of_the_selection_reads_as_a_sentence(reason):
    name, sentence = WORDS[reason]
    _, _, words = explained()
    assert words[name] == (reason, sentence)


def test_a_quality_other_than_superseded_is_named():
    rejection = Rejection(Row("flagged", cal_qual=2), Reason.QUALITY, "")
    assert reason_words(rejection, mxt_gain(None), None) == (
        "its quality is 2, not good; only good datasets (quality 0) are chosen"
    )


def test_several_boundaries_of_the_parameter_are_all_named():
    row = Row("two", cal_cbd=("ENERGY(1-10)keV", "ENERGY(20-30)keV", *NONES[2:]))
    query = mxt_gain(None, expression="energy.eq.12")
    (rejection,) = select([row], query, explain=True).rejections
    assert reason_words(rejection, query, None) == (
        "its boundaries ENERGY(1-10)keV, ENERGY(20-30)keV do not satisfy energy.eq.12"
    )


def test_an_expression_with_alternatives_says_none_held():
    row = Row("narrow", cal_cbd=("ENERGY(1-10)keV", "GRADE(0-4)", *NONES[2:]))
    query = mxt_gain(None, expression="grade.eq.7.or.energy.gt.11")
    (rejection,) = select([row], query, explain=True).rejections
    assert reason_words(rejection, query, None) == (
        "its boundary ENERGY(1-10)keV does not satisfy energy.gt.11 "
        "(and no other alternative of the expression holds either)"
    )


def test_a_boundary_reason_the_expression_does_not_confirm_still_reads():
    # A rejection built by hand whose boundaries do satisfy the expression: no crash.
    rejection = Rejection(Row("odd", cal_cbd=("ENERGY(1-10)keV", *NONES[1:])), Reason.BOUNDARY, "")
    query = mxt_gain(None, expression="energy.eq.5")
    assert reason_words(rejection, query, None) == (
        "its boundaries (ENERGY(1-10)keV) do not satisfy energy.eq.5"
    )


def test_time_reasons_without_a_requested_time_or_epoch_still_read():
    later = Rejection(Row("future", JAN_2026), Reason.LATER_VALIDITY, "")
    older = Rejection(Row("older"), Reason.SUPERSEDED, "")
    assert reason_words(later, mxt_gain(None), None) == (
        "valid only from 2026-01-01 00:00:00 UTC, after the requested date"
    )
    assert reason_words(older, mxt_gain(None), None) == (
        "valid from 2024-01-01 00:00:00 UTC, but a later validity start was chosen"
    )


@pytest.mark.parametrize(
    ("mjd", "words"),
    [
        (JUN_2025, "2025-06-01 00:00:00 UTC"),
        (JUN_2025 + 0.5, "2025-06-01 12:00:00 UTC"),
        (JUN_2025 + 1 / 86400 - 1e-11, "2025-06-01 00:00:01 UTC"),  # float noise rounds away
        (JUN_2025 + 1.25 / 86400, "2025-06-01 00:00:01.25 UTC"),
        (JUN_2025 - 1e-10, "2025-06-01 00:00:00 UTC"),  # noise below midnight: not 23:59:59
        (2973483.9999999995, "9999-12-31 23:59:59.99996 UTC"),  # cannot round up to year 10000
    ],
)
def test_utc_words(mjd, words):
    assert utc_words(mjd) == words


@pytest.mark.parametrize(
    ("instant", "words"),
    [
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02 03:04:05 UTC"),
        (datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC), "2026-01-02 03:04:05.12 UTC"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01 00:00:00 UTC"),
    ],
)
def test_instant_words(instant, words):
    assert instant_words(instant) == words


# --- command lines ------------------------------------------------------------------------

URL = "http://caldb.example:5000"
COMMANDS = [
    (
        {"instrument": "mxt", "codename": "gain"},
        "caldbio --url http://caldb.example:5000 search MXT GAIN",
        "quzcif SVOM MXT - - GAIN now now -",
    ),
    (
        {"instrument": "MXT", "codename": "GAIN", "date": "2025-07-01", "time": "12:30:00"},
        "caldbio --url http://caldb.example:5000 search MXT GAIN --date 2025-07-01 --time 12:30:00",
        "quzcif SVOM MXT - - GAIN 2025-07-01 12:30:00 -",
    ),
    (
        {"instrument": "MXT", "codename": "GAIN", "date": "2025-07-01"},
        "caldbio --url http://caldb.example:5000 search MXT GAIN --date 2025-07-01",
        "quzcif SVOM MXT - - GAIN 2025-07-01 00:00:00 -",
    ),
    (
        {"instrument": "MXT", "codename": "GAIN", "date": "2025-07-01T12:30:00.5+02:00"},
        "caldbio --url http://caldb.example:5000 search MXT GAIN "
        "--date 2025-07-01T12:30:00.5+02:00",
        "quzcif SVOM MXT - - GAIN 2025-07-01 10:30:00.5 -",
    ),
    (
        {"instrument": "MXT", "codename": "GAIN", "date": "-", "time": "-"},
        "caldbio --url http://caldb.example:5000 search MXT GAIN --date - --time -",
        "quzcif SVOM MXT - - GAIN - - -",
    ),
    (
        {"instrument": "MXT", "codename": "GAIN", "date": "now", "time": "-"},
        "caldbio --url http://caldb.example:5000 search MXT GAIN --time -",
        "quzcif SVOM MXT - - GAIN now 00:00:00 -",
    ),
    (
        {
            "mission": "svom",
            "instrument": "VT",
            "codename": "FLAT",
            "detector": "blue",
            "filter": "-",
            "date": "01/07/25",
            "expr": "wave.eq.450 nm.and.band.eq.B*",
            "as_of": "2026-01-02T03:04:05Z",
            "maxret": "3",
        },
        "caldbio --url http://caldb.example:5000 search VT FLAT --date 01/07/25 --detector BLUE "
        "--expr 'wave.eq.450 nm.and.band.eq.B*' --as-of 2026-01-02T03:04:05Z --maxret 3",
        "quzcif SVOM VT BLUE - FLAT 01/07/25 00:00:00 'wave.eq.450 nm.and.band.eq.B*'",
    ),
    (
        {"mission": "XMM", "instrument": "-x", "codename": "G'X", "detector": "-A;rm"},
        "caldbio --url http://caldb.example:5000 search --mission XMM '--detector=-A;RM' -- -X "
        "'G'\"'\"'X'",
        "quzcif XMM -X '-A;RM' - 'G'\"'\"'X' now now -",
    ),
]


@pytest.mark.parametrize(("params", "caldbio", "quzcif"), COMMANDS)
def test_command_lines(params, caldbio, quzcif):
    assert caldbio_command(params, URL, explain=False) == caldbio
    assert quzcif_command(params) == quzcif


@pytest.mark.parametrize(("params", "caldbio", "quzcif"), COMMANDS)
def test_the_caldbio_line_means_the_search_to_caldbio(params, caldbio, quzcif):
    words = shlex.split(caldbio_command(params, URL, explain=True))
    assert words[0] == "caldbio"
    args = build_parser("caldbio").parse_args(words[1:])
    names = {"mission", "instrument", "codename", "detector", "filter"}
    expected = {name: (value.upper() if name in names else value) for name, value in params.items()}
    assert (args.command, args.url, args.explain) == ("search", URL, True)
    assert args.mission == expected.get("mission", "SVOM")
    assert (args.instrument, args.codename) == (expected["instrument"], expected["codename"])
    assert args.date.lower() == expected.get("date", "now").lower()
    assert args.time == expected.get("time")
    assert args.detector == expected.get("detector", "-")
    assert args.filter == expected.get("filter", "-")
    assert args.expr == expected.get("expr", "-")
    assert args.as_of == expected.get("as_of")
    assert args.maxret == int(expected.get("maxret", 50))


def test_explain_adds_the_option():
    params = {"instrument": "MXT", "codename": "GAIN"}
    assert caldbio_command(params, URL, explain=True).endswith(" search MXT GAIN --explain")
