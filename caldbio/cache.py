"""The verified local cache: calibration files by sha256, safe for several processes.

Layout under the cache root (``cache_dir=``, ``$CALDBIO_CACHE``, else
``$XDG_CACHE_HOME/caldbio`` or ``~/.cache/caldbio``)::

    objects/<sha[:2]>/<sha256>     read-only files, named by their content's sha256
    objects/<sha[:2]>/<sha256>.verified   size, mtime and inode when last verified
    locks/<sha256>.lock            one writer per object at a time (flock)
    index/<mission>/<inst>.json    the catalogue copy used by offline searches

A file enters ``objects/`` only through :meth:`Cache.store`: written to a temporary file in
the same directory, hashed while written, checked against the expected sha256, then
renamed into place. Readers re-hash an object whenever it changed since it was verified,
so a corrupted entry is found, removed and fetched again. Several processes storing one
object take its lock in turn: the first downloads, the others find it done.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import queue
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from caldb_common.atomic import atomic_path, atomic_writer, write_text_atomically
from caldb_common.digest import sha256_of

__all__ = ["Cache", "CorruptDownload", "default_cache_dir"]

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


def _checked(sha256: str) -> str:
    sha256 = sha256.lower()
    if len(sha256) != 64 or not set(sha256) <= _HEX:
        raise ValueError(f"not a sha256: {sha256!r}")
    return sha256


class _HashingWriter:
    """A file writer that hashes what it writes, in a second thread.

    ``hashlib`` and file writes release the GIL, so hashing overlaps with receiving and
    writing (on two cores a download is then bound by the network and the disk, not by
    sha256). Call :meth:`finish` before reading ``digest``.
    """

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=32)
        self._hasher = threading.Thread(target=self._hash, daemon=True)
        self._hasher.start()

    def _hash(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self.digest.update(chunk)

    def write(self, data: bytes) -> int:
        # The caller may reuse its buffer once write returns: hash a copy (free for bytes).
        self._chunks.put(bytes(data))
        self.size += len(data)
        return self.handle.write(data)

    def finish(self) -> None:
        """Wait until everything written is hashed."""
        if self._hasher.is_alive():
            self._chunks.put(None)
            self._hasher.join()


def _fingerprint(path: Path) -> str:
    status = path.stat()
    return f"{status.st_size} {status.st_mtime_ns} {status.st_ino}"


def _write_stamp(stamp: Path, fingerprint: str) -> None:
    # Not flushed to disk: a stamp lost in a crash only costs one more hash of the object.
    write_text_atomically(stamp, fingerprint, durable=False)


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
        """The verified object, or None; a corrupted object is deleted.

        An object is re-hashed whenever its size, modification time or inode differ from
        when it was last verified (recorded beside it), so an overwritten or replaced file
        is caught without hashing unchanged large files on every use.
        """
        path = self.object_path(sha256)
        try:
            fingerprint = _fingerprint(path)
        except FileNotFoundError:
            return None
        stamp = path.with_name(path.name + ".verified")
        with contextlib.suppress(OSError):
            if stamp.read_text() == fingerprint:
                return path
        if sha256_of(path) != sha256.lower():
            path.unlink(missing_ok=True)
            stamp.unlink(missing_ok=True)
            return None
        _write_stamp(stamp, fingerprint)
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
            # Calibration files are immutable (0444); a wrong fill raises before the rename.
            with atomic_writer(target, mode=0o444) as handle:
                writer = _HashingWriter(handle)
                try:
                    fill(writer)
                finally:
                    writer.finish()
                _check_received(writer, sha256, size)
            _write_stamp(target.with_name(target.name + ".verified"), _fingerprint(target))
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
        # Not flushed to disk: the object it comes from is, and can be materialized again.
        with atomic_path(destination, durable=False) as temporary:
            try:
                os.link(source, temporary)
            except OSError:  # another filesystem, or links not allowed
                shutil.copyfile(source, temporary)
        return destination
