"""The impact of catalogue changes: which observations would now get another calibration file.

For the changes after ``since``, every codename they touched is replayed: each recorded
selection of the latest run of each (observation, brick) asks today's catalogue again, and
the run is affected when the dataset it used is no longer among those selected — a newer
file wins, or its file became bad. Each affected selection is given with the old and new
file and the change that caused it.

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
from typing import Any

import numpy as np
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

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


def _latest_runs_selections(session: Session, codenames: Sequence[Codename]) -> Sequence[Any]:
    """The selections of these codenames made by the latest run of each (observation, brick).

    A reprocessed observation has a newer record: only that one says what it uses now.
    """
    latest = (
        select(func.max(UsageRecord.id))
        .group_by(UsageRecord.observation, UsageRecord.brick)
        .scalar_subquery()
    )
    statement = (
        select(
            UsageRecord.observation,
            UsageRecord.brick,
            UsageRecord.record_id,
            UsageRecord.finished_at,
            UsageSelection,
        )
        .join(UsageSelection, UsageSelection.usage_id == UsageRecord.id)
        .where(UsageRecord.id.in_(latest))
        .where(
            tuple_(UsageSelection.mission, UsageSelection.instrument, UsageSelection.codename).in_(
                list(codenames)
            )
        )
        .order_by(UsageRecord.id, UsageSelection.id)
    )
    return session.execute(statement).all()


def _validity_starts(session: Session, codename: Codename) -> np.ndarray:
    mission, instrument, cal_cnam = codename
    starts = session.scalars(
        select(Dataset.ref_time)
        .distinct()
        .where(Dataset.telescop == mission, Dataset.instrume == instrument)
        .where(Dataset.cal_cnam == cal_cnam)
    ).all()
    return np.sort(np.asarray(starts, dtype=float))


def _interval_of(starts: np.ndarray, time_mjd: float | None) -> int:
    """Which interval between validity starts a time lies in (-2: any time)."""
    if time_mjd is None:
        return -2
    return int(np.searchsorted(starts, time_mjd, side="right")) - 1


def _replay(session: Session, codename: Codename, selection: UsageSelection) -> list[Any]:
    """Today's answer to a recorded selection: the datasets selected, first the one to use."""
    query = Query.create(
        codename[1],
        codename[2],
        detector=selection.detector,
        filter=selection.filter,
        expression=parse_expression(selection.expr),
        time_mjd=selection.time_mjd,
    )
    return search(session, SearchRequest(query, codename[0], MAX_SELECTED)).results


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


def _codename_impact(
    session: Session, codename: Codename, rows: Sequence[Any], causes: _Causes
) -> list[dict[str, Any]]:
    starts = _validity_starts(session, codename)
    answers: dict[tuple[Any, ...], list[Any]] = {}
    affected = []
    for observation, brick, record_id, finished_at, selection in rows:
        key = (
            _interval_of(starts, selection.time_mjd),
            selection.detector,
            selection.filter,
            selection.expr,
        )
        if key not in answers:
            answers[key] = _replay(session, codename, selection)
        selected = answers[key]
        if any(values["id"] == selection.dataset_id for values in selected):
            continue
        new = _file(selected[0]) if selected else None
        affected.append(
            {
                "observation": observation,
                "brick": brick,
                "record_id": record_id,
                "finished_at": finished_at.isoformat(),
                "instrument": selection.instrument,
                "codename": selection.codename,
                "date": selection.date,
                "old": {
                    "dataset_id": selection.dataset_id,
                    "cal_file": selection.cal_file,
                    "cal_xno": selection.cal_xno,
                    "sha256": selection.sha256,
                },
                "new": new,
                "change": _change(
                    causes.cause(codename, selection.dataset_id, new["dataset_id"] if new else None)
                ),
            }
        )
    return affected


def _mark_bad(session: Session, affected: list[dict[str, Any]]) -> None:
    """Say why each run is affected: its dataset became bad, or a newer one wins."""
    old_ids = {item["old"]["dataset_id"] for item in affected}
    qualities = dict(
        session.execute(select(Dataset.id, Dataset.cal_qual).where(Dataset.id.in_(old_ids))).all()
    )
    for item in affected:
        item["reason"] = "bad" if qualities.get(item["old"]["dataset_id"]) != GOOD else "newer"


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
    rows_by_codename: dict[Codename, list[Any]] = defaultdict(list)
    for row in _latest_runs_selections(session, touched) if touched else []:
        selection: UsageSelection = row[4]
        rows_by_codename[(selection.mission, selection.instrument, selection.codename)].append(row)
    affected = []
    for codename, rows in sorted(rows_by_codename.items()):
        affected += _codename_impact(session, codename, rows, causes)
    affected.sort(key=lambda item: (item["observation"], item["brick"], item["codename"]))
    _mark_bad(session, affected[:limit])
    return {
        "since": since,
        "until": until,
        "changes": len(changes),
        "observations": sorted({item["observation"] for item in affected}),
        "affected": affected[:limit],
        "truncated": len(affected) > limit,
    }
