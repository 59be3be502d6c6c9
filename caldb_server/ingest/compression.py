"""Uploaded files that are compressed: checked and decompressed before astropy reads them.

astropy opens gzip, bzip2, xz and single-file zip files itself, but reads only as far as
the headers need (a cut stream or a wrong CRC passes unnoticed), cannot see that a FITS
file inside one was cut, and can loop forever on a damaged gzip stream. Ingestion gives
it a plain, fully verified copy instead, no larger than the upload limit.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

__all__ = ["CompressionError", "DecompressedTooLarge", "plain_copy"]

# Compressed files astropy opens transparently, by their magic (astropy.io.fits.file).
_DECOMPRESSORS = {b"\x1f\x8b": gzip.open, b"BZ": bz2.open, b"\xfd7zXZ\x00": lzma.open}
_ZIP_MAGIC = b"PK\x03\x04"
_BAD_COMPRESSION = (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile)
_CHUNK = 1024 * 1024


class CompressionError(ValueError):
    """A compressed file that is damaged, truncated, or not a single file."""


class DecompressedTooLarge(ValueError):
    """A compressed file whose content exceeds the upload limit (a decompression bomb)."""


def _open_compressed(path: Path, stack: contextlib.ExitStack) -> BinaryIO | None:
    """The decompressed stream of a file astropy would decompress, or None if it is plain."""
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
    copied = 0
    while chunk := stream.read(_CHUNK):
        copied += len(chunk)
        if max_bytes is not None and copied > max_bytes:
            raise DecompressedTooLarge(
                f"the file decompresses to more than {max_bytes // (1024 * 1024)} MiB "
                "(CALDB_MAX_UPLOAD_MB)"
            )
        target.write(chunk)


def plain_copy(path: Path, stack: contextlib.ExitStack, *, max_bytes: int | None) -> Path:
    """``path`` itself if it is not compressed, else a verified decompressed copy.

    The copy is a temporary file next to ``path``, deleted when ``stack`` closes.

    Raises
    ------
    CompressionError
        If the stream is damaged, truncated, fails its CRC, or is a multi-file zip.
    DecompressedTooLarge
        If the content is larger than ``max_bytes``.
    """
    try:
        stream = _open_compressed(path, stack)
        if stream is None:
            return path
        copy = stack.enter_context(
            tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part")  # noqa: SIM115 - closed by the stack
        )
        _copy_at_most(stream, copy, max_bytes)
        copy.flush()
    except _BAD_COMPRESSION as error:
        raise CompressionError(f"damaged or truncated compressed file: {error}") from None
    return Path(copy.name)
