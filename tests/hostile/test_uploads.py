"""Hostile calibration uploads (``POST /api/v1/files``), on both backends.

Each case changes one thing in a file the server accepts (or in the request carrying
it): compression tricks, structural FITS errors that fitsverify reports, forbidden
keyword values, hostile file names and malformed multipart bodies. Each gets a 4xx
problem+json, and nothing is indexed, stored, or left in ``.incoming``.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import zipfile
import zlib
from collections.abc import Callable

import pytest

from tests.helpers import MXT_GAIN, bearer, calfile_bytes
from tests.hostile.checks import assert_refused, snapshot
from tests.server.uploads import BOUNDARY, GOOD, gain, multipart

CARD = 80
BLOCK = 2880
LIMIT_MB = 1  # the tests' CALDB_MAX_UPLOAD_MB: bombs need only a few MiB to exceed it
BOMB = b"\0" * (3 * 1024 * 1024)


def card(keyword: str, value: str) -> bytes:
    """One header card, ``KEYWORD = value``, padded to 80 bytes."""
    return f"{keyword:<8}= {value:>20}".ljust(CARD).encode("latin-1")


def replace_card(data: bytes, hdu_start: int, keyword: str, new: bytes) -> bytes:
    """``data`` with the card ``keyword`` of the header starting at ``hdu_start`` replaced."""
    offset = hdu_start
    while data[offset : offset + 8] != f"{keyword:<8}".encode():
        offset += CARD
        assert data[offset : offset + 3] != b"END", keyword
    return data[:offset] + new.ljust(CARD) + data[offset + CARD :]


def table(keyword: str, value: str) -> bytes:
    """The good file with a card of its table header (HDU 1) changed."""
    return replace_card(GOOD, BLOCK, keyword, card(keyword, value))


def primary(keyword: str, value: str) -> bytes:
    return replace_card(GOOD, 0, keyword, card(keyword, value))


def duplicated(keyword: str) -> bytes:
    """The good file with the table's ``keyword`` card written twice (over a blank card)."""
    start = GOOD.index(f"{keyword:<8}".encode(), BLOCK)
    copy = GOOD[start : start + CARD]
    end = GOOD.index(b"END     ", BLOCK)
    return GOOD[:end] + copy + b"END".ljust(CARD) + GOOD[end + 2 * CARD :]


def with_checksum(checksum: str | None, datasum: str | None) -> bytes:
    """The good file's table header with forged CHECKSUM/DATASUM cards."""
    end = GOOD.index(b"END     ", BLOCK)
    cards = b""
    if checksum is not None:
        cards += f"CHECKSUM= '{checksum}'".ljust(CARD).encode()
    if datasum is not None:
        cards += f"DATASUM = '{datasum}'".ljust(CARD).encode()
    return GOOD[:end] + cards + b"END".ljust(CARD) + GOOD[end + CARD + len(cards) :]


def gzipped(data: bytes, times: int = 1) -> bytes:
    for _ in range(times):
        data = gzip.compress(data, mtime=0)
    return data


def bad_crc(data: bytes) -> bytes:
    packed = bytearray(gzipped(data))
    packed[-8] ^= 0xFF  # the CRC32 of the trailer
    return bytes(packed)


