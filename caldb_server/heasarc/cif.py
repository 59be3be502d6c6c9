"""Read and write HEASARC Calibration Index Files (CIF, ``caldb.indx``).

A CIF is an empty PRIMARY HDU followed by one binary table, ``EXTNAME = 'CIF'``, with the
18 fixed-width columns of :data:`CIF_COLUMNS` (947 bytes per row), as written by HEASoft
``crtcif``/``udcif`` and found in the real HEASARC CIFs.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import BinaryIO, NoReturn

import numpy as np
from astropy.io import fits

from caldb_server.heasarc.fitsio import own_stream, write_hdulist

__all__ = [
    "CBD_SLOTS",
    "CBD_WIDTH",
    "CIF_COLUMNS",
    "CifFormatError",
    "CifIndex",
    "CifProblem",
    "CifRow",
    "read_cif",
    "write_cif",
]

#: (TTYPE, TFORM) of every CIF column, in HEASARC order.
CIF_COLUMNS: tuple[tuple[str, str], ...] = (
    ("TELESCOP", "10A"),
    ("INSTRUME", "10A"),
    ("DETNAM", "20A"),
    ("FILTER", "10A"),
    ("CAL_DEV", "20A"),
    ("CAL_DIR", "70A"),
    ("CAL_FILE", "40A"),
    ("CAL_CLAS", "3A"),
    ("CAL_DTYP", "4A"),
    ("CAL_CNAM", "20A"),
    ("CAL_CBD", "630A70"),
    ("CAL_XNO", "I"),
    ("CAL_VSD", "10A"),
    ("CAL_VST", "8A"),
    ("REF_TIME", "D"),
    ("CAL_QUAL", "I"),
    ("CAL_DATE", "10A"),
    ("CAL_DESC", "70A"),
)
CBD_SLOTS = 9
CBD_WIDTH = 70

_CIFVERSN = " 1.1"  # crtcif writes the leading blank; HEASARC CIFs keep it
_CALDBVER = re.compile(r"[0-9]{8}")
_TFORM_STRING = re.compile(r"([0-9]*)A([0-9]*)")
_Destination = str | os.PathLike[str] | BinaryIO


@dataclass(frozen=True, slots=True)
class CifProblem:
    """A value of one row that cannot be read; ``row`` counts from 1, as fv shows it."""

    row: int
    column: str
    reason: str


class CifFormatError(ValueError):
    """The file is not a readable CIF; ``problems`` lists each unreadable value, if any."""

    def __init__(self, message: str, problems: Sequence[CifProblem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class CifRow:
    """One CIF row, i.e. one indexed calibration dataset (HDU).

    Fields are the CIF columns in lower case. ``cal_cbd`` holds exactly 9 boundary strings,
    unused ones being ``'NONE'``; ``cal_xno`` is the HDU number (PRIMARY = 0).
    """

    telescop: str
    instrume: str
    detnam: str
    filter: str
    cal_dev: str
    cal_dir: str
    cal_file: str
    cal_clas: str
    cal_dtyp: str
    cal_cnam: str
    cal_cbd: tuple[str, ...]
    cal_xno: int
    cal_vsd: str
    cal_vst: str
    ref_time: float
    cal_qual: int
    cal_date: str
    cal_desc: str

    def __post_init__(self) -> None:
        if isinstance(self.cal_cbd, str):
            raise TypeError("cal_cbd must be a sequence of 9 strings, not a string")
        if not isinstance(self.cal_cbd, tuple):
            # Keep the row hashable when a list is passed in.
            object.__setattr__(self, "cal_cbd", tuple(self.cal_cbd))
        if len(self.cal_cbd) != CBD_SLOTS:
            raise ValueError(f"cal_cbd must hold {CBD_SLOTS} strings, got {len(self.cal_cbd)}")


@dataclass(frozen=True)
class CifIndex:
    """The content of a CIF: its rows in file order and its version keywords.

    ``cifversn`` and ``caldbver`` are the header values without surrounding blanks
    (e.g. ``'1.1'``, ``'20160609'``), or None when the keyword is absent. ``problems``
    lists the values that could not be read (only with ``read_cif(keep_going=True)``).
    """

    rows: list[CifRow]
    cifversn: str | None
    caldbver: str | None
    problems: tuple[CifProblem, ...] = ()


_FIELDS = tuple(name.lower() for name, _ in CIF_COLUMNS)
_BLOCK = 2880
# One packed record per row (947 bytes), big-endian as FITS stores it.
_ROW_DTYPE = np.dtype(
    [
        (name, {"I": ">i2", "D": ">f8"}.get(tform) or f"S{int(tform.split('A')[0])}")
        for name, tform in CIF_COLUMNS
    ]
)


def write_cif(rows: Iterable[CifRow], destination: _Destination, *, caldbver: str) -> None:
    """Write a HEASARC CIF.

    Parameters
    ----------
    rows
        The rows, written in this order.
    destination
        A path (written atomically: temporary file, fsync, rename) or a binary stream.
    caldbver
        The ``CALDBVER`` keyword, ``YYYYMMDD``.

    Raises
    ------
    ValueError
        If ``caldbver`` is not 8 digits, or a value does not fit its column (too long, not
        printable ASCII, integer out of the int16 range); the message names the column.
    TypeError
        If a value has the wrong type (e.g. None for a string).
    """
    if not isinstance(caldbver, str) or not _CALDBVER.fullmatch(caldbver):
        raise ValueError(f"caldbver must be 8 digits (YYYYMMDD), got {caldbver!r}")
    rows = list(rows)
    record = np.empty(len(rows), dtype=_ROW_DTYPE)
    for (name, tform), field in zip(CIF_COLUMNS, _FIELDS, strict=True):
        column = _column_array(name, tform, rows, field)
        if column.dtype.kind == "S":
            # HEASARC CIFs pad text with blanks, never NULs: match them byte for byte.
            column.view(np.uint8)[column.view(np.uint8) == 0] = ord(" ")
        record[name] = column
    # astropy would re-pad text with NULs and shorten TFORM 630A70 to 630A if it built the
    # table; handing it the finished bytes makes it write them as they are, with checksums.
    raw = (
        fits.PrimaryHDU().header.tostring().encode("ascii")
        + _table_header(len(rows), caldbver).tostring().encode("ascii")
        + record.tobytes()
    )
    raw += bytes(-len(raw) % _BLOCK)
    with fits.open(io.BytesIO(raw)) as hdulist:  # astropy leaves bytes it did not build alone
        write_hdulist(
            hdulist,
            destination,
            checksum_time=f"{caldbver[:4]}-{caldbver[4:6]}-{caldbver[6:]}T00:00:00",
        )


def _table_header(row_count: int, caldbver: str) -> fits.Header:
    """The CIF extension header, card for card as HEASoft's ``crtcif`` writes it."""
    cards = [
        ("XTENSION", "BINTABLE", "binary table extension"),
        ("BITPIX", 8, "8-bit bytes"),
        ("NAXIS", 2, "2-dimensional binary table"),
        ("NAXIS1", _ROW_DTYPE.itemsize, "width of table in bytes"),
        ("NAXIS2", row_count, "number of rows in table"),
        ("PCOUNT", 0, "size of special data area"),
        ("GCOUNT", 1, "one data group (required keyword)"),
        ("TFIELDS", len(CIF_COLUMNS), "number of fields in each row"),
    ]
    for number, (name, tform) in enumerate(CIF_COLUMNS, start=1):
        cards.append((f"TTYPE{number}", name, f"label for field {number:3d}"))
        cards.append((f"TFORM{number}", tform, "data format of field"))
    cards += [
        ("EXTNAME", "CIF", "name of this binary table extension"),
        ("CIFVERSN", _CIFVERSN, "Version of CIF format"),
        ("CALDBVER", caldbver, "CALDB version"),
    ]
    return fits.Header(cards)


