"""Calibration boundaries read the way HEASoft reads them (the lenient reading).

An index written by HEASoft tools or by another team holds boundary strings that HEASoft
accepts but the strict grammar of :mod:`caldb_selection.boundaries` (used for new uploads)
refuses, e.g. ``RAWX(0- 31)`` or ``RAWX(0 -31)``. This module reads them with the meaning
quzcif gives them. It follows the Fortran reference, ``cbdcom`` -> ``cbdtyp``/``cbdgrg``/
``cbdgr`` -> ``ftc2rr`` (HEASoft 6.20 ``ftools/ftoolslib/gen``, CFITSIO ``ffc2rr``):

- the row's boundary is upper-cased before it is read (``evexp2`` calls ``ftupch``);
- values end at the first comma, the values at the first ``)``; the rest is units;
- a value is text when its first character is a quote or not one of ``0-9 . -``;
- otherwise the first ``:`` splits a range, else the first ``-`` after the first
  character (even an exponent's: ``1E-5`` is read as the range ``1E`` to ``5``, which
  HEASoft then fails to read);
- each number is read by C ``strtod`` after the first ``D`` became ``E``: blanks before
  it are skipped, a blank ends it and whatever follows that blank is ignored, an empty
  string reads as 0, and a value that is not finite in single precision is refused.

Where this reading departs from quzcif, on purpose:

- blanks around a whole value are ignored, as the strict grammar always did (so every row
  already stored keeps its meaning): quzcif reads ``RAWX( 0-31)`` as the text ``" 0-31"``
  (its first character is a blank), which no number matches -- the one case where the
  meaning differs, noted when an index is imported;
- where quzcif fails because its separator search stopped on an exponent's sign
  (``ENERG(1.0E-1-1.2D1)``), the exponent is skipped, as the strict grammar does;
- commas and parentheses inside double quotes do not end a value (quzcif fails there);
- glibc's hexadecimal numbers (``0x10``) are refused; a comma in the units is refused
  (quzcif would read what follows it as one more value, and fail).
"""

from __future__ import annotations

import math
import re

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

__all__ = [
    "blank_led_numbers",
    "fortran_exponents",
    "read_boundary",
    "read_descriptor",
    "read_number",
]

# strtod also reads these; ffc2rr then refuses them (its fnan test catches Inf and NaN).
_C_NOT_FINITE = re.compile(r"[-+]?(?:INF|NAN)", re.ASCII)
_C_SPACE = " \t\n\v\f\r"
_NUMERIC_START = frozenset("0123456789.-")
# A Fortran double-precision exponent (1.5D3, 2d-1) right after a digit or a dot.
_FORTRAN_EXPONENT = re.compile(r"(?<=[0-9.])[dD](?=[-+]?[0-9])", re.ASCII)
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def fortran_exponents(token: str) -> str:
    """Spell Fortran exponents (``1.5D3``, ``2d-1``) of a numeric token as ``E``.

    Parameters
    ----------
    token : str
        A value as written; text values (first character not ``0-9 . -``) are returned
        unchanged, so ``G0D5`` stays text.

    Returns
    -------
    str
        The token with each ``D``/``d`` exponent marker replaced by ``E``.
    """
    stripped = token.strip()
    if not stripped or stripped[0] not in _NUMERIC_START:
        return token
    return _FORTRAN_EXPONENT.sub("E", token)


def read_number(text: str) -> float:
    """Read a number as HEASoft's ``ftc2rr`` (CFITSIO ``ffc2rr``) does.

    Parameters
    ----------
    text : str
        The characters HEASoft hands to ``ftc2rr``, blanks included.

    Returns
    -------
    float
        The single-precision value: ``" 31"``, ``"1.2d1"``, ``"+3"``, ``"5."``, ``".5"``
        read as expected; ``"0 abc"`` reads 0 (a blank ends the number) and ``""`` reads 0.

    Raises
    ------
    BoundaryError
        If characters other than a blank follow the number, or the value is not finite in
        single precision.
    """
    if not text.isascii():
        raise BoundaryError(f"{text!r} is not a number")
    upper = text.translate(_ASCII_UPPER).replace("D", "E", 1)  # ftupch, then ffc2rr's D -> E
    body = upper.lstrip(_C_SPACE)
    if _C_NOT_FINITE.match(body):
        raise BoundaryError(f"{text!r} is not a finite number")
    match = NUMBER.match(body)
    if match is None:
        # strtod read nothing and points at the first character: ffc2rr accepts a blank.
        if upper[:1] in ("", " "):
            return 0.0
        raise BoundaryError(f"{text!r} is not a number")
    if body[match.end() : match.end() + 1] not in ("", " "):
        raise BoundaryError(f"{text!r} is not a number (text follows it without a blank)")
    value = real4(float(match.group()))
    if not math.isfinite(value):
        raise BoundaryError(f"{text!r} is outside the single-precision range")
    return value


