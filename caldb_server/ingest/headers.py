"""Reading a calibration FITS file the way ``udcif`` does (``reference/heasarc_caldb.md`` §2).

Every HDU carrying ``CCLS0001`` is one dataset (``CAL_XNO`` = HDU index, primary = 0).
Each must have TELESCOP, INSTRUME, CCNM0001, CDTP0001, CVSD0001, CVST0001 and CDES0001;
DETNAM and FILTER default to ``NONE``, CBD10001..CBD90001 default to ``NONE`` and must
parse. Legacy ``dd/mm/yy`` dates are converted, values are upper-cased, and lengths are
limited to the CIF column widths. Unlike udcif, nothing is skipped silently: every failed
check of every HDU is reported, and a file with any failure is refused as a whole.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from astropy.io import fits
from astropy.io.fits.verify import VerifyError, VerifyWarning
from astropy.utils.exceptions import AstropyUserWarning

from caldb_selection import (
    BoundaryError,
    TimeSpecError,
    normalise_validity_date,
    parse_boundary,
    parse_time_of_day,
    ref_time,
)
from caldb_server.heasarc.cif import CBD_SLOTS
from caldb_server.ingest.compression import CompressionError, plain_copy

__all__ = ["Check", "FileReading", "HduDataset", "read_calibration_file"]

CLASSES = ("BCF", "CPF")
DATA_TYPES = ("DATA", "TASK")
REQUIRED = ("TELESCOP", "INSTRUME", "CCNM0001", "CDTP0001", "CVSD0001", "CVST0001", "CDES0001")
# CIF column widths (reference §1) that header values must fit.
WIDTHS = {
    "TELESCOP": 10,
    "INSTRUME": 10,
    "DETNAM": 20,
    "FILTER": 10,
    "CCLS0001": 3,
    "CDTP0001": 4,
    "CCNM0001": 20,
    "CDES0001": 70,
    **{f"CBD{n}0001": 70 for n in range(1, CBD_SLOTS + 1)},
}
_HARMLESS = ("Unexpected extra padding",)
# What astropy raises on damaged input besides OSError and ValueError: a header card it
# cannot parse, a missing NAXISn, LZW (.Z) data without the optional uncompresspy.
_UNREADABLE = (OSError, ValueError, TypeError, IndexError, KeyError, VerifyError, ImportError)
# The codename becomes a directory name (lower case): keep it to safe characters.
_CODENAME = re.compile(r"[A-Z0-9][A-Z0-9_+.-]*")


@dataclass(frozen=True)
class Check:
    """One failed rule: where (HDU, keyword or request field) and why."""

    reason: str
    hdu: int | None = None
    keyword: str | None = None
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The problem+json ``errors`` item."""
        item: dict[str, Any] = {"reason": self.reason}
        for name in ("field", "hdu", "keyword"):
            if (value := getattr(self, name)) is not None:
                item[name] = value
        return item


@dataclass(frozen=True)
class HduDataset:
    """The CIF values of one indexed HDU, before alias expansion."""

    hdu: int
    telescop: str
    instrume: str
    detnam: str
    filter: str
    cal_clas: str
    cal_dtyp: str
    cal_cnam: str
    cal_cbd: tuple[str, ...]
    cal_vsd: str
    cal_vst: str
    ref_time: float
    cal_desc: str


@dataclass
class FileReading:
    """What reading a file gave: datasets, failed checks, and notes worth telling."""

    datasets: list[HduDataset] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _text(header: fits.Header, keyword: str, hdu: int, checks: list[Check]) -> str | None:
    """A keyword's value as stripped text, or None (with a check) if it is not text."""
    if keyword not in header:
        return None
    try:
        value = header[keyword]
    except VerifyError as error:
        checks.append(Check(f"unparsable header card: {error}", hdu, keyword))
        return None
    if not isinstance(value, str):
        checks.append(Check(f"must be a character string, got {value!r}", hdu, keyword))
        return None
    return value.strip()


def _check_presence_and_widths(
    header: fits.Header, values: dict[str, str | None], hdu: int
) -> list[Check]:
    checks = []
    for keyword in REQUIRED:
        if keyword not in header:
            checks.append(Check("required keyword is missing", hdu, keyword))
        elif values[keyword] == "":
            checks.append(Check("required keyword is empty", hdu, keyword))
    checks.extend(
        Check(f"longer than {width} characters", hdu, keyword)
        for keyword, width in WIDTHS.items()
        if values[keyword] is not None and len(values[keyword]) > width
    )
    return checks


def _check_vocabulary(upper: dict[str, str | None], hdu: int) -> list[Check]:
    checks = []
    if upper["CCLS0001"] is not None and upper["CCLS0001"] not in CLASSES:  # also ''
        checks.append(Check(f"class must be one of {', '.join(CLASSES)}", hdu, "CCLS0001"))
    if upper["CCNM0001"] and not _CODENAME.fullmatch(upper["CCNM0001"]):
        checks.append(Check("codename may only use letters, digits and _ + . -", hdu, "CCNM0001"))
    if upper["CDTP0001"] and upper["CDTP0001"] not in DATA_TYPES:
        checks.append(Check(f"type must be one of {', '.join(DATA_TYPES)}", hdu, "CDTP0001"))
    for slot in range(1, CBD_SLOTS + 1):
        keyword = f"CBD{slot}0001"
        try:
            parse_boundary(upper[keyword] or "NONE")
        except BoundaryError as error:
            checks.append(Check(f"not a calibration boundary: {error}", hdu, keyword))
    return checks


