"""The FITS checksum convention (FITS Standard 4.0 §J): ones' complement sums of HDUs.

``DATASUM`` is the unsigned 32-bit ones' complement sum of the data unit's big-endian
32-bit words, written in decimal. ``CHECKSUM`` is chosen so that the same sum over the
whole HDU (header and data) is -0, all bits set. Sums are computed with numpy over
bounded chunks, so a large data unit costs one pass and little memory.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np

__all__ = ["MINUS_ZERO", "fold", "ones_complement_sum", "stream_sum"]

MINUS_ZERO = 0xFFFFFFFF
_CHUNK = 2880 * 364  # about 1 MiB, a whole number of FITS blocks (and of 4-byte words)


def fold(total: int) -> int:
    """Fold carries above 32 bits back in (end-around carry)."""
    while total >> 32:
        total = (total & MINUS_ZERO) + (total >> 32)
    return total


def ones_complement_sum(data: bytes) -> int:
    """The folded sum of ``data`` (a multiple of 4 bytes) as big-endian 32-bit words."""
    words = np.frombuffer(data, dtype=">u4")
    # Each word is < 2**32; a chunk holds < 2**20 of them, so uint64 cannot overflow.
    return fold(int(words.sum(dtype=np.uint64)))


def stream_sum(stream: BinaryIO, start: int, length: int) -> int:
    """The folded sum of ``length`` bytes of ``stream`` from ``start`` (read in chunks).

    Raises
    ------
    EOFError
        If the stream ends before ``length`` bytes.
    """
    stream.seek(start)
    total = 0
    remaining = length
    while remaining:
        chunk = stream.read(min(_CHUNK, remaining))
        if not chunk:
            raise EOFError("the file ends inside the data")
        total = fold(total + ones_complement_sum(chunk))
        remaining -= len(chunk)
    return total
