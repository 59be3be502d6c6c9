"""Hostile uploads: compressed twice, decompression bombs, too many HDUs, broken structure.

Each is refused with a problem+json answer, nothing is stored and nothing is left in
``.incoming`` (:func:`refused` checks both). Decompression is measured, not timed: every
zlib decompressor of the process is counted, so a second layer inflated by anyone
(astropy included) would show.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import lzma
import zipfile
import zlib
from typing import Any

import pytest

from caldb_server.config import ConfigError, load_settings
from caldb_server.ingest import compression
from tests.conftest import SECRET
from tests.helpers import calfile_bytes, tree_files
from tests.server.fits_corpus import BAD_FILES, replace
from tests.server.uploads import GOOD, gain, places, refused, send

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


def _datasets(count: int) -> bytes:
    """A primary HDU and ``count`` GAIN datasets of distinct validity starts."""
    return calfile_bytes(*(gain(CVSD0001=f"2024-06-{day:02d}") for day in range(1, count + 1)))


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_file_with_more_hdus_than_the_limit_is_413(five_hdu_client, uploader, root, compress):
    content = _datasets(5)  # 6 HDUs with the primary
    if compress:
        content = gzip.compress(content, mtime=0)
    errors = refused(five_hdu_client, uploader, root, content, status=413)
    assert errors == [{"field": "file", "reason": "the file has more than 5 HDUs (CALDB_MAX_HDUS)"}]


def test_file_at_the_hdu_limit_is_accepted(five_hdu_client, uploader, root):
    response = send(five_hdu_client, uploader, _datasets(4))
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


# -- structure ----------------------------------------------------------------------------

ISSUE = {  # the issue's files, and where each is refused
    "BITPIX = 7 in the table": {(1, "BITPIX")},
    "NAXIS1 = -5": {(1, "NAXIS1")},
    "TFIELDS = 999999 with one column": {(1, "TFIELDS")},
    "duplicate INSTRUME": {(1, "INSTRUME")},
    "duplicate CCNM0001": {(1, "CCNM0001")},
    "wrong CHECKSUM": {(1, "CHECKSUM")},
    "wrong DATASUM": {(1, "DATASUM"), (1, "CHECKSUM")},
}


@pytest.mark.parametrize(("name", "expected"), ISSUE.items(), ids=ISSUE)
def test_structurally_broken_file_is_refused_where_it_breaks(
    client, uploader, root, name, expected
):
    errors = refused(client, uploader, root, BAD_FILES[name])
    assert places(errors) == expected


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_every_structural_problem_is_listed(client, uploader, root, compress):
    content = replace(BAD_FILES["duplicate INSTRUME"], 1, "NAXIS2", b"NAXIS2  = 4 / rows\t")
    content = replace(content, 1, "CDTP0001", "CDTP0001= 'DATA    ' x")
    if compress:
        content = gzip.compress(content, mtime=0)
    errors = refused(client, uploader, root, content)
    assert places(errors) == {(1, "INSTRUME"), (1, "NAXIS2"), (1, "CDTP0001")}
    assert all(isinstance(e["reason"], str) and e["reason"] for e in errors)


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
