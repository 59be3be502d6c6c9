"""The HEASARC side of the catalogue: index files, configuration files, releases.

``caldb.indx`` files are generated from the catalogue. The current index of an instrument
is cached under ``.cache/cif/`` and named after the index's ``serial``, which every change
of the index's datasets increments in its transaction, so a cached file is current exactly
when its serial is.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from caldb_server.catalogue.indexes import lock_index
from caldb_server.catalogue.models import (
    ONBOARD_CLASS,
    CalibrationFile,
    CatalogueIndex,
    Dataset,
    Release,
    boundaries_column,
)
from caldb_server.changes.service import record_release
from caldb_server.db import utcnow
from caldb_server.errors import Conflict, NotFound
from caldb_server.heasarc.cif import CifRow, write_cif
from caldb_server.heasarc.config_files import format_caldb_config, write_alias_config
from caldb_server.instruments.service import catalogue_instruments
from caldb_server.registry import Registry
from caldb_server.storage import Storage, atomic_file, stage

__all__ = [
    "CIF_NAME",
    "alias_config_bytes",
    "caldb_config_text",
    "cif_rows",
    "config_entries",
    "current_index",
    "export_tree",
    "release_index",
    "release_path",
    "write_index",
]

CIF_NAME = "caldb.indx"
STALE_CACHE_SECONDS = 300
TOOLS_DIR = "software/tools"
_CIF_COLUMNS = (
    Dataset.telescop,
    Dataset.instrume,
    Dataset.detnam,
    Dataset.filter,
    Dataset.cal_dev,
    CalibrationFile.cal_dir,
    CalibrationFile.cal_file,
    Dataset.cal_clas,
    Dataset.cal_dtyp,
    Dataset.cal_cnam,
    boundaries_column(),
    Dataset.cal_xno,
    Dataset.cal_vsd,
    Dataset.cal_vst,
    Dataset.ref_time,
    Dataset.cal_qual,
    Dataset.cal_date,
    Dataset.cal_desc,
)


def cif_rows(session: Session, index_dir: str) -> Iterator[CifRow]:
    """Every calibration dataset of an index as a CIF row, in index order.

    Onboard products are left out: FITS tools could not open their YAML files.
    """
    statement = (
        select(*_CIF_COLUMNS)
        .join(CalibrationFile, Dataset.file_id == CalibrationFile.id)
        .where(CalibrationFile.index_dir == index_dir, Dataset.cal_clas != ONBOARD_CLASS)
        .order_by(Dataset.id)
    )  # no server-side cursor: write_cif holds every row anyway, and reads autocommit
    for values in session.execute(statement):
        yield CifRow(*tuple(values))


def _index(session: Session, index_dir: str) -> CatalogueIndex:
    index = session.get(CatalogueIndex, index_dir)
    if index is None:
        raise NotFound(f"there is no index {index_dir}")
    return index


def write_index(session: Session, index_dir: str, destination: Path, *, caldbver: str) -> None:
    """Write the current ``caldb.indx`` of an index to ``destination`` (atomically)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    write_cif(cif_rows(session, index_dir), destination, caldbver=caldbver)


def _index_state(session: Session, registry: Registry, index_dir: str) -> tuple[int, str] | None:
    """(serial, CALDBVER) of an index, or None if there is no such index.

    CALDBVER is the date of the index's last change; a registered index without datasets
    yet has serial 0 and today's date.
    """
    index = session.get(CatalogueIndex, index_dir)
    if index is not None:
        return index.serial, index.updated_at.strftime("%Y%m%d")
    if index_dir in registry.index_dirs():
        return 0, utcnow().strftime("%Y%m%d")
    return None


def current_index(
    session: Session, storage: Storage, registry: Registry, index_dir: str
) -> Path | None:
    """Path of the current ``caldb.indx`` of an index (None if there is no such index).

    Generated into ``.cache`` when the index's serial has none yet. ``session`` must see one
    snapshot (serial and rows must agree). ``CALDBVER`` is the date of the index's last
    change, so every process generates the same bytes for a serial. A registered index
    without datasets is an empty CIF, so that quzcif finds nothing rather than no index.
    """
    state = _index_state(session, registry, index_dir)
    if state is None:
        return None
    serial, caldbver = state
    directory = storage.cache_dir / "cif" / index_dir
    cached = directory / f"{CIF_NAME}.{serial}"
    if not cached.exists():
        directory.mkdir(parents=True, exist_ok=True)
        write_index(session, index_dir, cached, caldbver=caldbver)
        _prune(directory, serial)
    return cached


