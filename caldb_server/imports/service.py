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
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caldb_selection import (
    BoundaryError,
    TimeSpecError,
    format_boundary,
    normalise_validity_date,
    parse_boundary,
    parse_time_of_day,
    ref_time,
)
from caldb_selection.heasoft import blank_led_numbers
from caldb_server import storage
from caldb_server.catalogue.indexes import index_dir_of, lock_index, record_change
from caldb_server.catalogue.models import CalibrationFile, Dataset
from caldb_server.catalogue.quality import change_quality
from caldb_server.db import utcnow
from caldb_server.errors import ValidationFailed
from caldb_server.heasarc.cif import CBD_WIDTH, CIF_COLUMNS, CifProblem, CifRow, read_cif

__all__ = ["ImportReport", "import_cif"]

# A REF_TIME may be written by other software with another rounding: 0.1 s is plenty.
REF_TIME_TOLERANCE_DAYS = 1e-6
_NAMES = ("telescop", "instrume", "detnam", "filter", "cal_cnam")
_PRINTABLE = re.compile(r"[ -~]*", re.ASCII)


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


def _path_problems(row: CifRow) -> list[str]:
    problems = []
    try:
        storage.check_relative_dir(row.cal_dir)
        storage.check_file_name(row.cal_file)
    except storage.UnsafePathError as error:
        problems.append(str(error))
    if not row.cal_dir.startswith("data/"):
        problems.append(f"CAL_DIR {row.cal_dir} is not under data/")
    return problems


def _time_problems(row: CifRow) -> list[str]:
    try:
        expected = ref_time(row.cal_vsd, row.cal_vst, lenient=True)
    except TimeSpecError as error:
        return [f"CAL_VSD/CAL_VST: {error}"]
    if not math.isfinite(row.ref_time) or abs(row.ref_time - expected) > REF_TIME_TOLERANCE_DAYS:
        return [
            f"REF_TIME {row.ref_time!r} is not CAL_VSD {row.cal_vsd} {row.cal_vst} ({expected!r})"
        ]
    return []


def _column_problems(row: CifRow) -> list[str]:
    """Values a HEASARC CIF cannot hold: the index must stay exportable (and storable)."""
    reasons = []
    for name, tform in CIF_COLUMNS:
        value = getattr(row, name.lower())
        if tform == "I" and not -32768 <= value <= 32767:
            reasons.append(f"{name} {value} does not fit a 16-bit integer")
        if tform in ("I", "D"):
            continue
        width = CBD_WIDTH if name == "CAL_CBD" else int(tform.removesuffix("A"))
        for text in value if name == "CAL_CBD" else (value,):
            if len(text) > width:
                reasons.append(f"{name} {text!r} is longer than the CIF column ({width})")
            elif not _PRINTABLE.fullmatch(text):
                reasons.append(f"{name} {text!r} holds a character that is not printable ASCII")
    return reasons


def _strictly(parse: Callable[[str], object], text: str) -> bool:
    """Whether the strict reading (that of new uploads) accepts ``text`` too."""
    try:
        parse(text)
    except ValueError:
        return False
    return True


def _lenient_notes(row: CifRow) -> list[str]:
    """How values that only HEASoft's reading accepts were read (the others need no note)."""
    notes = []
    for cbd in row.cal_cbd:
        meaning = format_boundary(parse_boundary(cbd, lenient=True))
        if not _strictly(parse_boundary, cbd):
            notes.append(f"CAL_CBD {cbd!r} read as HEASoft reads it: {meaning}")
        if texts := blank_led_numbers(cbd):
            notes.append(
                f"CAL_CBD {cbd!r} read as {meaning}, but quzcif reads "
                f"{', '.join(map(repr, texts))} as text (a blank comes first): "
                "no requested number matches it there"
            )
    if not _strictly(normalise_validity_date, row.cal_vsd):
        meaning = normalise_validity_date(row.cal_vsd, lenient=True)[0]
        notes.append(f"CAL_VSD {row.cal_vsd!r} read as HEASoft reads it: {meaning}")
    if not _strictly(parse_time_of_day, row.cal_vst):
        seconds = parse_time_of_day(row.cal_vst, lenient=True)
        notes.append(f"CAL_VST {row.cal_vst!r} read as HEASoft reads it: {seconds:g} s")
    return notes


def _row_problems(row: CifRow) -> list[str]:
    reasons = _path_problems(row) + _time_problems(row) + _column_problems(row)
    if row.cal_xno < 0:
        reasons.append(f"CAL_XNO {row.cal_xno} is negative")
    for cbd in row.cal_cbd:
        try:
            parse_boundary(cbd, lenient=True)
        except BoundaryError as error:
            reasons.append(f"CAL_CBD: {error}")
    return reasons


def _index_problems(rows: list[CifRow]) -> list[dict[str, object]]:
    """One mission per index, and one directory per file name within an index."""
    missions: dict[str, set[str]] = {}
    directories: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        index = index_dir_of(row.cal_dir)
        missions.setdefault(index, set()).add(row.telescop)
        directories.setdefault((index, row.cal_file), set()).add(row.cal_dir)
    problems: list[dict[str, object]] = [
        {"reason": f"{index} would hold several missions: {', '.join(sorted(names))}"}
        for index, names in missions.items()
        if len(names) > 1
    ]
    problems += [
        {"reason": f"{name} is in several directories of {index}: {', '.join(sorted(dirs))}"}
        for (index, name), dirs in directories.items()
        if len(dirs) > 1
    ]
    return problems


