"""Hostile uploads: compressed twice, decompression bombs, zip and xz, too many HDUs.

Each is refused with a problem+json answer, nothing is stored and nothing is left in
``.incoming`` (:func:`refused` checks both). Decompression is measured, not timed: every
zlib decompressor of the process is counted, so a second layer inflated by anyone
(astropy included) would show.
Broken structure and hostile headers are in :mod:`tests.server.test_ingest_hostile_structure`.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import lzma
import struct
import zipfile
import zlib
from typing import Any

import pytest

from caldb_server.config import ConfigError, load_settings
from caldb_server.ingest import compression
from caldb_server.ingest.structure import BLOCK
from tests.conftest import SECRET
from tests.helpers import calfile_bytes, tree_files
from tests.server.uploads import GOOD, gain, gain_datasets, places, refused, send

MIB = 1024 * 1024
CHUNK = MIB  # what the server asks the decompressor for at a time


class _Counting:
    """A zlib decompressor that tallies the bytes it produces."""

    def __init__(self, inner: Any, tally: list[int]) -> None:
        self._inner = inner
        self._tally = tally

    def decompress(self, data: bytes, *args: Any) -> bytes:
        out = self._inner.decompress(data, *args)
        self._tally.append(len(out))
        return out

    def flush(self, *args: Any) -> bytes:
        out = self._inner.flush(*args)
        self._tally.append(len(out))
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def inflated(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Bytes inflated by every zlib decompressor created in this process (gzip, zip)."""
    tally: list[int] = []
    for name in ("decompressobj", "_ZlibDecompressor"):  # gzip uses the latter on 3.12+
        if hasattr(zlib, name):
            real = getattr(zlib, name)
            monkeypatch.setattr(
                zlib, name, lambda *a, real=real, **k: _Counting(real(*a, **k), tally)
            )
    return tally


@pytest.fixture
def one_mib_client(app_config: dict[str, Any], request: pytest.FixtureRequest):
    app_config["MAX_UPLOAD_MB"] = 1
    return request.getfixturevalue("client")


def _gzip_stream(prefix: bytes, zeros: int) -> bytes:
    """gzip of ``prefix`` and ``zeros`` zero bytes, built without holding the zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip header and trailer
    parts = [compressor.compress(prefix)]
    block = bytes(MIB)
    for _ in range(zeros // MIB):
        parts.append(compressor.compress(block))
    parts.append(compressor.flush())
    return b"".join(parts)


@functools.cache
def nested_bomb() -> bytes:
    """The issue's upload: gzip(gzip(FITS + 1 GiB of zeros)), a few kB."""
    return gzip.compress(_gzip_stream(GOOD, 1024 * MIB), compresslevel=9, mtime=0)


def test_measurement_sees_gzip_inflation(client, uploader, inflated):
    response = send(client, uploader, gzip.compress(GOOD, mtime=0), name="mxt_gain.fits.gz")
    assert response.status_code == 201, response.get_json()
    assert sum(inflated) == len(GOOD)  # decompressed once, by the server alone


def test_nested_gzip_bomb_is_refused_after_inflating_at_most_the_limit(
    one_mib_client, uploader, root, inflated
):
    bomb = nested_bomb()
    assert len(bomb) < 10_000
    errors = refused(one_mib_client, uploader, root, bomb, name="bomb.fits.gz")
    assert places(errors) == {("field", "file")}
    assert "compressed more than once" in errors[0]["reason"]
    assert 0 < sum(inflated) <= MIB + CHUNK


def test_gzip_bomb_is_413_after_inflating_at_most_the_limit(
    one_mib_client, uploader, root, inflated
):
    bomb = _gzip_stream(calfile_bytes(gain()), 64 * MIB)
    errors = refused(one_mib_client, uploader, root, bomb, status=413, name="bomb.fits.gz")
    assert places(errors) == {("field", "file")}
    assert MIB < sum(inflated) <= MIB + CHUNK


def test_nested_gzip_whose_outer_layer_exceeds_the_limit_is_413(
    one_mib_client, uploader, root, inflated
):
    inner = gzip.compress(GOOD, mtime=0) + bytes(3 * MIB)  # gzip magic, then 3 MiB
    outer = gzip.compress(inner, mtime=0)
    assert len(outer) < 10_000
    refused(one_mib_client, uploader, root, outer, status=413, name="mxt_gain.fits.gz")
    assert sum(inflated) <= MIB + CHUNK


_INNER = gzip.compress(GOOD, mtime=0)


