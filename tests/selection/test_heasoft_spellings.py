"""The lenient reading, as properties: the same meaning whatever HEASoft spelling is used.

Every spelling of a boundary HEASoft reads alike (blanks, case, number forms) reads to the
same selection; the strict grammar's texts read the same leniently. The worked cases are in
:mod:`tests.selection.test_heasoft_reading`.
"""

import contextlib

from hypothesis import example, given, settings
from hypothesis import strategies as st

from caldb_selection import BoundaryError, parse_boundary, parse_expression
from caldb_selection.boundaries import Boundary, Text
from tests.selection.test_heasoft_reading import lenient, real4

FUZZ = settings(max_examples=300, deadline=None)
FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


# --- properties: the same meaning whatever the spelling -------------------------------------

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,11}", fullmatch=True)
UNITS = st.sampled_from(["", "keV", "arcmin", "deg", "ct/s"])
WORDS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_:*]{0,8}", fullmatch=True)
BLANKS = st.sampled_from(["", " ", "  "])


def meaning(boundary: Boundary | None) -> object:
    """What selection reads of a boundary: text and units case do not matter."""
    if boundary is None:
        return None
    values = tuple(
        Text(d.value.upper()) if isinstance(d, Text) else d for d in boundary.descriptors
    )
    return boundary.name, values, boundary.units.upper()


@st.composite
def spellings(draw: st.DrawFn, value: float, *, signed_plus: bool) -> str:
    """One of the spellings HEASoft reads as ``value`` (a number with a short repr)."""
    text = repr(value)
    mantissa, _, exponent = text.lower().partition("e")
    if draw(st.booleans()) and "." not in mantissa:
        mantissa += "."  # 5 -> 5.
    if mantissa.startswith("0.") and draw(st.booleans()):
        mantissa = mantissa[1:]  # 0.5 -> .5
    elif mantissa.startswith("-0.") and draw(st.booleans()):
        mantissa = "-" + mantissa[2:]
    if draw(st.booleans()):
        zeros = "0" * draw(st.integers(1, 3))
        mantissa = f"-{zeros}{mantissa[1:]}" if mantissa.startswith("-") else zeros + mantissa
    if signed_plus and not mantissa.startswith("-") and draw(st.booleans()):
        mantissa = "+" + mantissa
    if not exponent and draw(st.booleans()):
        exponent = "0"
    if exponent:
        sign = exponent[0] if exponent[0] in "+-" else draw(st.sampled_from(["", "+"]))
        digits = exponent.lstrip("+-").rjust(draw(st.integers(1, 3)), "0")
        mantissa += draw(st.sampled_from("eEdD")) + sign + digits
    return mantissa


FLOATS = FLOAT32.map(real4).filter(lambda v: real4(float(repr(v))) == v)


@st.composite
def descriptor_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """(compact, HEASoft-equivalent variant) of one value."""
    kind = draw(st.sampled_from(["text", "quoted", "number", "range"]))
    if kind == "text":
        word = draw(WORDS)
        return word, draw(st.sampled_from([word, word.lower(), word.upper()]))
    if kind == "quoted":
        word = draw(WORDS)
        return f'"{word}"', f'"{draw(st.sampled_from([word, word.lower(), word.upper()]))}"'
    if kind == "number":
        value = draw(FLOATS)
        return repr(value), draw(spellings(value, signed_plus=False))
    low, high = sorted(draw(st.lists(FLOATS, min_size=2, max_size=2)))
    separator = draw(st.sampled_from([":", "-"]))
    around = draw(BLANKS), draw(BLANKS)
    low_text = draw(spellings(low, signed_plus=False))
    high_text = draw(spellings(high, signed_plus=True))
    return f"{low!r}{separator}{high!r}", f"{low_text}{around[0]}{separator}{around[1]}{high_text}"


@st.composite
def boundary_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """(compact CBD, the same CBD with blanks, other case and other number spellings)."""
    name = draw(NAMES)
    pairs = draw(st.lists(descriptor_pairs(), min_size=1, max_size=4))
    units = draw(UNITS)
    compact = f"{name}({','.join(c for c, _ in pairs)}){units}"
    variant_name = draw(st.sampled_from([name, name.lower(), name.upper()]))
    values = [f"{draw(BLANKS)}{v}{draw(BLANKS)}" for _, v in pairs]
    unit_text = draw(st.sampled_from([units, units.lower(), units.upper()]))
    variant = f"{draw(BLANKS)}{variant_name}{draw(BLANKS)}({','.join(values)}){draw(BLANKS)}"
    return compact, variant + unit_text + draw(BLANKS)


@FUZZ
@given(boundary_pairs())
@example(("RAWX(0-31)", "RAWX(0- 31)"))
@example(("RAWX(0-31)", "RAWX(0 -31)"))
@example(("RAWX(0-31)", "RAWX( 0 - 31 )"))
@example(("ENERG(0.1-12.0)keV", "ENERG(1.0E-1-1.2d1)keV"))
@example(("ENERG(0.1-12.0)keV", "energ(1.0d-01 - +12.)KEV"))
def test_blanks_case_and_number_spellings_never_change_the_lenient_meaning(pair):
    compact, variant = pair
    assert (
        meaning(lenient(variant)) == meaning(lenient(compact)) == meaning(parse_boundary(compact))
    )


@FUZZ
@given(boundary_pairs(), st.lists(FLOATS, min_size=1, max_size=3))
def test_a_variant_is_selected_exactly_when_its_compact_form_is(pair, values):
    compact, variant = pair
    name = compact[: compact.index("(")]
    for value in values:
        expression = parse_expression(f"{name}.eq.{value!r}")
        assert expression.matches((variant,)) is expression.matches((compact,))


GRAMMAR_SOUP = st.text(alphabet='ENRGnone_(),:-+.eEdD0123456789" \tkeV*', max_size=30)


@FUZZ
@given(st.one_of(st.text(), GRAMMAR_SOUP))
@example("  ENERG ( 1 , 2 ) keV ")
@example('E("a,b",c)')
@example('E(")")')
@example("E(1E-3-2)")
def test_what_the_strict_grammar_accepts_reads_the_same_leniently(text):
    try:
        strict = parse_boundary(text)
    except BoundaryError:
        strict = BoundaryError
    if strict is not BoundaryError:
        assert lenient(text) == strict
    else:
        with contextlib.suppress(BoundaryError):  # nothing but BoundaryError escapes
            lenient(text)
