"""The data part of a comparison: what differs in a table or an image, and by how much.

FITSDiff decides which columns can be compared (same name and format) and whether the
shapes agree; the counts are computed here with numpy, per column, because FITSDiff keeps
one total for the whole table and only the first ``numdiffs`` values. Two values differ as
FITSDiff judges them with no tolerance (its default): ``a != b``, except that two NaNs are
equal. The largest absolute difference is over the differing pairs where both values are
finite (a NaN against a number differs, by no measurable amount).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from astropy.io.fits.diff import ImageDataDiff, TableDataDiff

__all__ = [
    "ColumnAttributeChange",
    "ColumnChange",
    "ImageChanges",
    "TableChanges",
    "image_changes",
    "table_changes",
]


def _format_difference(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


@dataclass(frozen=True)
class ColumnChange:
    """A column whose values differ in ``differing_rows`` rows.

    ``max_abs_difference`` is None for non-numeric columns (and when no differing pair
    is finite); ``max_abs_difference_text`` writes it with 6 significant digits.
    """

    name: str
    differing_rows: int
    max_abs_difference: float | None

    @property
    def max_abs_difference_text(self) -> str:
        """The largest absolute difference as text, empty when there is none."""
        return _format_difference(self.max_abs_difference)


@dataclass(frozen=True)
class ColumnAttributeChange:
    """A column in both tables whose ``attribute`` differs.

    ``attribute`` is ``format`` (TFORM) or one of FITSDiff's: ``unit``, ``null``,
    ``bscale``, ``bzero``, ``disp``, ``dim``; ``old``/``new`` are texts, empty for none.
    """

    column: str
    attribute: str
    old: str
    new: str


@dataclass(frozen=True)
class TableChanges:
    """How two tables differ.

    ``values_compared`` is False when the numbers of rows differ: values are then not
    compared (rows cannot be paired), as FITSDiff does. ``column_changes`` lists only
    the columns with differing values, in the old table's column order.
    """

    old_rows: int
    new_rows: int
    columns_added: list[str]
    columns_removed: list[str]
    attribute_changes: list[ColumnAttributeChange]
    column_changes: list[ColumnChange]
    values_compared: bool


@dataclass(frozen=True)
class ImageChanges:
    """How two images differ; shapes in numpy order (see ``ImageSummary``).

    When the shapes differ nothing else is compared: ``differing_pixels`` and
    ``max_abs_difference`` are None.
    """

    old_shape: tuple[int, ...]
    new_shape: tuple[int, ...]
    pixels: int
    differing_pixels: int | None
    max_abs_difference: float | None

    @property
    def max_abs_difference_text(self) -> str:
        """The largest absolute difference as text, empty when there is none."""
        return _format_difference(self.max_abs_difference)


def _differing(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Element-wise: True where the values differ (two NaNs are equal)."""
    differ = np.asarray(old != new)
    if old.dtype.kind == "f" and new.dtype.kind == "f":
        differ &= ~(np.isnan(old) & np.isnan(new))
    return differ


def _max_abs(old: np.ndarray, new: np.ndarray, differ: np.ndarray) -> float | None:
    """The largest |new - old| over differing pairs of finite numbers."""
    if old.dtype.kind not in "iuf" or new.dtype.kind not in "iuf":
        return None
    both = differ & np.isfinite(old) & np.isfinite(new)
    if not both.any():
        return None
    with np.errstate(over="ignore"):  # |a - b| beyond float64 is infinite, and says so
        gaps = np.abs(new[both].astype(np.float64) - old[both].astype(np.float64))
    return float(gaps.max())


def _largest(values: Iterable[float | None]) -> float | None:
    found = [value for value in values if value is not None]
    return max(found) if found else None


def _fixed_column_change(name: str, old: np.ndarray, new: np.ndarray) -> ColumnChange:
    differ = _differing(old, new)
    rows = int(differ.reshape(len(differ), -1).any(axis=1).sum())
    return ColumnChange(name, rows, _max_abs(old, new, differ) if rows else None)


def _variable_column_change(name: str, old: Iterable, new: Iterable) -> ColumnChange:
    """Variable-length arrays, row by row (each row is its own array)."""
    rows, maxima = 0, []
    for old_row, new_row in zip(old, new, strict=True):
        first, second = np.asarray(old_row), np.asarray(new_row)
        if first.shape != second.shape:
            rows += 1
            continue
        differ = _differing(first, second)
        if differ.any():
            rows += 1
            maxima.append(_max_abs(first, second, differ))
    return ColumnChange(name, rows, _largest(maxima))


def _column_change(column: fits.Column, old: fits.FITS_rec, new: fits.FITS_rec) -> ColumnChange:
    fmt = str(column.format)
    if "P" in fmt or "Q" in fmt:
        return _variable_column_change(column.name, old[column.name], new[column.name])
    return _fixed_column_change(column.name, old[column.name], new[column.name])


def _text(value: object) -> str:
    return "" if value is None else str(value)


def table_changes(diff: TableDataDiff, old: fits.FITS_rec, new: fits.FITS_rec) -> TableChanges:
    """The changes between two tables FITSDiff found different.

    Parameters
    ----------
    diff : TableDataDiff
        FITSDiff's comparison of the tables.
    old, new : astropy.io.fits.FITS_rec
        The tables' data.

    Returns
    -------
    TableChanges
        Columns added, removed, with changed attributes, and with differing values.
    """
    removed, added = diff.diff_column_names or ([], [])
    reformatted = {name.lower() for name in removed} & {name.lower() for name in added}
    new_formats = {column.name.lower(): str(column.format) for column in new.columns}
    attributes = [
        ColumnAttributeChange(column.name, "format", str(column.format), new_formats[lowered])
        for column in old.columns
        if (lowered := column.name.lower()) in reformatted
    ]
    attributes += [
        ColumnAttributeChange(name, attribute, _text(old_value), _text(new_value))
        for (name, attribute), (old_value, new_value) in diff.diff_column_attributes
    ]
    compared = len(old) == len(new)
    changes: list[ColumnChange] = []
    if compared and len(old):
        common = [c for c in old.columns if c.name.lower() in diff.common_column_names]
        changes = [change for c in common if (change := _column_change(c, old, new)).differing_rows]
    return TableChanges(
        len(old),
        len(new),
        [name for name in added if name.lower() not in reformatted],
        [name for name in removed if name.lower() not in reformatted],
        attributes,
        changes,
        compared,
    )


def image_changes(diff: ImageDataDiff, old: np.ndarray, new: np.ndarray) -> ImageChanges:
    """The changes between two images FITSDiff found different.

    Parameters
    ----------
    diff : ImageDataDiff
        FITSDiff's comparison of the images.
    old, new : numpy.ndarray
        The images' data (scaled by BSCALE/BZERO).

    Returns
    -------
    ImageChanges
        The number of differing pixels and the largest difference, if the shapes agree.
    """
    if diff.diff_dimensions:
        return ImageChanges(old.shape, new.shape, old.size, None, None)
    differ = _differing(old, new)
    count = int(differ.sum())
    return ImageChanges(old.shape, new.shape, old.size, count, _max_abs(old, new, differ))
