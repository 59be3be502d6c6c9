"""FITS files, good and structurally bad, for the verifier and its comparison with fitsverify.

Each bad file is a good one with one fault: a card replaced, added or damaged, a byte
changed, the file cut or extended. ``GOOD_FILES`` and ``BAD_FILES`` map a name to bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from astropy.io import fits

from tests.helpers import MXT_GAIN, calfile_bytes

BLOCK = 2880
_INT = "{:<8}= {:>20}"  # an integer card in fixed format


def card(text: str | bytes) -> bytes:
    """One 80-byte card from its text (bytes are taken as they are, padded with blanks)."""
    raw = text if isinstance(text, bytes) else text.encode("latin-1")
    assert len(raw) <= 80, raw
    return raw.ljust(80, b" ")


def _header_start(data: bytes, hdu: int) -> int:
    """Byte offset of HDU ``hdu``'s header (data blocks of the bases never start XTENSION)."""
    starts = [0] + [o for o in range(BLOCK, len(data), BLOCK) if data[o : o + 8] == b"XTENSION"]
    return starts[hdu]


def _find(data: bytes, hdu: int, keyword: str) -> int:
    offset = _header_start(data, hdu)
    while data[offset : offset + 8] != keyword.encode().ljust(8):
        assert data[offset : offset + 8] != b"END     ", f"{keyword} not in HDU {hdu}"
        offset += 80
    return offset


def replace(data: bytes, hdu: int, keyword: str, new: str | bytes) -> bytes:
    """``data`` with the card of ``keyword`` in HDU ``hdu`` replaced by ``new``."""
    at = _find(data, hdu, keyword)
    return data[:at] + card(new) + data[at + 80 :]


def add(data: bytes, hdu: int, *new: str | bytes) -> bytes:
    """``data`` with cards added before END (the header block must have room)."""
    at = _find(data, hdu, "END")
    cards = b"".join(card(c) for c in new) + card("END")
    assert data[at : at + len(cards)].strip(b" ").startswith(b"END"), "no room before END"
    assert (at % BLOCK) + len(cards) <= BLOCK, "no room in the block"
    return data[:at] + cards + data[at + len(cards) :]


def _hdus(*hdus: fits.hdu.base.ExtensionHDU, checksum: bool = False) -> bytes:
    buffer = io.BytesIO()
    fits.HDUList(list(hdus)).writeto(buffer, checksum=checksum)
    return buffer.getvalue()


def _many_columns(*, checksum: bool) -> bytes:
    rows = 3
    columns = [
        fits.Column(name="FLAG", format="L", array=np.array([True, False, True])),
        fits.Column(name="BITS", format="12X", array=np.zeros((rows, 12), dtype=bool)),
        fits.Column(name="NAME", format="8A", array=np.array(["a", "bb", "ccc"])),
        fits.Column(name="BYTE", format="B", array=np.arange(rows, dtype=np.uint8)),
        fits.Column(name="SHORT", format="I", array=np.arange(rows), null=-1),
        fits.Column(name="LONG", format="K", array=np.arange(rows)),
        fits.Column(name="VEC", format="3E", array=np.ones((rows, 3)), unit="keV", dim="(3)"),
        fits.Column(name="DBL", format="D", array=np.ones(rows), bscale=2.0, bzero=1.0),
        fits.Column(name="CPLX", format="C", array=np.ones(rows, dtype=np.complex64)),
        fits.Column(name="DCPLX", format="M", array=np.ones(rows, dtype=np.complex128)),
        fits.Column(
            name="VAR",
            format="PJ()",
            array=np.array([np.arange(n) for n in (1, 2, 3)], dtype=object),
        ),
    ]
    table = fits.BinTableHDU.from_columns(columns, name="MANY")
    return _hdus(fits.PrimaryHDU(), table, checksum=checksum)


def _ascii_table() -> bytes:
    columns = [
        fits.Column(name="ENERGY", format="E12.4", array=np.array([1.5, 2.5])),
        fits.Column(name="CHANNEL", format="I6", array=np.array([1, 2])),
        fits.Column(name="LABEL", format="A8", array=np.array(["low", "high"])),
    ]
    return _hdus(fits.PrimaryHDU(), fits.TableHDU.from_columns(columns, name="ASCII"))


