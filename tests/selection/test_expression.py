"""quzcif boundary expressions: parsing and the Fortran matching rules (reference §3.2-3.3)."""

import struct

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from caldb_selection import ANY, Expression, ExpressionError, parse_expression
from caldb_selection.boundaries import Interval, Number, Text
from caldb_selection.expression import Term

FUZZ = settings(max_examples=200, deadline=None)
FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


def real4(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


def matches(expression: str, *cbds: str) -> bool:
    """Whether a dataset with these boundaries (padded with NONE to 9 slots) is selected."""
    return parse_expression(expression).matches((*cbds, *["NONE"] * (9 - len(cbds))))


ENERG = "ENERG(0.1-12.0)keV"
PC6 = ("DATAMODE(PHOTON)", "GRADE(G0:12)", "XRTVSUB(6)")


@pytest.mark.parametrize(
    ("expression", "cbds", "expected"),
    [
        # A dataset valid everywhere, and parameters it does not constrain.
        ("energ.eq.500", (), True),
        ("theta.eq.5", (ENERG,), True),
        ("energy.eq.500", (ENERG,), True),  # misspelt: matches everything (§3.3 rule 2)
        ("theta.lt.-100", (ENERG,), True),
        # Text: exact, case-insensitive, quotes stripped, multi-valued boundaries.
        ("datamode.eq.PHOTON", ("DATAMODE(PHOTON)",), True),
        ("datamode.eq.WINDOWED", ("DATAMODE(PHOTON)",), False),
        ("datamode.eq.PHOT", ("DATAMODE(PHOTON)",), False),
        ("DataMode.EQ.photon", ("DATAMODE(PHOTON)",), True),
        ("class.eq.P6_V3_DIFF_FRONT", ("CLASS(P6_v3_diff_front)",), True),
        ("chantype.eq.PI", ('CHANTYPE("PI")',), True),
        ('chantype.eq."PI"', ("CHANTYPE(PI)",), True),
        ("chantype.eq.PHA", ('CHANTYPE("PI")',), False),
        ("datamode.eq.WINDOWED", ("DATAMODE(PHOTON,WINDOWED)",), True),
        ("datamode.eq.PILEDUP", ("DATAMODE(LOWRATE,PILEDUP)",), True),
        ("datamode.eq.PHOTON", ("DATAMODE(LOWRATE,PILEDUP)",), False),
        # Wildcards on the requested side only.
        ("datamode.eq.*OTO*", ("DATAMODE(PHOTON)",), True),
        ("datamode.eq.*XYZ*", ("DATAMODE(PHOTON)",), False),
        ("datamode.eq.PHO*", ("DATAMODE(PHOTON)",), True),
        ("datamode.eq.TON*", ("DATAMODE(PHOTON)",), False),
        ("datamode.eq.*TON", ("DATAMODE(PHOTON)",), True),
        ("datamode.eq.*PHO", ("DATAMODE(PHOTON)",), False),
        ("class.eq.p6*", ("CLASS(P6_v3_diff_front)",), True),
        ("datamode.eq.PHOTON", ("DATAMODE(PHO*)",), False),
        # Typing by first character: G0:12 is text, 0:12 a range, "0:12" text.
        ("grade.eq.G0:12", ("GRADE(G0:12)",), True),
        ("grade.eq.g0:12", ("GRADE(G0:12)",), True),
        ("grade.eq.G0:2", ("GRADE(G0:12)",), False),
        ("grade.eq.0:12", ('GRADE("0:12")',), False),
        ('grade.eq."0:12"', ('GRADE("0:12")',), True),
        ("datamode.eq.5", ("DATAMODE(PHOTON)",), False),
        ("xrtvsub.eq.X6", ("XRTVSUB(6)",), False),
        # Numbers: in a range (inclusive), equal to a value.
        ("energ.eq.5", (ENERG,), True),
        ("energ.eq.0.1", (ENERG,), True),
        ("energ.eq.12", (ENERG,), True),
        ("energ.eq.12.0001", (ENERG,), False),
        ("energ.eq.0.09", (ENERG,), False),
        ("energ.eq.-1", (ENERG,), False),
        ("theta.eq.0", ("THETA(0)arcmin",), True),
        ("theta.eq.0.0", ("THETA(0)arcmin",), True),
        ("theta.eq.2", ("THETA(0)arcmin",), False),
        ("theta.eq.2", ("THETA(0-60.0)arcmin",), True),
        ("psf.eq.3", ("PSF(1,3)",), True),
        ("psf.eq.2", ("PSF(1,3)",), False),
        # Single precision: 1.00000001 is 1 in REAL*4, 1.0000001 is not.
        ("energ.eq.1.00000001", ("ENERG(1)",), True),
        ("energ.eq.1.0000001", ("ENERG(1)",), False),
        ("energ.eq.0.100000001", ("ENERG(0.1)",), True),
        # Requested ranges: overlap a range, contain a value.
        ("energ.eq.10:20", (ENERG,), True),
        ("energ.eq.10-20", (ENERG,), True),
        ("energ.eq.13:20", (ENERG,), False),
        ("energ.eq.-5:0.1", (ENERG,), True),
        ("energ.eq.-5:0.09", (ENERG,), False),
        ("theta.eq.0:5", ("THETA(2)arcmin",), True),
        ("theta.eq.3:5", ("THETA(2)arcmin",), False),
        ("theta.eq.2:2", ("THETA(2)arcmin",), True),
        # Ordering operators: does the boundary admit a value on that side?
        ("energ.lt.0.1", (ENERG,), False),
        ("energ.le.0.1", (ENERG,), True),
        ("energ.lt.5", (ENERG,), True),
        ("energ.gt.12", (ENERG,), False),
        ("energ.ge.12", (ENERG,), True),
        ("energ.gt.5", (ENERG,), True),
        ("energ.ge.12.5", (ENERG,), False),
        ("energ.le.0.05", (ENERG,), False),
        ("theta.lt.0", ("THETA(0)arcmin",), False),
        ("theta.le.0", ("THETA(0)arcmin",), True),
        ("theta.gt.0", ("THETA(0)arcmin",), False),
        ("theta.ge.0", ("THETA(0)arcmin",), True),
        ("psf.gt.2", ("PSF(1,3)",), True),
        ("psf.gt.3", ("PSF(1,3)",), False),
        ("datamode.lt.5", ("DATAMODE(PHOTON)",), False),
        ("ENERG.LT.5", (ENERG,), True),
        # Conjunctions and disjunctions.
        ("datamode.eq.PHOTON.and.xrtvsub.eq.6", PC6, True),
        ("datamode.eq.PHOTON.and.xrtvsub.eq.0", PC6, False),
        ("datamode.eq.WINDOWED.and.xrtvsub.eq.6", PC6, False),
        ("datamode.eq.PHOTON.and.grade.eq.G0:12.and.xrtvsub.eq.6", PC6, True),
        ("DATAMODE.EQ.PHOTON.AND.XRTVSUB.EQ.6", PC6, True),
        ("xrtvsub.eq.0.or.xrtvsub.eq.6", PC6, True),
        ("xrtvsub.eq.1.or.xrtvsub.eq.2", PC6, False),
        ("xrtvsub.eq.1.OR.datamode.eq.PHOTON", PC6, True),
        # .and. binds tighter: 6 .or. (0 .and. WINDOWED) holds, (6 .or. 0) .and. WINDOWED not.
        ("xrtvsub.eq.6.or.xrtvsub.eq.0.and.datamode.eq.WINDOWED", PC6, True),
        ("datamode.eq.WINDOWED.and.xrtvsub.eq.0.or.xrtvsub.eq.6", PC6, True),
        ("datamode.eq.WINDOWED.and.xrtvsub.eq.6.or.xrtvsub.eq.0", PC6, False),
        # Units never take part.
        ("energ.eq.5", ("ENERG(0.1-12.0)eV",), True),
    ],
)
def test_expression_semantics(expression, cbds, expected):
    assert matches(expression, *cbds) is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("datamode.eq.PHOTON", True),  # both slots contain PHOTON
        ("datamode.eq.WINDOWED", False),  # the first slot does not
        ("datamode.eq.LOWRATE", False),
    ],
)
def test_repeated_parameter_must_be_met_in_every_slot(expression, expected):
    assert matches(expression, "DATAMODE(PHOTON)", "DATAMODE(PHOTON,WINDOWED)") is expected


