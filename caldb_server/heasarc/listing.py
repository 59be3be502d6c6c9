"""What a directory of the HEASARC tree holds, for the HTML listings of ``/caldb/.../``.

A listing is built from the catalogue and never from the disk, exactly as files are only
served through catalogue lookups: a stray file in the tree stays invisible. A directory
exists when some catalogued path lies under it: a calibration file's ``CAL_DIR``, an index
(catalogued or registered), a release's ``index/`` directory, ``software/tools``. Each
entry is what its URL answers, so a generated file (``caldb.indx``, a release,
``caldb.config``, ``alias_config.fits``) hides a calibration file of the same name, as it
does in :func:`caldb_server.heasarc.views.caldb_tree_view`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from caldb_server.catalogue.models import CalibrationFile, CatalogueIndex, Dataset, Release
from caldb_server.heasarc.tree import (
    CIF_NAME,
    TOOLS_DIR,
    alias_config_bytes,
    caldb_config_text,
    current_index,
)
from caldb_server.registry import Registry
from caldb_server.storage import Storage

__all__ = ["Entry", "Listing", "directory_listing", "is_directory"]

RELEASES = "index"  # the directory of an index's releases


@dataclass(frozen=True)
class Entry:
    """One line of a listing: a sub-directory or a file."""

    name: str
    directory: bool = False
    size: int | None = None
    modified: datetime | None = None
    dataset_ids: tuple[int, ...] = ()
    held: bool = True  # False: an imported index row whose bytes this CalDB does not hold
    generated: str = ""  # what a generated file is, for the reader


@dataclass(frozen=True)
class Listing:
    """A directory (``""`` for the top of the tree) and its entries, directories first."""

    path: str
    entries: list[Entry]


def _clean(path: str) -> bool:
    return path == "" or all(part not in ("", ".", "..") for part in path.split("/"))


def _index_dirs(session: Session, registry: Registry) -> set[str]:
    """The directories that hold a ``caldb.indx`` (catalogued or registered indexes)."""
    return set(session.scalars(select(CatalogueIndex.index_dir))) | registry.index_dirs()


def _known_directories(session: Session, registry: Registry) -> set[str]:
    directories = set(session.scalars(select(CalibrationFile.cal_dir).distinct()))
    directories |= _index_dirs(session, registry)
    released = session.scalars(select(Release.index_dir).distinct())
    directories |= {f"{index_dir}/{RELEASES}" for index_dir in released}
    directories.add(TOOLS_DIR)
    return directories


def _children(directories: set[str], path: str) -> set[str] | None:
    """Names of the sub-directories of ``path``; None if ``path`` is no directory."""
    prefix = f"{path}/" if path else ""
    children = {d[len(prefix) :].split("/", 1)[0] for d in directories if d.startswith(prefix)}
    if path and not children and path not in directories:
        return None
    return children


def is_directory(session: Session, registry: Registry, path: str) -> bool:
    """Whether ``path`` (no leading or trailing ``/``) is a directory of the tree."""
    return _clean(path) and _children(_known_directories(session, registry), path) is not None


def _calibration_files(session: Session, path: str) -> list[Entry]:
    statement = (
        select(
            CalibrationFile.cal_file,
            CalibrationFile.size_bytes,
            CalibrationFile.uploaded_at,
            CalibrationFile.sha256,
            Dataset.id,
        )
        .outerjoin(Dataset, Dataset.file_id == CalibrationFile.id)
        .where(CalibrationFile.cal_dir == path)
        .order_by(CalibrationFile.cal_file, Dataset.id)
    )
    files: dict[str, Entry] = {}
    datasets: dict[str, list[int]] = {}
    for name, size, uploaded_at, sha256, dataset_id in session.execute(statement):
        files.setdefault(name, Entry(name, size=size, modified=uploaded_at, held=bool(sha256)))
        if dataset_id is not None:
            datasets.setdefault(name, []).append(dataset_id)
    return [
        replace(entry, dataset_ids=tuple(datasets.get(name, ()))) for name, entry in files.items()
    ]


def _current_index(session: Session, storage: Storage, registry: Registry, path: str) -> Entry:
    cif = current_index(session, storage, registry, path)
    assert cif is not None  # path is an index directory
    index = session.get(CatalogueIndex, path)
    modified = index.updated_at if index is not None else None  # registered, never filled
    return Entry(CIF_NAME, size=cif.stat().st_size, modified=modified, generated="current index")


def _releases(session: Session, index_dir: str) -> list[Entry]:
    releases = session.scalars(select(Release).where(Release.index_dir == index_dir))
    return [
        Entry(
            f"{CIF_NAME}{release.caldbver}",
            size=release.size_bytes,
            modified=release.created_at,
            generated=f"release {release.caldbver}",
        )
        for release in releases
    ]


def _tools_files(session: Session, registry: Registry) -> list[Entry]:
    config = caldb_config_text(session, registry).encode("ascii")
    return [
        Entry("caldb.config", size=len(config), generated="configuration"),
        Entry("alias_config.fits", size=len(alias_config_bytes(registry)), generated="aliases"),
    ]


def _generated_files(
    session: Session, storage: Storage, registry: Registry, path: str, index_dirs: set[str]
) -> list[Entry]:
    if path == TOOLS_DIR:
        return _tools_files(session, registry)
    files = []
    if path in index_dirs:
        files.append(_current_index(session, storage, registry, path))
    index_dir, slash, last = path.rpartition("/")
    if slash and last == RELEASES:
        files += _releases(session, index_dir)
    return files


def directory_listing(
    session: Session, storage: Storage, registry: Registry, path: str
) -> Listing | None:
    """The listing of ``path`` (no leading or trailing ``/``), or None if it is no directory.

    ``session`` must see one snapshot (the current index's serial and rows must agree).
    """
    if not _clean(path):
        return None
    children = _children(_known_directories(session, registry), path)
    if children is None:
        return None
    files = {entry.name: entry for entry in _calibration_files(session, path)}
    generated = _generated_files(session, storage, registry, path, _index_dirs(session, registry))
    files.update({entry.name: entry for entry in generated})  # what the URL answers
    directories = [Entry(name, directory=True) for name in sorted(children)]
    return Listing(path, directories + [files[name] for name in sorted(files)])
