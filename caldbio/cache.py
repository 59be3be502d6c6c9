"""The verified local cache: calibration files by sha256, safe for several processes.

Layout under the cache root (``cache_dir=``, ``$CALDBIO_CACHE``, else
``$XDG_CACHE_HOME/caldbio`` or ``~/.cache/caldbio``)::

    objects/<sha[:2]>/<sha256>     read-only files, named by their content's sha256
    locks/<sha256>.lock            one writer per object at a time (flock)
    index/<mission>/<inst>.json    the catalogue copy used by offline searches

A file enters ``objects/`` only through :meth:`Cache.store`: written to a temporary file in
the same directory, hashed while written, checked against the expected sha256, then
renamed into place. Readers re-hash an object before trusting it, so a corrupted entry is
found, removed and fetched again. Several processes storing one object take its lock in
turn: the first downloads, the others find it done.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

__all__ = ["Cache", "CorruptDownload", "default_cache_dir", "sha256_of"]

CHUNK = 1024 * 1024
_HEX = frozenset("0123456789abcdef")


class CorruptDownload(ValueError):
    """The bytes received do not have the expected sha256 (or size)."""


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$CALDBIO_CACHE``, else ``$XDG_CACHE_HOME/caldbio``, else ``~/.cache/caldbio``."""
    environ = os.environ if environ is None else environ
    if environ.get("CALDBIO_CACHE"):
        return Path(environ["CALDBIO_CACHE"])
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "caldbio"


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _checked(sha256: str) -> str:
    sha256 = sha256.lower()
    if len(sha256) != 64 or not set(sha256) <= _HEX:
        raise ValueError(f"not a sha256: {sha256!r}")
    return sha256


class _HashingWriter:
    """A file object that hashes what is written to it."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)


def _check_received(writer: _HashingWriter, sha256: str, size: int | None) -> None:
    if size is not None and writer.size != size:
        raise CorruptDownload(f"received {writer.size} bytes, expected {size}")
    if writer.digest.hexdigest() != sha256:
        raise CorruptDownload("the bytes received do not match the file's sha256")


class Cache:
    """Content-addressed calibration files on the local disk."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def object_path(self, sha256: str) -> Path:
        """Where the object with this sha256 lives (whether or not it is there)."""
        sha256 = _checked(sha256)
        return self.root / "objects" / sha256[:2] / sha256

    def lookup(self, sha256: str) -> Path | None:
        """The verified object, or None; a corrupted object is deleted."""
        path = self.object_path(sha256)
        if not path.is_file():
            return None
        if sha256_of(path) != sha256.lower():
            path.unlink(missing_ok=True)
            return None
        return path

    @contextlib.contextmanager
    def _lock(self, sha256: str) -> Iterator[None]:
        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        with (locks / f"{sha256}.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def store(
        self, sha256: str, fill: Callable[[_HashingWriter], None], *, size: int | None = None
    ) -> tuple[Path, bool]:
        """The object for ``sha256``, calling ``fill`` to write its bytes if it is missing.

        Returns the path and whether ``fill`` ran. ``fill`` may be called again by a retry
        of the caller; a failed or wrong fill leaves nothing behind.

        Raises
        ------
        CorruptDownload
            If what ``fill`` wrote does not have the expected sha256 or size.
        """
        sha256 = _checked(sha256)
        with self._lock(sha256):
            found = self.lookup(sha256)
            if found is not None:
                return found, False
            target = self.object_path(sha256)
            target.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    writer = _HashingWriter(handle)
                    fill(writer)
                    handle.flush()
                    os.fsync(handle.fileno())
                _check_received(writer, sha256, size)
                Path(temporary).chmod(0o444)  # calibration files are immutable
                Path(temporary).replace(target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            return target, True

    def materialize(self, sha256: str, directory: Path, name: str) -> Path:
        """Put the object at ``directory/name`` (a hard link where possible, else a copy).

        Raises
        ------
        ValueError
            If ``name`` is not a plain file name.
        """
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise ValueError(f"not a plain file name: {name!r}")
        source = self.object_path(sha256)
        directory.mkdir(parents=True, exist_ok=True)
        destination = directory / name
        with contextlib.suppress(OSError):
            if destination.samefile(source):
                return destination
        temporary = directory / f".tmp-{name}.{os.getpid()}"
        temporary.unlink(missing_ok=True)
        try:
            try:
                os.link(source, temporary)
            except OSError:  # another filesystem, or links not allowed
                shutil.copyfile(source, temporary)
            temporary.replace(destination)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return destination