def read_cif(source: _Destination, *, keep_going: bool = False) -> CifIndex:
    """Read a CIF (also gzip-compressed, legacy ``8A`` dates, columns in any order).

    Values are read as HEASoft's CFITSIO calls read them: text without trailing blanks,
    integers from any numeric column (truncated), ``CAL_CBD`` as ``rAw`` or with a ``TDIM``.

    Parameters
    ----------
    source
        A path or a binary stream.
    keep_going : bool
        Replace values that cannot be read (not ASCII, NaN for an integer) by a stand-in
        and list them in ``CifIndex.problems``, so that every problem can be reported.

    Raises
    ------
    CifFormatError
        If ``source`` is not FITS, has no CIF table, lacks a CIF column, or (without
        ``keep_going``) holds values that cannot be read; then ``problems`` lists them all.
    """
    try:
        hdulist = fits.open(own_stream(source), character_as_bytes=True)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except OSError as exc:  # astropy's "Empty or corrupt FITS file" and friends
        raise CifFormatError(f"{_describe(source)} is not a FITS file: {exc}") from exc
    problems: list[CifProblem] = []
    with hdulist:
        table = _cif_table(hdulist, source)
        values = [_read_column(table, name, tform, problems) for name, tform in CIF_COLUMNS]
        rows = [CifRow(*row) for row in zip(*values, strict=True)]
        header = table.header
    problems.sort(key=attrgetter("row"))
    if problems and not keep_going:
        raise CifFormatError(
            f"{_describe(source)} has {len(problems)} unreadable value(s), the first in row "
            f"{problems[0].row}: {problems[0].reason}",
            problems,
        )
    cifversn, caldbver = _header_text(header, "CIFVERSN"), _header_text(header, "CALDBVER")
    return CifIndex(rows, cifversn, caldbver, tuple(problems))


