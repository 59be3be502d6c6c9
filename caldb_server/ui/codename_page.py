"""What the codename page shows: every dataset of one codename, newest validity first.

Two statements whatever the number of datasets: the (detector, filter) pairs present (for
the filter form, and to tell an unknown codename), then the rows, plain columns with the
file's joined in (no ORM objects, no lazy load per row), written as table rows by
:mod:`.dataset_table`. A page holds :data:`PAGE_SIZE`
rows; one more is read to know whether a next page exists, so no count is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from caldb_selection.timespec import mjd_to_datetime
from caldb_server.catalogue.models import CalibrationFile, Dataset, boundaries_column
from caldb_server.ui.dataset_table import ROW_FIELDS, table_rows
from caldb_server.ui.instrument_lookup import InstrumentEntry, unknown_codename

__all__ = ["PAGE_SIZE", "CodenamePage", "codename_page"]

PAGE_SIZE = 1000


@dataclass(frozen=True)
class CodenamePage:
    """The rows of one page, the choices of the filter form, and where the pages go."""

    entry: InstrumentEntry
    codename: str
    description: str
    detectors: list[str]
    filters: list[str]
    shown: int  # rows on this page
    table: Markup  # its <tr> elements, every text escaped (caldb_server.ui.dataset_table)
    page: int
    has_next: bool


def _row_columns() -> list[ColumnElement[Any]]:
    """The columns :func:`~caldb_server.ui.dataset_table.table_rows` reads, in its order."""
    elsewhere: dict[str, Any] = {
        "cal_cbd": boundaries_column(),  # decoded once per distinct list
        "cal_file": CalibrationFile.cal_file,
        "uploaded_by": CalibrationFile.uploaded_by,
        "uploaded_at": CalibrationFile.uploaded_at,
    }
    return [elsewhere[name] if name in elsewhere else getattr(Dataset, name) for name in ROW_FIELDS]


def codename_page(
    session: Session,
    entry: InstrumentEntry,
    codename: str,
    *,
    detector: str | None = None,
    filter_: str | None = None,
    page: int = 1,
) -> CodenamePage:
    """The datasets of ``codename`` (any case), optionally of one detector and one filter.

    Raises
    ------
    UnknownName
        When neither the registry nor the catalogue knows the codename.
    """
    name = codename.upper()
    of_codename = (
        Dataset.telescop == entry.mission,
        Dataset.instrume == entry.name,
        Dataset.cal_cnam == name,
    )
    pairs = session.execute(select(Dataset.detnam, Dataset.filter).where(*of_codename).distinct())
    detectors, filters = set(), set()
    for detnam, filter_value in pairs:
        detectors.add(detnam)
        filters.add(filter_value)
    if not detectors and name not in entry.codenames and name not in entry.onboard:
        raise unknown_codename(session, entry, name)
    chosen = list(of_codename)
    if detector:
        chosen.append(Dataset.detnam == detector)
    if filter_:
        chosen.append(Dataset.filter == filter_)
    statement = (
        select(*_row_columns())
        .join(CalibrationFile, CalibrationFile.id == Dataset.file_id)
        .where(*chosen)
        .order_by(Dataset.ref_time.desc(), Dataset.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    rows = session.execute(statement).all()
    return CodenamePage(
        entry=entry,
        codename=name,
        description=entry.describe(name),
        detectors=sorted(detectors),
        filters=sorted(filters),
        shown=min(len(rows), PAGE_SIZE),
        table=table_rows(rows[:PAGE_SIZE], mjd_to_datetime),
        page=page,
        has_next=len(rows) > PAGE_SIZE,
    )
