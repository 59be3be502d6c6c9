"""Calibration boundaries: the CBD grammar, canonical formatting and overlaps."""

import string
import struct

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from caldb_selection import (
    Boundary,
    BoundaryError,
    boundaries_overlap,
    format_boundary,
    parse_boundary,
)
from caldb_selection.boundaries import (
    Interval,
    Number,
    Text,
    descriptors_overlap,
    parse_descriptor,
)

FUZZ = settings(max_examples=200, deadline=None)
NONES = ("NONE",) * 9


def real4(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


# --- strategies: the grammar of reference §3.1 --------------------------------------------

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,11}", fullmatch=True)
UNITS = st.text(alphabet=string.ascii_letters + string.digits + "/^*-+.", max_size=6)
FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
# Bare text is printable ASCII (FITS header text) without blanks, quotes, commas, parentheses.
_TEXT_CHAR = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='(),"')
BARE_TEXT = st.builds(
    str.__add__,
    _TEXT_CHAR.filter(lambda char: char not in "0123456789.-"),
    st.text(_TEXT_CHAR, max_size=8),
)
QUOTED_CONTENT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters='"'))
NUMBER_FORMATS = st.sampled_from([repr, "{:e}".format, "{:E}".format])


@st.composite
def descriptor_texts(draw: st.DrawFn) -> tuple[str, object]:
    """One descriptor as CBD text, with the descriptor it must parse to."""
    kind = draw(st.sampled_from(["bare", "quoted", "number", "range"]))
    if kind == "bare":
        value = draw(BARE_TEXT)
        return value, Text(value)
    if kind == "quoted":
        value = draw(QUOTED_CONTENT)
        return f'"{value}"', Text(value)
    render = draw(NUMBER_FORMATS)
    if kind == "number":
        text = render(draw(FLOAT32))
        return text, Number(real4(float(text)))
    low, high = sorted(draw(st.lists(FLOAT32, min_size=2, max_size=2)))
    low_text, high_text = render(low), render(high)
    separator = draw(st.sampled_from([":", "-"]))
    expected = Interval(real4(float(low_text)), real4(float(high_text)))
    return f"{low_text}{separator}{high_text}", expected


@st.composite
def boundary_texts(draw: st.DrawFn) -> tuple[str, Boundary]:
    """A whole CBD string from the grammar, with the boundary it must parse to."""
    name = draw(NAMES)
    parts = draw(st.lists(descriptor_texts(), min_size=1, max_size=4))
    blank = draw(st.sampled_from(["", " "]))
    units = draw(UNITS)
    body = f"{blank},{blank}".join(text for text, _ in parts)
    text = f"{blank}{name}({body}){blank}{units}{blank}"
    return text, Boundary(name.upper(), tuple(d for _, d in parts), units)


DESCRIPTORS = st.one_of(
    st.builds(Text, QUOTED_CONTENT),
    st.builds(Number, FLOAT32),
    st.builds(lambda pair: Interval(*sorted(pair)), st.tuples(FLOAT32, FLOAT32)),
)
BOUNDARIES = st.builds(
    Boundary,
    NAMES.map(str.upper),
    st.lists(DESCRIPTORS, min_size=1, max_size=4).map(tuple),
    UNITS,
)
GRAMMAR_SOUP = st.text(alphabet='ENRGnone_(),:-+.eE0123456789" \tkeV*', max_size=30)


# --- round trips -------------------------------------------------------------------------


@FUZZ
@given(BOUNDARIES)
def test_format_then_parse_gives_the_boundary_back(boundary):
    assert parse_boundary(format_boundary(boundary)) == boundary


@FUZZ
@given(boundary_texts())
def test_grammar_text_parses_to_the_expected_boundary(case):
    text, expected = case
    assert parse_boundary(text) == expected


@FUZZ
@given(boundary_texts())
def test_parse_format_parse_is_stable(case):
    parsed = parse_boundary(case[0])
    canonical = format_boundary(parsed)
    assert parse_boundary(canonical) == parsed
    assert format_boundary(parse_boundary(canonical)) == canonical


def test_format_quotes_text_with_surrounding_blanks():
    boundary = Boundary("E", (Text("\nx"), Text("y\x85")))
    assert format_boundary(boundary) == 'E("\nx","y\x85")'
    assert parse_boundary(format_boundary(boundary)) == boundary


@pytest.mark.parametrize(
    ("boundary", "text"),
    [
        (None, "NONE"),
        (Boundary("ENERG", (Interval(real4(0.1), 12.0),), "keV"), "ENERG(0.1:12)keV"),
        (Boundary("CHANTYPE", (Text("PI"),)), "CHANTYPE(PI)"),
        (Boundary("GRADE", (Text("0:12"),)), 'GRADE("0:12")'),
        (Boundary("GRADE", (Text("G0:12"),)), "GRADE(G0:12)"),
        (Boundary("E", (Text(""),)), 'E("")'),
        (Boundary("E", (Text("a b"), Text("-x"), Text(".5"))), 'E("a b","-x",".5")'),
        (Boundary("E", (Number(-5.0), Number(real4(1e-3)))), "E(-5,0.001)"),
        (Boundary("DATAMODE", (Text("PHOTON"), Text("WINDOWED"))), "DATAMODE(PHOTON,WINDOWED)"),
    ],
)
def test_format_boundary_canonical_text(boundary, text):
    assert format_boundary(boundary) == text


