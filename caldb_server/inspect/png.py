"""A minimal PNG writer for 8-bit greyscale images (stdlib ``zlib`` and ``struct`` only).

The dataset page shows a thumbnail of each image HDU. Writing one greyscale PNG takes the
signature, three chunks and a CRC each (PNG specification, ISO/IEC 15948): far less than
the weight of matplotlib or Pillow, which the server extra does not otherwise need.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

__all__ = ["greyscale_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BIT_DEPTH = 8
_GREYSCALE = 0  # colour type 0: one grey sample per pixel
_NO_FILTER = 0  # filter type 0 ("None") in front of every scanline


def _chunk(kind: bytes, data: bytes) -> bytes:
    """One chunk: length, type, data, and the CRC-32 of type and data."""
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def greyscale_png(pixels: np.ndarray) -> bytes:
    """The PNG bytes of a 2-D array of 8-bit grey levels, its first row at the top.

    Parameters
    ----------
    pixels : numpy.ndarray
        Two dimensions, at least one pixel, dtype ``uint8`` (0 black, 255 white).

    Returns
    -------
    bytes
        A complete PNG file: non-interlaced, 8-bit greyscale.

    Raises
    ------
    ValueError
        If ``pixels`` is not a non-empty 2-D ``uint8`` array.
    """
    if pixels.ndim != 2 or pixels.dtype != np.uint8 or 0 in pixels.shape:
        raise ValueError("a PNG thumbnail needs a non-empty 2-D array of uint8 grey levels")
    height, width = pixels.shape
    header = struct.pack(">IIBBBBB", width, height, _BIT_DEPTH, _GREYSCALE, 0, 0, 0)
    filters = np.full((height, 1), _NO_FILTER, dtype=np.uint8)
    scanlines = np.hstack([filters, pixels]).tobytes()
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(scanlines, 6))
        + _chunk(b"IEND", b"")
    )
