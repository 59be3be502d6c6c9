"""Ingesting one calibration file: validate, index, store (udcif, as a transaction).

The caller (a view or a CLI command) has received the bytes into ``.incoming`` and owns
the unit of work: this module only adds rows, stages the file, and flushes. The commit
(:func:`caldb_server.db.commit`) renames the file into the tree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from caldb_server import storage
from caldb_server.catalogue.duplicates import find_duplicates
from caldb_server.catalogue.indexes import lock_index, record_change
from caldb_server.catalogue.models import CalibrationFile, CatalogueIndex, Dataset
from caldb_server.catalogue.quality import SUPERSEDED, change_quality
from caldb_server.catalogue.uploads import new_dataset, new_file
from caldb_server.changes.service import UPLOAD, record_supersession, record_upload
from caldb_server.db import utcnow
from caldb_server.errors import Conflict, PayloadTooLarge, ValidationFailed
from caldb_server.ingest.compression import DecompressedTooLarge
from caldb_server.ingest.headers import Check, HduDataset, read_calibration_file
from caldb_server.ingest.structure import StructureLimit
from caldb_server.ingest.within import duplicates_within
from caldb_server.registry import Registry

__all__ = ["IngestOutcome", "claim_upload", "ingest_file"]

MAX_FILE_NAME = 40
MAX_CAL_DIR = 70


@dataclass
class IngestOutcome:
    """What an ingestion did: ``created`` is False for an identical re-upload."""

    created: bool
    file: CalibrationFile
    datasets: list[Dataset]
    superseded: list[Dataset] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _check_name(name: str) -> list[Check]:
    checks = []
    try:
        storage.check_file_name(name)
    except storage.UnsafePathError as error:
        checks.append(Check(str(error), field="file"))
    if len(name) > MAX_FILE_NAME:
        checks.append(Check(f"file name longer than {MAX_FILE_NAME} characters", field="file"))
    return checks


def _expand(datasets: list[HduDataset], registry: Registry) -> tuple[list[HduDataset], list[Check]]:
    """One row per instrument an HDU's INSTRUME stands for (alias expansion)."""
    rows, checks = [], []
    for dataset in datasets:
        if dataset.telescop not in registry.missions:
            checks.append(Check(f"unknown mission {dataset.telescop}", dataset.hdu, "TELESCOP"))
            continue
        targets = registry.expand(dataset.telescop, dataset.instrume)
        if targets is None:
            checks.append(
                Check(
                    f"unknown instrument {dataset.instrume} of {dataset.telescop}",
                    dataset.hdu,
                    "INSTRUME",
                )
            )
            continue
        for target in targets:
            known = registry.registered(dataset.telescop, target).codenames
            if known and dataset.cal_cnam not in known:
                checks.append(
                    Check(
                        f"unknown codename {dataset.cal_cnam} of {target}; registered: "
                        f"{', '.join(sorted(known))}",
                        dataset.hdu,
                        "CCNM0001",
                    )
                )
            else:
                rows.append(dataclasses.replace(dataset, instrume=target))
    return rows, checks


def _placement(rows: list[HduDataset], registry: Registry) -> tuple[str, str, list[Check]]:
    """The index and CAL_DIR of the file: its first dataset's instrument, class, codename."""
    first = rows[0]
    index_dir = registry.registered(first.telescop, first.instrume).dir
    cal_dir = f"{index_dir}/{first.cal_clas.lower()}/{first.cal_cnam.lower()}"
    checks = []
    other_indexes = {registry.registered(row.telescop, row.instrume).dir for row in rows} - {
        index_dir
    }
    if other_indexes:
        checks.append(
            Check(
                f"datasets of one file must belong to one index; {index_dir} and "
                f"{', '.join(sorted(other_indexes))} were named",
                field="file",
            )
        )
    if len(cal_dir) > MAX_CAL_DIR:
        checks.append(Check(f"CAL_DIR {cal_dir} is longer than {MAX_CAL_DIR}", field="file"))
    return index_dir, cal_dir, checks + duplicates_within(rows)


def _validate(
    incoming: storage.IncomingFile, registry: Registry, max_bytes: int | None, max_hdus: int
) -> tuple[list[HduDataset], str, str, list[str]]:
    """Every structural and udcif rule; raises ValidationFailed listing all failed checks.

    A file beyond a size limit (decompressed bytes, HDU count) is 413, as a body over
    ``CALDB_MAX_UPLOAD_MB`` is: the server will not process that much, whatever it holds.
    """
    checks = _check_name(incoming.name)
    try:
        reading = read_calibration_file(incoming.path, max_bytes=max_bytes, max_hdus=max_hdus)
    except (DecompressedTooLarge, StructureLimit) as error:
        raise PayloadTooLarge(
            str(error), errors=[Check(str(error), field="file").as_dict()]
        ) from None
    checks += reading.checks
    rows, expansion_checks = _expand(reading.datasets, registry)
    checks += expansion_checks
    index_dir = cal_dir = ""
    if rows and not checks:
        index_dir, cal_dir, placement_checks = _placement(rows, registry)
        checks += placement_checks
    if checks:
        raise ValidationFailed(
            f"{incoming.name} cannot be indexed: {len(checks)} check(s) failed",
            errors=[check.as_dict() for check in checks],
        )
    return rows, index_dir, cal_dir, reading.notes


def _existing_file(
    session: Session, index_dir: str, incoming: storage.IncomingFile
) -> CalibrationFile | None:
    """The stored file of that name: identical (idempotent) or a conflict."""
    existing = session.scalars(
        select(CalibrationFile).where(
            CalibrationFile.index_dir == index_dir, CalibrationFile.cal_file == incoming.name
        )
    ).one_or_none()
    if existing is not None and existing.sha256 != incoming.sha256:
        held = "different content" if existing.held else "no stored content (imported index)"
        raise Conflict(
            f"{existing.cal_dir}/{existing.cal_file} already exists with {held}; "
            "files are immutable: give a new version a new name",
            file_id=existing.id,
        )
    return existing


