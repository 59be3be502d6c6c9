"""Which process holds which received files of a tree (see :mod:`caldb_server.storage`).

A process holding received files in ``.incoming`` holds an exclusive ``flock`` on its own
``.writers/<writer>.lock`` and names its files ``<writer>.<uuid>.part``. The kernel (or the
NFS server) drops the lock of a dead process, so a starting process can tell the files of
dead writers, which it deletes, from those of live ones, which it never touches.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PART_NAME", "Writer", "claim", "dead_writer", "is_own_writer", "unclaim"]

log = logging.getLogger(__name__)

# A file received by a writer (see the module docstring): '<writer>.<uuid>.part'.
PART_NAME = re.compile(r"(?P<writer>[0-9a-f]{16})\.[0-9a-f]{32}\.part")


class Writer:
    """The exclusive ``flock`` of one process on ``.writers/<ident>.lock`` of one tree."""

    def __init__(self, lock_path: Path, descriptor: int) -> None:
        self.lock_path = lock_path
        self.ident = lock_path.stem
        self.descriptor = descriptor
        self.pid = os.getpid()
        self.parts = 0  # received files not yet published or discarded

    @classmethod
    def acquire(cls, directory: Path) -> Writer:
        """A new writer; its identity is never reused, so a stale one cannot come back."""
        directory.mkdir(parents=True, exist_ok=True)
        while True:
            path = directory / f"{secrets.token_hex(8)}.lock"
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                # Blocks only while a cleaner that caught the file before this lock deletes it.
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                if os.fstat(descriptor).st_nlink > 0:  # not deleted by that cleaner
                    os.write(descriptor, f"{socket.gethostname()} {os.getpid()}\n".encode())
                    return cls(path, descriptor)
            except BaseException:
                os.close(descriptor)
                raise
            os.close(descriptor)

    def release(self) -> None:
        """Remove the lock file, then drop the lock (only in the process that took it)."""
        if self.pid != os.getpid():
            return  # a forked child's copy: the parent still holds its files
        self.lock_path.unlink(missing_ok=True)
        os.close(self.descriptor)


_writers: dict[Path, Writer] = {}  # this process's writer of each tree, by lock directory
_writers_guard = threading.Lock()


def claim(directory: Path) -> Writer:
    """The writer of this process for the tree whose lock directory is ``directory``."""
    with _writers_guard:
        writer = _writers.get(directory)
        if writer is None:
            writer = _writers[directory] = Writer.acquire(directory)
        writer.parts += 1
        return writer


def unclaim(writer: Writer) -> None:
    """One received file fewer; the last one releases the writer."""
    with _writers_guard:
        writer.parts -= 1
        if writer.parts > 0 or writer.pid != os.getpid():
            return
        if _writers.get(writer.lock_path.parent) is writer:
            del _writers[writer.lock_path.parent]
        writer.release()


def is_own_writer(ident: str) -> bool:
    """Whether ``ident`` is a writer of this process: alive, and its lock file left closed.

    Needed where ``flock`` is emulated with POSIX locks (NFS): those are per process, so a
    probe from the holding process would succeed, and closing the probe would drop them.
    """
    with _writers_guard:
        return any(writer.ident == ident for writer in _writers.values())


def _forget_writers_after_fork() -> None:
    """A forked child starts with no writer; its copies of the parent's locks are closed."""
    global _writers_guard  # noqa: PLW0603 - the parent's guard may have been held at fork
    _writers_guard = threading.Lock()
    for writer in _writers.values():
        os.close(writer.descriptor)  # the parent's open file (and lock) stays
    _writers.clear()


os.register_at_fork(after_in_child=_forget_writers_after_fork)


@contextlib.contextmanager
def dead_writer(lock_path: Path) -> Iterator[bool]:
    """Whether no live process holds ``lock_path``, holding the lock meanwhile if so.

    The caller deletes the dead writer's files inside the block; the lock file goes after.
    """
    try:
        descriptor = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        yield True  # released: whatever the writer still has in .incoming is orphaned
        return
    except OSError as error:  # another account's lock (a CLI run as root): not ours to judge
        log.warning("cannot check the writer lock %s: %s; its files are kept", lock_path, error)
        yield False
        return
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
        lock_path.unlink(missing_ok=True)
    finally:
        os.close(descriptor)
