"""The impact of catalogue changes: which observations would now get another calibration file.

For the changes after ``since``, every codename they touched is replayed: each recorded
selection of the latest run of each (observation, brick) asks today's catalogue again, and
the run is affected when the dataset it used is no longer among those selected — a newer
file wins, or its file became bad. Each affected selection is given with the old and new
file and the change that caused it.

Only what the changes after ``since`` can have moved is replayed: a quzcif answer at time t
depends on the datasets valid from t or before, so for a codename whose changes all name
their datasets, the selections before the earliest of those datasets' validity starts are
left alone (a run that differs because of an older change is that change's impact).

Replaying is cheap because a quzcif answer only depends on which of the codename's
validity starts precede the requested time: between two consecutive starts every time
gets the same answer. Selections are grouped by that interval (and by detector, filter
and expression) and each group is searched once, through the same search as
``/api/v1/search``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session, aliased

from caldb_selection import Query, parse_expression
from caldb_server.catalogue.models import Dataset
from caldb_server.catalogue.quality import GOOD
from caldb_server.changes.models import Change
from caldb_server.changes.service import latest_seq, list_changes
from caldb_server.errors import ValidationFailed
from caldb_server.search.service import SearchRequest, search
from caldb_server.usage.models import UsageRecord, UsageSelection

__all__ = ["MAX_CHANGES", "affected_runs"]

MAX_CHANGES = 10_000  # changes one impact request replays: ask from a later ``since``
MAX_SELECTED = 10_000  # datasets of one answer that can keep a run unaffected

Codename = tuple[str, str, str]  # (mission, instrument, codename)


@dataclass(frozen=True)
class _Causes:
    """The changes after ``since``: per codename, and per dataset they touched."""

    by_codename: dict[Codename, list[Change]]
    by_dataset: dict[int, list[Change]]

    @classmethod
    def of(cls, changes: Iterable[Change]) -> _Causes:
        by_codename: dict[Codename, list[Change]] = defaultdict(list)
        by_dataset: dict[int, list[Change]] = defaultdict(list)
        for change in changes:
            for subject in change.subjects:
                if subject.cal_cnam is not None:  # a release selects nothing new
                    key = (subject.telescop, subject.instrume, subject.cal_cnam)
                    by_codename[key].append(change)
            touched = list(change.dataset_ids)
            touched += [item["by_dataset_id"] for item in change.details.get("superseded", [])]
            for dataset_id in touched:
                by_dataset[dataset_id].append(change)
        return cls(by_codename, by_dataset)

    def cause(self, codename: Codename, old_id: int, new_id: int | None) -> Change:
        """The latest change that touched the new or the old dataset, else the codename."""
        for dataset_id in (new_id, old_id):
            if dataset_id is not None and dataset_id in self.by_dataset:
                return self.by_dataset[dataset_id][-1]
        return self.by_codename[codename][-1]


# What deciding whether a run is affected reads (there may be a hundred thousand rows: plain
# columns, no ORM objects, no wide text); the rest is read for the listed runs only.
_DECISION = (
    UsageSelection.id,
    UsageRecord.observation,
    UsageRecord.brick,
    UsageSelection.time_mjd,
    UsageSelection.detector,
    UsageSelection.filter,
    UsageSelection.expr,
    UsageSelection.dataset_id,
)
_DETAILS = (
    UsageSelection.id,
    UsageRecord.record_id,
    UsageRecord.finished_at,
    UsageSelection.date,
    UsageSelection.cal_file,
    UsageSelection.cal_xno,
    UsageSelection.sha256,
)
_CHUNK = 5000  # ids per IN list when reading the listed runs' details


def _latest_runs_selections(
    session: Session, codename: Codename, from_mjd: float | None
) -> Sequence[Any]:
    """The selections of a codename made by the latest run of each (observation, brick).

    A reprocessed observation has a newer record: only that one says what it uses now.
    With ``from_mjd``, only the selections of that time or later (or of any time).
    Plain rows (not ORM objects): there may be a hundred thousand.
    """
    # "No later record of the same observation and brick": an anti-join that the index on
    # (observation, brick, id) answers row by row, whatever the planner's statistics say (a
    # bulk of new records before ANALYZE made an IN (max ... GROUP BY) plan quadratic).
    later = aliased(UsageRecord)
    newer_exists = (
        select(later.id)
        .where(later.observation == UsageRecord.observation, later.brick == UsageRecord.brick)
        .where(later.id > UsageRecord.id)
        .exists()
    )
    mission, instrument, cal_cnam = codename
    statement = (
        select(*_DECISION)
        .join(UsageSelection, UsageSelection.usage_id == UsageRecord.id)
        .where(~newer_exists)
        .where(UsageSelection.instrument == instrument, UsageSelection.codename == cal_cnam)
        .where(UsageSelection.mission == mission)
    )
    if from_mjd is not None:
        statement = statement.where(
            or_(UsageSelection.time_mjd.is_(None), UsageSelection.time_mjd >= from_mjd)
        )
    return session.execute(statement).all()


def _earliest_touched(session: Session, causes: _Causes, codename: Codename) -> float | None:
    """The earliest validity start among the datasets the changes touched (None: unbounded).

    A quzcif answer at time t depends only on the datasets valid from t or before, so
    changes to datasets valid from T can change no answer before T. An event that names
    no dataset (an import) bounds nothing.
    """
    touched: set[int] = set()
    for change in causes.by_codename[codename]:
        if not change.dataset_ids:
            return None
        touched.update(change.dataset_ids)
        touched.update(item["by_dataset_id"] for item in change.details.get("superseded", []))
    earliest = session.scalar(select(func.min(Dataset.ref_time)).where(Dataset.id.in_(touched)))
    return None if earliest is None else float(earliest)


def _validity_starts(session: Session, codename: Codename) -> np.ndarray:
    mission, instrument, cal_cnam = codename
    starts = session.scalars(
        select(Dataset.ref_time)
        .distinct()
        .where(Dataset.telescop == mission, Dataset.instrume == instrument)
        .where(Dataset.cal_cnam == cal_cnam)
    ).all()
    return np.sort(np.asarray(starts, dtype=float))


def _groups(starts: np.ndarray, rows: Sequence[Any]) -> np.ndarray:
    """For each row, the number of its group (0, 1...): the rows of a group get one answer.

    A group: the same interval between validity starts (or any time), detector, filter and
    expression.
    """
    times = np.array([np.nan if r.time_mjd is None else r.time_mjd for r in rows], dtype=float)
    found = np.searchsorted(starts, np.nan_to_num(times), side="right") - 1
    intervals = np.where(np.isnan(times), -2, found)
    kinds: dict[tuple[str, str, str], int] = {}
    selection = np.array(
        [kinds.setdefault((r.detector, r.filter, r.expr), len(kinds)) for r in rows], dtype=np.int64
    )
    return np.unique(intervals * len(kinds) + selection, return_inverse=True)[1].reshape(-1)


def _replay(session: Session, codename: Codename, row: Any) -> list[Any]:
    """Today's answer to a recorded selection: the datasets selected, first the one to use."""
    query = Query.create(
        codename[1],
        codename[2],
        detector=row.detector,
        filter=row.filter,
        expression=parse_expression(row.expr),
        time_mjd=row.time_mjd,
    )
    return search(session, SearchRequest(query, codename[0], MAX_SELECTED)).results