def zipped(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


def many_hdus(count: int) -> bytes:
    return calfile_bytes(*[gain(CCNM0001=f"G{i}") for i in range(count)])


def spliced(data: bytes, hdu_start: int, keyword: str, cards: list[bytes]) -> bytes:
    """``data`` with the card ``keyword`` of the header at ``hdu_start`` replaced by
    ``cards``, the header grown to whole blocks."""
    at = hdu_start
    while data[at : at + 8] != f"{keyword:<8}".encode():
        at += CARD
    end = at
    while data[end : end + 8] != b"END     ":
        end += CARD
    header = data[hdu_start:at] + b"".join(c.ljust(CARD) for c in cards)
    header += data[at + CARD : end + CARD]
    header = header.ljust(-(-len(header) // BLOCK) * BLOCK)
    return data[:hdu_start] + header + data[-(-(end + CARD) // BLOCK) * BLOCK :]


def broken_cards(count: int) -> bytes:
    """The good file with ``count`` cards holding a 0x01 byte in each of its two headers."""
    cards = [b"HISTORY \x01"] * count + [b"END"]
    return spliced(spliced(GOOD, BLOCK, "END", cards), 0, "END", cards)


def continued(keyword: str, count: int) -> bytes:
    """The good file with the table's ``keyword`` a long string over ``count`` CONTINUE cards."""
    base = calfile_bytes(gain(CBD10001="CCDID(1)"))
    cards = [f"{keyword:<8}= 'x&'".encode()] + [b"CONTINUE  '" + b"x" * 60 + b"&'"] * count
    return spliced(base, BLOCK, keyword, [*cards, b"CONTINUE  'end'"])


def zip_patched(data: bytes, *, flags: int = 0, method: int | None = None) -> bytes:
    """A one-member zip with flag bits set or its method changed, in both of its headers."""
    patched = bytearray(data)
    for at in (data.index(b"PK\x03\x04") + 6, data.index(b"PK\x01\x02") + 8):
        patched[at] |= flags
        if method is not None:
            struct.pack_into("<H", patched, at + 2, method)
    return bytes(patched)


def zip_lzma_dictionary(size: int) -> bytes:
    """A zip LZMA member of the good file whose properties ask a ``size``-byte dictionary."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_LZMA) as archive:
        archive.writestr("a.fits", GOOD)
    data = bytearray(buffer.getvalue())
    name, extra = struct.unpack_from("<HH", data, 26)
    struct.pack_into("<I", data, 30 + name + extra + 5, size)
    return bytes(data)


def xz_dictionary(code: int) -> bytes:
    """xz of the good file, its LZMA2 dictionary-size byte set to ``code`` (40: 4 GiB)."""
    data = lzma.compress(GOOD)
    header = bytearray(data[12 : 12 + (data[12] + 1) * 4])
    header[4] = code
    header[-4:] = struct.pack("<I", zlib.crc32(header[:-4]))
    return data[:12] + bytes(header) + data[12 + len(header) :]


# Content cases: (file bytes, expected status).
CONTENT: dict[str, tuple[bytes, int]] = {
    "empty": (b"", 422),
    "one byte": (b"S", 422),
    "text": (b"hello, world\n", 422),
    "HTML": (b"<!DOCTYPE html><html><script>alert(1)</script></html>", 422),
    "JSON": (b'{"SIMPLE": true}', 422),
    "PNG": (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, 422),
    "gzip of gzip": (gzipped(GOOD, 2), 422),
    "gzip three deep": (gzipped(GOOD, 3), 422),
    "bzip2 of gzip": (bz2.compress(gzipped(GOOD)), 422),
    "gzip of bzip2": (gzipped(bz2.compress(GOOD)), 422),
    "gzip of zip": (gzipped(zipped(("a.fits", GOOD))), 422),
    "gzip bomb": (gzipped(BOMB), 413),
    "bzip2 bomb": (bz2.compress(BOMB), 413),
    "xz bomb": (lzma.compress(BOMB), 413),
    "zip bomb": (zipped(("a.fits", BOMB)), 413),
    "nested gzip bomb": (gzipped(BOMB, 2), 422),
    "truncated gzip": (gzipped(GOOD)[:-20], 422),
    "gzip without trailer": (gzipped(GOOD)[:-8], 422),
    "gzip bad CRC": (bad_crc(GOOD), 422),
    "gzip of text": (gzipped(b"not FITS at all\n" * 100), 422),
    "truncated bzip2": (bz2.compress(GOOD)[:-10], 422),
    "zip of two files": (zipped(("a.fits", GOOD), ("b.fits", GOOD)), 422),
    "empty zip": (zipped(), 422),
    "cut in the header": (GOOD[:1000], 422),
    "cut at a block": (GOOD[:BLOCK], 422),
    "cut in the data": (GOOD[:-100], 422),
    "no END card": (GOOD.replace(b"END" + b" " * 77, b" " * 80), 422),
    "SIMPLE = F": (primary("SIMPLE", "F"), 422),
    "BITPIX = 7": (primary("BITPIX", "7"), 422),
    "NAXIS = 1000": (primary("NAXIS", "1000"), 422),
    "NAXIS1 = -5": (table("NAXIS1", "-5"), 422),
    "NAXIS2 huge": (table("NAXIS2", "999999999"), 422),
    "TFIELDS = 999999": (table("TFIELDS", "999999"), 422),
    "TFIELDS = 0": (table("TFIELDS", "0"), 422),
    "PCOUNT = -1": (table("PCOUNT", "-1"), 422),
    "GCOUNT = 2": (table("GCOUNT", "2"), 422),
    "XTENSION unknown": (table("XTENSION", "'FOOBAR  '"), 422),
    "TFORM1 unknown": (table("TFORM1", "'Q'"), 422),
    "duplicate INSTRUME": (duplicated("INSTRUME"), 422),
    "duplicate CCNM0001": (duplicated("CCNM0001"), 422),
    "wrong CHECKSUM": (with_checksum("0000000000000000", None), 422),
    "wrong DATASUM": (with_checksum(None, "12345"), 422),
    "wrong both sums": (with_checksum("ZZZZZZZZZZZZZZZZ", "1"), 422),
    "non-ASCII header byte": (table("CDES0001", "'gain \xe9'"), 422),
    "NUL in a header value": (table("CCNM0001", "'GA\x00IN'"), 422),
    "escape in a header value": (table("CDES0001", "'\x1b[2J'"), 422),
    "no calibration class": (calfile_bytes(gain(CCLS0001=None)), 422),
    "validity month 13": (calfile_bytes(gain(CVSD0001="2025-13-45")), 422),
    "codename traversal": (calfile_bytes(gain(CCNM0001="../../x")), 422),
    "unknown instrument": (calfile_bytes(gain(INSTRUME="XRT2")), 422),
    "boundary NUL": (
        replace_card(
            calfile_bytes(gain(CBD10001="CCDID(1)")),
            BLOCK,
            "CBD10001",
            card("CBD10001", "'CCDID(1)\x00'"),
        ),
        422,
    ),
    "1001 HDUs": (many_hdus(1001), 413),
    "headers full of broken cards": (broken_cards(5000), 422),
    "a keyword 10 000 times": (
        spliced(GOOD, BLOCK, "END", [b"OBSERVER= 'me'"] * 10_000 + [b"END"]),
        422,
    ),
    "CDES0001 over 10 000 CONTINUE cards": (continued("CDES0001", 10_000), 422),
    "CBD10001 over 10 000 CONTINUE cards": (continued("CBD10001", 10_000), 422),
    "encrypted zip": (zip_patched(zipped(("a.fits", GOOD)), flags=0x01), 422),
    "zip method 99": (zip_patched(zipped(("a.fits", GOOD)), method=99), 422),
    "zip LZMA 4 GiB dictionary": (zip_lzma_dictionary(0xFFFFFFFF), 422),
    "xz 4 GiB dictionary": (xz_dictionary(40), 422),
}

# Request cases: (multipart parts, expected status); the content is the good file.
REQUEST: dict[str, tuple[list[tuple[str, str | None, bytes]], int]] = {
    "name traversal": ([("file", "../../etc/passwd.fits", GOOD)], 422),
    "name absolute": ([("file", "/etc/mxt_gain.fits", GOOD)], 422),
    "name NUL": ([("file", "gain\x00.fits", GOOD)], 422),
    "name newline": ([("file", "gain\n.fits", GOOD)], 422),
    "name backslash": ([("file", "..\\gain.fits", GOOD)], 422),
    "name long": ([("file", "g" * 300 + ".fits", GOOD)], 422),
    "name empty": ([("file", "", GOOD)], 422),
    "name dot": ([("file", ".", GOOD)], 422),
    "no file part": ([("supersede", None, b"true")], 400),
    "two file parts": ([("file", "a.fits", GOOD), ("file", "b.fits", GOOD)], 400),
    "file part without a name": ([("file", None, GOOD)], 422),
    "supersede maybe": ([("file", "gain.fits", GOOD), ("supersede", None, b"maybe")], 422),
    "supersede NUL": ([("file", "gain.fits", GOOD), ("supersede", None, b"true\x00")], 422),
    "unknown field": ([("file", "gain.fits", GOOD), ("cal_dir", None, b"../../")], 422),
}


@pytest.fixture
def small_limit(app_config: dict) -> None:
    app_config["MAX_UPLOAD_MB"] = LIMIT_MB


def _post(client, body: bytes, content_type: str, headers: dict[str, str]):
    with client.post(
        "/api/v1/files", data=body, content_type=content_type, headers=headers
    ) as response:
        response.get_data()
    return response


def _refused_without_trace(app, send: Callable[[], object], status: int) -> None:
    before = snapshot(app)
    assert_refused(send(), status)
    assert snapshot(app) == before


@pytest.mark.parametrize(("content", "status"), CONTENT.values(), ids=CONTENT.keys())
def test_a_hostile_file_is_refused_and_nothing_is_kept(
    small_limit, app, client, make_token, content, status
):
    body = multipart([("file", "mxt_gain.fits", content)])
    headers = bearer(make_token("uploader"))
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    _refused_without_trace(app, lambda: _post(client, body, content_type, headers), status)


@pytest.mark.parametrize(("parts", "status"), REQUEST.values(), ids=REQUEST.keys())
def test_a_hostile_upload_request_is_refused(app, client, make_token, parts, status):
    headers = bearer(make_token("uploader"))
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    body = multipart(parts)
    _refused_without_trace(app, lambda: _post(client, body, content_type, headers), status)


FORM = f"multipart/form-data; boundary={BOUNDARY}"
ONE_FILE = multipart([("file", "g.fits", GOOD)])
BODIES: dict[str, tuple[bytes, str, int]] = {
    "JSON body": (b'{"file": "x"}', "application/json", 400),
    "raw FITS body": (GOOD, "application/fits", 400),
    "boundary missing": (ONE_FILE, "multipart/form-data", 400),
    "boundary wrong": (ONE_FILE, "multipart/form-data; boundary=x", 400),
    "body cut": (ONE_FILE[:-200], FORM, 400),
    "no closing boundary": (ONE_FILE.replace(f"--{BOUNDARY}--".encode(), b""), FORM, 400),
}


@pytest.mark.parametrize(("body", "content_type", "status"), BODIES.values(), ids=BODIES.keys())
def test_a_malformed_upload_body_is_refused(app, client, make_token, body, content_type, status):
    headers = bearer(make_token("uploader"))
    _refused_without_trace(app, lambda: _post(client, body, content_type, headers), status)


def test_the_good_file_of_the_corpus_is_accepted(small_limit, client, make_token):
    """The corpus changes one thing at a time in a file the server accepts."""
    body = multipart([("file", "mxt_gain.fits", GOOD)])
    response = _post(
        client, body, f"multipart/form-data; boundary={BOUNDARY}", bearer(make_token("uploader"))
    )
    assert response.status_code == 201, response.get_json()
    assert calfile_bytes(MXT_GAIN) == GOOD
