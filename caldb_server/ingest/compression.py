"""Uploaded files: decompressed at most once, under the upload limit, and then plain FITS.

A calibration file may be uploaded gzip, bzip2, xz or single-file zip compressed (CFITSIO
and astropy read such files). The server removes exactly one layer, counting the bytes
it inflates and stopping past ``max_bytes`` (a decompression bomb costs the limit, not
its expansion), and reads the stream to its end, so a cut stream or a wrong CRC is
refused. What it gets must then be plain FITS: its first card is ``SIMPLE  = T``. A
file compressed twice is refused, never decompressed again: nothing later (astropy
included, which decompresses by magic whatever it is given) sees compressed bytes.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import re
import uuid
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "CompressionError",
    "DecompressedTooLarge",
    "NotFits",
    "is_plain_fits",
    "plain_copy",
]

# Compressed files astropy opens transparently, by their magic (astropy.io.fits.file).
_DECOMPRESSORS = {b"\x1f\x8b": gzip.open, b"BZ": bz2.open, b"\xfd7zXZ\x00": lzma.open}
_ZIP_MAGIC = b"PK\x03\x04"
_LZW_MAGIC = b"\x1f\x9d"  # compress(1), ".Z": CFITSIO reads it, the server does not
_BAD_COMPRESSION = (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile)
_CHUNK = 1024 * 1024
# A file received into .incoming is '<writer>.<uuid>.part' (caldb_server.storage).
_RECEIVED = re.compile(r"(?P<writer>[0-9a-f]{16})\.[0-9a-f]{32}\.part")


class CompressionError(ValueError):
    """A compressed file that is damaged, truncated, compressed twice, or not a single file."""


class DecompressedTooLarge(ValueError):
    """A compressed file whose content exceeds the upload limit (a decompression bomb)."""


class NotFits(ValueError):
    """Bytes that do not start as a FITS file does."""


def _compressed(magic: bytes) -> bool:
    return magic.startswith((_ZIP_MAGIC, _LZW_MAGIC, *_DECOMPRESSORS))


def is_plain_fits(first_card: bytes) -> bool:
    """Whether 80 bytes are a primary header's first card, ``SIMPLE  =`` with the value T."""
    if not first_card.startswith(b"SIMPLE  = "):
        return False
    return first_card[10:].split(b"/")[0].strip(b" ") == b"T"


def _open_compressed(path: Path, stack: contextlib.ExitStack) -> BinaryIO | None:
    """The decompressed stream of a compressed file, or None if it is not compressed."""
    with path.open("rb") as handle:
        magic = handle.read(8)
    if magic.startswith(_ZIP_MAGIC):
        archive = stack.enter_context(zipfile.ZipFile(path))
        if len(archive.infolist()) != 1:
            raise zipfile.BadZipFile("a zip file must hold exactly one file")
        return stack.enter_context(archive.open(archive.infolist()[0]))
    opener = next((o for m, o in _DECOMPRESSORS.items() if magic.startswith(m)), None)
    return None if opener is None else stack.enter_context(opener(path, "rb"))


def _copy_at_most(stream: BinaryIO, target: BinaryIO, max_bytes: int | None) -> None:
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
        or is a multi-file zip.
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
    except _BAD_COMPRESSION as error:
        raise CompressionError(f"damaged or truncated compressed file: {error}") from None
    _require_plain_fits(plain, decompressed=True)
    return plain
