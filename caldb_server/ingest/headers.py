"""Reading a calibration FITS file the way ``udcif`` does (``reference/heasarc_caldb.md`` §2).

Every HDU carrying ``CCLS0001`` is one dataset (``CAL_XNO`` = HDU index, primary = 0).
Each must have TELESCOP, INSTRUME, CCNM0001, CDTP0001, CVSD0001, CVST0001 and CDES0001;
DETNAM and FILTER default to ``NONE``, CBD10001..CBD90001 default to ``NONE`` and must
parse. Legacy ``dd/mm/yy`` dates are converted, values are upper-cased, and lengths are
limited to the CIF column widths. Unlike udcif, nothing is skipped silently: every failed
check of every HDU is reported, and a file with any failure is refused as a whole.

Before these rules, the file is decompressed at most once (:mod:`.compression`) and
verified structurally (:mod:`.structure`); a file with structural problems is refused
with those. Header values come from that walk, never from astropy, which would
decompress a compressed file silently and without limit.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from caldb_selection import (
    BoundaryError,
    TimeSpecError,
    normalise_validity_date,
    parse_boundary,
    parse_time_of_day,
    ref_time,
)
from caldb_server.heasarc.cif import CBD_SLOTS
from caldb_server.ingest.cards import Value
from caldb_server.ingest.checks import Check, quoted
from caldb_server.ingest.compression import CompressionError, NotFits, plain_copy
from caldb_server.ingest.structure import MAX_VALUE_CHARS, verify_structure

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
# The keywords udcif reads: the structural walk keeps only their values.
INDEXED_KEYWORDS = frozenset((*REQUIRED, *WIDTHS))
# The codename becomes a directory name (lower case): keep it to safe characters.
_CODENAME = re.compile(r"[A-Z0-9][A-Z0-9_+.-]*")
Header = Mapping[str, Value]


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


def _text(
    header: Header, keyword: str, hdu: int, checks: list[Check], *, too_long: bool = False
) -> str | None:
    """A keyword's value as stripped text, or None (with a check) if it is not text.

    ``too_long``: the value is a long string the structural walk did not join whole.
    """
    if keyword not in header:
        return None
    if too_long:
        checks.append(Check(f"value longer than {MAX_VALUE_CHARS} characters", hdu, keyword))
        return None
    value = header[keyword]
    if not isinstance(value, str):
        shown = "no value" if value is None else repr(value)
        checks.append(Check(f"must be a character string in quotes, got {shown}", hdu, keyword))
        return None
    return value.strip()


def _check_presence_and_widths(
    header: Header, values: dict[str, str | None], hdu: int
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
        if (value := values[keyword]) is not None and len(value) > width
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
        if len(upper[keyword] or "") > WIDTHS[keyword]:
            continue  # refused as too long already; its parse errors would quote it whole
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
            checks.append(Check(_shortened(error, values["CVSD0001"]), hdu, "CVSD0001"))
        else:
            if legacy:
                notes.append(f"HDU {hdu}: legacy CVSD0001 {values['CVSD0001']!r} read as {vsd}")
    if values["CVST0001"]:
        try:
            parse_time_of_day(values["CVST0001"])
            vst = values["CVST0001"]
        except TimeSpecError as error:
            checks.append(Check(_shortened(error, values["CVST0001"]), hdu, "CVST0001"))
        else:
            if len(vst) != len("hh:mm:ss"):  # CAL_VST is 8A: no fractions of a second
                checks.append(Check(f"{quoted(vst)} is not hh:mm:ss", hdu, "CVST0001"))
                vst = None
    return (vsd, vst) if vsd and vst else None


def _shortened(error: Exception, text: str) -> str:
    """The message of ``error``, the value ``text`` it quotes shortened (:func:`quoted`)."""
    return str(error).replace(repr(text), quoted(text))


def _read_hdu(
    header: Header, hdu: int, notes: list[str], too_long: frozenset[str] = frozenset()
) -> tuple[HduDataset | None, list[Check]]:
    """The dataset of one HDU carrying CCLS0001, or every check it fails.

    ``too_long`` names the keywords whose value is longer than the walk joined.
    """
    checks: list[Check] = []
    values = {
        k: _text(header, k, hdu, checks, too_long=k in too_long)
        for k in (*WIDTHS, "CVSD0001", "CVST0001")
    }
    checks += _check_presence_and_widths(header, values, hdu)
    upper = {k: (v.upper() if v else v) for k, v in values.items() if k != "CDES0001"}
    checks += _check_vocabulary(upper, hdu)
    validity = _validity(values, hdu, checks, notes)
    if checks or validity is None:
        return None, checks
    vsd, vst = validity
    return HduDataset(
        hdu=hdu,
        telescop=_checked(upper, "TELESCOP"),
        instrume=_checked(upper, "INSTRUME"),
        detnam=upper["DETNAM"] or "NONE",
        filter=upper["FILTER"] or "NONE",
        cal_clas=_checked(upper, "CCLS0001"),
        cal_dtyp=_checked(upper, "CDTP0001"),
        cal_cnam=_checked(upper, "CCNM0001"),
        cal_cbd=tuple(upper[f"CBD{n}0001"] or "NONE" for n in range(1, CBD_SLOTS + 1)),
        cal_vsd=vsd,
        cal_vst=vst,
        ref_time=ref_time(vsd, vst),
        cal_desc=_checked(values, "CDES0001"),
    ), []


def _checked(values: dict[str, str | None], keyword: str) -> str:
    """A value the checks guarantee: a missing or non-text one is a check (no dataset)."""
    value = values[keyword]
    assert value is not None, f"{keyword} passed the checks without a value"
    return value


def read_calibration_file(
    path: Path, *, max_bytes: int | None = None, max_hdus: int | None = None
) -> FileReading:
    """Read every indexable HDU of a FITS file (gzip, bzip2, xz or zip compressed once).

    The file is first decompressed (at most once) and verified structurally
    (:func:`~caldb_server.ingest.structure.verify_structure`): a file with structural
    problems is refused with all of them, before any udcif rule is applied.

    Parameters
    ----------
    path : Path
        The received file.
    max_bytes : int, optional
        Largest decompressed size accepted for a compressed file.
    max_hdus : int, optional
        Most HDUs accepted (``CALDB_MAX_HDUS``); no limit by default.

    Returns
    -------
    FileReading
        One :class:`HduDataset` per HDU with ``CCLS0001``, every failed check, and notes
        (special records after the last HDU, legacy dates).

    Raises
    ------
    DecompressedTooLarge
        If a compressed file expands beyond ``max_bytes``.
    StructureLimit
        If the file has more than ``max_hdus`` HDUs (or an absurdly long header).
    """
    reading = FileReading()
    with contextlib.ExitStack() as stack:
        try:
            plain = plain_copy(path, stack, max_bytes=max_bytes)
        except (CompressionError, NotFits) as error:
            reading.checks.append(Check(str(error), field="file"))
            return reading
        with plain.open("rb") as stream:
            structure = verify_structure(stream, max_hdus=max_hdus, keep=INDEXED_KEYWORDS)
    reading.notes += structure.notes
    if structure.problems:
        reading.checks += structure.problems
        return reading
    for hdu in structure.hdus:
        if "CCLS0001" not in hdu.values:
            continue
        dataset, checks = _read_hdu(hdu.values, hdu.index, reading.notes, hdu.too_long)
        reading.checks.extend(checks)
        if dataset is not None:
            reading.datasets.append(dataset)
    if not reading.datasets and not reading.checks:
        reading.checks.append(Check("no HDU carries CCLS0001: nothing to index", field="file"))
    return reading