def _validate(rows: list[CifRow], unreadable: tuple[CifProblem, ...]) -> list[str]:
    """Check every row; refuse the whole index listing each problem, or return the notes."""
    problems: list[dict[str, Any]] = [
        {"row": problem.row, "reason": problem.reason} for problem in unreadable
    ]
    notes = []
    for position, row in enumerate(rows, start=1):  # fv numbers rows from 1
        reasons = _row_problems(row)
        problems += [{"row": position, "reason": reason} for reason in reasons]
        if not reasons:
            notes += [f"row {position}: {note}" for note in _lenient_notes(row)]
    problems.sort(key=itemgetter("row"))
    problems += _index_problems(rows)
    if problems:
        bad_rows = len({problem["row"] for problem in problems if "row" in problem})
        raise ValidationFailed(
            f"the index cannot be imported: {len(problems)} problem(s) in {bad_rows} row(s)",
            errors=problems,
        )
    return notes


def _normalised(row: CifRow) -> CifRow:
    """Selection names upper case and stripped, as udcif writes them."""
    return dataclasses.replace(
        row,
        **{name: getattr(row, name).strip().upper() for name in _NAMES},
    )


def _find(files_root: Path, row: CifRow) -> Path | None:
    """The file of a row under ``files_root``: tree layout first, then flat; ``.gz`` too."""
    for base in (files_root / row.cal_dir, files_root):
        for candidate in (base / row.cal_file, base / f"{row.cal_file}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _receive(tree: storage.Storage, source: Path, name: str) -> storage.IncomingFile:
    """Copy a found file into ``.incoming`` (decompressed if the CIF names it uncompressed)."""
    compressed = source.suffix == ".gz" and not name.endswith(".gz")
    opener = gzip.open if compressed else open
    with opener(source, "rb") as stream:
        return tree.write_incoming(stream, name)


def _file_for(
    session: Session,
    tree: storage.Storage,
    row: CifRow,
    *,
    files_root: Path | None,
    actor: str,
    now: datetime,
    report: ImportReport,
) -> CalibrationFile:
    stored = session.scalars(
        select(CalibrationFile).where(
            CalibrationFile.index_dir == index_dir_of(row.cal_dir),
            CalibrationFile.cal_file == row.cal_file,
        )
    ).one_or_none()
    if stored is not None and stored.cal_dir != row.cal_dir:
        raise ValidationFailed(
            f"{row.cal_file} is already stored in {stored.cal_dir}, not {row.cal_dir}",
            errors=[{"reason": "a file name is unique within an index", "field": "CAL_FILE"}],
        )
    if stored is None:
        stored = CalibrationFile(
            index_dir=index_dir_of(row.cal_dir),
            cal_dir=row.cal_dir,
            cal_file=row.cal_file,
            origin="import",
            uploaded_by=actor,
            uploaded_at=now,
        )
        session.add(stored)
    if stored.held or files_root is None:
        return stored
    source = _find(files_root, row)
    if source is None:
        return stored
    incoming = _receive(tree, source, row.cal_file)
    stored.sha256, stored.size_bytes = incoming.sha256, incoming.size
    storage.stage(session, incoming, tree.path_of(row.cal_dir, row.cal_file))
    report.files_stored += 1
    return stored


def _dataset(stored: CalibrationFile, row: CifRow, actor: str, now: datetime) -> Dataset:
    values = {name: getattr(row, name) for name in CifRow.__dataclass_fields__}
    for name in ("cal_dir", "cal_file"):
        del values[name]
    values["cal_cbd"] = list(row.cal_cbd)
    values["cal_vsd"] = normalise_validity_date(row.cal_vsd, lenient=True)[0]
    return Dataset(file=stored, indexed_by=actor, indexed_at=now, **values)


def _identity(values: CifRow | Dataset) -> tuple[object, ...]:
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


def import_cif(
    session: Session,
    tree: storage.Storage,
    cif_path: Path,
    *,
    files_root: Path | None,
    actor: str,
    now: datetime | None = None,
) -> ImportReport:
    """Import every row of a CIF, in its order (see the module docstring).

    A row already in the catalogue is kept; if the imported index gives it another
    CAL_QUAL (a newer HEASARC release withdrew it), the change is recorded as any quality
    change is.

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
    rows = [_normalised(row) for row in index.rows]
    report = ImportReport(rows_read=len(rows), notes=_validate(rows, index.problems))
    indexes = {
        index_dir: lock_index(session, index_dir, telescop)
        for index_dir, telescop in sorted({(index_dir_of(r.cal_dir), r.telescop) for r in rows})
    }
    now = now or utcnow()  # once locked, as for uploads
    changed: set[str] = set()
    files: dict[tuple[str, str], CalibrationFile] = {}
    unmatched: dict[tuple[str, str], list[Dataset]] = {}
    reason = f"quality of imported index {cif_path.name} (CALDBVER {index.caldbver})"
    for row in rows:
        key = (row.cal_dir, row.cal_file)
        if key not in files:
            files[key] = _file_for(
                session, tree, row, files_root=files_root, actor=actor, now=now, report=report
            )
            unmatched[key] = list(files[key].datasets)
        match = next((d for d in unmatched[key] if _identity(d) == _identity(row)), None)
        if match is None:
            session.add(_dataset(files[key], row, actor, now))
            report.datasets_added += 1
            changed.add(index_dir_of(row.cal_dir))
            continue
        unmatched[key].remove(match)
        report.datasets_present += 1
        if change_quality(session, match, row.cal_qual, reason=reason, actor=actor, now=now):
            report.quality_changes += 1
            changed.add(index_dir_of(row.cal_dir))
    for index_dir in changed:
        record_change(indexes[index_dir], now)
    session.flush()
    report.files_metadata_only = sorted(f"{d}/{f}" for (d, f), s in files.items() if not s.held)
    return report