def _column_array(name: str, tform: str, rows: Sequence[CifRow], field: str) -> np.ndarray:
    """Build the on-disk array of one column from the rows, checking every value."""
    values = list(map(attrgetter(field), rows))
    if name == "CAL_CBD":
        slots = list(chain.from_iterable(values))
        _check_types(name, slots, (str,))
        # An empty boundary means "no boundary", spelled NONE in a CIF.
        slots = [slot if slot.strip(" ") else "NONE" for slot in slots]
        encoded = _ascii_array(name, slots, CBD_WIDTH, slots=CBD_SLOTS)
        # Glue the 9 slots of a row into the one 630-byte field of the 630A70 column.
        return encoded.view(f"S{CBD_WIDTH * CBD_SLOTS}")
    if tform == "I":
        _check_types(name, values, (int, np.integer))
        outside = next((i for i, v in enumerate(values) if not -32768 <= v <= 32767), None)
        if outside is not None:
            _reject(name, values, outside, 1, "does not fit a 16-bit integer")
        return np.array(values, dtype=">i2")
    if tform == "D":
        _check_types(name, values, (float, int, np.floating, np.integer))
        try:
            return np.array(values, dtype=">f8")
        except OverflowError as exc:
            raise ValueError(f"{name}: value too large for a double: {exc}") from None
    _check_types(name, values, (str,))
    return _ascii_array(name, values, int(tform[:-1]))


def _check_types(column: str, values: list[object], allowed: tuple[type, ...]) -> None:
    """Reject values of another type (numpy would silently convert them)."""
    if set(map(type, values)) <= set(allowed):  # fast path, runs at C speed
        return
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise TypeError(f"{column}: row {index} holds {type(value).__name__} {value!r}")


def _ascii_array(column: str, values: list[str], width: int, *, slots: int = 1) -> np.ndarray:
    """Encode strings as a NUL-padded ``S<width>`` array, refusing what would not round-trip.

    With ``slots > 1`` the values are the flattened slots of a multi-string column.
    """
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    if (lengths > width).any():
        index = int(np.argmax(lengths > width))
        _reject(column, values, index, slots, f"is longer than the column ({width})")
    try:
        encoded = np.array(values, dtype=f"S{width}")
    except UnicodeEncodeError:
        index = next(i for i, value in enumerate(values) if not value.isascii())
        _reject(column, values, index, slots, "is not ASCII")
    codes = encoded.view(np.uint8).reshape(len(values), width)
    # Control characters, and NULs inside a value (every FITS reader would cut it there).
    bad = ((codes < 0x20) & (codes != 0) | (codes == 0x7F)).any(axis=1)
    bad |= np.count_nonzero(codes, axis=1) != lengths
    if bad.any():
        _reject(column, values, int(np.argmax(bad)), slots, "holds a non-printable character")
    return encoded


def _reject(column: str, values: list, index: int, slots: int, problem: str) -> NoReturn:
    row, slot = divmod(index, slots)
    where = f"row {row}" if slots == 1 else f"row {row}, slot {slot + 1}"
    raise ValueError(f"{column}: value {values[index]!r} ({where}) {problem}")