def test_unparsable_row_boundaries_are_ignored():
    assert matches("energ.eq.1.5", "BAD(", "ENERG(1-2)keV")
    assert matches("bad.eq.1", "BAD(", "ENERG(1-2)keV")
    assert not matches("energ.eq.3", "BAD(", "ENERG(1-2)keV")


@pytest.mark.parametrize("text", [None, "", "-", "  -  ", "   "])
def test_dash_empty_and_none_mean_no_selection(text):
    expression = parse_expression(text)
    assert expression == ANY
    assert expression.alternatives == ()
    assert expression.matches(("XRTVSUB(6)", "DATAMODE(WINDOWED)"))
    assert expression.first_failure(("XRTVSUB(6)",)) is None
    assert str(expression) == "-"


@pytest.mark.parametrize(
    "text",
    [
        "a.eq.",
        ".eq.5",
        "a.eq.5.and.and.b.eq.1",
        "a.ne.5",
        "a.lt.PHOTON",
        "a.lt.1:2",
        "a.gt.0-1",
        'a.le."5"',
        "a.eq.5.and.",
        "a.eq.5.or.",
        ".or.a.eq.5",
        "a",
        "a.eq",
        "a=5",
        "1a.eq.5",
        "a b.eq.5",
        "a.eq.1.2.3",
        "a.eq.5-1",
        'a.eq."x',
        "a.eq.x y",
        "a.eq.(5)",
        "a.gt.1e39",
        "a.eq.5.and.b.eq.",
        "cor.eq.7.and.and.energy.eq.5",
    ],
)
def test_malformed_expressions_raise(text):
    with pytest.raises(ExpressionError):
        parse_expression(text)


