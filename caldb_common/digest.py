"""The sha256 of a file's content: how the server, the client and the bricks check files.

One function for every side, so that the catalogue's digests, the client cache's names and
the bricks' record of the calibration they used are computed alike.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["sha256_of"]


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file's content (read in chunks: any size fits in memory)."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
