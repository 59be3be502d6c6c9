"""Opening a FITS file for inspection: quietly, checked whole, and with one clear error.

Files are stored as plain FITS (the server removes the compression of an upload); a
gzip or bzip2 file is still read, decompressed into memory by the standard library,
which refuses a cut stream. astropy opens the rest with its default memory mapping.

astropy is lenient with damaged files: it drops an extension whose header is cut short
of a block (with a warning only) and reads the HDUs before it. So the layout is checked
here: the HDUs astropy found must end where the file ends, or be followed only by whole
2880-byte blocks (the "special records" of the FITS Standard 4.0, §3.5, which real
HEASARC files have; a block that starts an extension without an END card astropy
refuses itself).

The files shown passed the structural verifier at upload, so astropy's warnings (extra
padding, a card it would "fix") tell nothing the page needs: they are silenced here, and
only here, by category (:class:`~astropy.utils.exceptions.AstropyWarning`, VerifyWarning
included). ``warnings.catch_warnings`` changes process-wide state: under a threaded
server two overlapping inspections may leave that filter installed, which only hides
astropy warnings. A file that cannot be read raises :class:`InspectionError`, one
sentence naming the file, never astropy's message.
"""

from __future__ import annotations

import bz2
import gzip
import io
import logging
import os
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning

__all__ = ["BLOCK", "MAX_PLAIN_BYTES", "InspectionError", "open_fits"]

log = logging.getLogger(__name__)

BLOCK = 2880
# A compressed file is decompressed into memory: at most this much (a bomb stops here).
MAX_PLAIN_BYTES = 1 << 30
_OPENERS: dict[bytes, Callable[[Path], io.BufferedIOBase]] = {
    b"\x1f\x8b": gzip.GzipFile,
    b"BZ": bz2.BZ2File,
}


class InspectionError(Exception):
    """A file that cannot be inspected; the message is one sentence for the page."""


class _Damaged(ValueError):
    """The HDUs astropy found do not account for the whole file."""


class _TooLarge(ValueError):
    """A compressed file that decompresses to more than :data:`MAX_PLAIN_BYTES`."""


# What is raised, at open or when data are read, for a file that is not FITS, truncated
# (numpy: "buffer is too small", a TypeError) or damaged (gzip: EOFError, zlib.error).
_READ_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    zlib.error,
    fits.VerifyError,
)


def _contents(file: Path) -> tuple[Path | io.BytesIO, int]:
    """What astropy opens (the path, or the decompressed bytes) and the plain size."""
    with file.open("rb") as stream:
        magic = stream.read(2)
    opener = _OPENERS.get(magic)
    if opener is None:
        return file, file.stat().st_size
    with opener(file) as stream:
        plain = stream.read(MAX_PLAIN_BYTES + 1)  # a cut stream raises EOFError
    if len(plain) > MAX_PLAIN_BYTES:
        raise _TooLarge(f"more than {MAX_PLAIN_BYTES} bytes once decompressed")
    return io.BytesIO(plain), len(plain)


def _check_layout(hdus: fits.HDUList, size: int) -> None:
    """Raise :class:`_Damaged` unless the HDUs end where the file (or its special records) do."""
    last = hdus.fileinfo(len(hdus) - 1)
    end = last["datLoc"] + last["datSpan"]
    if end > size or (size - end) % BLOCK:
        raise _Damaged(f"the HDUs end at byte {end} of {size}")


@contextmanager
def open_fits(path: str | os.PathLike[str]) -> Iterator[fits.HDUList]:
    """The HDUs of a FITS file, checked to account for the whole file.

    Everything done with the HDUs inside the ``with`` block is covered: a read error
    there is also an :class:`InspectionError`.

    Raises
    ------
    InspectionError
        If the file is missing or cannot be read as FITS.
    """
    file = Path(path)
    if not file.is_file():
        raise InspectionError(f"The file {file.name} does not exist.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        try:
            source, size = _contents(file)
            with fits.open(source) as hdus:
                _check_layout(hdus, size)
                yield hdus
        except _READ_ERRORS as error:
            # The page gets one sentence; the log keeps what happened (a bug shows here too).
            log.warning("cannot inspect %s", file, exc_info=True)
            raise InspectionError(
                f"The file {file.name} cannot be read: it is not FITS, or it is truncated or "
                "damaged."
            ) from error
