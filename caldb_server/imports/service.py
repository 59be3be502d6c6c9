"""Importing an existing HEASARC index (``caldb.indx``) of any mission.

Rows keep their CIF values (CAL_QUAL, CAL_DATE, REF_TIME) and order, so the imported
index answers exactly as the original. Values are read as HEASoft reads them (the lenient
reading of :mod:`caldb_selection`), not with the strict grammar of new uploads: a
``RAWX(0- 31)`` that quzcif accepts is imported, with quzcif's meaning, and noted. Every
row that cannot be imported is reported, with its number as fv shows it (from 1).

Files are optional: with ``files_root`` (a ``$CALDB``-like tree, or a flat directory) each
file found is copied in and hashed; the others become metadata-only datasets, searchable
but without bytes. Re-importing is idempotent, and a later import with the files attaches
them to metadata-only rows.

An import is one transaction written in batches: one query reads what the indexes already
hold, then multi-row INSERTs of :data:`BATCH_ROWS` rows write the new datasets (no ORM
object and no query per row). It adds everything or, if anything fails, nothing.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from caldb_selection import normalise_validity_date
from caldb_server import storage
from caldb_server.catalogue.indexes import index_dir_of, lock_index, record_change
from caldb_server.catalogue.models import (
    CalibrationFile,
    Dataset,
    QualityChange,
    boundaries_column,
)
from caldb_server.changes.service import Subject, record_import
from caldb_server.db import utcnow
from caldb_server.errors import ValidationFailed
from caldb_server.heasarc.cif import CifRow, read_cif
from caldb_server.imports.validation import normalised, validate

__all__ = ["BATCH_ROWS", "ImportReport", "Progress", "import_cif"]

#: Rows written per INSERT statement, and per step of the progress.
BATCH_ROWS = 5000
#: Told (rows done, rows of the index) after each batch.
Progress = Callable[[int, int], None]
_FileKey = tuple[str, str]  # (CAL_DIR, CAL_FILE)
_Identity = tuple[object, ...]
# Dataset columns copied as they are from a CIF row (the path is the file's).
_COPIED = tuple(n for n in CifRow.__dataclass_fields__ if n not in ("cal_dir", "cal_file"))
_VSD = _COPIED.index("cal_vsd")


@dataclass
class ImportReport:
    """What an import did."""

    rows_read: int = 0
    datasets_added: int = 0
    datasets_present: int = 0
    quality_changes: int = 0
    files_stored: int = 0
    files_metadata_only: list[str] = field(default_factory=list)
    #: Rows that only HEASoft's reading accepts, and how they were read ("row N: ...").
    notes: list[str] = field(default_factory=list)


@dataclass
class _Stored:
    """A file of the catalogue as the import needs it."""

    id: int
    cal_dir: str
    held: bool


def _find(files_root: Path, key: _FileKey) -> Path | None:
    """The file of a row under ``files_root``: tree layout first, then flat; ``.gz`` too."""
    cal_dir, cal_file = key
    for base in (files_root / cal_dir, files_root):
        for candidate in (base / cal_file, base / f"{cal_file}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _receive(tree: storage.Storage, source: Path, name: str) -> storage.IncomingFile:
    """Copy a found file into ``.incoming`` (decompressed if the CIF names it uncompressed)."""
    compressed = source.suffix == ".gz" and not name.endswith(".gz")
    opener = gzip.open if compressed else open
    with opener(source, "rb") as stream:
        return tree.write_incoming(stream, name)


def _stored_files(session: Session, index_dirs: Iterable[str]) -> dict[_FileKey, _Stored]:
    """Every file of the indexes, by (index, CAL_FILE): one query."""
    rows = session.execute(
        select(
            CalibrationFile.id,
            CalibrationFile.index_dir,
            CalibrationFile.cal_dir,
            CalibrationFile.cal_file,
            CalibrationFile.sha256.is_not(None),
        ).where(CalibrationFile.index_dir.in_(list(index_dirs)))
    )
    return {(index, name): _Stored(id_, cal_dir, held) for id_, index, cal_dir, name, held in rows}


def _file_ids(
    session: Session,
    tree: storage.Storage,
    keys: list[_FileKey],
    *,
    files_root: Path | None,
    actor: str,
    now: datetime,
    report: ImportReport,
) -> dict[_FileKey, int]:
    """The id of every file the CIF names, the new ones inserted; found bytes staged."""
    index_of = {cal_dir: index_dir_of(cal_dir) for cal_dir, _ in keys}
    stored = _stored_files(session, set(index_of.values()))
    for cal_dir, cal_file in keys:  # every refusal before any file is copied
        known = stored.get((index_of[cal_dir], cal_file))
        if known is not None and known.cal_dir != cal_dir:
            raise ValidationFailed(
                f"{cal_file} is already stored in {known.cal_dir}, not {cal_dir}",
                errors=[{"reason": "a file name is unique within an index", "field": "CAL_FILE"}],
            )
    new: list[dict[str, Any]] = []
    attached: list[dict[str, Any]] = []
    held: set[_FileKey] = set()
    for key in keys:
        known = stored.get((index_of[key[0]], key[1]))
        values: dict[str, Any] = {"sha256": None, "size_bytes": None}
        source = None if files_root is None or (known and known.held) else _find(files_root, key)
        if source is not None:
            incoming = _receive(tree, source, key[1])
            values = {"sha256": incoming.sha256, "size_bytes": incoming.size}
            storage.stage(session, incoming, tree.path_of(*key))
            report.files_stored += 1
        if known is None:
            new.append({"index_dir": index_of[key[0]], "cal_dir": key[0], "cal_file": key[1]})
            new[-1] |= {"origin": "import", "uploaded_by": actor, "uploaded_at": now, **values}
        elif source is not None:
            attached.append({"id": known.id, **values})
        if (known is not None and known.held) or source is not None:
            held.add(key)
    for first in range(0, len(new), BATCH_ROWS):
        session.execute(insert(CalibrationFile), new[first : first + BATCH_ROWS])
    if attached:
        session.execute(update(CalibrationFile), attached)  # by primary key, in one statement
    report.files_metadata_only = sorted(f"{d}/{f}" for d, f in keys if (d, f) not in held)
    if new:
        stored = _stored_files(session, set(index_of.values()))
    return {key: stored[index_of[key[0]], key[1]].id for key in keys}


def _identity(values: Any) -> _Identity:
    """What makes a CIF row the same dataset: everything selection reads, but quality.

    HEASARC indexes one HDU several times under different validity starts (Swift
    ``swxbadpix20010101v006.fits`` rows 172-174 and 436-438), so the HDU alone is not it.
    """
    return (
        values.cal_xno,
        values.instrume,
        values.detnam,
        values.filter,
        values.cal_cnam,
        values.ref_time,
        tuple(values.cal_cbd),
    )


def _present(
    session: Session, index_dirs: Iterable[str], file_ids: set[int]
) -> dict[tuple[int, _Identity], list[Any]]:
    """The datasets already in these files, by (file, identity), in index order: one query."""
    rows = session.execute(
        select(
            Dataset.id,
            Dataset.file_id,
            Dataset.cal_qual,
            Dataset.cal_xno,
            Dataset.instrume,
            Dataset.detnam,
            Dataset.filter,
            Dataset.cal_cnam,
            Dataset.ref_time,
            boundaries_column(),
        )
        .join(CalibrationFile)
        .where(CalibrationFile.index_dir.in_(list(index_dirs)))
        .order_by(Dataset.id)
    )
    present: dict[tuple[int, _Identity], list[Any]] = {}
    for row in rows:
        if row.file_id in file_ids:
            present.setdefault((row.file_id, _identity(row)), []).append(row)
    return present


def _change_qualities(session: Session, changes: list[dict[str, Any]]) -> None:
    """New CAL_QUAL values and their history (as ``change_quality`` records them), in bulk."""
    if not changes:
        return
    updates = [{"id": change["dataset_id"], "cal_qual": change["new_qual"]} for change in changes]
    session.execute(update(Dataset), updates)  # by primary key, in one statement
    session.execute(insert(QualityChange), changes)


def import_cif(
    session: Session,
    tree: storage.Storage,
    cif_path: Path,
    *,
    files_root: Path | None,
    actor: str,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import every row of a CIF, in its order (see the module docstring).

    A row already in the catalogue is kept; if the imported index gives it another
    CAL_QUAL (a newer HEASARC release withdrew it), the change is recorded as any quality
    change is. ``progress``, if given, is told (rows done, rows of the index) as the rows
    are written.

    Raises
    ------
    CifFormatError
        If the file is not a CIF.
    ValidationFailed
        If a row has an unsafe path, an unreadable value, a date or boundary HEASoft could
        not read either, or an index would mix missions; ``errors`` lists every problem
        of every row, with the row number (from 1, as fv shows it).
    """
    index = read_cif(cif_path, keep_going=True)
    rows = normalised(index.rows)
    report = ImportReport(rows_read=len(rows), notes=validate(rows, index.problems))
    index_of = {cal_dir: index_dir_of(cal_dir) for cal_dir in {row.cal_dir for row in rows}}
    indexes = {
        index_dir: lock_index(session, index_dir, telescop)
        for index_dir, telescop in sorted({(index_of[r.cal_dir], r.telescop) for r in rows})
    }
    now = now or utcnow()  # once locked, as for uploads
    keys = list(dict.fromkeys((row.cal_dir, row.cal_file) for row in rows))
    file_ids = _file_ids(
        session, tree, keys, files_root=files_root, actor=actor, now=now, report=report
    )
    present = _present(session, indexes, set(file_ids.values()))
    reason = f"quality of imported index {cif_path.name} (CALDBVER {index.caldbver})"
    changes: list[dict[str, Any]] = []
    changed: set[str] = set()
    touched: set[Subject] = set()  # (mission, instrument, codename) of changed rows
    write = _BatchWriter(session, ("file_id", *_COPIED, "indexed_by", "indexed_at"))
    validity_date = _validity_dates()
    for first in range(0, len(rows), BATCH_ROWS):
        new = []
        for row in rows[first : first + BATCH_ROWS]:
            file_id = file_ids[row.cal_dir, row.cal_file]
            matches = present.get((file_id, _identity(row)))
            if not matches:  # a new dataset
                values = [getattr(row, name) for name in _COPIED]
                values[_VSD] = validity_date(row.cal_vsd)
                new.append((file_id, *values, actor, now))
                changed.add(index_of[row.cal_dir])
                touched.add((row.telescop, row.instrume, row.cal_cnam))
                continue
            match = matches.pop(0)  # each stored dataset answers one row
            report.datasets_present += 1
            if match.cal_qual != row.cal_qual:
                changes.append(
                    {"dataset_id": match.id, "old_qual": match.cal_qual, "new_qual": row.cal_qual}
                )
                changes[-1] |= {"reason": reason, "changed_by": actor, "changed_at": now}
                changed.add(index_of[row.cal_dir])
                touched.add((row.telescop, row.instrume, row.cal_cnam))
        write(new)
        report.datasets_added += len(new)
        if progress is not None:
            progress(min(first + BATCH_ROWS, len(rows)), len(rows))
    _change_qualities(session, changes)
    report.quality_changes = len(changes)
    for index_dir in changed:  # one new serial per index, whatever the number of rows
        record_change(indexes[index_dir], now)
    if changed:  # one event of the change feed for the whole import, not one per row
        details: dict[str, Any] = {
            "cif": cif_path.name,
            "caldbver": index.caldbver,
            "indexes": sorted(changed),
            "rows_read": report.rows_read,
            "datasets_added": report.datasets_added,
            "quality_changes": report.quality_changes,
        }
        record_import(session, touched, actor=actor, now=now, details=details)
    session.flush()
    return report


