"""The lenient reading: boundaries, numbers, dates as HEASoft reads what its tools wrote.

HEASoft 6.20 ``cbdtyp``/``cbdgrg``/``cbdgr`` -> ``ftc2rr`` (CFITSIO ``ffc2rr`` = C strtod),
``ffs2dt``/``ffs2tm``, ``fiptim``. The strict grammar (uploads) is unchanged: see
``test_boundaries.py``; every text it accepts must read the same leniently, and every
spelling HEASoft reads alike must mean the same: see ``test_heasoft_spellings.py``.
"""

import struct

import pytest

from caldb_selection import (
    BoundaryError,
    TimeSpecError,
    boundaries_overlap,
    normalise_validity_date,
    parse_boundary,
    parse_expression,
    parse_time_of_day,
    ref_time,
)
from caldb_selection.boundaries import Boundary, Interval, Number, Text
from caldb_selection.heasoft import blank_led_numbers, fortran_exponents, read_number


def real4(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


def lenient(text: str) -> Boundary | None:
    return parse_boundary(text, lenient=True)


# --- the regression cases ---------------------------------------------------------


@pytest.mark.parametrize("text", ["RAWX(0- 31)", "RAWX(0 -31)"])
def test_blank_forms_of_a_real_mission_index_read_as_the_compact_range(text):
    assert lenient(text) == parse_boundary("RAWX(0-31)") == Boundary("RAWX", (Interval(0, 31),))
    with pytest.raises(BoundaryError):  # new uploads stay on the strict grammar
        parse_boundary(text)


@pytest.mark.parametrize("text", ["RAWX(0- 31)", "RAWX(0 -31)", "RAWX( 0 - 31 )", "rawx(0:31)"])
def test_a_request_selects_blank_forms_as_the_compact_one(text):
    for value, selected in [
        ("0", True),
        ("15.5", True),
        ("31", True),
        ("-1", False),
        ("32", False),
    ]:
        expression = parse_expression(f"rawx.eq.{value}")
        assert expression.matches((text,)) is selected
        assert expression.matches(("RAWX(0-31)",)) is selected


# --- what HEASoft reads, and how ------------------------------------------------------------

R = real4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RAWX( 0 - 31 )", Boundary("RAWX", (Interval(0, 31),))),
        ("ENERG(1.0E-1-1.2d1)keV", Boundary("ENERG", (Interval(R(0.1), 12),), "keV")),
        ("energ(1.0e-1 - 1.2D+1) kev", Boundary("ENERG", (Interval(R(0.1), 12),), "kev")),
        ("E(1.0D3)", Boundary("E", (Number(1000),))),
        ("E(1.0d-3)", Boundary("E", (Number(R(1e-3)),))),
        ("E(1E3, .5 ,5. , 007)", Boundary("E", (Number(1000), Number(0.5), Number(5), Number(7)))),
        ("E(1-+3)", Boundary("E", (Interval(1, 3),))),
        ("E(-5 - -3)", Boundary("E", (Interval(-5, -3),))),
        ("E(-5--3)", Boundary("E", (Interval(-5, -3),))),
        # A leading + makes text, for HEASoft as for the strict grammar (cbdtyp).
        ("E(+3)", Boundary("E", (Text("+3"),))),
        # strtod stops at a blank and ffc2rr ignores what follows it.
        ("THETA(5 arcmin)", Boundary("THETA", (Number(5),))),
        ("X(1 - 2 pixels)", Boundary("X", (Interval(1, 2),))),
        ("X(1 E-5)", Boundary("X", (Interval(1, 5),))),  # split at the first '-' after 1
        # An empty bound reads 0 (strtod reads nothing, ffc2rr accepts the end of string).
        ("X(5-)", Boundary("X", (Interval(5, 0),))),
        ("X(1- abc)", Boundary("X", (Interval(1, 0),))),
        # Inverted ranges are kept: HEASoft compares them as written.
        ("X(31-0)", Boundary("X", (Interval(31, 0),))),
        ("X(5:1)", Boundary("X", (Interval(5, 1),))),
        # Text: blanks inside it, any character; quotes run to the next quote.
        (
            "DATAMODE(PHOTON MODE, windowed)",
            Boundary("DATAMODE", (Text("PHOTON MODE"), Text("windowed"))),
        ),
        ('E("a,b", 0- 31)', Boundary("E", (Text("a,b"), Interval(0, 31)))),
        ('E(a"b,c)', Boundary("E", (Text('a"b'), Text("c")))),
        # The values end at the first ')': the rest is units, never compared.
        ("E(1)x(2)", Boundary("E", (Number(1),), "x(2)")),
        # Names as HEASoft compares them: any characters, upper-cased.
        ("e f(1)", Boundary("E F", (Number(1),))),
        (" none ", None),
        ("NONE(1)", Boundary("NONE", (Number(1),))),
    ],
)
def test_lenient_reading(text, expected):
    assert lenient(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "ENERG",
        "ENERG(1-2",
        "E()",
        "E(1,)",
        "E(,1)",
        "E(1,,2)",
        "E(1)keV,eV",  # HEASoft would read "eV" as one more value and fail
        'E("x)',
        'E("x"y)',
        "E(-)",
        "E(.)",
        "E(- 5)",
        "E(1.2.3)",
        "E(1:2:3)",
        "E(1.5D)",
        "E(12abc)",
        "E(1e39)",
        "E(1-1e39)",
        "E(1- inf)",
        "E(1-nan)",
        "E(0x10)",  # glibc strtod reads 16; left out on purpose
        "E(1\u0663)",
    ],
)
def test_lenient_reading_refuses_what_heasoft_cannot_read(text):
    with pytest.raises(BoundaryError):
        lenient(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("31", 31.0),
        (" 31", 31.0),
        ("31 ", 31.0),
        ("1.0D3", 1000.0),
        ("1.0d-3", R(1e-3)),
        ("1E3", 1000.0),
        ("1e+03", 1000.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("+3", 3.0),
        ("-007.50", -7.5),
        ("0 abc", 0.0),
        ("", 0.0),
        ("   ", 0.0),
        ("0.1", R(0.1)),
        ("1e-50", 0.0),  # underflows to 0 in single precision, as (float) strtod does
    ],
)
def test_read_number_as_ffc2rr(text, expected):
    assert read_number(text) == expected