def test_expression_error_is_a_value_error():
    assert issubclass(ExpressionError, ValueError)


def test_parsed_structure_of_a_conjunction():
    expression = parse_expression("datamode.eq.PHOTON.and.xrtvsub.eq.6.and.energ.eq.1:2")
    assert expression == Expression(
        (
            (
                Term("DATAMODE", "EQ", Text("PHOTON")),
                Term("XRTVSUB", "EQ", Number(6.0)),
                Term("ENERG", "EQ", Interval(1.0, 2.0)),
            ),
        )
    )


def test_parsed_structure_of_a_disjunction():
    expression = parse_expression("a.lt.1.or.b.GE.2.And.c.eq.X")
    assert expression.alternatives == (
        (Term("A", "LT", Number(1.0)),),
        (Term("B", "GE", Number(2.0)), Term("C", "EQ", Text("X"))),
    )


def test_quoted_value_becomes_text():
    (term,) = parse_expression('grade.eq."0:12"').alternatives[0]
    assert term.value == Text("0:12")


def test_expression_renders_in_upper_case():
    text = str(parse_expression("datamode.eq.PHOTON.and.xrtvsub.eq.6.or.energ.le.0.5"))
    assert text == "DATAMODE.EQ.PHOTON.AND.XRTVSUB.EQ.6.OR.ENERG.LE.0.5"


def test_first_failure_names_the_first_failing_term():
    expression = parse_expression("datamode.eq.PHOTON.and.xrtvsub.eq.0.and.grade.eq.G0:0")
    assert expression.first_failure(PC6) == Term("XRTVSUB", "EQ", Number(0.0))