def _restore_missing_copy(
    existing: CalibrationFile,
    tree: storage.Storage,
    incoming: storage.IncomingFile,
    session: Session,
    notes: list[str],
) -> list[str]:
    """Put identical bytes back if the stored copy went missing (e.g. a commit lost mid-way)."""
    path = tree.path_of(existing.cal_dir, existing.cal_file)
    if path.is_file() and path.stat().st_size == existing.size_bytes:
        return notes
    storage.stage(session, incoming, path)
    return [*notes, "the stored copy was missing or damaged; restored from this upload"]


def claim_upload(
    session: Session,
    tree: storage.Storage,
    incoming: storage.IncomingFile,
    *,
    index_dir: str,
    telescop: str,
    notes: list[str] | None = None,
) -> tuple[IngestOutcome | None, CatalogueIndex | None]:
    """An upload's file name in an index: the outcome of an identical re-upload, or the lock.

    An identical re-upload changes nothing (the index keeps its serial and CALDBVER), so it
    takes no lock; a missing stored copy is restored from it. Otherwise the index's write
    lock is taken and the name checked again (it may have been committed while we waited).

    Raises
    ------
    Conflict
        If the name is stored with other bytes.
    """
    existing = _existing_file(session, index_dir, incoming)
    index = None
    if existing is None:
        index = lock_index(session, index_dir, telescop)
        existing = _existing_file(session, index_dir, incoming)
    if existing is None:
        return None, index
    notes = _restore_missing_copy(existing, tree, incoming, session, notes or [])
    return IngestOutcome(False, existing, list(existing.datasets), notes=notes), index


def _duplicates(session: Session, rows: list[HduDataset]) -> list[tuple[int, Dataset]]:
    """(position of the new row, existing good dataset it duplicates) pairs."""
    return [
        (position, old)
        for position, row in enumerate(rows)
        for old in find_duplicates(session, row)
    ]


def _conflict(rows: list[HduDataset], duplicates: list[tuple[int, Dataset]]) -> Conflict:
    return Conflict(
        "the file duplicates good datasets (same instrument, codename, detector, filter, "
        "validity start and overlapping boundaries); upload with supersede=true to replace them",
        errors=[
            {
                "hdu": rows[position].hdu,
                "reason": f"duplicates dataset {old.id} ({old.file.cal_file}[{old.cal_xno}])",
                "dataset_id": old.id,
            }
            for position, old in duplicates
        ],
    )


def ingest_file(
    session: Session,
    tree: storage.Storage,
    registry: Registry,
    incoming: storage.IncomingFile,
    *,
    actor: str,
    now: datetime | None = None,
    supersede: bool = False,
    max_bytes: int | None = None,
    max_hdus: int,
) -> IngestOutcome:
    """Index a received calibration file and stage it for the tree.

    Parameters
    ----------
    session : Session
        The unit of work (flushed, not committed).
    tree : Storage
        The CALDB tree the file is staged into.
    registry : Registry
        Known missions, instruments and aliases.
    incoming : IncomingFile
        The received bytes, their name and sha256.
    actor : str
        Who uploads (recorded on the file, datasets and quality changes).
    now : datetime, optional
        The indexing time (UTC); by default the moment the index lock is held.
    supersede : bool
        Replace duplicated good datasets (their CAL_QUAL becomes 5) instead of refusing.
    max_bytes : int, optional
        Largest decompressed size of a compressed upload (``CALDB_MAX_UPLOAD_MB``).
    max_hdus : int
        Most HDUs in the file, the primary included (``CALDB_MAX_HDUS``).

    Raises
    ------
    ValidationFailed
        Listing every failed check (name, FITS structure, keywords, registry).
    PayloadTooLarge
        If a compressed upload expands beyond ``max_bytes``, or the file has more than
        ``max_hdus`` HDUs.
    Conflict
        Same name with other bytes, or duplicates without ``supersede``.
    """
    rows, index_dir, cal_dir, notes = _validate(incoming, registry, max_bytes, max_hdus)
    unchanged, index = claim_upload(
        session, tree, incoming, index_dir=index_dir, telescop=rows[0].telescop, notes=notes
    )
    if unchanged is not None:
        return unchanged
    assert index is not None  # locked: the name is free
    duplicates = _duplicates(session, rows)
    if duplicates and not supersede:
        raise _conflict(rows, duplicates)
    # Stamped once the lock is held: an as_of replay then sees what searches saw.
    now = now or utcnow()

    stored = new_file(index_dir, cal_dir, incoming, actor=actor, now=now)
    datasets = [new_dataset(stored, row, actor=actor, now=now) for row in rows]
    session.add_all([stored, *datasets])
    session.flush()
    superseded, replaced, replacements = [], [], []
    for position, old in duplicates:
        new = datasets[position]
        reason = f"superseded by {incoming.name}[{new.cal_xno}] (dataset {new.id})"
        change = change_quality(session, old, SUPERSEDED, reason=reason, actor=actor, now=now)
        if change is not None:
            superseded.append(old)
            replaced.append(change)
            replacements.append(new)
    storage.stage(session, incoming, tree.path_of(cal_dir, incoming.name))
    record_change(index, now)
    # The change feed (numbered at the commit: caldb_server.changes.service).
    record_upload(session, stored, datasets, kind=UPLOAD, actor=actor, now=now)
    record_supersession(session, replaced, replacements, stored, actor=actor, now=now)
    session.flush()
    return IngestOutcome(True, stored, datasets, superseded, notes)