@pytest.mark.parametrize("text", ["abc", "1.5D", "1e", "1e39", "-1e39", "inf", " nan", "1,5"])
def test_read_number_refuses_what_ffc2rr_refuses(text):
    with pytest.raises(BoundaryError):
        read_number(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RAWX( 0-31)", [" 0-31"]),
        ("RAWX( 0 - 31 )", [" 0 - 31 "]),
        ("E(1, 2,  .5)", [" 2", "  .5"]),
        ("E( -1)", [" -1"]),
        ("RAWX(0- 31)", []),
        ("DATAMODE( PHOTON, WINDOWED)", []),
        ('E( "1")', []),
        ("NONE", []),
        ("E", []),
    ],
)
def test_values_quzcif_reads_as_text_because_of_a_leading_blank(text, expected):
    assert blank_led_numbers(text) == expected


# --- overlaps, requests and ranges read from HEASoft indexes -------------------------------


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (("RAWX(0- 31)",), ("RAWX(0-31)",), True),
        (("RAWX(0 -31)",), ("RAWX(32-40)",), False),
        (("ENERG(1.0E-1-1.2d1)keV",), ("ENERG(12)",), True),
    ],
)
def test_duplicates_are_found_with_the_lenient_reading(first, second, expected):
    assert boundaries_overlap(first, second) is expected
    assert boundaries_overlap(second, first) is expected


@pytest.mark.parametrize(
    ("expression", "selected"),
    [
        ("x.eq.5", False),  # cbdcr: 31 <= 5 <= 0 never holds
        ("x.eq.0:40", True),  # cbdcrg: either end >= 0 and either end <= 40
        ("x.eq.32:40", False),
        ("x.lt.40", True),  # cbdcr: the first bound (31) < 40
        ("x.gt.5", False),  # cbdcr: the second bound (0) > 5
    ],
)
def test_an_inverted_range_is_compared_as_heasoft_compares_it(expression, selected):
    assert parse_expression(expression).matches(("X(31-0)",)) is selected


@pytest.mark.parametrize(
    ("token", "expected"),
    [("1.5d0", "1.5E0"), ("1D-1:2d+1", "1E-1:2E+1"), ("G0D5", "G0D5"), ("ddd", "ddd")],
)
def test_fortran_exponents(token, expected):
    assert fortran_exponents(token) == expected


def test_requests_may_use_fortran_exponents_as_in_quzcif():
    assert parse_expression("energ.eq.1.5d0").matches(("ENERG(1-2)",))
    assert parse_expression("energ.eq.1D-1:2d0").matches(("ENERG(1.5)",))
    assert not parse_expression("energ.eq.2.5D0").matches(("ENERG(1-2)",))


# --- dates and times -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2001-01-01", ("2001-01-01", False)),
        ("2001-01-01T12:00:00", ("2001-01-01", False)),  # ffs2dt ignores the time part
        ("2001-01-01t", ("2001-01-01", False)),
        (" 20/02/92 ", ("1992-02-20", True)),
    ],
)
def test_lenient_validity_dates(text, expected):
    assert normalise_validity_date(text, lenient=True) == expected


@pytest.mark.parametrize("text", ["2001-1-1", "2001/01/01", "01/01/1999", "2001-02-29", "now"])
def test_lenient_validity_dates_still_refuse_what_ffs2dt_refuses(text):
    with pytest.raises(TimeSpecError):
        normalise_validity_date(text, lenient=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12:00:00", 43200.0),
        ("1:2:3", 3723.0),
        (" 2: 5: 7.", 7507.0),
        ("02:05:07.5", 7507.5),
        ("00:00:.5", 0.5),
    ],
)
def test_lenient_times_of_day(text, expected):
    assert parse_time_of_day(text, lenient=True) == expected


@pytest.mark.parametrize("text", ["24:00:00", "12:60:00", "12:00", "12h00", "1 2:00:00", ""])
def test_lenient_times_of_day_still_refuse_impossible_times(text):
    with pytest.raises(TimeSpecError):
        parse_time_of_day(text, lenient=True)


def test_ref_time_reads_either_way():
    assert ref_time("2012-06-16T00:00:00", "2:20:47", lenient=True) == pytest.approx(
        ref_time("2012-06-16", "02:20:47")
    )
    with pytest.raises(TimeSpecError):
        ref_time("2012-06-16", "2:20:47")
