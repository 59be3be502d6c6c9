"""Calibration boundaries (CBDs): the grammar of ``CBDn0001`` keywords and their overlaps.

A boundary restricts the validity of a dataset to some values of a parameter::

    boundary   := "NONE" | name "(" descriptor { "," descriptor } ")" [ units ]
    descriptor := '"' text '"'              quoted: always text, e.g. CHANTYPE("PI")
                | number (":" | "-") number range, e.g. ENERG(0.1-12.0), CCD_ID(0:3)
                | number                    single value, e.g. XRTVSUB(6)
                | text                      first character not in "0123456789.-", e.g. GRADE(G0:12)

This follows the HEASoft parser (``cbdcom``/``cbdtyp``/``cbdgrg``, see
``reference/heasarc_caldb.md`` §3.1): a descriptor whose first character is a digit, a dot
or a minus sign is numeric and must parse as such; in a range the first ``:`` separates the
bounds, otherwise the first ``-`` after the first character (not part of an exponent).
Numbers are compared in single precision (REAL*4), as the Fortran reference does.
Units are kept but never take part in a decision.

Two readings, one meaning:

- the **strict** grammar above (the default) checks new uploads: one spelling per value,
  no blanks inside a value, ``low <= high``;
- the **lenient** reading (``lenient=True``) reads what HEASoft tools wrote -- imported
  indexes and every stored row at selection time -- with HEASoft's own rules
  (:mod:`caldb_selection.heasoft`): ``RAWX(0- 31)``, ``ENERG(1.0E-1-1.2d1)keV``... It
  accepts everything the strict grammar accepts, with the same meaning.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from caldb_selection.descriptors import (
    NONE,
    NUMBER,
    Boundary,
    BoundaryError,
    Descriptor,
    Interval,
    Number,
    Text,
    real4,
)
from caldb_selection.heasoft import read_boundary, read_descriptor

__all__ = [
    "NONE",
    "Boundary",
    "BoundaryError",
    "Descriptor",
    "Interval",
    "Number",
    "Text",
    "boundaries_overlap",
    "descriptors_overlap",
    "format_boundary",
    "parse_boundary",
    "parse_descriptor",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_NUMERIC_START = frozenset("0123456789.-")
# Characters that would make a bare text descriptor ambiguous in the grammar.
_TEXT_FORBIDDEN = frozenset('(),"')


def _is_bare_text(text: str) -> bool:
    """Printable ASCII without blanks, quotes, commas or parentheses (FITS header text)."""
    return all("!" <= char <= "~" for char in text) and not _TEXT_FORBIDDEN.intersection(text)


def _parse_number(token: str, original: str) -> float:
    if not NUMBER.fullmatch(token):
        raise BoundaryError(f"{original!r}: {token!r} is not a number")
    value = real4(float(token))
    if not math.isfinite(value):
        raise BoundaryError(f"{original!r}: {token!r} is outside the single-precision range")
    return value


def _split_range(token: str) -> tuple[str, str] | None:
    """Split ``a:b`` or ``a-b`` the way HEASoft does; None when ``token`` is a single value."""
    if ":" in token:
        low, _, high = token.partition(":")
        return low, high
    for index in range(1, len(token)):
        if token[index] == "-" and token[index - 1] not in "eE":
            return token[:index], token[index + 1 :]
    return None


def parse_descriptor(token: str, *, lenient: bool = False) -> Descriptor:
    """Parse one value descriptor (also used for the value of an expression term).

    Parameters
    ----------
    token : str
        Descriptor text, e.g. ``"PI"`` (quoted), ``0.1-12.0``, ``6`` or ``G0:12``.
    lenient : bool
        Read it as HEASoft does (``0- 31``, ``1.2d1``...) instead of the strict grammar.

    Returns
    -------
    Descriptor
        A `Text`, `Number` or `Interval`.

    Raises
    ------
    BoundaryError
        If the token is empty, badly quoted, or numeric-looking but not a number or range.
    """
    if lenient:
        return read_descriptor(token)
    token = token.strip()
    if not token:
        raise BoundaryError("empty value")
    if token.startswith('"'):
        if len(token) < 2 or not token.endswith('"') or '"' in token[1:-1]:
            raise BoundaryError(f"{token!r}: unbalanced quotes")
        return Text(token[1:-1])
    if token[0] in _NUMERIC_START:
        bounds = _split_range(token)
        if bounds is None:
            return Number(_parse_number(token, token))
        low, high = (_parse_number(bound, token) for bound in bounds)
        if low > high:
            raise BoundaryError(f"{token!r}: empty range (lower bound above upper bound)")
        return Interval(low, high)
    if not _is_bare_text(token):
        raise BoundaryError(
            f"{token!r}: unquoted text must be printable ASCII without blanks, quotes, "
            "commas or parentheses"
        )
    return Text(token)


def _split_descriptors(body: str, original: str) -> list[str]:
    """Split on commas outside double quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in body:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise BoundaryError(f"{original!r}: unbalanced quotes")
    parts.append("".join(current))
    return parts


