"""The range of an array of FITS values, vectorised and NaN-aware.

A range is computed for integer and real values only: text, logical, bit and complex
values, and the rows of variable-length columns (Python objects), have none. NaNs are
left out (a real column may use NaN for "no value"), and so are the values equal to an
integer column's TNULL. Infinities are kept: they are values of the file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ValueRange", "is_numeric", "value_range"]


@dataclass(frozen=True)
class ValueRange:
    """The smallest and largest value (Python ``int`` for integers, else ``float``).

    The texts are the shortest that give back the value in the file's own precision
    (``0.1`` for a 32-bit real, not ``0.10000000149011612``).
    """

    minimum: int | float
    maximum: int | float
    minimum_text: str
    maximum_text: str


def is_numeric(values: np.ndarray) -> bool:
    """True for integer and real arrays, which have a range."""
    return values.dtype.kind in "iuf"


def value_range(values: np.ndarray, null: int | None = None) -> ValueRange | None:
    """The range of ``values``, or None when none is defined.

    Parameters
    ----------
    values : numpy.ndarray
        Any shape; a non-numeric dtype (see :func:`is_numeric`) has no range.
    null : int, optional
        The TNULL of an integer column: values equal to it are left out.

    Returns
    -------
    ValueRange or None
        None for a non-numeric array and when no value is left (empty, all NaN, all null).
    """
    if not is_numeric(values):
        return None
    kept = np.asarray(values).ravel()
    if kept.dtype.kind == "f":
        kept = kept[~np.isnan(kept)]
        convert: type[int] | type[float] = float
    else:
        if null is not None:
            kept = kept[kept != null]
        convert = int
    if kept.size == 0:
        return None
    low, high = kept.min(), kept.max()
    return ValueRange(convert(low), convert(high), str(low), str(high))
