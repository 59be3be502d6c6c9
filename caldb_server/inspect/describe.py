"""What the dataset page shows of a FITS file: each HDU's header, columns or image.

Cost is bounded per HDU, whatever the file: at most :data:`MAX_CARDS` header cards are
listed (the total is given), column ranges come from the first :data:`MAX_SCANNED_ROWS`
rows (every row of any calibration table), and an image range from every pixel up to
:data:`MAX_SCANNED_PIXELS`, beyond which from a regular subsample (``range_exact`` is then
False). Data are memory-mapped where astropy can (not for scaled images, nor compressed
files), so data nobody reads cost nothing.
"""

from __future__ import annotations

import base64
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from astropy.io import fits

from caldb_server.inspect.cards import Card, card_of
from caldb_server.inspect.reading import open_fits
from caldb_server.inspect.thumbnail import thumbnail_png
from caldb_server.inspect.values import ValueRange, is_numeric, value_range

__all__ = [
    "MAX_CARDS",
    "MAX_SCANNED_PIXELS",
    "MAX_SCANNED_ROWS",
    "ColumnSummary",
    "FileDescription",
    "HduDescription",
    "ImageSummary",
    "TableSummary",
    "describe_file",
]

MAX_CARDS = 2000
MAX_SCANNED_ROWS = 1_000_000
MAX_SCANNED_PIXELS = 16_777_216  # a 4096 x 4096 image


@dataclass(frozen=True)
class ColumnSummary:
    """One table column: TTYPE, TFORM, TUNIT ("" if none) and the range of its values.

    ``range`` is None with a ``note`` saying why: variable-length arrays, non-numeric
    values (text, logical, bits, complex), or no value left (no rows, all NaN or TNULL).
    """

    name: str
    format: str
    unit: str
    range: ValueRange | None
    note: str = ""


@dataclass(frozen=True)
class TableSummary:
    """A table HDU's rows and columns; ``rows_scanned`` rows were read for the ranges."""

    rows: int
    rows_scanned: int
    columns: list[ColumnSummary]


@dataclass(frozen=True)
class ImageSummary:
    """An image HDU's data.

    ``shape`` is in numpy order (slowest axis first, so ``(NAXIS2, NAXIS1)`` for 2-D);
    ``size_text`` writes it in FITS order. ``bitpix`` is the BITPIX of the file (before
    BSCALE/BZERO). ``thumbnail`` is a PNG of the first 2-D plane, or None with
    ``thumbnail_note`` saying why.
    """

    shape: tuple[int, ...]
    bitpix: int
    range: ValueRange | None
    range_exact: bool
    thumbnail: bytes | None
    thumbnail_note: str = ""

    @property
    def size_text(self) -> str:
        """The axis lengths in FITS order, NAXIS1 first: ``"511 x 256"``."""
        return " x ".join(str(length) for length in reversed(self.shape))

    @property
    def thumbnail_data_uri(self) -> str | None:
        """The thumbnail as a ``data:`` URI for an ``<img src>`` (the UI's CSP allows it)."""
        if self.thumbnail is None:
            return None
        return "data:image/png;base64," + base64.b64encode(self.thumbnail).decode("ascii")


@dataclass(frozen=True)
class HduDescription:
    """One HDU: its number (primary 0), EXTNAME, kind, header cards and data summary.

    ``name`` is ``PRIMARY`` for the primary HDU, ``""`` for an extension without EXTNAME.
    ``kind`` is ``primary``, ``image``, ``compressed image``, ``bintable``,
    ``ascii table`` or ``other``. ``cards`` holds at most :data:`MAX_CARDS` of the
    ``card_count`` cards. ``table`` and ``image`` summarise the data, when there are any.
    """

    index: int
    name: str
    kind: str
    cards: list[Card]
    card_count: int
    table: TableSummary | None = None
    image: ImageSummary | None = None

    @property
    def cards_truncated(self) -> bool:
        """True when the header has more cards than are listed."""
        return self.card_count > len(self.cards)


@dataclass(frozen=True)
class FileDescription:
    """A FITS file: its name, its size on disk in bytes and its HDUs in order."""

    name: str
    size: int
    hdus: list[HduDescription]