class _BatchWriter:
    """Multi-row INSERTs into ``datasets`` at the driver level (one statement per batch).

    SQLAlchemy would convert every value of every row; here each column's conversion (the
    JSON of CAL_CBD, the timestamp) runs once per distinct value, which the rows of a large
    index share. The statement still goes through the connection, so it is part of the
    import's transaction, and the engine's events see it.
    """

    def __init__(self, session: Session, columns: tuple[str, ...]) -> None:
        self.connection = session.connection()
        dialect = self.connection.dialect
        table = Dataset.__table__
        types = [table.c[name].type.dialect_impl(dialect) for name in columns]
        converters = [column_type.bind_processor(dialect) for column_type in types]
        self.converters = [
            (position, _memo_of(convert))
            for position, convert in enumerate(converters)
            if convert is not None
        ]
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.statement = (  # only our own table and column names: no value is spliced in
            f"INSERT INTO {Dataset.__tablename__} ({', '.join(columns)}) "  # noqa: S608
            f"VALUES ({', '.join([mark] * len(columns))})"
        )

    def __call__(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.converters:
            rows = [self._converted(row) for row in rows]
        self.connection.exec_driver_sql(self.statement, rows)

    def _converted(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        for position, convert in self.converters:
            values[position] = convert(values[position])
        return tuple(values)


def _memo_of(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``convert`` run once per distinct (hashable) value."""
    answers: dict[Any, Any] = {}

    def converted(value: Any) -> Any:
        try:
            return answers[value]
        except KeyError:
            answers[value] = result = convert(value)
            return result

    return converted


def _validity_dates() -> Callable[[str], str]:
    """CAL_VSD as stored (YYYY-MM-DD), computed once per distinct value."""
    dates: dict[str, str] = {}

    def stored(cal_vsd: str) -> str:
        if cal_vsd not in dates:
            dates[cal_vsd] = normalise_validity_date(cal_vsd, lenient=True)[0]
        return dates[cal_vsd]

    return stored
