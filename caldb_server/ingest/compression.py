"""Uploaded files: decompressed at most once, under the upload limit, and then plain FITS.

A calibration file may be uploaded gzip, bzip2, xz or single-file zip compressed (CFITSIO
and astropy read such files). The server removes exactly one layer, counting the bytes
it inflates and stopping past ``max_bytes`` (a decompression bomb costs the limit, not
its expansion), and reads the stream to its end, so a cut stream or a wrong CRC is
refused. What it gets must then be plain FITS: its first card is ``SIMPLE  = T``. A
file compressed twice is refused, never decompressed again: nothing later (astropy
included, which decompresses by magic whatever it is given) sees compressed bytes.

Whatever the bytes, the answer is one of this module's errors, never an unexpected one:
a zip member that is encrypted or uses a method other than stored, deflate, bzip2 or
LZMA is refused before it is opened, and an xz or zip LZMA stream whose decoder would
need more than :data:`LZMA_MEMORY` (its dictionary size is in its header) is refused
rather than allowed to allocate it.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import re
import struct
import uuid
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO

__all__ = [
    "LZMA_MEMORY",
    "CompressionError",
    "DecompressedTooLarge",
    "NotFits",
    "is_plain_fits",
    "plain_copy",
]

_CHUNK = 1024 * 1024
# Most memory an LZMA decoder (xz, or a zip member) may take: its dictionary, mostly.
# ``xz -9`` needs 65 MiB; a header asking more is refused, not allocated.
LZMA_MEMORY = 128 * _CHUNK
# Compressed files astropy opens transparently, by their magic (astropy.io.fits.file);
# xz is read by _XzReader, to limit its decoder's memory.
# Both classes open a path for binary reading by default (what gzip.open and bz2.open do).
_DECOMPRESSORS: dict[bytes, Callable[[Path], io.BufferedIOBase]] = {
    b"\x1f\x8b": gzip.GzipFile,
    b"BZ": bz2.BZ2File,
}
# A decompressed stream: zipfile's members are IO[bytes], the decompressors BufferedIOBase.
_Stream = IO[bytes] | io.BufferedIOBase
_XZ_MAGIC = b"\xfd7zXZ\x00"
_ZIP_MAGIC = b"PK\x03\x04"
# What LZMADecompressor raises past its memlimit (LZMA_MEMLIMIT_ERROR, Modules/_lzmamodule.c).
_MEMORY_LIMIT_REACHED = "Memory usage limit exceeded"
_LZW_MAGIC = b"\x1f\x9d"  # compress(1), ".Z": CFITSIO reads it, the server does not
_BAD_COMPRESSION = (
    OSError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    zipfile.BadZipFile,
    NotImplementedError,  # zipfile: a zip "version needed to extract" above what it reads
    UnicodeDecodeError,  # zipfile: a member name flagged UTF-8 that is not
)
# Zip member methods zipfile reads (APPNOTE 4.4.5); others raise NotImplementedError.
_ZIP_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "LZMA",
}
# Zip general-purpose flags (APPNOTE 4.4.4): bit 0 encrypted, bit 5 patched data, bit 6
# strong encryption; zipfile cannot read such a member without a password or at all.
_ZIP_ENCRYPTED = 0x01 | 0x40
_ZIP_PATCHED = 0x20
_ZIP_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... name length, extra length
# A file received into .incoming is '<writer>.<uuid>.part' (caldb_server.storage).
_RECEIVED = re.compile(r"(?P<writer>[0-9a-f]{16})\.[0-9a-f]{32}\.part")


class CompressionError(ValueError):
    """A compressed file that is damaged, truncated, compressed twice, or not a single file."""


class DecompressedTooLarge(ValueError):
    """A compressed file whose content exceeds the upload limit (a decompression bomb)."""


class NotFits(ValueError):
    """Bytes that do not start as a FITS file does."""


def _compressed(magic: bytes) -> bool:
    return magic.startswith((_ZIP_MAGIC, _XZ_MAGIC, _LZW_MAGIC, *_DECOMPRESSORS))


def is_plain_fits(first_card: bytes) -> bool:
    """Whether 80 bytes are a primary header's first card, ``SIMPLE  =`` with the value T."""
    if not first_card.startswith(b"SIMPLE  = "):
        return False
    return first_card[10:].split(b"/")[0].strip(b" ") == b"T"


