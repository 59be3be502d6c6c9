"""A FITS file compared with its previous version, HDU by HDU, with astropy's FITSDiff.

HDUs are paired by position, as FITSDiff pairs them; HDUs beyond the shorter file are
listed as only in one file. Some keywords are not compared (:data:`IGNORED_KEYWORDS`):
DATE is when the file was written, and CHECKSUM/DATASUM change with any byte of their
HDU, DATE included, so the three differ between any two versions and say nothing the
rest of the comparison does not. The result is plain data for a template, not FITSDiff's
text report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits
from astropy.io.fits.diff import FITSDiff, HDUDiff, RawDataDiff, TableDataDiff

from caldb_server.inspect.data_changes import ImageChanges, TableChanges
from caldb_server.inspect.data_changes import image_changes as _image_changes
from caldb_server.inspect.data_changes import table_changes as _table_changes
from caldb_server.inspect.describe import hdu_kind
from caldb_server.inspect.header_changes import COMMENTARY_KEYWORDS, HeaderChanges
from caldb_server.inspect.header_changes import header_changes as _header_changes
from caldb_server.inspect.reading import open_fits

__all__ = ["IGNORED_KEYWORDS", "Comparison", "HduComparison", "HduRef", "compare_files"]

IGNORED_KEYWORDS = ("CHECKSUM", "DATASUM", "DATE")


@dataclass(frozen=True)
class HduRef:
    """An HDU of one file only: its number (primary 0) and EXTNAME."""

    index: int
    name: str


@dataclass(frozen=True)
class HduComparison:
    """The HDUs at one position in both files.

    ``identical`` is True when nothing compared differs (then ``header`` is empty and
    ``table``/``image`` are None). ``table`` or ``image`` describe differing data;
    ``data_note`` is a sentence when the data could not be compared (different kinds of
    HDU, data in only one of them) and empty otherwise.
    """

    index: int
    old_name: str
    new_name: str
    old_kind: str
    new_kind: str
    identical: bool
    header: HeaderChanges
    table: TableChanges | None = None
    image: ImageChanges | None = None
    data_note: str = ""


@dataclass(frozen=True)
class Comparison:
    """Two FITS files compared: the HDUs in both, and those in one only.

    ``ignored_keywords`` were not compared (see :data:`IGNORED_KEYWORDS`).
    """

    old_name: str
    new_name: str
    old_hdu_count: int
    new_hdu_count: int
    hdus: list[HduComparison]
    only_in_old: list[HduRef]
    only_in_new: list[HduRef]
    ignored_keywords: tuple[str, ...]

    @property
    def identical(self) -> bool:
        """True when the files have the same HDUs and none differs."""
        return self.old_hdu_count == self.new_hdu_count and all(hdu.identical for hdu in self.hdus)


def _not_compared(diff: HDUDiff, old: fits.hdu.base._BaseHDU, new: fits.hdu.base._BaseHDU) -> str:
    """Why the data of two HDUs cannot be compared, or "" when they can."""
    if diff.diff_extension_types:
        return "The HDUs are of different kinds; their data are not compared."
    if (old.data is None) != (new.data is None):
        side = "new" if old.data is None else "old"
        return f"Only the {side} HDU has data; the data are not compared."
    return ""


def _data_part(
    diff: HDUDiff | None, old: fits.hdu.base._BaseHDU, new: fits.hdu.base._BaseHDU
) -> dict[str, object]:
    """The ``table``/``image``/``data_note`` fields of an HDU comparison."""
    if diff is None:
        return {}
    if note := _not_compared(diff, old, new):
        return {"data_note": note}
    data = diff.diff_data
    if data is None or data.identical:
        return {}
    if isinstance(data, TableDataDiff):
        return {"table": _table_changes(data, old.data, new.data)}
    if isinstance(data, RawDataDiff):  # a subclass of ImageDataDiff: test it first
        return {"data_note": "The data differ (compared byte by byte)."}
    return {"image": _image_changes(data, old.data, new.data)}


def _compare_hdu(
    index: int, diff: HDUDiff | None, old: fits.hdu.base._BaseHDU, new: fits.hdu.base._BaseHDU
) -> HduComparison:
    header = _header_changes(diff.diff_headers if diff else None, old.header, new.header)
    data = _data_part(diff, old, new)
    return HduComparison(
        index,
        old.name,
        new.name,
        hdu_kind(index, old),
        hdu_kind(index, new),
        header.identical and not data and not (diff and diff.diff_extnames),
        header,
        **data,  # type: ignore[arg-type]
    )


def compare_files(
    old_path: str | os.PathLike[str],
    new_path: str | os.PathLike[str],
    ignored_keywords: tuple[str, ...] = IGNORED_KEYWORDS,
) -> Comparison:
    """Compare a FITS file with its previous version.

    Parameters
    ----------
    old_path, new_path : str or os.PathLike
        The previous version and the new one.
    ignored_keywords : tuple of str
        Keywords not compared; by default :data:`IGNORED_KEYWORDS`.

    Returns
    -------
    Comparison
        Per HDU pair, the header and data changes; the HDUs of one file only.

    Raises
    ------
    InspectionError
        If either file is missing, is not FITS, or is truncated or damaged.
    """
    old_file, new_file = Path(old_path), Path(new_path)
    with open_fits(old_file) as old, open_fits(new_file) as new:
        found = FITSDiff(
            old, new, ignore_keywords=[*ignored_keywords, *COMMENTARY_KEYWORDS], numdiffs=0
        )
        differing = {index: diff for index, diff, _name, _version in found.diff_hdus}
        paired = min(len(old), len(new))
        hdus = [
            _compare_hdu(index, differing.get(index), old[index], new[index])
            for index in range(paired)
        ]
        only_old = [HduRef(index, old[index].name) for index in range(paired, len(old))]
        only_new = [HduRef(index, new[index].name) for index in range(paired, len(new))]
        return Comparison(
            old_file.name,
            new_file.name,
            len(old),
            len(new),
            hdus,
            only_old,
            only_new,
            tuple(ignored_keywords),
        )
