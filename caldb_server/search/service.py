"""Searching the catalogue with the quzcif rules of :mod:`caldb_selection`.

SQL only narrows the candidates (same mission, instrument, codename; visible at
``as_of``); every decision is taken by the pure :func:`caldb_selection.select`, so the
server and the client's offline mode cannot disagree.

The common request (a time, no ``as_of``, no ``explain``) reads candidates newest epoch
first, a page at a time, and stops at the first epoch that has a selected dataset: the
quzcif answer is exactly the selected datasets of the latest epoch that has any.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from caldb_selection import Query, Rejection
from caldb_selection import select as quzcif_select
from caldb_server.catalogue.models import CalibrationFile, Dataset
from caldb_server.catalogue.quality import GOOD, qualities_as_of

__all__ = ["SearchAnswer", "SearchRequest", "search"]

FIRST_PAGE = 64
ANY_VALUE = "-"

# Every column a search result carries: the dataset's and its file's.
RESULT_COLUMNS = (
    *(column for column in Dataset.__table__.columns),
    CalibrationFile.cal_dir,
    CalibrationFile.cal_file,
    CalibrationFile.sha256,
    CalibrationFile.size_bytes,
)


@dataclass(frozen=True)
class SearchRequest:
    """A validated search: the selection query plus mission, maxret, as_of, explain."""

    query: Query
    mission: str = "SVOM"
    maxret: int = 50
    as_of: datetime | None = None
    explain: bool = False


@dataclass
class SearchAnswer:
    """``nfound``, the first ``maxret`` results (mappings of every result column), rejections."""

    nfound: int
    results: list[Mapping[str, Any]]
    epoch_mjd: float | None
    rejections: list[Rejection[Any]] = field(default_factory=list)


def _candidates(request: SearchRequest) -> Select[Any]:
    query = request.query
    statement = (
        select(*RESULT_COLUMNS)
        .join(CalibrationFile, Dataset.file_id == CalibrationFile.id)
        .where(
            Dataset.telescop == request.mission,
            Dataset.instrume == query.instrument,
            Dataset.cal_cnam == query.codename,
        )
    )
    if request.as_of is not None:
        statement = statement.where(Dataset.indexed_at <= request.as_of)
    return statement


def _narrowed(statement: Select[Any], query: Query, *, by_quality: bool) -> Select[Any]:
    """Add the conditions SQL can decide exactly: detector, filter, time, and quality.

    Quality is left to Python for ``as_of`` searches, where it is the past value.
    """
    if query.detector != ANY_VALUE:
        statement = statement.where(Dataset.detnam.in_((query.detector, "NONE")))
    if query.filter != ANY_VALUE:
        statement = statement.where(Dataset.filter.in_((query.filter, "NONE")))
    if by_quality:
        statement = statement.where(Dataset.cal_qual == GOOD)
    if query.time_mjd is not None:
        statement = statement.where(Dataset.ref_time <= query.time_mjd)
    return statement


def _latest_epoch(session: Session, statement: Select[Any], query: Query) -> list[Row[Any]]:
    """Selected rows of the latest epoch that has any, reading epochs newest first."""
    page_size, cursor = FIRST_PAGE, None
    while True:
        page = statement.order_by(Dataset.ref_time.desc(), Dataset.id).limit(page_size)
        if cursor is not None:
            page = page.where(Dataset.ref_time <= cursor)
        rows = session.execute(page).all()
        complete = len(rows) < page_size
        groups = [list(group) for _, group in groupby(rows, key=lambda row: row.ref_time)]
        if not complete:
            if len(groups) == 1:  # one epoch fills the page: read it whole
                page_size *= 4
                continue
            cursor = groups.pop()[0].ref_time  # the last epoch may be cut: read it again
        for group in groups:
            if selected := quzcif_select(group, query).selected:
                return sorted(selected, key=lambda row: row.id)
        if complete:
            return []
        page_size *= 2


def _with_past_qualities(session: Session, rows: Sequence[Row[Any]], moment: datetime) -> list[Any]:
    """Rows as they were at ``moment``: quality changes made since are undone."""
    earlier = qualities_as_of(session, (row.id for row in rows), moment)
    return [
        SimpleNamespace(**{**row._mapping, "cal_qual": earlier.get(row.id, row.cal_qual)})
        for row in rows
    ]


def _mappings(rows: Sequence[Any]) -> list[Mapping[str, Any]]:
    return [row._mapping if isinstance(row, Row) else vars(row) for row in rows]


def search(session: Session, request: SearchRequest) -> SearchAnswer:
    """Answer a search as quzcif would (see the module docstring).

    Parameters
    ----------
    session : Session
        A read session.
    request : SearchRequest
        The validated request.

    Returns
    -------
    SearchAnswer
        ``nfound``, up to ``maxret`` results in index order, the chosen epoch (MJD), and
        with ``explain`` the rejected candidates and why.
    """
    query = request.query
    statement = _candidates(request)
    if not request.explain:  # explain must see every candidate to say why it lost
        statement = _narrowed(statement, query, by_quality=request.as_of is None)
        if request.as_of is None and query.time_mjd is not None:
            selected = _latest_epoch(session, statement, query)
            epoch = selected[0].ref_time if selected else None
            return SearchAnswer(len(selected), _mappings(selected[: request.maxret]), epoch)
    rows: Sequence[Any] = session.execute(statement.order_by(Dataset.id)).all()
    if request.as_of is not None:
        rows = _with_past_qualities(session, rows, request.as_of)
    selection = quzcif_select(rows, query, explain=request.explain)
    return SearchAnswer(
        selection.nfound,
        _mappings(selection.selected[: request.maxret]),
        selection.epoch_mjd,
        list(selection.rejections),
    )