# --- never another exception -------------------------------------------------------------


@FUZZ
@given(st.one_of(st.text(), GRAMMAR_SOUP))
@example("E(1e39)")
@example("E(-1e39)")
@example('E("x)')
@example("E(1)x(2)")
def test_any_text_parses_as_a_boundary_or_raises_boundary_error(text):
    try:
        parsed = parse_boundary(text)
    except BoundaryError:
        return
    assert parse_boundary(format_boundary(parsed)) == parsed


@FUZZ
@given(st.one_of(st.text(), GRAMMAR_SOUP))
@example("1e39")
@example("1e999")
@example('"')
def test_any_text_parses_as_a_descriptor_or_raises_boundary_error(text):
    try:
        descriptor = parse_descriptor(text)
    except BoundaryError:
        return
    assert isinstance(descriptor, Text | Number | Interval)


# --- the grammar, on the boundaries of real CIFs -----------------------------------------

R = real4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ENERG(0.1-12.0)keV", Boundary("ENERG", (Interval(R(0.1), 12.0),), "keV")),
        ("THETA(0)arcmin", Boundary("THETA", (Number(0.0),), "arcmin")),
        ("THETA(0)ARCMIN", Boundary("THETA", (Number(0.0),), "ARCMIN")),
        ("THETA(0-60.0)arcmin", Boundary("THETA", (Interval(0.0, 60.0),), "arcmin")),
        ("PHI(0-360)deg", Boundary("PHI", (Interval(0.0, 360.0),), "deg")),
        ("DATAMODE(PHOTON)", Boundary("DATAMODE", (Text("PHOTON"),))),
        ("DATAMODE(LOWRATE,PILEDUP)", Boundary("DATAMODE", (Text("LOWRATE"), Text("PILEDUP")))),
        ("DATAMODE(PHOTON,WINDOWED)", Boundary("DATAMODE", (Text("PHOTON"), Text("WINDOWED")))),
        ("GRADE(G0:12)", Boundary("GRADE", (Text("G0:12"),))),
        ('GRADE("0:12")', Boundary("GRADE", (Text("0:12"),))),
        ('CHANTYPE("PI")', Boundary("CHANTYPE", (Text("PI"),))),
        ("DETCHANS(1024)", Boundary("DETCHANS", (Number(1024.0),))),
        ("CHAN(0-1023)", Boundary("CHAN", (Interval(0.0, 1023.0),))),
        ("XRTVSUB(6)", Boundary("XRTVSUB", (Number(6.0),))),
        ("DEPTHCUT(NOMINAL)", Boundary("DEPTHCUT", (Text("NOMINAL"),))),
        ("DEPTHCUT(NONE)", Boundary("DEPTHCUT", (Text("NONE"),))),
        ("CTHETA(0.2-1)", Boundary("CTHETA", (Interval(R(0.2), 1.0),))),
        ("LLD(1-64)", Boundary("LLD", (Interval(1.0, 64.0),))),
        ("METHOD(3)", Boundary("METHOD", (Number(3.0),))),
        ("CLASS(P6_v3_diff_front)", Boundary("CLASS", (Text("P6_v3_diff_front"),))),
        ("CCD_ID(0:3)", Boundary("CCD_ID", (Interval(0.0, 3.0),))),
        ("E(-5-5)", Boundary("E", (Interval(-5.0, 5.0),))),
        ("E(-5--2)", Boundary("E", (Interval(-5.0, -2.0),))),
        ("E(1e-3)", Boundary("E", (Number(R(1e-3)),))),
        ("E(1E-3-2)", Boundary("E", (Interval(R(1e-3), 2.0),))),
        ("E(-1.5:-0.5)", Boundary("E", (Interval(-1.5, -0.5),))),
        ("E(.5)", Boundary("E", (Number(0.5),))),
        ("E(5.)", Boundary("E", (Number(5.0),))),
        ("E(+5)", Boundary("E", (Text("+5"),))),
        ("E(:1)", Boundary("E", (Text(":1"),))),
        ("E(2:2)", Boundary("E", (Interval(2.0, 2.0),))),
        ('E("a,b",c)', Boundary("E", (Text("a,b"), Text("c")))),
        ('E("")', Boundary("E", (Text(""),))),
        ("energ(1)kev", Boundary("ENERG", (Number(1.0),), "kev")),
        ("  ENERG ( 1 , 2 ) keV ", Boundary("ENERG", (Number(1.0), Number(2.0)), "keV")),
        ("NONE(1)", Boundary("NONE", (Number(1.0),))),
    ],
)
def test_parse_boundary_grammar(text, expected):
    assert parse_boundary(text) == expected


def test_numbers_are_rounded_to_single_precision():
    (value,) = parse_boundary("E(0.1)").descriptors
    assert value == Number(R(0.1))
    assert value.value != 0.1