def _image(**keywords: object) -> bytes:
    primary = fits.PrimaryHDU(np.arange(100, dtype=np.float32).reshape(10, 10))
    for keyword, value in keywords.items():
        primary.header[keyword] = value
    extension = fits.ImageHDU(np.arange(6, dtype=np.int16).reshape(2, 3), name="IMG")
    return _hdus(primary, extension)


def _groups() -> bytes:
    """A random-groups primary HDU (2 groups of 2 parameters and 3 values), by hand."""
    cards = [
        "SIMPLE  =                    T",
        "BITPIX  =                  -32",
        "NAXIS   =                    2",
        "NAXIS1  =                    0",
        "NAXIS2  =                    3",
        "GROUPS  =                    T",
        "PCOUNT  =                    2",
        "GCOUNT  =                    2",
        "PTYPE1  = 'UU      '",
        "PTYPE2  = 'VV      '",
        "END",
    ]
    header = b"".join(card(c) for c in cards).ljust(BLOCK, b" ")
    return header + bytes(4 * 2 * (2 + 3)).ljust(BLOCK, b"\0")


def _long_string() -> bytes:
    header = fits.Header()
    for keyword, value in MXT_GAIN.items():
        header[keyword] = value
    header["LONGSTRN"] = "OGIP 1.0"
    header["REMARK"] = "a remark long enough to need the CONTINUE convention " * 3
    table = fits.BinTableHDU.from_columns(
        [fits.Column(name="RAWX", format="J", array=np.arange(4))], header=header
    )
    return _hdus(fits.PrimaryHDU(), table)


GAIN = calfile_bytes(MXT_GAIN)
GAIN_SUMS = _hdus(*fits.HDUList.fromstring(GAIN), checksum=True)
MANY = _many_columns(checksum=False)
ASCII = _ascii_table()
# fitsverify checks EXTEND only when another keyword sorts before it in the primary header
AUTHOR = add(GAIN, 0, "AUTHOR  = 'me'")
IMAGE = _image(BSCALE=1.0, BZERO=0.0, BUNIT="count", DATE="2024-06-22T10:00:00")

GOOD_FILES: dict[str, bytes] = {
    "gain table": GAIN,
    "gain table with CHECKSUM and DATASUM": GAIN_SUMS,
    "eleven column types, variable-length, CHECKSUM": _many_columns(checksum=True),
    "ASCII table": ASCII,
    "float image and an IMAGE extension": IMAGE,
    "random groups": _groups(),
    "long string with CONTINUE": _long_string(),
    "repeated COMMENT, HISTORY and blank cards": add(
        GAIN, 1, "COMMENT one", "COMMENT one", "HISTORY two", "HISTORY two", "", ""
    ),
    "old and new DATE forms": add(GAIN, 1, "DATE    = '22/06/24'", "DATE-OBS= '2024-06-22'"),
    "complex and real values": add(
        GAIN, 1, "CPLXVAL = (1.5, -2)", "REALVAL = -1.5E-03", "DBLVAL  = 2.0D+10", "NULLVAL ="
    ),
    "a card without the value indicator": add(GAIN, 1, "REMARK    free text, no value"),
    "primary without EXTEND": replace(GAIN, 0, "EXTEND", ""),
    "string with an embedded quote": add(GAIN, 1, "QUOTED  = 'it''s fine'"),
    "table without rows": _hdus(
        fits.PrimaryHDU(),
        fits.BinTableHDU.from_columns([fits.Column(name="X", format="J", array=np.arange(0))]),
    ),
    "HIERARCH card": add(GAIN, 1, "HIERARCH ESO DET CHIP = 'x'"),
    "integer image with BLANK": add(IMAGE, 1, _INT.format("BLANK", -1)),
    "TDIM1 matching the repeat": add(MANY, 1, "TDIM2   = '(12)'"),
}


def _mutate(base: bytes, change: Callable[[bytearray], None]) -> bytes:
    data = bytearray(base)
    change(data)
    return bytes(data)


def _flip_data_byte(data: bytearray) -> None:
    data[2 * BLOCK] ^= 0x01  # the first byte of the table's data


def _swap_pcount_gcount(base: bytes) -> bytes:
    pcount, gcount = _find(base, 1, "PCOUNT"), _find(base, 1, "GCOUNT")
    data = bytearray(base)
    data[pcount : pcount + 80], data[gcount : gcount + 80] = (
        base[gcount : gcount + 80],
        base[pcount : pcount + 80],
    )
    return bytes(data)


