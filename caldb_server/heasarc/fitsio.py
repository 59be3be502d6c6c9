"""Writing and reading FITS files the way the CALDB needs: atomically and reproducibly."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

from astropy.io import fits

from caldb_server.storage import atomic_file

__all__ = ["Destination", "own_stream", "write_hdulist"]

Destination = str | os.PathLike[str] | BinaryIO


def _add_checksums(hdulist: fits.HDUList, checksum_time: str | None) -> None:
    """CHECKSUM/DATASUM on every HDU, their comment dated ``checksum_time`` if given.

    astropy dates the comment with the wall clock, which would make two generations of
    the same catalogue state differ; a fixed date keeps the bytes reproducible.
    """
    when = None if checksum_time is None else f"HDU checksum updated {checksum_time}"
    for hdu in hdulist:
        hdu.add_checksum(when=when)


def write_hdulist(
    hdulist: fits.HDUList, destination: Destination, *, checksum_time: str | None = None
) -> None:
    """Write with CHECKSUM/DATASUM; a path is replaced atomically, never left half-written.

    astropy may still adjust an HDU it built while writing it, which would invalidate
    checksums added before: they are computed on the serialised bytes, read back.
    """
    serialised = io.BytesIO()
    hdulist.writeto(serialised)
    with fits.open(io.BytesIO(serialised.getvalue())) as finished:
        _add_checksums(finished, checksum_time)
        _write(finished, destination)


def _write(hdulist: fits.HDUList, destination: Destination) -> None:
    if not isinstance(destination, str | os.PathLike):
        hdulist.writeto(destination)
        return
    with atomic_file(Path(destination)) as stream:
        hdulist.writeto(stream)


def own_stream(source: Destination) -> str | os.PathLike[str] | BinaryIO:
    """Return a path as is, or a copy of a stream (astropy closes the file it read)."""
    return source if isinstance(source, str | os.PathLike) else io.BytesIO(source.read())