def _exponent_aware_split(token: str) -> tuple[str, str] | None:
    """The first ``-`` that is not an exponent's sign (the strict grammar's separator)."""
    for index in range(1, len(token)):
        before = token[index - 1].upper()
        if token[index] == "-" and not (
            before in "ED" and index >= 2 and token[index - 2] in "0123456789."
        ):
            return token[:index], token[index + 1 :]
    return None


def _numeric(token: str) -> Descriptor:
    """A value whose first character is a digit, a dot or a minus (cbdtyp types 2 and 3)."""
    colon = token.find(":")
    dash = token.find("-", 1)
    if colon < 0 and dash < 0:
        return Number(read_number(token))
    cut = colon if colon >= 0 else dash
    try:
        return Interval(read_number(token[:cut]), read_number(token[cut + 1 :]))
    except BoundaryError as heasoft_error:
        # HEASoft fails here; when an exponent's sign stopped its search, read on past it.
        if colon >= 0:
            raise
        bounds = _exponent_aware_split(token)
        try:
            if bounds is None:
                return Number(read_number(token))
            return Interval(read_number(bounds[0]), read_number(bounds[1]))
        except BoundaryError:
            raise heasoft_error from None


def read_descriptor(token: str) -> Descriptor:
    """Read one value of a boundary (or of a request) as HEASoft does; see the module doc.

    Parameters
    ----------
    token : str
        The value, e.g. ``0- 31``, ``1.0E-1 - 1.2d1``, ``PHOTON``, ``"PI"``.

    Returns
    -------
    Descriptor
        A `Text`, `Number` or `Interval` (possibly inverted, as HEASoft keeps it).

    Raises
    ------
    BoundaryError
        If the value is empty, its quotes are unbalanced, or its number cannot be read.
    """
    token = token.strip()
    if not token:
        raise BoundaryError("empty value")
    if token[0] == '"':
        if len(token) < 2 or token[-1] != '"':
            raise BoundaryError(f"{token!r}: unbalanced quotes")
        return Text(token[1:-1])
    if token[0] not in _NUMERIC_START:
        return Text(token)
    return _numeric(token)


def _split_values(body: str) -> tuple[list[str], int]:
    """Values up to the first ``)``, split on commas, as ``cbdmp``/``cbdtyp`` do.

    A value that starts with a double quote runs to the next quote (HEASoft fails on a
    comma or parenthesis inside one). Returns the values and the index of the closing
    parenthesis in ``body`` (-1 when there is none).
    """
    parts: list[str] = []
    current: list[str] = []
    quoted = started = False
    for index, char in enumerate(body):
        if quoted:
            quoted = char != '"'
        elif char in ",)":
            parts.append("".join(current))
            if char == ")":
                return parts, index
            current, started = [], False
            continue
        elif char == '"' and not started:
            quoted = True
        started = started or not char.isspace()
        current.append(char)
    return parts, -1


def read_boundary(text: str) -> Boundary | None:
    """Read a boundary string of a HEASoft-written index; ``NONE`` gives None.

    Parameters
    ----------
    text : str
        A CAL_CBD slot, e.g. ``RAWX(0- 31)``, ``ENERG(1.0E-1-1.2d1)keV`` or ``NONE``.

    Returns
    -------
    Boundary or None
        The boundary with its name upper-cased, or None for ``NONE`` (any case).

    Raises
    ------
    BoundaryError
        If HEASoft could not read it either: no ``(`` or ``)``, an empty value, a value
        that is not a number although it starts like one, or a comma after the values
        (HEASoft would read what follows it as one more value).
    """
    stripped = text.strip()
    if stripped.translate(_ASCII_UPPER) == NONE:
        return None
    opening = stripped.find("(")
    if opening < 0:
        raise BoundaryError(f"{text!r}: expected NAME(values)units or NONE")
    values, closing = _split_values(stripped[opening + 1 :])
    if closing < 0:
        raise BoundaryError(f"{text!r}: no ')' closes the values")
    units = stripped[opening + 1 + closing + 1 :].strip()
    if "," in units:
        raise BoundaryError(f"{text!r}: a comma after the values")
    try:
        descriptors = tuple(read_descriptor(value) for value in values)
    except BoundaryError as error:
        raise BoundaryError(f"{text!r}: {error}") from None
    name = stripped[:opening].strip().translate(_ASCII_UPPER)
    return Boundary(name, descriptors, units)


def blank_led_numbers(text: str) -> list[str]:
    """Values of a boundary that quzcif reads as text only because a blank comes first.

    Parameters
    ----------
    text : str
        A boundary string, e.g. ``RAWX( 0-31)``.

    Returns
    -------
    list of str
        The values as written (``[" 0-31"]``): read here as numbers, by quzcif as text
        that no requested number matches.
    """
    opening = text.find("(")
    values, _ = _split_values(text[opening + 1 :]) if opening >= 0 else ([], -1)
    return [v for v in values if v[:1].isspace() and v.strip()[:1] in _NUMERIC_START]