def _prune(directory: Path, serial: int) -> None:
    """Delete cached indexes two serials old or more, once nobody can be about to send them.

    The previous serial's file is kept: a request may have read that serial just before
    the change. Another process may be pruning too.
    """
    horizon = time.time() - STALE_CACHE_SECONDS
    for stale in directory.glob(f"{CIF_NAME}.*"):
        suffix = stale.name.removeprefix(f"{CIF_NAME}.")
        if not suffix.isdigit() or int(suffix) >= serial - 1:
            continue
        with contextlib.suppress(FileNotFoundError):
            if stale.stat().st_mtime < horizon:
                stale.unlink()


def config_entries(session: Session, registry: Registry) -> list[tuple[str, str, str]]:
    """(mission, instrument, index dir) for caldb.config: registered and hosted instruments."""
    entries = {(m, i): d for m, i, d in catalogue_instruments(session)}
    entries.update({(m, i): d for m, i, d in registry.index_entries()})
    return sorted((m, i, d) for (m, i), d in entries.items())


def caldb_config_text(session: Session, registry: Registry) -> str:
    """The ``caldb.config`` a HEASoft user downloads."""
    return format_caldb_config(config_entries(session, registry))


def alias_config_bytes(registry: Registry) -> bytes:
    """The ``alias_config.fits`` a HEASoft user downloads."""
    buffer = io.BytesIO()
    write_alias_config(registry.aliases(), buffer)
    return buffer.getvalue()


def _write_bytes(destination: Path, data: bytes) -> None:
    with atomic_file(destination) as stream:
        stream.write(data)


def export_tree(session: Session, storage: Storage, registry: Registry) -> list[Path]:
    """Write every current ``caldb.indx`` and the configuration files into the tree.

    The tree then is a complete local ``$CALDB``: ``CALDB=<root>`` and HEASoft works on it.
    Registered indexes without datasets get an empty CIF.
    """
    written = []
    index_dirs = set(session.scalars(select(CatalogueIndex.index_dir))) | registry.index_dirs()
    for index_dir in sorted(index_dirs):
        state = _index_state(session, registry, index_dir)
        assert state is not None
        destination = storage.root / index_dir / CIF_NAME
        write_index(session, index_dir, destination, caldbver=state[1])
        written.append(destination)
    tools = storage.root / TOOLS_DIR
    _write_bytes(tools / "caldb.config", caldb_config_text(session, registry).encode("ascii"))
    _write_bytes(tools / "alias_config.fits", alias_config_bytes(registry))
    written += [tools / "caldb.config", tools / "alias_config.fits"]
    return written


def release_path(storage: Storage, index_dir: str, caldbver: str) -> Path:
    """Where the release ``caldbver`` of an index lives in the tree."""
    return storage.root / index_dir / "index" / f"{CIF_NAME}{caldbver}"


def release_index(
    session: Session, storage: Storage, index_dir: str, *, caldbver: str, actor: str, now: datetime
) -> Release:
    """Freeze the current index as ``index/caldb.indx<caldbver>`` and record the release.

    Raises
    ------
    NotFound
        If the index does not exist.
    Conflict
        If that release exists already (releases are immutable).
    """
    index = _index(session, index_dir)
    lock_index(session, index_dir, index.telescop)  # a release changes no dataset
    existing = session.scalars(
        select(Release).where(Release.index_dir == index_dir, Release.caldbver == caldbver)
    ).one_or_none()
    if existing is not None:
        raise Conflict(f"release {caldbver} of {index_dir} exists already; releases are immutable")
    rows = list(cif_rows(session, index_dir))
    content = io.BytesIO()
    write_cif(rows, content, caldbver=caldbver)
    content.seek(0)
    frozen = storage.write_incoming(content, CIF_NAME + caldbver)  # hashed as it is written
    release = Release(
        index_dir=index_dir,
        caldbver=caldbver,
        row_count=len(rows),
        sha256=frozen.sha256,
        size_bytes=frozen.size,
        created_by=actor,
        created_at=now,
    )
    # Published by the commit, like an upload: no release file without its row (and a
    # failed flush discards the temporary file with the rest of the unit of work).
    stage(session, frozen, release_path(storage, index_dir, caldbver))
    session.add(release)
    cif_path = f"{index_dir}/index/{CIF_NAME}{caldbver}"
    record_release(session, release, index.telescop, cif_path=cif_path, actor=actor, now=now)
    session.flush()
    return release