@lru_cache(maxsize=65536)
def parse_boundary(text: str, *, lenient: bool = False) -> Boundary | None:
    """Parse a CBD string; ``NONE`` (any case, surrounding blanks ignored) gives None.

    Parameters
    ----------
    text : str
        The boundary, e.g. ``ENERG(0.1-12.0)keV`` or ``DATAMODE(PHOTON,WINDOWED)``.
    lenient : bool
        Read it as HEASoft does (for indexes HEASoft tools wrote, and stored rows) instead
        of checking it against the strict grammar (for new uploads).

    Returns
    -------
    Boundary or None
        The parsed boundary with an upper-case name, or None for ``NONE``.

    Raises
    ------
    BoundaryError
        If ``text`` does not follow the grammar of the module docstring (strict), or
        HEASoft could not read it either (lenient).
    """
    if lenient:
        return read_boundary(text)
    stripped = text.strip()
    if stripped.upper() == NONE:
        return None
    opening = stripped.find("(")
    closing = stripped.rfind(")")
    if opening <= 0 or closing < opening:
        raise BoundaryError(f"{text!r}: expected NAME(values)units or NONE")
    name = stripped[:opening].strip()
    if not _NAME.fullmatch(name):
        raise BoundaryError(f"{text!r}: {name!r} is not a parameter name")
    units = stripped[closing + 1 :].strip()
    if "(" in units or ")" in units or '"' in units:
        raise BoundaryError(f"{text!r}: unexpected text after the values")
    body = stripped[opening + 1 : closing]
    try:
        descriptors = tuple(parse_descriptor(part) for part in _split_descriptors(body, text))
    except BoundaryError as error:
        raise BoundaryError(f"{text!r}: {error}") from None
    return Boundary(name.upper(), descriptors, units)


def format_boundary(boundary: Boundary | None) -> str:
    """Render a boundary back to CBD text (canonical form: quotes only where needed)."""
    if boundary is None:
        return NONE
    rendered = []
    for descriptor in boundary.descriptors:
        if isinstance(descriptor, Text) and (
            not descriptor.value
            or descriptor.value[0] in _NUMERIC_START
            or not _is_bare_text(descriptor.value)
        ):
            rendered.append(f'"{descriptor.value}"')
        else:
            rendered.append(str(descriptor))
    return f"{boundary.name}({','.join(rendered)}){boundary.units}"


def _as_interval(descriptor: Number | Interval) -> tuple[float, float]:
    if isinstance(descriptor, Number):
        return descriptor.value, descriptor.value
    return descriptor.low, descriptor.high


def descriptors_overlap(first: Descriptor, second: Descriptor) -> bool:
    """Whether two descriptors admit a common value.

    Text only meets text (case-insensitive equality); numbers and ranges meet when their
    closed intervals intersect. Text never meets a number. ``first`` is the requested side
    (HEASoft's ``cbdcom`` first argument): a range of ``second`` meets a range of ``first``
    when either of its ends is above ``first``'s low end and either is below its high end
    (``cbdcrg``), which only differs from plain intersection for an inverted ``second``.
    """
    if isinstance(first, Text) or isinstance(second, Text):
        return (
            isinstance(first, Text)
            and isinstance(second, Text)
            and first.value.upper() == second.value.upper()
        )
    low_a, high_a = _as_interval(first)
    low_b, high_b = _as_interval(second)
    if isinstance(first, Interval) and isinstance(second, Interval):
        low_b, high_b = min(low_b, high_b), max(low_b, high_b)
    return low_a <= high_b and low_b <= high_a


def boundaries_overlap(first: tuple[str, ...], second: tuple[str, ...]) -> bool:
    """Whether two datasets' boundary lists admit a common point (udcif ``cbdcma``).

    A dataset whose boundaries are all NONE is valid everywhere and overlaps anything.
    A parameter constrained by only one side does not separate them. For a parameter
    constrained by both, every pair of same-name boundaries must share a value.
    Boundaries are read leniently: either side may be a row imported from a HEASoft index.
    """
    parsed_a = [b for b in (parse_boundary(t, lenient=True) for t in first) if b is not None]
    parsed_b = [b for b in (parse_boundary(t, lenient=True) for t in second) if b is not None]
    for a in parsed_a:
        for b in parsed_b:
            if a.name == b.name and not any(
                descriptors_overlap(x, y) for x in a.descriptors for y in b.descriptors
            ):
                return False
    return True
