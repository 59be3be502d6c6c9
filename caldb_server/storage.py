"""The file tree: a HEASARC ``$CALDB`` layout on disk, written atomically.

Layout under ``CALDB_ROOT``::

    data/<mission>/<inst>/<bcf|cpf>/<codename>/<file>   calibration files (immutable)
    data/<mission>/<inst>/caldb.indx                    written by ``caldb-server export``
    data/<mission>/<inst>/index/caldb.indx<YYYYMMDD>    releases
    software/tools/caldb.config, alias_config.fits     written by ``caldb-server export``
    .incoming/    uploads being received (same filesystem, so renames are atomic)
    .writers/     one lock file per process that has files in .incoming (see below)
    .cache/       generated indexes served over HTTP
    .trash/       stray files moved aside by ``caldb-server fsck --repair``

An upload is received into ``.incoming``, hashed while it is written, and *staged* on the
session; :func:`caldb_server.db.commit` publishes it (rename) just before committing.

Several processes, on several hosts, may share the tree. A process killed while it holds
a received file (up to ``CALDB_MAX_UPLOAD_MB``) leaves it in ``.incoming``; every app
removes such files when it starts (:meth:`Storage.remove_stale_parts`), never one that a
live process still holds. A process holding received files holds an exclusive ``flock`` on
its lock file ``.writers/<writer>.lock``, and names its files ``<writer>.<uuid>.part``; the
kernel (or the NFS server) drops the lock of a dead process. One lock per process, not one
per file: an import holds thousands of received files until its commit. The lock file is
removed when the process has no received file left.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from sqlalchemy.orm import Session

from caldb_common.atomic import atomic_writer, fsync_path
from caldb_server.writer_locks import (
    PART_NAME,
    Writer,
    claim,
    dead_writer,
    is_own_writer,
    unclaim,
)

__all__ = [
    "IncomingFile",
    "Readable",
    "StagedFile",
    "Storage",
    "UnsafePathError",
    "atomic_file",
    "check_file_name",
    "check_relative_dir",
    "stage",
    "take_staged",
]

log = logging.getLogger(__name__)


class Readable(Protocol):
    """What an upload is read from: a request's file part, a decompressing reader..."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; empty at the end."""
        ...


_STAGED_KEY = "caldb.staged_files"
_CHUNK = 1024 * 1024
# Directory components as the CALDB writes them: lower-case words, digits, _ . + -
_DIR_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


class UnsafePathError(ValueError):
    """A directory or file name that could escape the tree or is not a plain name."""


def check_file_name(name: str) -> str:
    """Return ``name`` if it is a bare file name (no directory, no NUL, no leading dot)."""
    if not _FILE_NAME.fullmatch(name) or name in (".", ".."):
        raise UnsafePathError(
            f"{name!r} is not a bare file name (letters, digits and _ . + - only, "
            "not starting with a dot)"
        )
    return name


def check_relative_dir(path: str) -> str:
    """Return ``path`` if it is a clean relative directory like ``data/svom/mxt/bcf/gain``."""
    parts = path.split("/")
    if not path or any(not _DIR_PART.fullmatch(p) or p in (".", "..") for p in parts):
        raise UnsafePathError(f"{path!r} is not a clean relative directory under the CALDB")
    return path


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Write a file of the tree completely next to ``path``, then rename it over ``path``.

    Readers see the old file or the new one, never a partial one; the rename is durable
    (:func:`caldb_common.atomic.atomic_writer`; its temporary files, named with
    :data:`caldb_common.atomic.TEMPORARY_PREFIX`, are what fsck reports after a crash). The
    permissions of a replaced file are kept (a new one is 0644, readable by a web server
    serving the tree).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    with atomic_writer(path, mode=mode) as stream:
        yield stream


@dataclass
class IncomingFile:
    """An upload received into ``.incoming``: its temporary path, sha256 and size.

    Until it is published or discarded, it keeps its writer's lock, so that no starting
    process takes it for the leftover of a dead one.
    """

    path: Path
    name: str
    sha256: str
    size: int
    staged: bool = False
    # None once published or discarded. One that is dropped without either keeps its claim
    # until the process exits: better an orphan for the next start than a live file lost.
    writer: Writer | None = field(default=None, repr=False, compare=False)

    def discard(self) -> None:
        """Delete the temporary file if it is still there."""
        self.path.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        """Give up the writer's claim: the file was published or deleted."""
        writer, self.writer = self.writer, None
        if writer is not None:
            unclaim(writer)