def test_first_failure_with_or_reports_the_last_alternative():
    expression = parse_expression("xrtvsub.eq.0.or.datamode.eq.WINDOWED")
    assert expression.first_failure(PC6) == Term("DATAMODE", "EQ", Text("WINDOWED"))


def test_first_failure_is_none_when_selected():
    assert parse_expression("xrtvsub.eq.6").first_failure(PC6) is None


# --- properties ----------------------------------------------------------------------------


@FUZZ
@given(st.one_of(st.text(), st.text(alphabet='aAeEqQnNdDoOrRlLtTgG.:-015" *()', max_size=40)))
@example("a.gt.1e39")
@example("a.eq.5.and.and.b.eq.1")
@example('a.eq."x')
def test_any_text_parses_as_an_expression_or_raises_expression_error(text):
    try:
        expression = parse_expression(text)
    except ExpressionError:
        return
    assert isinstance(expression, Expression)


@FUZZ
@given(FLOAT32, FLOAT32, FLOAT32)
def test_number_matches_a_range_iff_inside(value, bound_a, bound_b):
    low, high = sorted((bound_a, bound_b))
    cbd = f"P({low!r}:{high!r})"
    assert matches(f"p.eq.{value!r}", cbd) is (low <= value <= high)


@FUZZ
@given(FLOAT32, FLOAT32, FLOAT32)
def test_ordering_operators_compare_with_the_range_ends(value, bound_a, bound_b):
    low, high = sorted((bound_a, bound_b))
    cbd = f"P({low!r}:{high!r})"
    assert matches(f"p.lt.{value!r}", cbd) is (low < value)
    assert matches(f"p.le.{value!r}", cbd) is (low <= value)
    assert matches(f"p.gt.{value!r}", cbd) is (high > value)
    assert matches(f"p.ge.{value!r}", cbd) is (high >= value)


@FUZZ
@given(FLOAT32, FLOAT32)
def test_value_equality_is_single_precision(requested, stored):
    assert matches(f"p.eq.{requested!r}", f"P({stored!r})") is (real4(requested) == stored)


# A parameter named AND or OR would make ".and."/".or." ambiguous: the grammar has none.
TERM_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True).filter(
    lambda name: name.upper() not in {"AND", "OR"}
)
TEXT_VALUES = st.from_regex(r"[A-Za-z_*][A-Za-z0-9_*:]{0,7}", fullmatch=True)


@st.composite
def term_texts(draw: st.DrawFn) -> tuple[str, Term]:
    name = draw(TERM_NAMES)
    op = draw(st.sampled_from(["eq", "EQ", "lt", "le", "Gt", "ge"]))
    number = draw(FLOAT32)
    if op.upper() != "EQ":
        return f"{name}.{op}.{number!r}", Term(name.upper(), op.upper(), Number(number))
    kind = draw(st.sampled_from(["text", "number", "range"]))
    if kind == "text":
        text = draw(TEXT_VALUES)
        return f"{name}.{op}.{text}", Term(name.upper(), "EQ", Text(text))
    if kind == "number":
        return f"{name}.{op}.{number!r}", Term(name.upper(), "EQ", Number(number))
    low, high = sorted((number, draw(FLOAT32)))
    return f"{name}.{op}.{low!r}:{high!r}", Term(name.upper(), "EQ", Interval(low, high))


@FUZZ
@given(st.lists(st.lists(term_texts(), min_size=1, max_size=3), min_size=1, max_size=3))
def test_generated_expressions_parse_and_render_back(alternatives):
    text = ".or.".join(".and.".join(term for term, _ in terms) for terms in alternatives)
    expected = Expression(tuple(tuple(term for _, term in terms) for terms in alternatives))
    assert parse_expression(text) == expected
    assert parse_expression(str(expected)) == expected


@pytest.mark.parametrize("text", ["\u017f.eq.1", "energ.eq.1.\u0430nd.x.eq.2"])
def test_names_and_keywords_are_ascii_only(text):
    with pytest.raises(ExpressionError):
        parse_expression(text)