class _Affected(NamedTuple):
    """A run's selection whose dataset is no longer selected, and today's first choice."""

    codename: Codename
    row: Any
    new: Any | None  # the result mapping of the dataset to use now; None: nothing valid


def _codename_impact(session: Session, codename: Codename, rows: Sequence[Any]) -> list[_Affected]:
    """The rows of one codename whose dataset today's catalogue no longer selects.

    Each group (:func:`_groups`) is searched once, with its first row's selection.
    """
    if not rows:
        return []
    groups = _groups(_validity_starts(session, codename), rows)
    used = np.array([row.dataset_id for row in rows], dtype=np.int64)
    first_of_group = np.unique(groups, return_index=True)[1]
    still_selected = np.zeros(len(rows), dtype=bool)
    new_of_group: list[Any | None] = []
    for group, first in enumerate(first_of_group):
        selected = _replay(session, codename, rows[first])
        members = groups == group
        ids = np.array([values["id"] for values in selected], dtype=np.int64)
        still_selected[members] = np.isin(used[members], ids)
        new_of_group.append(selected[0] if selected else None)
    group_of = groups.tolist()
    return [
        _Affected(codename, rows[index], new_of_group[group_of[index]])
        for index in np.flatnonzero(~still_selected).tolist()
    ]


def _file(values: Any) -> dict[str, Any]:
    return {
        "dataset_id": values["id"],
        "cal_file": values["cal_file"],
        "cal_xno": values["cal_xno"],
        "sha256": values["sha256"],
    }