@dataclass
class StagedFile:
    """A received file waiting for its unit of work to commit."""

    incoming: IncomingFile
    destination: Path
    published: bool = False

    def publish(self) -> None:
        """Rename the file into the tree (atomic, durable)."""
        self.destination.parent.mkdir(parents=True, exist_ok=True)
        self.incoming.path.replace(self.destination)
        fsync_path(self.destination.parent)
        self.published = True
        self.incoming.release()

    def withdraw(self) -> None:
        """Remove a published file again (publishing its unit of work failed)."""
        if self.published:
            self.destination.unlink(missing_ok=True)
            self.published = False

    def discard(self) -> None:
        """Forget a file that was never published."""
        if not self.published:
            self.incoming.discard()


def stage(session: Session, incoming: IncomingFile, destination: Path) -> None:
    """Publish ``incoming`` at ``destination`` when ``session`` commits."""
    incoming.staged = True
    session.info.setdefault(_STAGED_KEY, []).append(StagedFile(incoming, destination))


def take_staged(session: Session) -> list[StagedFile]:
    """Remove and return the files staged on ``session``."""
    return session.info.pop(_STAGED_KEY, [])


class Storage:
    """The CALDB file tree rooted at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming_dir = root / ".incoming"
        self.writers_dir = root / ".writers"
        self.cache_dir = root / ".cache"
        self.trash_dir = root / ".trash"

    def create(self) -> None:
        """Create the tree's service directories (idempotent)."""
        for directory in (self.root / "data", self.incoming_dir, self.cache_dir):
            directory.mkdir(parents=True, exist_ok=True)

    def path_of(self, cal_dir: str, cal_file: str) -> Path:
        """Absolute path of a catalogue file, refusing anything that leaves the tree."""
        path = self.root / check_relative_dir(cal_dir) / check_file_name(cal_file)
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise UnsafePathError(f"{cal_dir}/{cal_file} leaves the CALDB tree")
        return path

    def write_incoming(self, stream: Readable, name: str) -> IncomingFile:
        """Copy ``stream`` into ``.incoming`` while hashing it; the caller stages or discards it.

        The name is only recorded here; callers validate it with :func:`check_file_name`.
        """
        self.incoming_dir.mkdir(parents=True, exist_ok=True)
        writer = claim(self.writers_dir)
        path = self.incoming_dir / f"{writer.ident}.{uuid.uuid4().hex}.part"
        digest, size = hashlib.sha256(), 0
        try:
            with path.open("xb") as handle:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
                    handle.write(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            unclaim(writer)
            raise
        return IncomingFile(path, name, digest.hexdigest(), size, writer=writer)

    def remove_stale_parts(self) -> list[str]:
        """Delete the received files of processes that died holding them; their names.

        Only files of a writer whose lock nobody holds are deleted, so a file that a live
        process (here or on another host) is receiving or about to publish is never
        touched. Files with other names (older versions) are left to ``fsck --repair``.
        """
        if not self.incoming_dir.is_dir():
            return []
        by_writer: dict[str, list[Path]] = defaultdict(list)
        for path in self.incoming_dir.iterdir():
            if match := PART_NAME.fullmatch(path.name):
                by_writer[match["writer"]].append(path)
        removed = []
        for ident, paths in sorted(by_writer.items()):
            if is_own_writer(ident):
                continue
            with dead_writer(self.writers_dir / f"{ident}.lock") as dead:
                if not dead:
                    continue
                for path in sorted(paths):
                    try:
                        path.unlink(missing_ok=True)
                    except OSError as error:  # left to fsck --repair; the start goes on
                        log.warning("cannot remove %s: %s", path, error)
                        continue
                    removed.append(str(path.relative_to(self.root)))
        # Lock files of writers that died between taking their lock and writing a file.
        if self.writers_dir.is_dir():
            for lock_path in self.writers_dir.glob("*.lock"):
                if lock_path.stem not in by_writer and not is_own_writer(lock_path.stem):
                    with dead_writer(lock_path):
                        pass
        if removed:
            log.warning("removed %d file(s) left in .incoming by dead processes", len(removed))
        return removed

    def part_in_use(self, path: Path) -> bool:
        """Whether a file of ``.incoming`` is held by a live process (never delete it)."""
        match = PART_NAME.fullmatch(path.name)
        if match is None:
            return False  # not a writer's file: judged by its age
        if is_own_writer(match["writer"]):
            return True
        try:
            descriptor = os.open(self.writers_dir / f"{match['writer']}.lock", os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(descriptor)
        return False

    @contextlib.contextmanager
    def receive(self, stream: Readable, name: str) -> Iterator[IncomingFile]:
        """:meth:`write_incoming`, deleting the file on exit unless it was staged."""
        incoming = self.write_incoming(stream, name)
        try:
            yield incoming
        finally:
            # A staged file is renamed by the commit or deleted by the rollback.
            if not incoming.staged:
                incoming.discard()