def _validity(
    values: dict[str, str | None], hdu: int, checks: list[Check], notes: list[str]
) -> tuple[str, str] | None:
    """CAL_VSD (ISO) and CAL_VST, or None with the failed checks appended."""
    vsd = vst = None
    if values["CVSD0001"]:
        try:
            vsd, legacy = normalise_validity_date(values["CVSD0001"])
        except TimeSpecError as error:
            checks.append(Check(str(error), hdu, "CVSD0001"))
        else:
            if legacy:
                notes.append(f"HDU {hdu}: legacy CVSD0001 {values['CVSD0001']!r} read as {vsd}")
    if values["CVST0001"]:
        try:
            parse_time_of_day(values["CVST0001"])
            vst = values["CVST0001"]
        except TimeSpecError as error:
            checks.append(Check(str(error), hdu, "CVST0001"))
        else:
            if len(vst) != len("hh:mm:ss"):  # CAL_VST is 8A: no fractions of a second
                checks.append(Check(f"{vst!r} is not hh:mm:ss", hdu, "CVST0001"))
                vst = None
    return (vsd, vst) if vsd and vst else None


def _read_hdu(
    header: fits.Header, hdu: int, notes: list[str]
) -> tuple[HduDataset | None, list[Check]]:
    """The dataset of one HDU carrying CCLS0001, or every check it fails."""
    checks: list[Check] = []
    values = {k: _text(header, k, hdu, checks) for k in (*WIDTHS, "CVSD0001", "CVST0001")}
    checks += _check_presence_and_widths(header, values, hdu)
    upper = {k: (v.upper() if v else v) for k, v in values.items() if k != "CDES0001"}
    checks += _check_vocabulary(upper, hdu)
    validity = _validity(values, hdu, checks, notes)
    if checks or validity is None:
        return None, checks
    vsd, vst = validity
    return HduDataset(
        hdu=hdu,
        telescop=upper["TELESCOP"],
        instrume=upper["INSTRUME"],
        detnam=upper["DETNAM"] or "NONE",
        filter=upper["FILTER"] or "NONE",
        cal_clas=upper["CCLS0001"],
        cal_dtyp=upper["CDTP0001"],
        cal_cnam=upper["CCNM0001"],
        cal_cbd=tuple(upper[f"CBD{n}0001"] or "NONE" for n in range(1, CBD_SLOTS + 1)),
        cal_vsd=vsd,
        cal_vst=vst,
        ref_time=ref_time(vsd, vst),
        cal_desc=values["CDES0001"],
    ), []


def _read_headers(path: Path, reading: FileReading, max_bytes: int | None) -> list[fits.Header]:
    """All HDU headers, turning astropy's damage reports into checks."""
    with contextlib.ExitStack() as stack:
        try:
            plain = plain_copy(path, stack, max_bytes=max_bytes)
        except CompressionError as error:
            reading.checks.append(Check(str(error), field="file"))
            return []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with fits.open(plain, memmap=False, lazy_load_hdus=False) as hdus:
                    headers = [hdu.header.copy() for hdu in hdus]
            except _UNREADABLE as error:
                reading.checks.append(Check(f"not a readable FITS file: {error}", field="file"))
                return []
    seen = set()
    for warning in caught:
        message = str(warning.message).splitlines()[0]
        if message in seen or issubclass(warning.category, ResourceWarning | DeprecationWarning):
            continue  # astropy repeats its truncation warning once per HDU
        seen.add(message)
        if issubclass(
            warning.category, VerifyWarning | AstropyUserWarning
        ) and not message.startswith(_HARMLESS):
            reading.checks.append(Check(f"damaged or truncated FITS file: {message}", field="file"))
        else:
            reading.notes.append(message)
    return headers


def read_calibration_file(path: Path, *, max_bytes: int | None = None) -> FileReading:
    """Read every indexable HDU of a FITS file (gzip, bzip2, xz or zip compressed too).

    Parameters
    ----------
    path : Path
        The received file.
    max_bytes : int, optional
        Largest decompressed size accepted for a compressed file.

    Returns
    -------
    FileReading
        One :class:`HduDataset` per HDU with ``CCLS0001``, every failed check, and notes
        (harmless astropy remarks such as extra padding at the end).

    Raises
    ------
    DecompressedTooLarge
        If a compressed file expands beyond ``max_bytes``.
    """
    reading = FileReading()
    headers = _read_headers(path, reading, max_bytes)
    if reading.checks:
        return reading
    for index, header in enumerate(headers):
        if "CCLS0001" not in header:
            continue
        dataset, checks = _read_hdu(header, index, reading.notes)
        reading.checks.extend(checks)
        if dataset is not None:
            reading.datasets.append(dataset)
    if not headers or (not reading.datasets and not reading.checks):
        reading.checks.append(Check("no HDU carries CCLS0001: nothing to index", field="file"))
    return reading