def hdu_kind(index: int, hdu: fits.hdu.base._BaseHDU) -> str:
    """The kind of an HDU as the page names it (see :class:`HduDescription`)."""
    if index == 0:
        return "primary"
    if isinstance(hdu, fits.CompImageHDU):
        return "compressed image"
    if isinstance(hdu, fits.ImageHDU):
        return "image"
    if isinstance(hdu, fits.BinTableHDU):
        return "bintable"
    if isinstance(hdu, fits.TableHDU):
        return "ascii table"
    return "other"


def _column_summary(column: fits.Column, data: fits.FITS_rec | None, number: int) -> ColumnSummary:
    fmt = str(column.format)
    summary = {"name": column.name, "format": fmt, "unit": column.unit or ""}
    if data is None:
        return ColumnSummary(**summary, range=None, note="no rows")
    if "P" in fmt or "Q" in fmt:  # read before the values: astropy builds one object per row
        return ColumnSummary(**summary, range=None, note="variable-length arrays")
    values = data.field(number)
    if not is_numeric(values):
        return ColumnSummary(**summary, range=None, note="not numeric")
    null = column.null if isinstance(column.null, int) else None
    found = value_range(values, null)
    return ColumnSummary(**summary, range=found, note="" if found else "no value")


def _table_summary(hdu: fits.BinTableHDU | fits.TableHDU) -> TableSummary:
    rows = int(hdu.header.get("NAXIS2", 0))
    data = hdu.data[:MAX_SCANNED_ROWS] if rows else None
    columns = [_column_summary(column, data, number) for number, column in enumerate(hdu.columns)]
    return TableSummary(rows, min(rows, MAX_SCANNED_ROWS), columns)


def _scanned_pixels(data: np.ndarray) -> tuple[np.ndarray, bool]:
    """Every pixel, or a regular subsample of at most about :data:`MAX_SCANNED_PIXELS`."""
    if data.size <= MAX_SCANNED_PIXELS:
        return data, True
    stride = math.ceil((data.size / MAX_SCANNED_PIXELS) ** (1 / data.ndim))
    return data[(slice(None, None, stride),) * data.ndim], False


def _thumbnail(data: np.ndarray) -> tuple[bytes | None, str]:
    if data.ndim < 2:
        return None, "A 1-D image has no thumbnail."
    plane = data[(0,) * (data.ndim - 2)]
    note = "" if data.ndim == 2 else "The thumbnail shows the first plane."
    return thumbnail_png(plane), note


def _image_summary(hdu: fits.hdu.base._BaseHDU, bitpix: int) -> ImageSummary | None:
    data = hdu.data
    if data is None or data.size == 0:
        return None
    scanned, exact = _scanned_pixels(data)
    found = value_range(scanned)  # astropy gives BLANK pixels as NaN
    thumbnail, note = _thumbnail(data)
    return ImageSummary(tuple(data.shape), bitpix, found, exact, thumbnail, note)


def _describe_hdu(index: int, hdu: fits.hdu.base._BaseHDU) -> HduDescription:
    cards = hdu.header.cards
    listed = [card_of(card) for card in cards[:MAX_CARDS]]
    bitpix = int(hdu.header.get("BITPIX", 8))  # read before the data: scaling changes it
    description = HduDescription(index, hdu.name or "", hdu_kind(index, hdu), listed, len(cards))
    if hdu.is_image:  # compressed images included, whichever class astropy gives them
        return replace(description, image=_image_summary(hdu, bitpix))
    if isinstance(hdu, fits.BinTableHDU | fits.TableHDU):
        return replace(description, table=_table_summary(hdu))
    return description  # random groups, non-standard extensions: the header only


def describe_file(path: str | os.PathLike[str]) -> FileDescription:
    """Describe every HDU of a FITS file for the dataset page.

    Parameters
    ----------
    path : str or os.PathLike
        A FITS file, possibly gzip or bzip2 compressed (then read into memory).

    Returns
    -------
    FileDescription
        The HDUs in file order with their cards and data summaries.

    Raises
    ------
    InspectionError
        If the file is missing, is not FITS, or is truncated or damaged.
    """
    file = Path(path)
    with open_fits(file) as hdus:
        described = [_describe_hdu(index, hdu) for index, hdu in enumerate(hdus)]
    return FileDescription(file.name, file.stat().st_size, described)