def _open_compressed(path: Path, stack: contextlib.ExitStack) -> _Stream | None:
    """The decompressed stream of a compressed file, or None if it is not compressed."""
    with path.open("rb") as handle:
        magic = handle.read(8)
    if magic.startswith(_ZIP_MAGIC):
        archive = stack.enter_context(zipfile.ZipFile(path))
        if len(archive.infolist()) != 1:
            raise zipfile.BadZipFile("a zip file must hold exactly one file")
        member = archive.infolist()[0]
        _check_zip_member(path, member)
        return stack.enter_context(archive.open(member))
    if magic.startswith(_XZ_MAGIC):
        return stack.enter_context(io.BufferedReader(_XzReader(path)))
    opener = next((o for m, o in _DECOMPRESSORS.items() if magic.startswith(m)), None)
    return None if opener is None else stack.enter_context(opener(path))


def _check_zip_member(path: Path, member: zipfile.ZipInfo) -> None:
    """Refuse a zip member zipfile cannot read, or whose LZMA decoder is too large."""
    if member.flag_bits & _ZIP_ENCRYPTED:
        raise CompressionError("the zip file is encrypted; upload it without a password")
    if member.flag_bits & _ZIP_PATCHED:
        raise CompressionError("the zip file holds patched data (flag bit 5), not supported")
    method = member.compress_type
    if method not in _ZIP_METHODS:
        raise CompressionError(
            f"zip compression method {method} is not supported "
            f"(only {', '.join(_ZIP_METHODS.values())})"
        )
    if method == zipfile.ZIP_LZMA:
        _check_lzma_dictionary(_zip_lzma_dictionary(path, member))


def _zip_lzma_dictionary(path: Path, member: zipfile.ZipInfo) -> int:
    """The dictionary size of a zip LZMA member (APPNOTE 5.8.8), read from its first bytes.

    The member's data starts after its local header with a 2-byte version, the 2-byte
    size of the properties and the properties: lc/lp/pb, then the dictionary size.
    """
    with path.open("rb") as handle:
        handle.seek(member.header_offset)
        header = handle.read(_ZIP_LOCAL_HEADER.size)
        if len(header) < _ZIP_LOCAL_HEADER.size:
            raise zipfile.BadZipFile("truncated zip local header")
        signature, name, extra = _ZIP_LOCAL_HEADER.unpack(header)
        if signature != _ZIP_MAGIC:
            raise zipfile.BadZipFile("bad magic number for the zip local header")
        handle.seek(name + extra, 1)
        start = handle.read(9)
    if len(start) < 9 or struct.unpack("<H", start[2:4])[0] != 5:
        raise CompressionError("damaged zip LZMA member: its properties are not 5 bytes")
    return struct.unpack("<I", start[5:9])[0]


def _check_lzma_dictionary(size: int) -> None:
    if size > LZMA_MEMORY:
        raise CompressionError(
            f"the LZMA dictionary ({size // _CHUNK} MiB) exceeds the "
            f"{LZMA_MEMORY // _CHUNK} MiB the server gives a decoder"
        )