@pytest.mark.parametrize("text", ["NONE", "none", "None", " NONE ", "\tnOnE  "])
def test_none_in_any_case_or_with_blanks_is_no_boundary(text):
    assert parse_boundary(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "ENERG(",
        "ENERG()",
        "(1)",
        "E(1,)",
        "E(,1)",
        "E(1,,2)",
        "E(1.2.3)",
        "E(5-1)",
        "E(5:1)",
        'E("x)',
        'E("a"b")',
        'E("a""b")',
        "E(a b)",
        "E(a\tb)",
        'E(a"b"c)',
        "E(1)x(2)",
        "E(1)keV(",
        'E(1)"keV"',
        "E(1))",
        "ENERG",
        "",
        "   ",
        "NONE NONE",
        "1E(2)",
        "E F(1)",
        "E-1(2)",
        "E(.)",
        "E(-)",
        "E(1-)",
        "E(1:2:3)",
        "E(1e39)",
        "E(-1e39)",
        "E(1e999)",
    ],
)
def test_parse_boundary_rejects_invalid_text(text):
    with pytest.raises(BoundaryError):
        parse_boundary(text)


def test_boundary_error_is_a_value_error():
    assert issubclass(BoundaryError, ValueError)


# --- overlaps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (NONES, ("ENERG(1-2)keV",), True),
        (("ENERG(1-2)keV",), NONES, True),
        ((), ("ENERG(1-2)keV",), True),
        (NONES, NONES, True),
        (("ENERG(1-2)",), ("ENERG(3-4)",), False),
        (("ENERG(1-2)",), ("ENERG(2-3)",), True),
        (("ENERG(1-2)",), ("ENERG(1.5)",), True),
        (("ENERG(1-2)",), ("ENERG(2.5)",), False),
        (("THETA(0)",), ("THETA(0)",), True),
        (("THETA(0)",), ("THETA(5)",), False),
        (("GRADE(G0)",), ("GRADE(0)",), False),
        (('GRADE("0")',), ("GRADE(0)",), False),
        (("DATAMODE(photon)",), ("DATAMODE(PHOTON)",), True),
        (("DATAMODE(PHOTON,WINDOWED)",), ("DATAMODE(WINDOWED)",), True),
        (("DATAMODE(PHOTON,WINDOWED)",), ("DATAMODE(LOWRATE,PILEDUP)",), False),
        (('CHANTYPE("PI")',), ("CHANTYPE(PI)",), True),
        (("ENERG(1-2)",), ("THETA(0)",), True),
        (("ENERG(1-2)", "THETA(0)"), ("THETA(0)",), True),
        (("ENERG(1-2)", "THETA(0)"), ("ENERG(1-2)", "THETA(5)"), False),
        (("energ(1-2)",), ("ENERG(1.5)",), True),
        (("ENERG(1-2)keV",), ("ENERG(1-2)eV",), True),
        (("ENERG(1-2)", "ENERG(5-6)"), ("ENERG(1.5)",), False),
    ],
)
def test_boundaries_overlap(first, second, expected):
    assert boundaries_overlap(first, second) is expected


@FUZZ
@given(st.lists(BOUNDARIES, max_size=3), st.lists(BOUNDARIES, max_size=3))
def test_boundaries_overlap_is_symmetric(first, second):
    first_text = tuple(map(format_boundary, first))
    second_text = tuple(map(format_boundary, second))
    assert boundaries_overlap(first_text, second_text) == boundaries_overlap(
        second_text, first_text
    )


@FUZZ
@given(st.lists(BOUNDARIES, max_size=3, unique_by=lambda boundary: boundary.name))
def test_a_dataset_with_distinct_parameters_overlaps_itself(boundaries):
    cbds = tuple(map(format_boundary, boundaries))
    assert boundaries_overlap(cbds, cbds)


@FUZZ
@given(FLOAT32, FLOAT32, FLOAT32)
def test_number_overlaps_interval_iff_inside(value, bound_a, bound_b):
    low, high = sorted((bound_a, bound_b))
    expected = low <= value <= high
    assert descriptors_overlap(Number(value), Interval(low, high)) is expected
    assert descriptors_overlap(Interval(low, high), Number(value)) is expected


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (Text("PI"), Text("pi"), True),
        (Text("PI"), Text("PHA"), False),
        (Text("5"), Number(5.0), False),
        (Number(5.0), Text("5"), False),
        (Number(5.0), Number(5.0), True),
        (Number(5.0), Number(6.0), False),
        (Interval(0.0, 1.0), Interval(1.0, 2.0), True),
        (Interval(0.0, 1.0), Interval(1.5, 2.0), False),
    ],
)
def test_descriptors_overlap(first, second, expected):
    assert descriptors_overlap(first, second) is expected


@pytest.mark.parametrize(
    "text", ["E(1\u0663)", "E(\u0661-5)", "E(a\nb)", "E(a\u00a0b)", "E(caf\u00e9)"]
)
def test_non_ascii_digits_and_any_blank_are_refused(text):
    with pytest.raises(BoundaryError):
        parse_boundary(text)
