"""Searching the catalogue with the quzcif rules of :mod:`caldb_selection`.

SQL only narrows the candidates (same mission, instrument, codename; visible at
``as_of``); every decision is taken by the pure :func:`caldb_selection.select`, so the
server and the client's offline mode cannot disagree.

The common request (a time, no ``as_of``, no ``explain``) reads one page of candidates,
newest epoch first, and stops at the first epoch that has a selected dataset: the quzcif
answer is exactly the selected datasets of the latest epoch that has any. When the page
does not decide, all candidates are read at once. Every answer comes from one statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import groupby
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, Select, bindparam, or_, select
from sqlalchemy.orm import Session

from caldb_selection import Query, Rejection
from caldb_selection import select as quzcif_select
from caldb_selection.select import ANY_VALUE, NONE
from caldb_server.catalogue.models import CalibrationFile, Dataset, boundaries_column
from caldb_server.catalogue.quality import GOOD, qualities_as_of

__all__ = [
    "RESULT_COLUMNS",
    "SearchAnswer",
    "SearchRequest",
    "epoch_answer",
    "first_selected_epoch",
    "result_mappings",
    "search",
    "selection_answer",
]

FIRST_PAGE = 64

# Every column a search result carries: the dataset's and its file's.
RESULT_COLUMNS = (
    *(boundaries_column() if c.key == "cal_cbd" else c for c in Dataset.__table__.columns),
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
    # The results as JSON text, per API root: written once by the view, reused while the
    # answer stays in the search cache (a repeated search costs no serialisation).
    rendered: dict[str, str] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class _Shape:
    """Which conditions a statement has; the values are bound at execution."""

    as_of: bool
    detector: bool
    filter: bool
    quality: bool
    time: bool


@lru_cache(maxsize=128)
def _statement(shape: _Shape) -> Select[Any]:
    """The candidates of a request of that shape (built once, bound per request).

    Besides mission, instrument and codename, SQL applies only what it can decide exactly:
    visibility at ``as_of``, detector and filter, quality (left to Python for ``as_of``,
    where it is the past value) and validity start not after the requested time.
    """
    statement = (
        select(*RESULT_COLUMNS)
        .join(CalibrationFile, Dataset.file_id == CalibrationFile.id)
        .where(
            Dataset.telescop == bindparam("mission"),
            Dataset.instrume == bindparam("instrument"),
            Dataset.cal_cnam == bindparam("codename"),
        )
    )
    if shape.as_of:
        statement = statement.where(Dataset.indexed_at <= bindparam("as_of"))
    if shape.detector:
        statement = statement.where(
            or_(Dataset.detnam == bindparam("detector"), Dataset.detnam == NONE)
        )
    if shape.filter:
        statement = statement.where(
            or_(Dataset.filter == bindparam("filter"), Dataset.filter == NONE)
        )
    if shape.quality:
        statement = statement.where(Dataset.cal_qual == GOOD)
    if shape.time:
        statement = statement.where(Dataset.ref_time <= bindparam("time"))
    return statement


@lru_cache(maxsize=128)
def _newest_first(shape: _Shape, *, limited: bool) -> Select[Any]:
    """Candidates newest epoch first; ``limited`` ones stop after ``size`` rows."""
    statement = _statement(shape).order_by(Dataset.ref_time.desc(), Dataset.id)
    return statement.limit(bindparam("size")) if limited else statement


def _bound(request: SearchRequest, *, narrowed: bool) -> tuple[_Shape, dict[str, Any]]:
    """The statement shape of a request and its parameter values."""
    query = request.query
    shape = _Shape(
        as_of=request.as_of is not None,
        detector=narrowed and query.detector != ANY_VALUE,
        filter=narrowed and query.filter != ANY_VALUE,
        quality=narrowed and request.as_of is None,
        time=narrowed and query.time_mjd is not None,
    )
    values = {
        "mission": request.mission,
        "instrument": query.instrument,
        "codename": query.codename,
        "as_of": request.as_of,
        "detector": query.detector,
        "filter": query.filter,
        "time": query.time_mjd,
    }
    return shape, values


def first_selected_epoch(rows: Iterable[Row[Any]], query: Query) -> list[Row[Any]] | None:
    """The selected rows of the newest epoch (of ``rows``, newest first) that has any, or None.

    Stops reading ``rows`` at that epoch.
    """
    for _, group in groupby(rows, key=lambda row: row.ref_time):
        if selected := quzcif_select(list(group), query).selected:
            return sorted(selected, key=lambda row: row.id)
    return None


def _latest_epoch(
    session: Session, shape: _Shape, values: dict[str, Any], query: Query
) -> list[Row[Any]]:
    """Selected rows of the latest epoch that has any.

    The first page of candidates (the newest epochs) answers most searches. When it does
    not, every candidate is read by one more statement and the answer taken from it alone:
    each answer comes from a single statement, so from one snapshot, even in autocommit.
    """
    page = session.execute(_newest_first(shape, limited=True), {**values, "size": FIRST_PAGE})
    rows = page.all()
    if len(rows) < FIRST_PAGE:
        return first_selected_epoch(rows, query) or []
    last_epoch = rows[-1].ref_time  # may be cut by the page: decided with everything below
    found = first_selected_epoch([row for row in rows if row.ref_time != last_epoch], query)
    if found is not None:
        return found
    rows = session.execute(_newest_first(shape, limited=False), values).all()
    return first_selected_epoch(rows, query) or []


def _with_past_qualities(session: Session, rows: Sequence[Row[Any]], moment: datetime) -> list[Any]:
    """Rows as they were at ``moment``: quality changes made since are undone."""
    earlier = qualities_as_of(session, (row.id for row in rows), moment)
    return [
        SimpleNamespace(**{**row._mapping, "cal_qual": earlier.get(row.id, row.cal_qual)})
        for row in rows
    ]


def result_mappings(rows: Sequence[Any]) -> list[Mapping[str, Any]]:
    """Every result column of each row, by name."""
    return [row._asdict() if isinstance(row, Row) else vars(row) for row in rows]


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
    # explain must see every candidate to say why it lost: no narrowing in SQL then.
    shape, values = _bound(request, narrowed=not request.explain)
    if shape.quality and shape.time:
        return epoch_answer(_latest_epoch(session, shape, values, query), request)
    statement = _statement(shape).order_by(Dataset.id)
    rows: Sequence[Any] = session.execute(statement, values).all()
    if request.as_of is not None:
        rows = _with_past_qualities(session, rows, request.as_of)
    return selection_answer(rows, request)


def epoch_answer(selected: Sequence[Any], request: SearchRequest) -> SearchAnswer:
    """The answer made of the selected rows of one epoch (``first_selected_epoch``'s)."""
    epoch = selected[0].ref_time if selected else None
    return SearchAnswer(len(selected), result_mappings(selected[: request.maxret]), epoch)


def selection_answer(candidates: Sequence[Any], request: SearchRequest) -> SearchAnswer:
    """The answer of the quzcif rules on every candidate (index order), rejections included."""
    selection = quzcif_select(candidates, request.query, explain=request.explain)
    return SearchAnswer(
        selection.nfound,
        result_mappings(selection.selected[: request.maxret]),
        selection.epoch_mjd,
        list(selection.rejections),
    )