class _XzReader(io.RawIOBase):
    """An xz file decompressed as :func:`lzma.open` reads it, under a decoder memory limit.

    ``lzma.open`` takes no ``memlimit``; :class:`lzma.LZMADecompressor` does, and raises
    :class:`lzma.LZMAError` for a stream whose decoder would need more. As in
    ``lzma.open``, concatenated streams are read in turn, and bytes after the last
    stream that do not start another one are ignored; a stream over the limit is
    refused wherever it is.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = path.open("rb")
        self._decompressor = self._new()
        self._done = False

    @staticmethod
    def _new() -> lzma.LZMADecompressor:
        return lzma.LZMADecompressor(lzma.FORMAT_AUTO, memlimit=LZMA_MEMORY)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        """Decompress at most ``len(buffer)`` bytes into it; 0 only at the end."""
        while not self._done:
            following = self._decompressor.eof
            if following:
                data = self._decompressor.unused_data or self._file.read(_CHUNK)
                if not data:
                    break
                self._decompressor = self._new()
            elif self._decompressor.needs_input:
                data = self._file.read(_CHUNK)
                if not data:
                    raise EOFError("the xz stream ends before its end-of-stream marker")
            else:
                data = b""
            try:
                out = self._decompressor.decompress(data, max_length=len(buffer))
            except lzma.LZMAError as error:
                if _MEMORY_LIMIT_REACHED in str(error):
                    raise CompressionError(
                        f"the xz stream needs a decoder of more than "
                        f"{LZMA_MEMORY // _CHUNK} MiB, the most the server gives one"
                    ) from None
                if not following:
                    raise
                break  # trailing bytes that are not a stream: ignored, as lzma.open does
            if out:
                buffer[: len(out)] = out
                return len(out)
        self._done = True
        return 0

    def close(self) -> None:
        self._file.close()
        super().close()


def _copy_at_most(stream: _Stream, target: BinaryIO, max_bytes: int | None) -> None:
    """Copy, asking the decompressor for no more than one byte past the limit."""
    copied = 0
    while True:
        wanted = _CHUNK if max_bytes is None else min(_CHUNK, max_bytes + 1 - copied)
        chunk = stream.read(wanted)
        if not chunk:
            return
        copied += len(chunk)
        if max_bytes is not None and copied > max_bytes:
            raise DecompressedTooLarge(
                f"the file decompresses to more than {max_bytes // (1024 * 1024)} MiB "
                "(CALDB_MAX_UPLOAD_MB)"
            )
        target.write(chunk)


def _copy_path(path: Path) -> Path:
    """Where the decompressed copy of ``path`` goes: beside it.

    A received file's copy is named as its writer's files are, so that if the process
    dies, the start-up clean-up of ``.incoming`` removes the copy with the upload.
    """
    received = _RECEIVED.fullmatch(path.name)
    prefix = received["writer"] if received else "decompressed"
    return path.with_name(f"{prefix}.{uuid.uuid4().hex}.part")


def _require_plain_fits(path: Path, decompressed: bool) -> None:
    with path.open("rb") as handle:
        first = handle.read(80)
    if decompressed and _compressed(first):
        raise CompressionError(
            "the file is compressed more than once; compress a FITS file once (or not at all)"
        )
    if not is_plain_fits(first):
        if _compressed(first):
            raise CompressionError(f"unsupported compression (magic {first[:2].hex()})")
        raise NotFits("not a FITS file: it does not start with the card SIMPLE = T")


def plain_copy(path: Path, stack: contextlib.ExitStack, *, max_bytes: int | None) -> Path:
    """``path`` itself if it is plain FITS, else its verified, once-decompressed copy.

    The copy is a file next to ``path``, deleted when ``stack`` closes.

    Raises
    ------
    CompressionError
        If the stream is damaged, truncated, fails its CRC, holds compressed bytes again,
        is a multi-file, encrypted or unsupported zip, or needs too much decoder memory.
    DecompressedTooLarge
        If the content is larger than ``max_bytes``.
    NotFits
        If the (decompressed) bytes do not start with ``SIMPLE  = T``.
    """
    try:
        stream = _open_compressed(path, stack)
        if stream is None:
            _require_plain_fits(path, decompressed=False)
            return path
        plain = _copy_path(path)
        stack.callback(plain.unlink, missing_ok=True)
        with plain.open("xb") as copy:
            _copy_at_most(stream, copy, max_bytes)
    except MemoryError:  # a decoder that could not allocate its tables: the file's doing
        raise CompressionError(
            "the compressed file needs more memory to decompress than the server has"
        ) from None
    except _BAD_COMPRESSION as error:
        raise CompressionError(f"damaged or truncated compressed file: {error}") from None
    _require_plain_fits(plain, decompressed=True)
    return plain
