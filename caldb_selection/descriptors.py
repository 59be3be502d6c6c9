"""The values of calibration boundaries: text, single numbers, numeric ranges.

Shared by the strict grammar (:mod:`caldb_selection.boundaries`, used for new uploads) and
the HEASoft reading (:mod:`caldb_selection.heasoft`, used for indexes HEASoft tools wrote),
so that both produce the same objects and every comparison treats them alike.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass

__all__ = [
    "NONE",
    "NUMBER",
    "Boundary",
    "BoundaryError",
    "Descriptor",
    "Interval",
    "Number",
    "Text",
    "format_number",
    "real4",
]

NONE = "NONE"
# A decimal number as C strtod reads it in the "C" locale (the strict grammar and HEASoft's
# reading agree on it); glibc's hexadecimal numbers (0x1A) are left out: no CALDB writes
# them and no reader of an index would expect 0x10 to mean 16.
NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?", re.ASCII)


class BoundaryError(ValueError):
    """A calibration boundary or descriptor that does not follow the grammar."""


def real4(value: float) -> float:
    """Round to IEEE single precision: the Fortran reference compares REAL*4 values.

    Parameters
    ----------
    value : float
        A double.

    Returns
    -------
    float
        The nearest single-precision value; an infinity when ``value`` is beyond its range.
    """
    try:
        (single,) = struct.unpack("f", struct.pack("f", value))
        return float(single)
    except OverflowError:
        return math.copysign(math.inf, value)


def format_number(value: float) -> str:
    """Shortest decimal text that reads back as the same single-precision value."""
    for digits in range(1, 10):
        text = f"{value:.{digits}g}"
        if real4(float(text)) == value:
            return text
    return repr(value)


@dataclass(frozen=True, slots=True)
class Text:
    """A text descriptor, compared without regard to case."""

    value: str

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Number:
    """A single numeric value (single precision)."""

    value: float

    def __str__(self) -> str:
        return format_number(self.value)


@dataclass(frozen=True, slots=True)
class Interval:
    """A closed numeric range from ``low`` to ``high`` (single precision).

    The strict grammar only builds ``low <= high``; a HEASoft-written index may hold an
    inverted range (``RAWX(31-0)``), kept as written because HEASoft compares it as such.
    """

    low: float
    high: float

    def __str__(self) -> str:
        return f"{format_number(self.low)}:{format_number(self.high)}"


Descriptor = Text | Number | Interval


@dataclass(frozen=True, slots=True)
class Boundary:
    """One parsed boundary: ``name(descriptors)units``; ``name`` is upper case."""

    name: str
    descriptors: tuple[Descriptor, ...]
    units: str = ""