def _zip(content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mxt_gain.fits.gz", content)
    return buffer.getvalue()


NESTED = {
    "gzip of gzip": gzip.compress(_INNER, mtime=0),
    "gzip of a cut gzip": gzip.compress(_INNER[:-20], mtime=0),
    "gzip of a gzip with a wrong CRC": gzip.compress(_INNER[:-8] + bytes(8), mtime=0),
    "bzip2 of gzip": bz2.compress(_INNER),
    "xz of bzip2": lzma.compress(bz2.compress(GOOD)),
    "zip of gzip": _zip(_INNER),
    "gzip of zip": gzip.compress(_zip(GOOD), mtime=0),
    "gzip of LZW (.Z)": gzip.compress(b"\x1f\x9d\x90" + bytes(3000), mtime=0),
}


@pytest.mark.parametrize("content", NESTED.values(), ids=NESTED)
def test_file_compressed_twice_is_refused(client, uploader, root, content, inflated):
    errors = refused(client, uploader, root, content, name="mxt_gain.fits.gz")
    assert places(errors) == {("field", "file")}
    assert "compressed more than once" in errors[0]["reason"]
    assert sum(inflated) <= 2 * len(GOOD)  # the outer layer only


# -- the HDU limit ------------------------------------------------------------------------


@pytest.fixture
def five_hdu_client(app_config: dict[str, Any], request: pytest.FixtureRequest):
    app_config["MAX_HDUS"] = 5
    return request.getfixturevalue("client")


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_file_with_more_hdus_than_the_limit_is_413(five_hdu_client, uploader, root, compress):
    content = gain_datasets(5)  # 6 HDUs with the primary
    if compress:
        content = gzip.compress(content, mtime=0)
    errors = refused(five_hdu_client, uploader, root, content, status=413)
    assert errors == [{"field": "file", "reason": "the file has more than 5 HDUs (CALDB_MAX_HDUS)"}]


def test_file_at_the_hdu_limit_is_accepted(five_hdu_client, uploader, root):
    response = send(five_hdu_client, uploader, gain_datasets(4))
    assert response.status_code == 201, response.get_json()
    assert len(response.get_json()["datasets"]) == 4
    assert tree_files(root) == ["data/svom/mxt/bcf/gain/mxt_gain.fits"]


@pytest.mark.parametrize(("value", "expected"), [(None, 1000), ("7", 7)])
def test_max_hdus_setting(tmp_path, value, expected):
    environ = {"CALDB_INSTANCE_PATH": str(tmp_path), "CALDB_SECRET_KEY": SECRET}
    if value is not None:
        environ["CALDB_MAX_HDUS"] = value
    assert load_settings(environ=environ).max_hdus == expected


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_bad_max_hdus_is_refused(tmp_path, value):
    environ = {"CALDB_INSTANCE_PATH": str(tmp_path), "CALDB_SECRET_KEY": SECRET}
    with pytest.raises(ConfigError, match="CALDB_MAX_HDUS"):
        load_settings(environ=environ | {"CALDB_MAX_HDUS": value})


def test_decompressed_copy_is_named_as_its_writer_s_files(client, uploader, root, monkeypatch):
    """A process killed while decompressing leaves a copy the start-up clean-up removes."""
    copies = []
    real = compression._copy_path

    def recorded(path):
        copies.append((path.name, real(path).name))
        return real(path)

    monkeypatch.setattr(compression, "_copy_path", recorded)
    response = send(client, uploader, gzip.compress(GOOD, mtime=0), name="mxt_gain.fits.gz")
    assert response.status_code == 201, response.get_json()
    [(upload, copy)] = copies
    assert upload.split(".")[0] == copy.split(".")[0]
    assert copy.endswith(".part")
    assert tree_files(root) == ["data/svom/mxt/bcf/gain/mxt_gain.fits.gz"]


# -- zip members zipfile cannot read, LZMA decoders too large -------------------------------


def _zip_of(content: bytes, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        archive.writestr("mxt_gain.fits", content)
    return buffer.getvalue()


def _zip_patched(
    data: bytes, *, flags: int = 0, method: int | None = None, version: int | None = None
) -> bytes:
    """A one-member zip with flag bits set, or its method or version needed changed.

    Each is changed in the local header and in the central directory alike.
    """
    patched = bytearray(data)
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    for at, version_at in ((local, 4), (central, 6)):  # then flags, then method
        (old,) = struct.unpack_from("<H", patched, at + version_at + 2)
        struct.pack_into("<H", patched, at + version_at + 2, old | flags)
        if method is not None:
            struct.pack_into("<H", patched, at + version_at + 4, method)
        if version is not None:
            struct.pack_into("<H", patched, at + version_at, version)
    return bytes(patched)


def _zip_lzma_dictionary(data: bytes, size: int) -> bytes:
    """A zip LZMA member whose properties ask for a dictionary of ``size`` bytes."""
    patched = bytearray(data)
    name, extra = struct.unpack_from("<HH", patched, 26)
    struct.pack_into("<I", patched, 30 + name + extra + 4 + 1, size)  # version, size, lc/lp/pb
    return bytes(patched)


def _xz_dictionary(data: bytes, code: int = 40) -> bytes:
    """An xz stream whose first block's LZMA2 filter asks for a huge dictionary.

    The dictionary-size byte ``code`` of the filter properties: 40 is 4 GiB - 1. The
    block header's CRC32 is recomputed, so only the size is wrong.
    """
    size = (data[12] + 1) * 4  # the block header follows the 12-byte stream header
    header = bytearray(data[12 : 12 + size])
    assert header[1] & 0xC3 == 0  # one filter, no sizes
    assert header[2:4] == b"\x21\x01"  # LZMA2, 1 byte of properties
    header[4] = code
    header[-4:] = struct.pack("<I", zlib.crc32(header[:-4]))
    return data[:12] + bytes(header) + data[12 + size :]


_XZ = lzma.compress(GOOD)
ZIP_AND_XZ = {  # (upload, what the reason says)
    "encrypted zip": (_zip_patched(_zip_of(GOOD), flags=0x01), "encrypted"),
    "zip with strong encryption": (_zip_patched(_zip_of(GOOD), flags=0x40), "encrypted"),
    "zip of patched data": (_zip_patched(_zip_of(GOOD), flags=0x20), "patched data"),
    "zip method 99": (_zip_patched(_zip_of(GOOD), method=99), "method 99 is not supported"),
    "stored zip labelled method 99": (
        _zip_patched(_zip_of(GOOD, zipfile.ZIP_STORED), method=99),
        "method 99 is not supported",
    ),
    "zip method 9 (deflate64)": (_zip_patched(_zip_of(GOOD), method=9), "method 9 is not"),
    "zip needing version 9.9": (_zip_patched(_zip_of(GOOD), version=99), "zip file version"),
    "zip LZMA with a 4 GiB dictionary": (
        _zip_lzma_dictionary(_zip_of(GOOD, zipfile.ZIP_LZMA), 0xFFFFFFFF),
        "LZMA dictionary",
    ),
    "xz with a 4 GiB dictionary": (_xz_dictionary(_XZ), "needs a decoder of more than"),
    "xz with a 1 GiB dictionary": (_xz_dictionary(_XZ, 36), "needs a decoder of more than"),
    "xz then an xz with a 4 GiB dictionary": (
        _XZ + _xz_dictionary(_XZ),
        "needs a decoder of more than",
    ),
}


@pytest.mark.parametrize(("content", "reason"), ZIP_AND_XZ.values(), ids=ZIP_AND_XZ)
def test_unreadable_zip_or_greedy_lzma_is_refused(client, uploader, root, content, reason):
    errors = refused(client, uploader, root, content, name="mxt_gain.fits.gz")
    assert places(errors) == {("field", "file")}
    assert reason in errors[0]["reason"], errors


def test_the_huge_dictionary_file_is_one_an_unlimited_decoder_reads():
    """The xz case is refused for its dictionary only: without a limit it decompresses."""
    assert lzma.decompress(_xz_dictionary(_XZ, 36)) == GOOD
    with pytest.raises(lzma.LZMAError):
        lzma.LZMADecompressor(memlimit=compression.LZMA_MEMORY).decompress(_xz_dictionary(_XZ))


def test_a_decoder_out_of_memory_is_refused_not_a_server_error(client, uploader, root, monkeypatch):
    def exhausted(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(lzma, "LZMADecompressor", exhausted)
    errors = refused(client, uploader, root, _XZ, name="mxt_gain.fits.xz")
    assert errors == [
        {
            "field": "file",
            "reason": "the compressed file needs more memory to decompress than the server has",
        }
    ]


READABLE = {
    "zip LZMA": _zip_of(GOOD, zipfile.ZIP_LZMA),
    "zip bzip2": _zip_of(GOOD, zipfile.ZIP_BZIP2),
    "stored zip": _zip_of(GOOD, zipfile.ZIP_STORED),
    "two xz streams": lzma.compress(GOOD[:BLOCK]) + lzma.compress(GOOD[BLOCK:]),
    "xz and trailing bytes": _XZ + b"not an xz stream",  # ignored, as lzma.open does
}


@pytest.mark.parametrize("content", READABLE.values(), ids=READABLE)
def test_readable_zip_and_xz_are_accepted(client, uploader, root, content):
    response = send(client, uploader, content, name="mxt_gain.fits.z")
    assert response.status_code == 201, response.get_json()
    assert tree_files(root) == ["data/svom/mxt/bcf/gain/mxt_gain.fits.z"]
