"""The file side of the dataset page: content, comparison with the previous version, thumbnails.

Paths come only from the catalogue, through :meth:`caldb_server.storage.Storage.path_of`
(which refuses any path that leaves the tree); nothing a request says becomes a path. A
file that is indexed but not held (an imported index), missing from the tree (damaged:
``caldb-server fsck``) or unreadable gives a sentence for the page, never an error page:
the catalogue part of the page is shown whatever the tree holds.

Reading is done by :mod:`caldb_server.inspect` (FITS: headers, data summaries, FITSDiff;
onboard YAML: a unified diff). Thumbnails of a file (immutable: named by its sha256) are
kept in a small in-process cache, filled when the page describes the file, so the
``<img>`` requests that follow do not read it again.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits

from caldb_server.catalogue.models import CalibrationFile, Dataset
from caldb_server.inspect import (
    Comparison,
    DiffLine,
    FileDescription,
    InspectionError,
    compare_files,
    compare_yaml,
    describe_file,
)
from caldb_server.inspect.reading import open_fits
from caldb_server.inspect.thumbnail import thumbnail_png
from caldb_server.storage import Storage, UnsafePathError

__all__ = [
    "FileContent",
    "VersionComparison",
    "compare_versions",
    "hdu_thumbnail",
    "previous_path",
    "read_content",
    "stored_path",
]

log = logging.getLogger(__name__)

MAX_YAML_BYTES = 1024 * 1024  # onboard files are refused above this size at upload


@dataclass(frozen=True)
class FileContent:
    """A file as the page shows it: FITS ``description`` or onboard ``yaml_text``.

    ``problem`` is a sentence when neither could be read (then both are None).
    """

    description: FileDescription | None = None
    yaml_text: str | None = None
    problem: str = ""


@dataclass(frozen=True)
class VersionComparison:
    """A file compared with the previous version's: FITS ``fits`` or YAML ``yaml``.

    ``problem`` is a sentence when the files could not be compared.
    """

    fits: Comparison | None = None
    yaml: list[DiffLine] | None = None
    problem: str = ""


def _problem_of_stored(stored: CalibrationFile, path: Path | None) -> str:
    if not stored.held:
        return (
            f"{stored.cal_file} is indexed but its bytes are not held by this CalDB "
            "(imported index)."
        )
    if path is None or not path.is_file():
        log.error("%s/%s is in the catalogue but not in the tree", stored.cal_dir, stored.cal_file)
        return (
            f"{stored.cal_file} is in the catalogue but missing from the tree; the operators "
            "should run caldb-server fsck (uploading the same file again restores it)."
        )
    return ""


def stored_path(storage: Storage, stored: CalibrationFile) -> tuple[Path | None, str]:
    """The path of a held file present in the tree, or None and the sentence saying why."""
    try:
        path: Path | None = storage.path_of(stored.cal_dir, stored.cal_file)
    except UnsafePathError:
        path = None  # a catalogue row naming a path outside the tree: treated as missing
    problem = _problem_of_stored(stored, path)
    return (None, problem) if problem else (path, "")


def _read_yaml(path: Path) -> str:
    with path.open("rb") as stream:
        content = stream.read(MAX_YAML_BYTES + 1)
    if len(content) > MAX_YAML_BYTES:
        raise InspectionError(f"The file {path.name} is too large to show.")
    return content.decode("utf-8", errors="replace")


def read_content(path: Path, *, onboard: bool, sha256: str) -> FileContent:
    """The content of a stored file (``onboard``: YAML text, else a FITS description)."""
    try:
        if onboard:
            return FileContent(yaml_text=_read_yaml(path))
        description = describe_file(path)
    except (InspectionError, OSError) as error:
        return FileContent(problem=_sentence(error, path))
    for hdu in description.hdus:
        if hdu.image is not None and hdu.image.thumbnail is not None:
            _THUMBNAILS.put((sha256, hdu.index), hdu.image.thumbnail)
    return FileContent(description=description)


def compare_versions(old_path: Path, new_path: Path, *, onboard: bool) -> VersionComparison:
    """The new file compared with the previous version's."""
    try:
        if onboard:
            return VersionComparison(yaml=compare_yaml(_read_yaml(old_path), _read_yaml(new_path)))
        return VersionComparison(fits=compare_files(old_path, new_path))
    except (InspectionError, OSError) as error:
        return VersionComparison(problem=_sentence(error, new_path))


def _sentence(error: Exception, path: Path) -> str:
    if isinstance(error, InspectionError):
        return str(error)
    log.error("cannot read %s: %s", path, error)
    return f"The file {path.name} cannot be read."


def _draw_thumbnail(path: Path, index: int) -> bytes | None:
    """The thumbnail of HDU ``index`` as :func:`caldb_server.inspect.describe_file` draws it."""
    with open_fits(path) as hdus:
        if not 0 <= index < len(hdus):
            return None
        hdu = hdus[index]
        if isinstance(hdu, fits.GroupsHDU) or not hdu.is_image:
            return None
        data = hdu.data
        if data is None or data.size == 0 or data.ndim < 2:
            return None
        return thumbnail_png(data[(0,) * (data.ndim - 2)])  # the first 2-D plane


def hdu_thumbnail(path: Path, sha256: str, index: int) -> bytes | None:
    """The PNG thumbnail of image HDU ``index`` (primary 0), or None if it has none.

    Raises
    ------
    InspectionError
        If the file cannot be read.
    """
    key = (sha256, index)
    png = _THUMBNAILS.get(key)
    if png is None:
        png = _draw_thumbnail(path, index)
        if png is not None:
            _THUMBNAILS.put(key, png)
    return png


class _LeastRecentlyUsed:
    """A small thread-safe cache of thumbnails (at most 64 KiB each, 256 x 256 grey)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> bytes | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, int], value: bytes) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_THUMBNAILS = _LeastRecentlyUsed(128)


def previous_path(storage: Storage, previous: Dataset) -> tuple[Path | None, str]:
    """The previous version's path, or None and the sentence saying why it is not compared."""
    path, problem = stored_path(storage, previous.file)
    if path is None:
        return None, f"The previous version cannot be compared: {problem}"
    return path, ""