BAD_FILES: dict[str, bytes] = {
    "BITPIX = 7 in the primary": replace(GAIN, 0, "BITPIX", _INT.format("BITPIX", 7)),
    "BITPIX = 7 in the table": replace(GAIN, 1, "BITPIX", _INT.format("BITPIX", 7)),
    "BITPIX = 16 in a table": replace(GAIN, 1, "BITPIX", _INT.format("BITPIX", 16)),
    "NAXIS1 = -5": replace(GAIN, 1, "NAXIS1", _INT.format("NAXIS1", -5)),
    "NAXIS = 1000": replace(GAIN, 0, "NAXIS", _INT.format("NAXIS", 1000)),
    "TFIELDS = 999999 with one column": replace(GAIN, 1, "TFIELDS", _INT.format("TFIELDS", 999999)),
    "TFIELDS = 3 with one column": replace(GAIN, 1, "TFIELDS", _INT.format("TFIELDS", 3)),
    "duplicate INSTRUME": add(GAIN, 1, "INSTRUME= 'ECL     '"),
    "duplicate CCNM0001": add(GAIN, 1, "CCNM0001= 'GAIN    '"),
    "duplicate NAXIS1": add(GAIN, 1, _INT.format("NAXIS1", 4)),
    "wrong CHECKSUM": replace(GAIN_SUMS, 1, "CDES0001", "CDES0001= 'MXT per-column gain, edited'"),
    "wrong DATASUM": _mutate(GAIN_SUMS, _flip_data_byte),
    "DATASUM that is not a number": replace(GAIN_SUMS, 1, "DATASUM", "DATASUM = 'abc'"),
    "NAXIS2 renamed": replace(GAIN, 1, "NAXIS2", _INT.format("NAXIX2", 4)),
    "NAXIS1 is not the columns' width": replace(GAIN, 1, "TFORM1", "TFORM1  = 'I       '"),
    "TFORM1 of no type": replace(GAIN, 1, "TFORM1", "TFORM1  = 'Z       '"),
    "TFORM1 in lower case": replace(GAIN, 1, "TFORM1", "TFORM1  = 'j       '"),
    "TFORM2 past TFIELDS": add(GAIN, 1, "TFORM2  = 'J       '"),
    "TTYPE5 past TFIELDS": add(GAIN, 1, "TTYPE5  = 'FIFTH   '"),
    "TSCAL1 on a character column": add(MANY, 1, "TSCAL3  = 2.0"),
    "TNULL1 on a float column": add(MANY, 1, "TNULL7  = 0"),
    "THEAP with PCOUNT = 0": add(GAIN, 1, _INT.format("THEAP", 16)),
    "TBCOL1 in a binary table": add(GAIN, 1, _INT.format("TBCOL1", 1)),
    "TDIM1 larger than the repeat": add(GAIN, 1, "TDIM1   = '(3,3)'"),
    "GCOUNT = 2 in a table": replace(GAIN, 1, "GCOUNT", _INT.format("GCOUNT", 2)),
    "PCOUNT and GCOUNT swapped": _swap_pcount_gcount(GAIN),
    "unregistered XTENSION": replace(GAIN, 1, "XTENSION", "XTENSION= 'BINTABL '"),
    "NAXIS1 not in fixed format": replace(GAIN, 1, "NAXIS1", "NAXIS1  = 4"),
    "lower-case keyword name": add(GAIN, 1, "remark  = 'x'"),
    "keyword name not left-justified": add(GAIN, 1, " REMARK = 'x'"),
    "keyword name with a dot": add(GAIN, 1, "FOO.BAR = 'x'"),
    "NUL in a string": add(GAIN, 1, b"REMARK  = 'a\x00b'"),
    "tab in a string": add(GAIN, 1, b"REMARK  = 'a\tb'"),
    "DEL in a comment": add(GAIN, 1, b"REMARK  = 'ab' / c\x7fd"),
    "Latin-1 letter in a string": add(GAIN, 1, b"REMARK  = 'caf\xe9'"),
    "unterminated string": add(GAIN, 1, "REMARK  = 'abc"),
    "value and comment without a slash": add(GAIN, 1, "REMARK  = 'abc' comment"),
    "bad logical value": add(GAIN, 1, "FLAG    =                    T x"),
    "lower-case exponent": add(GAIN, 1, "REALVAL = 1.0e5"),
    "number with two points": add(GAIN, 1, "REALVAL = 1.2.3"),
    "complex without its )": add(GAIN, 1, "CPLXVAL = (1.0, 2.0"),
    "value of no type": add(GAIN, 1, "REMARK  = abc"),
    "END with text after it": replace(GAIN, 1, "END", "END     x"),
    "header fill after END not blank": _mutate(
        GAIN, lambda d: d.__setitem__(slice(BLOCK * 2 - 1, BLOCK * 2), b"x")
    ),
    "data fill not zero": _mutate(GAIN, lambda d: d.__setitem__(len(d) - 1, 0x41)),
    "ASCII table data fill not blank": _mutate(ASCII, lambda d: d.__setitem__(len(d) - 1, 0)),
    "data cut short": GAIN[:-100],
    "header without END": GAIN[: 2 * BLOCK].replace(b"END" + b" " * 77, b" " * 80),
    "bytes after the last HDU": GAIN + b"\0" * 100,
    "PCOUNT in the primary": add(GAIN, 0, _INT.format("PCOUNT", 0)),
    "XTENSION in the primary": add(GAIN, 0, "XTENSION= 'IMAGE   '"),
    "SIMPLE in an extension": add(GAIN, 1, "SIMPLE  =                    T"),
    "EXTEND = F with extensions": replace(AUTHOR, 0, "EXTEND", "EXTEND  =                    F"),
    "EXTEND that is a number": replace(AUTHOR, 0, "EXTEND", "EXTEND  =                    1"),
    "TELESCOP that is a number": add(GAIN, 0, "TELESCOP=                    5"),
    "EXTVER that is a string": add(GAIN, 1, "EXTVER  = '1'"),
    "EXTNAME without a value": add(GAIN, 1, "EXTNAME ="),
    "EQUINOX that is a string": add(GAIN, 1, "EQUINOX = '2000'"),
    "DATE-OBS that is no date": add(GAIN, 1, "DATE-OBS= 'yesterday'"),
    "DATE in month 13": add(GAIN, 1, "DATE    = '2024-13-01'"),
    "BSCALE in a table": add(GAIN, 1, "BSCALE  = 1.0"),
    "TFIELDS in the primary": add(GAIN, 0, _INT.format("TFIELDS", 0)),
    "TFORM1 in an image": add(IMAGE, 1, "TFORM1  = 'J'"),
    "BLANK with a float image": add(IMAGE, 0, _INT.format("BLANK", -1)),
    "NAXIS3 with NAXIS = 2": add(GAIN, 1, _INT.format("NAXIS3", 1)),
    "PTYPE1 in an extension": add(GAIN, 1, "PTYPE1  = 'UU'"),
    "ASCII table column past its row": replace(ASCII, 1, "TBCOL3", _INT.format("TBCOL3", 40)),
    "ASCII table without TBCOL2": replace(ASCII, 1, "TBCOL2", _INT.format("TBCOLX", 14)),
    "ASCII table TFORM of no type": replace(ASCII, 1, "TFORM2", "TFORM2  = 'Q6      '"),
    "image extension with PCOUNT = 1": replace(IMAGE, 1, "PCOUNT", _INT.format("PCOUNT", 1)),
    "TFORM1 with a leading blank": replace(GAIN, 1, "TFORM1", "TFORM1  = ' J      '"),
    "BLANK that is a string": add(IMAGE, 1, "BLANK   = 'x'"),
    "complex with three parts": add(GAIN, 1, "CPLXVAL = (1, 2, 3)"),
    "XTENSION 'IMAGE' without its blanks": replace(IMAGE, 1, "XTENSION", "XTENSION= 'IMAGE'"),
    "SIMPLE not in fixed format": replace(GAIN, 0, "SIMPLE", "SIMPLE  = T"),
    "DATE on 30 February": add(GAIN, 1, "DATE    = '2024-02-30'"),
    "DATE-END at hour 25": add(GAIN, 1, "DATE-END= '2024-06-22T25:00:00'"),
    "TNULL1 that is a string in a binary table": add(GAIN, 1, "TNULL1  = 'x'"),
    "TSCAL1 that is a string": add(GAIN, 1, "TSCAL1  = 'x'"),
    "TDIM1 in an ASCII table": add(ASCII, 1, "TDIM1   = '(12)'"),
    "THEAP in an ASCII table": add(ASCII, 1, _INT.format("THEAP", 0)),
    "TZERO3 on an ASCII character column": add(ASCII, 1, "TZERO3  = 1.0"),
}