def _change(change: Change) -> dict[str, Any]:
    return {
        "seq": change.seq,
        "kind": change.kind,
        "recorded_at": change.recorded_at.isoformat(),
        "actor": change.actor,
    }


def _details(session: Session, affected: Sequence[_Affected]) -> dict[int, Any]:
    """What the listed runs' documents show beyond the decision, by selection id."""
    ids = [item.row.id for item in affected]
    details: dict[int, Any] = {}
    for first in range(0, len(ids), _CHUNK):
        statement = (
            select(*_DETAILS)
            .join(UsageRecord, UsageSelection.usage_id == UsageRecord.id)
            # integers written into the statement: binding thousands of parameters costs
            # more than the query
            .where(
                UsageSelection.id.in_(
                    bindparam("ids", ids[first : first + _CHUNK], literal_execute=True)
                )
            )
        )
        details.update((row.id, row) for row in session.execute(statement))
    return details


def _documents(
    session: Session, affected: Sequence[_Affected], causes: _Causes
) -> list[dict[str, Any]]:
    """The affected runs as the API lists them, each with why and the change that caused it."""
    old_ids = {item.row.dataset_id for item in affected}
    qualities = dict(
        session.execute(select(Dataset.id, Dataset.cal_qual).where(Dataset.id.in_(old_ids))).all()
    )
    details = _details(session, affected)
    changes: dict[int, dict[str, Any]] = {}  # a few changes cause many runs' listing
    documents = []
    for item in affected:
        row, new, more = item.row, item.new, details[item.row.id]
        cause = causes.cause(item.codename, row.dataset_id, new["id"] if new is not None else None)
        if cause.seq not in changes:
            changes[cause.seq] = _change(cause)
        documents.append(
            {
                "observation": row.observation,
                "brick": row.brick,
                "record_id": more.record_id,
                "finished_at": more.finished_at.isoformat(),
                "instrument": item.codename[1],
                "codename": item.codename[2],
                "date": more.date,
                "reason": "bad" if qualities.get(row.dataset_id) != GOOD else "newer",
                "old": {
                    "dataset_id": row.dataset_id,
                    "cal_file": more.cal_file,
                    "cal_xno": more.cal_xno,
                    "sha256": more.sha256,
                },
                "new": _file(new) if new is not None else None,
                "change": changes[cause.seq],
            }
        )
    return documents


def affected_runs(
    session: Session,
    since: int,
    *,
    mission: str | None = None,
    instrument: str | None = None,
    codenames: Sequence[str] = (),
    limit: int,
) -> dict[str, Any]:
    """The runs whose chosen file would now differ because of the changes after ``since``.

    Raises
    ------
    ValidationFailed
        If more than :data:`MAX_CHANGES` changes follow ``since``.
    """
    until = latest_seq(session)
    changes = list_changes(
        session,
        since=since,
        limit=MAX_CHANGES + 1,
        mission=mission,
        instrument=instrument,
        codenames=codenames,
    )
    if len(changes) > MAX_CHANGES:
        raise ValidationFailed(
            f"more than {MAX_CHANGES} changes follow {since}: ask from a later one",
            errors=[{"field": "since", "reason": f"at most {MAX_CHANGES} changes at once"}],
        )
    causes = _Causes.of(changes)
    touched = sorted(
        key
        for key in causes.by_codename
        if (mission is None or key[0] == mission)
        and (instrument is None or key[1] == instrument)
        and (not codenames or key[2] in set(codenames))
    )
    affected: list[_Affected] = []
    for codename in touched:
        from_mjd = _earliest_touched(session, causes, codename)
        rows = _latest_runs_selections(session, codename, from_mjd)
        affected += _codename_impact(session, codename, rows)
    affected.sort(key=lambda item: (item.row.observation, item.row.brick, item.codename[2]))
    return {
        "since": since,
        "until": until,
        "changes": len(changes),
        "observations": sorted({item.row.observation for item in affected}),
        "affected_total": len(affected),
        "affected": _documents(session, affected[:limit], causes),
        "truncated": len(affected) > limit,
    }
