"""Searching one codename's datasets held in memory, with the rules of the SQL path.

A :class:`CodenameIndex` holds every dataset of one mission, instrument and codename (the
rows the SQL path reads, same columns) newest validity first, plus their quality history.
:func:`answer` gives exactly what :func:`caldb_server.search.service.search` gives on the
catalogue the index was loaded from: every decision is still taken by the pure
:func:`caldb_selection.select`, on the same candidates in the same order. The common request
(a time, no ``as_of``, no ``explain``) starts at the newest epoch not after the time and stops
at the first epoch that has a selected dataset.

Loading is the only part that reads the database (:func:`load_codename`); the caller keeps an
index while the catalogue serial it was loaded at is current (:mod:`caldb_server.search.cache`).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from caldb_server.catalogue.models import CalibrationFile, Dataset, QualityChange
from caldb_server.catalogue.quality import GOOD
from caldb_server.search.service import (
    RESULT_COLUMNS,
    SearchAnswer,
    SearchRequest,
    epoch_answer,
    first_selected_epoch,
    selection_answer,
)

__all__ = ["CodenameIndex", "answer", "load_codename"]


@dataclass(frozen=True)
class _Change:
    """One recorded CAL_QUAL change of a dataset, in the order ``as_of`` replays them."""

    changed_at: datetime
    old_qual: int


@dataclass(frozen=True)
class CodenameIndex:
    """Every dataset of one mission, instrument and codename, read at one catalogue serial.

    ``newest_first`` is ordered by validity start descending, then id (the SQL path's
    order); ``negated_times`` are their ``-ref_time`` for bisection; ``by_id`` is index order.
    ``changes`` maps a dataset id to its quality changes, oldest first.
    """

    newest_first: tuple[Row[Any], ...]
    negated_times: tuple[float, ...]
    by_id: tuple[Row[Any], ...]
    changes: dict[int, tuple[_Change, ...]]

    @classmethod
    def of(cls, rows: Sequence[Row[Any]], changes: dict[int, tuple[_Change, ...]]) -> CodenameIndex:
        """The index of ``rows`` (any order) and their quality history."""
        newest_first = tuple(sorted(rows, key=lambda row: (-row.ref_time, row.id)))
        return cls(
            newest_first=newest_first,
            negated_times=tuple(-row.ref_time for row in newest_first),
            by_id=tuple(sorted(rows, key=lambda row: row.id)),
            changes=changes,
        )


def load_codename(session: Session, mission: str, instrument: str, codename: str) -> CodenameIndex:
    """Read one codename's datasets and their quality changes (two statements)."""
    in_codename = (
        Dataset.telescop == mission,
        Dataset.instrume == instrument,
        Dataset.cal_cnam == codename,
    )
    rows = session.execute(
        select(*RESULT_COLUMNS)
        .join(CalibrationFile, Dataset.file_id == CalibrationFile.id)
        .where(*in_codename)
    ).all()
    history: defaultdict[int, list[_Change]] = defaultdict(list)
    for dataset_id, changed_at, old_qual in session.execute(
        select(QualityChange.dataset_id, QualityChange.changed_at, QualityChange.old_qual)
        .join(Dataset, QualityChange.dataset_id == Dataset.id)
        .where(*in_codename)
        .order_by(QualityChange.dataset_id, QualityChange.changed_at, QualityChange.id)
    ):
        history[dataset_id].append(_Change(changed_at, old_qual))
    return CodenameIndex.of(rows, {key: tuple(value) for key, value in history.items()})


def _quality_at(index: CodenameIndex, row: Row[Any], moment: datetime) -> int:
    """CAL_QUAL of ``row`` at ``moment``: the old value of the first change after it."""
    for change in index.changes.get(row.id, ()):
        if change.changed_at > moment:
            return change.old_qual
    return int(row.cal_qual)


def _as_of(index: CodenameIndex, moment: datetime) -> list[Any]:
    """The datasets visible at ``moment`` in index order, with the quality they had then."""
    visible: list[Any] = []
    for row in index.by_id:
        if row.indexed_at > moment:
            continue
        quality = _quality_at(index, row, moment) if row.id in index.changes else row.cal_qual
        if quality == row.cal_qual:
            visible.append(row)
        else:
            visible.append(SimpleNamespace(**{**row._mapping, "cal_qual": quality}))
    return visible


def _latest_epoch(index: CodenameIndex, request: SearchRequest) -> list[Row[Any]]:
    """Selected rows of the newest epoch not after the requested time that has any."""
    query = request.query
    assert query.time_mjd is not None  # the caller's condition
    start = bisect.bisect_left(index.negated_times, -query.time_mjd)
    candidates = (row for row in index.newest_first[start:] if row.cal_qual == GOOD)
    return first_selected_epoch(candidates, query) or []


def answer(index: CodenameIndex, request: SearchRequest) -> SearchAnswer:
    """The answer of :func:`caldb_server.search.service.search` on the indexed catalogue.

    ``request`` must name the mission, instrument and codename ``index`` was loaded for.
    """
    if request.as_of is None and not request.explain and request.query.time_mjd is not None:
        return epoch_answer(_latest_epoch(index, request), request)
    rows: Sequence[Any] = index.by_id if request.as_of is None else _as_of(index, request.as_of)
    return selection_answer(rows, request)
