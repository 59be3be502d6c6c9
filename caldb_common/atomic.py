"""Replacing a file atomically: readers see the old content or the new, never a part of it.

The new content is written to a temporary file in the destination's directory (the same
filesystem, so the final rename is atomic), then renamed over the destination. A failure
anywhere before the rename removes the temporary file and leaves the old content intact.
With ``durable=True`` (the default) the file is flushed to disk before the rename and the
directory after it, so that after a crash the destination holds one whole version.

The server's file tree, the client's cache, token file and offline copies, and the bricks'
outputs all write this way; the helpers live in the neutral package so that each side uses
the same code without importing the other.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "TEMPORARY_PREFIX",
    "atomic_path",
    "atomic_writer",
    "fsync_path",
    "write_bytes_atomically",
    "write_text_atomically",
]

# Temporary files are named '.tmp-<name>.<random>': hidden, and recognisable by whoever
# cleans up after a crash (the server's fsck reports and removes old ones).
TEMPORARY_PREFIX = ".tmp-"


def fsync_path(path: Path) -> None:
    """Flush a file, or a directory's entries (a rename, a creation, a deletion), to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _temporary_name(path: Path) -> Path:
    return path.with_name(f"{TEMPORARY_PREFIX}{path.name}.{secrets.token_hex(6)}")


@contextlib.contextmanager
def atomic_path(path: Path, *, mode: int | None = None, durable: bool = True) -> Iterator[Path]:
    """A fresh name beside ``path``: whatever the block puts there then replaces ``path``.

    The name does not exist yet; the block creates it (writes it, links or copies a file
    to it). When the block ends normally the file is renamed over ``path``; when it raises,
    the file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : Path
        The destination; its directory must exist.
    mode : int, optional
        The permissions the file ends with (set before the rename); by default those the
        block created it with.
    durable : bool
        Flush the file and then the directory to disk, so that the rename survives a crash.
    """
    temporary = _temporary_name(path)
    try:
        yield temporary
        if mode is not None:
            temporary.chmod(mode)
        if durable:
            fsync_path(temporary)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        fsync_path(path.parent)


@contextlib.contextmanager
def atomic_writer(
    path: Path, *, mode: int | None = None, durable: bool = True
) -> Iterator[BinaryIO]:
    """A binary stream whose content replaces ``path`` when the block ends normally.

    Parameters
    ----------
    path : Path
        The destination; its directory must exist.
    mode : int, optional
        The permissions the file ends with. The temporary file is created readable by its
        owner only whenever a mode is given, so a private file (0600) is never readable by
        others, not even while it is written. By default a new file's usual permissions
        (0666 less the umask).
    durable : bool
        Flush the file and then the directory to disk, so that the rename survives a crash.
    """
    with atomic_path(path, mode=mode, durable=durable) as temporary:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        descriptor = os.open(temporary, flags, 0o600 if mode is not None else 0o666)
        with os.fdopen(descriptor, "wb") as stream:
            yield stream


def write_bytes_atomically(
    path: Path, data: bytes, *, mode: int | None = None, durable: bool = True
) -> None:
    """Replace ``path`` by ``data`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path, mode=mode, durable=durable) as stream:
        stream.write(data)


def write_text_atomically(
    path: Path, text: str, *, mode: int | None = None, durable: bool = True
) -> None:
    """Replace ``path`` by ``text`` (UTF-8) atomically (see :func:`atomic_writer`)."""
    write_bytes_atomically(path, text.encode("utf-8"), mode=mode, durable=durable)