def _cif_table(hdulist: fits.HDUList, source: object) -> fits.BinTableHDU:
    """Find the CIF table: EXTNAME 'CIF', else the first extension, as HEASoft does."""
    try:
        table = hdulist["CIF"]
    except KeyError:
        table = hdulist[1] if len(hdulist) > 1 else None
    if not isinstance(table, fits.BinTableHDU):
        raise CifFormatError(f"{_describe(source)} has no CIF binary table")
    missing = [name for name, _ in CIF_COLUMNS if name not in table.columns.names]
    if missing:
        raise CifFormatError(
            f"{_describe(source)} is not a CIF: missing column(s) {', '.join(missing)}"
        )
    return table


def _read_column(
    table: fits.BinTableHDU, name: str, tform: str, problems: list[CifProblem]
) -> list:
    """Return one column as Python values (strings without trailing blanks)."""
    raw = np.asarray(table.data.field(name))
    numeric = tform in ("I", "D")
    if raw.dtype.kind not in ("iuf" if numeric else "S"):
        raise CifFormatError(f"column {name} has the unexpected type {raw.dtype}")
    if tform == "D":
        return raw.astype(float).tolist()
    if tform == "I":
        return _read_integers(raw, name, problems)
    if name == "CAL_CBD":
        return _read_cbd(raw, table.columns[name].format, problems)
    return _decode(np.strings.rstrip(raw, b" "), name, problems).tolist()


def _read_integers(raw: np.ndarray, name: str, problems: list[CifProblem]) -> list[int]:
    """Integers as CFITSIO's ``ftgcvj`` reads any numeric column: floats truncated."""
    if raw.dtype.kind != "f":
        return raw.tolist()
    readable = np.isfinite(raw) & (np.abs(raw) < 2.0**31)
    for row in np.flatnonzero(~readable):
        problems.append(
            CifProblem(int(row) + 1, name, f"{name} {float(raw[row])!r} is not an integer")
        )
    return np.trunc(np.where(readable, raw, 0)).astype(int).tolist()


def _read_cbd(raw: np.ndarray, tform: str, problems: list[CifProblem]) -> list[tuple[str, ...]]:
    """Split the CAL_CBD field of each row into 9 boundary strings, unused ones 'NONE'."""
    if raw.ndim == 2:  # TFORM 630A with TDIM (70,9): astropy already made the slots
        slots, count = raw, raw.shape[1]
    else:
        match = _TFORM_STRING.fullmatch(str(tform).strip())
        repeat = int(match[1] or 1) if match else 0
        width = int(match[2] or CBD_WIDTH) if match else 0  # CFITSIO: repeat/width slots
        count = repeat // width if width else 0
        if not count or repeat % width or repeat != raw.dtype.itemsize:
            raise CifFormatError(f"CAL_CBD has TFORM {tform!r}, expected 9 slots like 630A70")
        # The field sits NUL-padded in memory whatever astropy strips, so it slices exactly.
        slots = np.ascontiguousarray(raw).view(f"S{width}").reshape(-1, count)
    # HEASoft reads 9 slots (ftgcvs, elements 1 to 9): more are never looked at.
    slots, count = slots[:, :CBD_SLOTS], min(count, CBD_SLOTS)
    slots = np.strings.rstrip(slots, b" ")
    slots = np.where(slots == b"", b"NONE", slots)
    padding = ("NONE",) * (CBD_SLOTS - count)
    return [(*row, *padding) for row in _decode(slots, "CAL_CBD", problems).tolist()]


def _decode(raw: np.ndarray, name: str, problems: list[CifProblem]) -> np.ndarray:
    """Decode as ASCII; a value that is not ASCII is escaped and reported with its row."""
    try:
        return raw.astype(f"U{raw.dtype.itemsize}")  # numpy decodes strictly as ASCII
    except UnicodeDecodeError:
        pass
    decoded = np.empty(raw.shape, dtype=object)
    for index, value in np.ndenumerate(raw):
        try:
            decoded[index] = value.decode("ascii")
        except UnicodeDecodeError:
            decoded[index] = value.decode("ascii", errors="backslashreplace")
            reason = f"{name} {bytes(value)!r} holds bytes that are not ASCII"
            problems.append(CifProblem(index[0] + 1, name, reason))
    return decoded


def _header_text(header: fits.Header, keyword: str) -> str | None:
    value = header.get(keyword)
    return None if value is None else str(value).strip()


def _describe(source: object) -> str:
    return repr(os.fspath(source)) if isinstance(source, str | os.PathLike) else "the stream"
